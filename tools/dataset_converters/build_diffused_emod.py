"""Build a Diffused-EMOd set: diffusion image-to-image variants of EMOd.

Reads EMOd with the project's loader and the options of a dataset config,
runs a diffusers image-to-image pipeline on every source image and writes
the layout :class:`emoreg_mm.datasets.DiffusedEMOd` reads::

    OUT/manifest.csv      image,source_id,strength,variant,seed,prompt,...
    OUT/images/<id>/<id>_s<strength>_v<k>.png
    OUT/build.json        the settings and library versions of the last run

Every manifest row holds what rebuilds its image: the source id, strength,
seed, prompt, negative prompt, guidance scale, steps, size, dtype, and the
model id with its revision (a hub commit, or ``sha256:...`` of a local
folder's files).

Usage::

    python tools/dataset_converters/build_diffused_emod.py CONFIG \
        [--out DIR] [--model ID_OR_PATH] [--variants 4] [--strengths 0.5] \
        [--prompt 'a photograph'] [--steps 30] [--guidance-scale 7.5]

CONFIG is a config whose ``train_dataloader.dataset`` is a ``DiffusedEMOd``
(its ``emod_root`` and annotation options say where and how EMOd is read,
its ``data_root`` where the set goes) or an ``EMOd`` (then give ``--out``).
Every annotated image is a source, whatever the config's split: the split
is made when the set is loaded, grouped by source image. EMOd is read before
the model: images its annotation names but the folder lacks stop the tool
(``--skip-missing`` builds from the others); a source that does not decode
is reported by name and counted. The default model is Stable Diffusion v1.5
(CreativeML OpenRAIL-M licence, see docs/datasets.md); weights load from
safetensors files only.

A run resumes: images listed in the manifest with the same settings are
skipped; an image on disk but not in the manifest (a run killed between the
two writes) is made again. Images and the manifest are written atomically;
the manifest is merged under a file lock, so several processes can build
one set: ``torchrun --nproc-per-node N`` (or ``RANK`` / ``WORLD_SIZE``, or
``--shard i/n``) gives each process the sources of its shard, and each uses
GPU ``LOCAL_RANK``. On GPUs the pipeline runs in float16.

Needs the ``diffusion`` extra: ``pip install -e ".[diffusion]"``.

One tool, one idea (a resumable, shardable build of one dataset): its length
is the resumability and the checks of the model and the sources, each of
which is part of that build.
"""
import argparse
import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import os.path as osp
import sys
import time
from collections import defaultdict
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from emoreg_mm.fileio import atomic_write_bytes

DEFAULT_MODEL = 'stable-diffusion-v1-5/stable-diffusion-v1-5'
COLUMNS = ('image', 'source_id', 'strength', 'variant', 'seed', 'prompt',
           'negative_prompt', 'guidance_scale', 'steps', 'resolution', 'size',
           'dtype', 'model', 'model_revision')
EXTRA_HINT = ('The Diffused-EMOd builder needs diffusers and transformers: '
              'pip install -e ".[diffusion]" (or pip install -r '
              'requirements/diffusion.txt).')
# Options of a DiffusedEMOd / EMOd config that are EMOd annotation options.
EMOD_KEYS = ('ann_file', 'mat_key', 'id_col', 'score_cols', 'class_names',
             'filename_tmpl', 'id_decimal_sep', 'label_space', 'name_map')


