"""Build a Diffused-EMOd set: diffusion image-to-image variants of EMOd.

:func:`build` reads EMOd with the project's loader and the options of a
dataset config, runs a diffusers image-to-image pipeline on every source
image and writes the layout :class:`emoreg_mm.datasets.DiffusedEMOd`
reads::

    OUT/manifest.csv      image,source_id,strength,variant,seed,prompt,...
    OUT/images/<id>/<id>_s<strength>_v<k>.png
    OUT/build.json        the settings and library versions of the last run

Every manifest row holds what rebuilds its image (:mod:`.manifest`): the
source id, strength, seed, prompt, negative prompt, guidance scale, steps,
size, dtype, and the model id with its revision (a hub commit, or
``sha256:...`` of a local folder's files; :mod:`.diffusion`).

The config's ``train_dataloader.dataset`` is a ``DiffusedEMOd`` (its
``emod_root`` and annotation options say where and how EMOd is read, its
``data_root`` where the set goes) or an ``EMOd`` (then give ``out``). Every
annotated image is a source, whatever the config's split: the split is made
when the set is loaded, grouped by source image. EMOd is read before the
model: images its annotation names but the folder lacks stop the build
(``skip_missing`` builds from the others); a source that does not decode
is reported by name and counted.

A build resumes: images listed in the manifest with the same settings are
skipped; an image on disk but not in the manifest (a run killed between the
two writes) is made again. Several processes can build one set, each the
sources of its shard (``shard='i/n'``, else ``RANK`` / ``WORLD_SIZE`` from
torchrun), each on GPU ``LOCAL_RANK``. On GPUs the pipeline runs in float16.

Example::

    from emoreg_mm.datasets.builders.diffused_emod import (BuildOptions,
                                                           build, report)
    summary = build(BuildOptions('configs/emoreg_pretrain/'
                                 'resnet50_diffused-emod.py', variants=1))
    report(summary)

One idea, the build of one set from its sources to its images and rows:
beside it, its manifest (:mod:`.manifest`) and model (:mod:`.diffusion`);
much of its length is the Args of :class:`BuildOptions`.
"""
import dataclasses
import hashlib
import io
import json
import os
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from ...fileio import atomic_write_bytes
from ..file_checks import shown
from . import BuildError
from .diffusion import (DEFAULT_MODEL, import_diffusers, load_pipeline,
                        native_size, resolve_model)
from .manifest import check_settings, merge_rows, read_rows

# Options of a DiffusedEMOd / EMOd config that are EMOd annotation options.
EMOD_KEYS = ('ann_file', 'mat_key', 'id_col', 'score_cols', 'class_names',
             'filename_tmpl', 'id_decimal_sep', 'label_space', 'name_map')