class BuildError(RuntimeError):
    """A problem with the inputs, found before or while building."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Build Diffused-EMOd: image-to-image variants of every '
        'EMOd image, in the layout DiffusedEMOd reads.')
    p.add_argument('config', help='config with a DiffusedEMOd or EMOd '
                   'train_dataloader dataset')
    p.add_argument('--out', help='output folder (default: the DiffusedEMOd '
                   "config's data_root)")
    p.add_argument('--emod-root', help="EMOd folder (default: the config's)")
    p.add_argument('--cfg-options', nargs='+', default=None,
                   help='override config settings (key=value)')
    p.add_argument('--skip-missing', action='store_true',
                   help='build from the EMOd images present when the '
                   'annotation names some the folder lacks (reported); '
                   'default: stop before generating anything')
    p.add_argument('--model', default=DEFAULT_MODEL,
                   help='diffusers image-to-image model: hub id or local '
                   f'folder (default: {DEFAULT_MODEL})')
    p.add_argument('--revision', default=None,
                   help='hub revision (branch, tag or commit) of --model')
    p.add_argument('--variant', default=None,
                   help='weight variant to load, e.g. fp16')
    p.add_argument('--cache-dir', default=None,
                   help='Hugging Face cache (default: HF_HUB_CACHE)')
    p.add_argument('--variants', type=int, default=4,
                   help='variants (seeds) per source and strength')
    p.add_argument('--strengths', type=float, nargs='+', default=[0.5],
                   help='img2img strengths in (0, 1]')
    p.add_argument('--prompt', default='a photograph',
                   help="prompt template; '{emotion}' is replaced by the "
                   "source's EMOd emotion name")
    p.add_argument('--negative-prompt', default='')
    p.add_argument('--guidance-scale', type=float, default=7.5)
    p.add_argument('--steps', type=int, default=30,
                   help='inference steps (img2img runs steps x strength)')
    p.add_argument('--seed', type=int, default=0,
                   help='base seed; each image gets a seed from it, its '
                   'source id and variant index')
    p.add_argument('--size', type=int, default=None,
                   help="short side in pixels (default: the model's native "
                   'resolution)')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--device', default=None,
                   help='default: cuda:LOCAL_RANK if CUDA is available, '
                   'else cpu')
    p.add_argument('--fp32', action='store_true',
                   help='float32 on GPUs too (default there: float16)')
    p.add_argument('--no-safety-checker', action='store_true',
                   help="do not run the model's safety checker")
    p.add_argument('--shard', default=None,
                   help='i/n: build shard i of n (default: RANK/WORLD_SIZE '
                   'from torchrun, else 0/1)')
    p.add_argument('--ext', default='.png', choices=('.png', '.jpg'))
    args = p.parse_args(argv)
    if args.variants < 1:
        p.error('--variants must be >= 1')
    if any(not 0 < s <= 1 for s in args.strengths):
        p.error(f'--strengths {args.strengths}: each must be in (0, 1]')
    if args.steps < 1 or args.batch_size < 1:
        p.error('--steps and --batch-size must be >= 1')
    if int(args.steps * min(args.strengths)) < 1:
        p.error(f'--steps {args.steps} at strength {min(args.strengths)} '
                'runs no denoising step (img2img runs int(steps x '
                'strength)); raise --steps')
    args.strengths = list(dict.fromkeys(args.strengths))
    return args


# --------------------------------------------------------------------------
# Inputs: the EMOd sources
# --------------------------------------------------------------------------
def load_sources(args) -> Tuple[object, str, str, str]:
    """Build EMOd as the config says; return ``(dataset, out_root,
    manifest_path, image_folder)``. Raises before any generation when the
    EMOd folder does not match its annotation."""
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        ns = argparse.Namespace()
        DictAction(option_strings=[], dest='cfg_options')(
            None, ns, args.cfg_options)
        cfg.merge_from_dict(ns.cfg_options)
    ds_cfg = (cfg.get('train_dataloader') or {}).get('dataset')
    kind = str(ds_cfg.get('type')).split('.')[-1] if ds_cfg else None
    if kind not in ('DiffusedEMOd', 'EMOd'):
        raise BuildError(
            f'{args.config}: train_dataloader.dataset is {kind!r}; expected '
            'a DiffusedEMOd (or EMOd) dataset dict.')
    opts = {k: ds_cfg[k] for k in EMOD_KEYS if k in ds_cfg}
    if kind == 'DiffusedEMOd':
        emod_root = args.emod_root or ds_cfg.get('emod_root')
        emod_img_dir = ds_cfg.get('emod_img_dir', 'EMOdImages1019')
        out = args.out or ds_cfg.get('data_root')
        manifest = ds_cfg.get('manifest', 'manifest.csv')
        img_dir = ds_cfg.get('img_dir', 'images')
    else:
        emod_root = args.emod_root or ds_cfg.get('data_root')
        emod_img_dir = ds_cfg.get('img_dir', 'EMOdImages1019')
        out, manifest, img_dir = args.out, 'manifest.csv', 'images'
    if not emod_root or not out:
        raise BuildError(f'{args.config}: no EMOd folder (emod_root / '
                         '--emod-root) or no output folder (the '
                         "DiffusedEMOd config's data_root / --out).")
    import emoreg_mm  # noqa: F401  (registers EMOd)
    from emoreg_mm.datasets import EMOd
    try:
        dataset = EMOd(data_root=emod_root, img_dir=emod_img_dir,
                       split='all', tie_policy='first',
                       skip_missing=args.skip_missing, lazy_init=False,
                       **opts)
    except FileNotFoundError as e:
        hint = ' (this tool: --skip-missing)' if 'skip_missing' in str(
            e) else ''
        raise BuildError(f'{e}{hint}') from e
    return dataset, out, osp.join(out, manifest), osp.join(out, img_dir)


def variant_seed(base: int, source_id: str, k: int) -> int:
    """A seed that depends only on the base seed, the source and the
    variant index (not on the order, batching or sharding)."""
    digest = hashlib.sha256(f'{base}/{source_id}/{k}'.encode()).digest()
    return int.from_bytes(digest[:4], 'little') & 0x7FFFFFFF


def plan_sources(dataset, args, shard: Tuple[int, int]) -> List[dict]:
    """Per source of this shard: its id, image path, emotion and prompt."""
    classes = dataset.metainfo['classes']
    uses_emotion = '{emotion}' in args.prompt
    try:
        args.prompt.format(emotion='x')
    except (KeyError, IndexError, ValueError) as e:
        raise BuildError(f'--prompt {args.prompt!r} is not a valid '
                         "template: the only field is '{emotion}' "
                         f'({type(e).__name__}: {e}).')
    if uses_emotion and all(c.startswith('emod_') for c in classes):
        raise BuildError(
            "--prompt uses '{emotion}' but the EMOd class names are the "
            'placeholders emod_0..emod_8; set class_names in the config.')
    sep = dataset.id_decimal_sep
    sources = []
    for i in range(len(dataset)):
        if i % shard[1] != shard[0]:
            continue
        info = dataset.get_data_info(i)
        emotion = classes[info['gt_label']]
        sources.append(dict(
            img_id=info['img_id'],
            # as a number with '.', the way DiffusedEMOd reads source_id
            source_id=info['img_id'].replace(sep, '.') if sep != '.' else
            info['img_id'],
            img_path=info['img_path'],
            prompt=args.prompt.format(emotion=emotion)))
    return sources


def jobs_of(source: dict, args, extras: dict) -> List[dict]:
    """The manifest rows (one per image) a source should get."""
    rows = []
    for strength in args.strengths:
        for k in range(args.variants):
            name = f"{source['img_id']}_s{strength:g}_v{k}{args.ext}"
            rows.append(dict(
                extras,
                image=f"{source['img_id']}/{name}",
                source_id=source['source_id'],
                strength=f'{strength:g}',
                variant=str(k),
                seed=str(variant_seed(args.seed, source['source_id'], k)),
                prompt=source['prompt']))
    return rows


def read_source(path: str, size: int, multiple: int):
    """The RGB image with its short side resized to ``size`` and both sides
    cropped (centred) to a multiple of ``multiple``; raises on a file that
    does not decode."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert('RGB')
    w, h = im.size
    scale = size / min(w, h)
    w, h = max(multiple, round(w * scale)), max(multiple, round(h * scale))
    im = im.resize((w, h), Image.LANCZOS)
    cw, ch = w // multiple * multiple, h // multiple * multiple
    left, top = (w - cw) // 2, (h - ch) // 2
    return im.crop((left, top, left + cw, top + ch))


# --------------------------------------------------------------------------
# Outputs: atomic files and the merged manifest
# --------------------------------------------------------------------------
@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """An exclusive lock (``fcntl.flock``) on ``path + '.lock'``."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path + '.lock', 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_rows(path: str) -> Dict[str, dict]:
    """``{image: row}`` of a manifest written by this tool (empty if none)."""
    if not osp.isfile(path):
        return {}
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            return {}
        missing = [c for c in ('image', 'source_id')
                   if c not in reader.fieldnames]
        if missing:
            raise BuildError(f'{path}: header {reader.fieldnames} lacks '
                             f'{missing}; is this folder a Diffused-EMOd '
                             'set written by this tool?')
        try:
            return {r['image']: r for r in reader}
        except csv.Error as err:  # e.g. a field over csv.field_size_limit
            raise BuildError(
                f'{path}, line {reader.line_num + 1}: not a manifest row '
                f'({err}; the limit is {csv.field_size_limit()} characters a field). '
                'Remove or repair that line, or the manifest, and run the '
                'build again.') from None


def merge_rows(path: str, rows: Sequence[dict]) -> Dict[str, dict]:
    """Add ``rows`` to the CSV at ``path`` under its lock, atomically;
    return the merged ``{image: row}``."""
    with locked(path):
        merged = read_rows(path)
        merged.update({r['image']: r for r in rows})
        header = list(COLUMNS) + sorted(
            {k for r in merged.values() for k in r} - set(COLUMNS))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=header, restval='',
                                lineterminator='\n')
        writer.writeheader()
        writer.writerows(merged[k] for k in sorted(merged))
        atomic_write_bytes(path, buf.getvalue().encode('utf-8'))
    return merged


def check_settings(row: dict, done: dict, manifest: str) -> None:
    """An image already listed with other settings is an error."""
    diff = [k for k in COLUMNS
            if k in row and k in done and done[k] != row[k]]
    if diff:
        k = diff[0]
        raise BuildError(
            f'{manifest}: {row["image"]} was built with {k}={done[k]!r}, '
            f'this run asks for {k}={row[k]!r} (differing: {diff}). Build '
            'into another folder, or delete the folder to rebuild it.')


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------
def import_diffusers():
    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        raise BuildError(f'{EXTRA_HINT} ({e})') from None
    return diffusers


def folder_digest(folder: str) -> str:
    """``sha256:`` of a local model folder's file names and contents."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(files):
            path = osp.join(root, name)
            h.update(osp.relpath(path, folder).encode() + b'\0')
            with open(path, 'rb') as f:
                for chunk in iter(lambda: f.read(1 << 20), b''):
                    h.update(chunk)
    return 'sha256:' + h.hexdigest()