@dataclasses.dataclass
class BuildOptions:
    """What to build, and how (the options of build_diffused_emod.py).

    Args:
        config (str): Config with a DiffusedEMOd or EMOd
            ``train_dataloader`` dataset.
        out (str, optional): Output folder. Defaults to the DiffusedEMOd
            config's ``data_root``.
        emod_root (str, optional): The EMOd folder. Defaults to the
            config's.
        cfg_options (dict, optional): Config settings to override.
        skip_missing (bool): Build from the EMOd images present when the
            annotation names some the folder lacks (reported). Defaults to
            False: stop before generating anything.
        model (str): diffusers image-to-image model: hub id or local
            folder. Defaults to :data:`DEFAULT_MODEL`.
        revision (str, optional): Hub revision of ``model``.
        variant (str, optional): Weight variant to load, e.g. ``'fp16'``.
        cache_dir (str, optional): Hugging Face cache. Defaults to
            ``HF_HUB_CACHE``.
        variants (int): Variants (seeds) per source and strength.
        strengths (Sequence[float]): img2img strengths in (0, 1].
        prompt (str): Prompt template; ``'{emotion}'`` is replaced by the
            source's EMOd emotion name.
        negative_prompt (str): The negative prompt.
        guidance_scale (float): Classifier-free guidance scale.
        steps (int): Inference steps (img2img runs steps x strength).
        seed (int): Base seed; each image gets a seed from it, its source
            id and variant index.
        size (int, optional): Short side in pixels. Defaults to the model's
            native resolution.
        batch_size (int): Images per pipeline call.
        device (str, optional): Defaults to ``cuda:LOCAL_RANK`` if CUDA is
            available, else ``cpu``.
        fp32 (bool): float32 on GPUs too (default there: float16).
        no_safety_checker (bool): Do not run the model's safety checker.
        shard (str, optional): ``'i/n'``: build shard i of n. Defaults to
            ``RANK/WORLD_SIZE`` from torchrun, else ``0/1``.
        ext (str): ``'.png'`` or ``'.jpg'``.

    Raises:
        ValueError: A count below 1, a strength outside (0, 1], or steps
            that run no denoising step at the lowest strength.
    """
    config: str
    out: Optional[str] = None
    emod_root: Optional[str] = None
    cfg_options: Optional[dict] = None
    skip_missing: bool = False
    model: str = DEFAULT_MODEL
    revision: Optional[str] = None
    variant: Optional[str] = None
    cache_dir: Optional[str] = None
    variants: int = 4
    strengths: Sequence[float] = (0.5, )
    prompt: str = 'a photograph'
    negative_prompt: str = ''
    guidance_scale: float = 7.5
    steps: int = 30
    seed: int = 0
    size: Optional[int] = None
    batch_size: int = 4
    device: Optional[str] = None
    fp32: bool = False
    no_safety_checker: bool = False
    shard: Optional[str] = None
    ext: str = '.png'

    def __post_init__(self):
        if self.variants < 1:
            raise ValueError('--variants must be >= 1')
        if any(not 0 < s <= 1 for s in self.strengths):
            raise ValueError(f'--strengths {list(self.strengths)}: each must '
                             'be in (0, 1]')
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError('--steps and --batch-size must be >= 1')
        if int(self.steps * min(self.strengths)) < 1:
            raise ValueError(
                f'--steps {self.steps} at strength {min(self.strengths)} '
                'runs no denoising step (img2img runs int(steps x '
                'strength)); raise --steps')
        if self.ext not in ('.png', '.jpg'):
            raise ValueError(f"--ext {self.ext!r}: expected '.png' or "
                             "'.jpg'")
        self.strengths = list(dict.fromkeys(self.strengths))


# --------------------------------------------------------------------------
# Inputs: the EMOd sources
# --------------------------------------------------------------------------
def load_sources(opts: BuildOptions) -> Tuple[object, str, str, str]:
    """Build EMOd as the config says; return ``(dataset, out_root,
    manifest_path, image_folder)``. Raises before any generation when the
    EMOd folder does not match its annotation."""
    from mmengine.config import Config
    cfg = Config.fromfile(opts.config)
    if opts.cfg_options:
        cfg.merge_from_dict(opts.cfg_options)
    ds_cfg = (cfg.get('train_dataloader') or {}).get('dataset')
    kind = str(ds_cfg.get('type')).split('.')[-1] if ds_cfg else None
    if kind not in ('DiffusedEMOd', 'EMOd'):
        raise BuildError(
            f'{opts.config}: train_dataloader.dataset is {kind!r}; expected '
            'a DiffusedEMOd (or EMOd) dataset dict.')
    emod_opts = {k: ds_cfg[k] for k in EMOD_KEYS if k in ds_cfg}
    if kind == 'DiffusedEMOd':
        emod_root = opts.emod_root or ds_cfg.get('emod_root')
        emod_img_dir = ds_cfg.get('emod_img_dir', 'EMOdImages1019')
        out = opts.out or ds_cfg.get('data_root')
        manifest = ds_cfg.get('manifest', 'manifest.csv')
        img_dir = ds_cfg.get('img_dir', 'images')
    else:
        emod_root = opts.emod_root or ds_cfg.get('data_root')
        emod_img_dir = ds_cfg.get('img_dir', 'EMOdImages1019')
        out, manifest, img_dir = opts.out, 'manifest.csv', 'images'
    if not emod_root or not out:
        raise BuildError(f'{opts.config}: no EMOd folder (emod_root / '
                         '--emod-root) or no output folder (the '
                         "DiffusedEMOd config's data_root / --out).")
    from ..emod import EMOd
    try:
        dataset = EMOd(data_root=emod_root, img_dir=emod_img_dir,
                       split='all', tie_policy='first',
                       skip_missing=opts.skip_missing, lazy_init=False,
                       **emod_opts)
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