def resolve_model(model: str, revision: Optional[str], variant: Optional[str],
                  cache_dir: Optional[str]) -> Tuple[str, str]:
    """``(local_folder, revision)`` of ``model``: a local folder (revision:
    a digest of its files) or a hub id, loaded from the cache or downloaded
    (revision: the commit). A hub id neither cached nor reachable fails at
    once, naming the id and the cache."""
    from diffusers import DiffusionPipeline
    from huggingface_hub import constants
    if osp.isdir(model):
        if not osp.isfile(osp.join(model, 'model_index.json')):
            raise BuildError(f'--model {model}: the folder has no '
                             'model_index.json (not a diffusers pipeline '
                             'saved with save_pretrained).')
        return model, revision or folder_digest(model)
    if model.startswith(('.', '/', '~')) or osp.exists(model):
        raise BuildError(f'--model {model}: no such folder (and not a hub '
                         f'id such as {DEFAULT_MODEL}).')
    kwargs = dict(revision=revision, variant=variant, cache_dir=cache_dir,
                  use_safetensors=True)
    cache = cache_dir or constants.HF_HUB_CACHE
    try:
        folder = DiffusionPipeline.download(model, local_files_only=True,
                                            **kwargs)
    except Exception as cached_error:  # not (completely) in the cache
        from emoreg_mm.compat.offline import PROBE_TIMEOUT, url_reachable
        why = ('HF_HUB_OFFLINE is set' if constants.HF_HUB_OFFLINE else
               f'the hub {constants.ENDPOINT} is unreachable within '
               f'{PROBE_TIMEOUT:.0f} s' if not url_reachable(
                   constants.ENDPOINT) else None)
        if why:
            raise BuildError(
                f'The diffusion model {model!r}'
                f'{f" (revision {revision})" if revision else ""} is not in '
                f'the Hugging Face cache {cache} and {why}. Download it on '
                'a machine with internet into that cache (or set '
                'HF_HUB_CACHE), or pass a local folder with --model. '
                f'({type(cached_error).__name__})') from None
        print(f'[build] downloading {model} into {cache}', flush=True)
        folder = DiffusionPipeline.download(model, **kwargs)
    return str(folder), osp.basename(osp.normpath(str(folder)))


def load_pipeline(folder: str, device: str, dtype, variant: Optional[str],
                  no_safety_checker: bool):
    from diffusers import AutoPipelineForImage2Image
    try:  # diffusers renamed torch_dtype to dtype
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa
        kwargs = dict(dtype=dtype)
    except ImportError:
        kwargs = dict(torch_dtype=dtype)
    # safetensors only: pickled weights could run code; no remote code
    kwargs.update(variant=variant, use_safetensors=True,
                  trust_remote_code=False)
    if no_safety_checker:
        kwargs['safety_checker'] = None
    try:
        pipe = AutoPipelineForImage2Image.from_pretrained(folder, **kwargs)
    except Exception as e:
        raise BuildError(f'Cannot load an image-to-image pipeline from '
                         f'{folder}: {type(e).__name__}: {e}') from e
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def native_size(pipe) -> int:
    """The pipeline's default image side (its UNet's sample size in
    pixels)."""
    try:
        return pipe.unet.config.sample_size * pipe.vae_scale_factor
    except AttributeError:
        raise BuildError(f'{type(pipe).__name__} has no UNet sample size to '
                         'take the resolution from; pass --size.') from None


# --------------------------------------------------------------------------
def get_shard(spec: Optional[str]) -> Tuple[int, int]:
    if spec:
        try:
            i, n = (int(x) for x in spec.split('/'))
        except ValueError:
            raise BuildError(f'--shard {spec!r}: expected i/n, e.g. 0/4.')
    else:
        i = int(os.environ.get('RANK', 0))
        n = int(os.environ.get('WORLD_SIZE', 1))
    if not 0 <= i < n:
        raise BuildError(f'shard {i}/{n}: expected 0 <= i < n.')
    return i, n


def build(args) -> dict:
    """Build (or complete) the set; return a summary dict."""
    import_diffusers()
    shard = get_shard(args.shard)
    dataset, out, manifest, img_dir = load_sources(args)
    sources = plan_sources(dataset, args, shard)
    import torch
    folder, revision = resolve_model(args.model, args.revision, args.variant,
                                     args.cache_dir)
    device = args.device or (
        f"cuda:{os.environ.get('LOCAL_RANK', 0)}"
        if torch.cuda.is_available() else 'cpu')
    dtype = (torch.float16 if device.startswith('cuda') and not args.fp32
             else torch.float32)
    extras = dict(negative_prompt=args.negative_prompt,
                  guidance_scale=f'{args.guidance_scale:g}',
                  steps=str(args.steps), resolution=str(args.size or 'native'),
                  dtype=str(dtype).replace('torch.', ''), model=args.model,
                  model_revision=revision)
    filtered_csv = osp.join(out, 'filtered.csv')
    done, filtered = read_rows(manifest), read_rows(filtered_csv)
    summary = dict(generated=0, skipped=0, filtered=[], undecodable=[],
                   shard=f'{shard[0]}/{shard[1]}',
                   missing=dataset.skipped.get('missing', []))
    todo = []  # every conflict is found before anything is generated
    for src in sources:
        rows = []
        for row in jobs_of(src, args, extras):
            previous = done.get(row['image']) or filtered.get(row['image'])
            if previous:
                check_settings(row, previous, manifest)
                if row['image'] in filtered or osp.isfile(
                        osp.join(img_dir, row['image'])):
                    summary['skipped'] += 1
                    continue
            rows.append(row)
        if rows:
            todo.append((src, rows))
    if todo:
        pipe = load_pipeline(folder, device, dtype, args.variant,
                             args.no_safety_checker)
        size = args.size or native_size(pipe)
        generate(pipe, todo, size, args, manifest, img_dir, filtered_csv,
                 summary)
        if shard[0] == 0:
            import diffusers
            import transformers
            meta = dict(vars(args), model_folder=folder,
                        model_revision=revision, size=size, dtype=str(dtype),
                        versions=dict(diffusers=diffusers.__version__,
                                      transformers=transformers.__version__,
                                      torch=torch.__version__))
            atomic_write_bytes(osp.join(out, 'build.json'),
                         json.dumps(meta, indent=2).encode())
    # an empty shard (or one with nothing new) still leaves a manifest
    summary['total'] = len(merge_rows(manifest, []))
    return summary