def plan_sources(dataset, opts: BuildOptions,
                 shard: Tuple[int, int]) -> List[dict]:
    """Per source of this shard: its id, image path, emotion and prompt."""
    classes = dataset.metainfo['classes']
    uses_emotion = '{emotion}' in opts.prompt
    try:
        opts.prompt.format(emotion='x')
    except (KeyError, IndexError, ValueError) as e:
        raise BuildError(f'--prompt {opts.prompt!r} is not a valid '
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
            prompt=opts.prompt.format(emotion=emotion)))
    return sources


def jobs_of(source: dict, opts: BuildOptions, extras: dict) -> List[dict]:
    """The manifest rows (one per image) a source should get."""
    rows = []
    for strength in opts.strengths:
        for k in range(opts.variants):
            name = f"{source['img_id']}_s{strength:g}_v{k}{opts.ext}"
            rows.append(dict(
                extras,
                image=f"{source['img_id']}/{name}",
                source_id=source['source_id'],
                strength=f'{strength:g}',
                variant=str(k),
                seed=str(variant_seed(opts.seed, source['source_id'], k)),
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


def get_shard(spec: Optional[str]) -> Tuple[int, int]:
    """``(i, n)`` of ``'i/n'``, else of torchrun's ``RANK`` /
    ``WORLD_SIZE``, else ``(0, 1)``."""
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


# --------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------
def build(opts: BuildOptions) -> dict:
    """Build (or complete) the set.

    Returns:
        dict: ``generated`` and ``skipped`` (counts), ``filtered`` (images
        the safety checker flagged), ``undecodable`` and ``missing``
        (sources), ``shard`` and ``total`` (images the manifest lists).

    Raises:
        BuildError: The extra is missing, the inputs do not match, or the
            folder was built with other settings; found before any
            generation where they can be.
    """
    import_diffusers()
    shard = get_shard(opts.shard)
    dataset, out, manifest, img_dir = load_sources(opts)
    sources = plan_sources(dataset, opts, shard)
    import torch
    folder, revision = resolve_model(opts.model, opts.revision, opts.variant,
                                     opts.cache_dir)
    device = opts.device or (
        f"cuda:{os.environ.get('LOCAL_RANK', 0)}"
        if torch.cuda.is_available() else 'cpu')
    dtype = (torch.float16 if device.startswith('cuda') and not opts.fp32
             else torch.float32)
    extras = dict(negative_prompt=opts.negative_prompt,
                  guidance_scale=f'{opts.guidance_scale:g}',
                  steps=str(opts.steps), resolution=str(opts.size or 'native'),
                  dtype=str(dtype).replace('torch.', ''), model=opts.model,
                  model_revision=revision)
    filtered_csv = osp.join(out, 'filtered.csv')
    summary = dict(generated=0, skipped=0, filtered=[], undecodable=[],
                   shard=f'{shard[0]}/{shard[1]}',
                   missing=dataset.skipped.get('missing', []))
    todo = still_to_make(sources, opts, extras, manifest, img_dir,
                         filtered_csv, summary)
    if todo:
        pipe = load_pipeline(folder, device, dtype, opts.variant,
                             opts.no_safety_checker)
        size = opts.size or native_size(pipe)
        generate(pipe, todo, size, opts, manifest, img_dir, filtered_csv,
                 summary)
        if shard[0] == 0:
            write_record(out, opts, folder, revision, size, dtype)
    # an empty shard (or one with nothing new) still leaves a manifest
    summary['total'] = len(merge_rows(manifest, []))
    return summary


def still_to_make(sources: List[dict], opts: BuildOptions, extras: dict,
                  manifest: str, img_dir: str, filtered_csv: str,
                  summary: dict) -> List[Tuple[dict, List[dict]]]:
    """``[(source, rows)]`` of the images not made yet (counting those
    made in ``summary['skipped']``); every conflict with what the folder
    holds is found before anything is generated."""
    done, filtered = read_rows(manifest), read_rows(filtered_csv)
    todo = []
    for src in sources:
        rows = []
        for row in jobs_of(src, opts, extras):
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
    return todo


def write_record(out: str, opts: BuildOptions, folder: str, revision: str,
                 size: int, dtype) -> None:
    """``OUT/build.json``: the options, the model and library versions."""
    import diffusers
    import torch
    import transformers
    meta = dict(dataclasses.asdict(opts), model_folder=folder,
                model_revision=revision, size=size, dtype=str(dtype),
                versions=dict(diffusers=diffusers.__version__,
                              transformers=transformers.__version__,
                              torch=torch.__version__))
    atomic_write_bytes(osp.join(out, 'build.json'),
                       json.dumps(meta, indent=2).encode())


def generate(pipe, todo, size: int, opts: BuildOptions, manifest: str,
             img_dir: str, filtered_csv: str, summary: dict) -> None:
    """Run ``pipe`` on the sources of ``todo`` in batches of equal strength
    and size; write images, then their manifest rows."""
    from tqdm import tqdm
    progress = tqdm(total=sum(len(rows) for _, rows in todo),
                    desc=f"[build {summary['shard']}]", unit='img',
                    file=sys.stderr, mininterval=1.0)

    def run(batch):
        made, flagged = run_batch(pipe, batch, opts, img_dir)
        if made:
            merge_rows(manifest, made)
        if flagged:
            merge_rows(filtered_csv, flagged)
            summary['filtered'] += [r['image'] for r in flagged]
        summary['generated'] += len(made)
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
            if len(buckets[key]) == opts.batch_size:
                run(buckets.pop(key))
    for key in list(buckets):
        run(buckets.pop(key))
    progress.close()


def run_batch(pipe, batch: List[tuple], opts: BuildOptions,
              img_dir: str) -> Tuple[List[dict], List[dict]]:
    """Run the pipeline on ``batch`` (``(row, source image)`` pairs of one
    strength and size) and write each image atomically; return the rows of
    the images written and those the safety checker flagged (not
    written)."""
    import torch
    result = pipe(
        prompt=[r['prompt'] for r, _ in batch],
        negative_prompt=[r['negative_prompt'] for r, _ in batch]
        if opts.negative_prompt else None,
        image=[im for _, im in batch],
        strength=float(batch[0][0]['strength']),
        num_inference_steps=opts.steps,
        guidance_scale=opts.guidance_scale,
        # one CPU generator per image: the same noise on any device, batch
        # size or shard
        generator=[torch.Generator('cpu').manual_seed(int(r['seed']))
                   for r, _ in batch])
    flags = getattr(result, 'nsfw_content_detected', None)
    made, flagged = [], []
    for (row, _), image, flag in zip(batch, result.images,
                                     flags or [False] * len(batch)):
        if flag:
            flagged.append(dict(row, reason='safety checker'))
            continue
        buf = io.BytesIO()
        if opts.ext == '.png':
            image.save(buf, format='PNG')
        else:
            image.save(buf, format='JPEG', quality=95)
        atomic_write_bytes(osp.join(img_dir, row['image']), buf.getvalue())
        made.append(row)
    return made, flagged


def report(summary: dict, seconds: Optional[float] = None) -> None:
    """Print what :func:`build` did: counts, then the images flagged and
    the sources missing or undecodable, by name."""
    s, tag = summary, f"[build {summary['shard']}]"
    took = f' ({seconds:.0f} s)' if seconds is not None else ''
    print(f"{tag} {s['generated']} generated, {s['skipped']} already done; "
          f"the manifest lists {s['total']} images{took}.", flush=True)
    if s['filtered']:
        print(f"{tag} {len(s['filtered'])} image(s) flagged by the model's "
              'safety checker, not written (listed in filtered.csv): '
              f"{shown(s['filtered'])}", flush=True)
    if s['missing']:
        print(f"{tag} {len(s['missing'])} EMOd image(s) the annotation "
              'names are missing and got no variants (--skip-missing): '
              f"{shown(s['missing'])}", flush=True)
    if s['undecodable']:
        print(f"{tag} {len(s['undecodable'])} source image(s) could not be "
              f"decoded and got no variants: {shown(s['undecodable'])}",
              flush=True)