def generate(pipe, todo, size, args, manifest, img_dir, filtered_csv,
             summary) -> None:
    """Run ``pipe`` on the sources of ``todo`` in batches of equal strength
    and size; write images, then their manifest rows."""
    import torch
    from tqdm import tqdm
    progress = tqdm(total=sum(len(rows) for _, rows in todo),
                    desc=f"[build {summary['shard']}]", unit='img',
                    file=sys.stderr, mininterval=1.0)

    def run(batch):
        result = pipe(
            prompt=[r['prompt'] for r, _ in batch],
            negative_prompt=[r['negative_prompt'] for r, _ in batch]
            if args.negative_prompt else None,
            image=[im for _, im in batch],
            strength=float(batch[0][0]['strength']),
            num_inference_steps=args.steps,
            guidance_scale=args.guidance_scale,
            # one CPU generator per image: the same noise on any device,
            # batch size or shard
            generator=[torch.Generator('cpu').manual_seed(int(r['seed']))
                       for r, _ in batch])
        flags = getattr(result, 'nsfw_content_detected', None)
        rows, bad = [], []
        for (row, _), image, flag in zip(batch, result.images,
                                         flags or [False] * len(batch)):
            if flag:
                bad.append(dict(row, reason='safety checker'))
                continue
            buf = io.BytesIO()
            if args.ext == '.png':
                image.save(buf, format='PNG')
            else:
                image.save(buf, format='JPEG', quality=95)
            atomic_write_bytes(osp.join(img_dir, row['image']),
                               buf.getvalue())
            rows.append(row)
        if rows:
            merge_rows(manifest, rows)
        if bad:
            merge_rows(filtered_csv, bad)
            summary['filtered'] += [r['image'] for r in bad]
        summary['generated'] += len(rows)
        progress.update(len(batch))

    buckets: Dict[tuple, list] = defaultdict(list)
    for src, rows in todo:
        try:
            image = read_source(src['img_path'], size,
                                getattr(pipe, 'vae_scale_factor', 8))
        except Exception as e:  # PIL raises many types on bad files
            summary['undecodable'].append(
                f"{src['img_path']} ({type(e).__name__}: {e})")
            progress.update(len(rows))
            continue
        for row in rows:
            row['size'] = f'{image.width}x{image.height}'
            key = (row['strength'], image.size)
            buckets[key].append((row, image))
            if len(buckets[key]) == args.batch_size:
                run(buckets.pop(key))
    for key in list(buckets):
        run(buckets.pop(key))
    progress.close()


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from emoreg_mm.datasets.file_checks import shown
    start = time.time()
    try:
        s = build(args)
    except (BuildError, FileNotFoundError, ValueError, KeyError) as e:
        print(f'[build] error: {e}', file=sys.stderr, flush=True)
        return 1
    print(f"[build {s['shard']}] {s['generated']} generated, "
          f"{s['skipped']} already done; the manifest lists {s['total']} "
          f'images ({time.time() - start:.0f} s).', flush=True)
    if s['filtered']:
        print(f"[build {s['shard']}] {len(s['filtered'])} image(s) flagged "
              "by the model's safety checker, not written (listed in "
              f"filtered.csv): {shown(s['filtered'])}", flush=True)
    if s['missing']:
        print(f"[build {s['shard']}] {len(s['missing'])} EMOd image(s) the "
              'annotation names are missing and got no variants '
              f"(--skip-missing): {shown(s['missing'])}", flush=True)
    if s['undecodable']:
        print(f"[build {s['shard']}] {len(s['undecodable'])} source "
              f"image(s) could not be decoded and got no variants: "
              f"{shown(s['undecodable'])}", flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
