"""tools/dataset_converters/build_diffused_emod.py (its main(argv) in this
process; a fresh interpreter where it is killed, and for the documented
commands) and its library, emoreg_mm.datasets.builders, on a fixture EMOd
with a tiny, randomly initialised diffusers img2img pipeline (no
download)."""
import csv
import json
import multiprocessing
import os
import os.path as osp
import re
import shlex
import shutil
import signal
import site
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from affective_fixtures import (EMOD_CLASSES, emod_id, emod_matrix,
                                make_emod, write_corrupt_image)
from emoreg_mm.datasets.builders.diffusion import DEFAULT_MODEL
from emoreg_mm.datasets.builders.manifest import merge_rows
from emoreg_mm.utils import register_all_modules
from launch_utils import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'dataset_converters', 'build_diffused_emod.py')
README_CMD = ('python tools/dataset_converters/build_diffused_emod.py '
              'configs/emoreg_pretrain/resnet50_diffused-emod.py')
# docs/datasets.md's example with options
DOCS_CMD = ('python tools/dataset_converters/build_diffused_emod.py '
            'configs/emoreg_pretrain/resnet50_diffused-emod.py --variants 1 '
            "--strengths 0.3 0.5 --prompt 'an evocative photograph'")
PROMPT = 'a photo, "{emotion}"'  # a comma and quotes: CSV quoting
FAST = ['--steps', '2', '--variants', '2', '--strengths', '0.5', '1.0',
        '--batch-size', '3']

# The diffusion extra (diffusers, transformers): importable here, or in the
# folder of its own that tools/setup_env.sh installs it to, put at the end
# of the path of this process and of the tool's processes (PYTHON). Where
# transformers is importable, mmengine imports it in every process (0.7 s
# of CPU a start), so the suite's other processes run without it.
EXTRA = osp.join(sys.prefix, 'extras', 'diffusion')
site.addsitedir(EXTRA)
#: ``python`` for ``python SCRIPT ARGS``, with EXTRA at the end of the path.
PYTHON = [
    sys.executable, '-c',
    'import os.path, runpy, site, sys; site.addsitedir(sys.argv.pop(1)); '
    'sys.argv.pop(0); sys.path.insert(0, os.path.dirname(os.path.abspath('
    "sys.argv[0]))); runpy.run_path(sys.argv[0], run_name='__main__')",
    EXTRA
]


register_all_modules(init_default_scope=False)


def tool(*argv):
    """build_diffused_emod.py's exit status."""
    return load_tool('dataset_converters/build_diffused_emod.py').main(
        list(argv))


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One CPU thread: the tiny pipeline gains nothing from more, and
    they contend on a busy machine."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def save_tiny_pipeline(folder):
    """A randomly initialised StableDiffusionImg2ImgPipeline (32 px), its
    CLIP tokenizer from vocab / merges files written here."""
    import torch
    from diffusers import (AutoencoderKL, PNDMScheduler,
                           StableDiffusionImg2ImgPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    os.makedirs(folder, exist_ok=True)
    vocab = {'<|startoftext|>': 0, '<|endoftext|>': 1}
    for c in 'abcdefghijklmnopqrstuvwxyz':
        vocab[c], vocab[c + '</w>'] = len(vocab), len(vocab) + 1
    tok_dir = osp.join(folder, '.tok')
    os.makedirs(tok_dir, exist_ok=True)
    with open(osp.join(tok_dir, 'vocab.json'), 'w') as f:
        json.dump(vocab, f)
    with open(osp.join(tok_dir, 'merges.txt'), 'w') as f:
        f.write('#version: 0.2\n')
    tokenizer = CLIPTokenizer(
        vocab_file=osp.join(tok_dir, 'vocab.json'),
        merges_file=osp.join(tok_dir, 'merges.txt'), model_max_length=77)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16,
        in_channels=4, out_channels=4, cross_attention_dim=32,
        down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D'),
        up_block_types=('CrossAttnUpBlock2D', 'UpBlock2D'))
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3,
        down_block_types=('DownEncoderBlock2D', ) * 2,
        up_block_types=('UpDecoderBlock2D', ) * 2, latent_channels=4,
        layers_per_block=1)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32,
        intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        vocab_size=len(vocab), max_position_embeddings=77))
    pipe = StableDiffusionImg2ImgPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1),
        safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.save_pretrained(folder)
    shutil.rmtree(tok_dir)
    return folder


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    return save_tiny_pipeline(str(tmp_path_factory.mktemp('tiny-sd')))


def write_config(path, out, emod, **extra):
    """A stage-1 style config: DiffusedEMOd train / val / test splits."""
    dataset = dict(type='DiffusedEMOd', data_root=out, emod_root=emod,
                   class_names=EMOD_CLASSES, label_space='own', **extra)
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(32, 32)),
                dict(type='PackInputs')]
    text = "custom_imports = dict(imports=['emoreg_mm'])\n"
    for split in ('train', 'val', 'test'):
        ds = dict(dataset, split=split, pipeline=pipeline)
        text += (f'{split}_dataloader = dict(batch_size=4, num_workers=0, '
                 f"dataset={ds!r}, sampler=dict(type='DefaultSampler', "
                 f'shuffle={split == "train"}))\n')
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def manifest_rows(out):
    with open(osp.join(out, 'manifest.csv'), newline='') as f:
        return list(csv.DictReader(f))


def build_dataset(cfg_path, split='all'):
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS
    ds = dict(Config.fromfile(cfg_path).train_dataloader.dataset)
    ds.update(split=split, pipeline=[])
    return DATASETS.build(ds)


@pytest.fixture(scope='module')
def built(model, tmp_path_factory):
    """A fixture EMOd (9 images, labels 0..8) turned into Diffused-EMOd:
    2 variants x 2 strengths per source."""
    root = tmp_path_factory.mktemp('built')
    emod = make_emod(str(root / 'EMOd'))
    out = str(root / 'Diffused-EMOd')
    cfg = write_config(root / 'cfg.py', out, emod)
    assert tool(cfg, '--model', model, '--prompt', PROMPT, *FAST) == 0
    return dict(root=root, emod=emod, out=out, cfg=cfg)


def copy_built(built, tmp_path):
    out = str(tmp_path / 'Diffused-EMOd')
    shutil.copytree(built['out'], out)
    return out, write_config(tmp_path / 'cfg.py', out, built['emod'])


def test_built_set_loads_with_labels_splits_and_metadata(built, model):
    import emoreg_mm  # noqa: F401
    from emoreg_mm.datasets import EMOd
    emod = EMOd(data_root=built['emod'], class_names=EMOD_CLASSES)
    labels = {emod.get_data_info(i)['img_id']: emod.get_data_info(i)[
        'gt_label'] for i in range(len(emod))}
    ds = build_dataset(built['cfg'])
    assert len(ds) == 9 * 2 * 2
    seeds, sizes = {}, set()
    for i in range(len(ds)):
        d = ds.get_data_info(i)
        assert d['gt_label'] == labels[d['source_id']]
        assert d['prompt'] == PROMPT.format(
            emotion=EMOD_CLASSES[d['gt_label']])
        assert d['strength'] in ('0.5', '1') and d['variant'] in ('0', '1')
        assert d['model'] == model and d['model_revision'].startswith(
            'sha256:') and d['dtype'] == 'float32' and d['steps'] == '2'
        seeds.setdefault((d['source_id'], d['variant']), set()).add(
            d['seed'])
        with Image.open(d['img_path']) as im:
            sizes.add(im.size)
    assert '2352.2' in labels and any(
        ds.get_data_info(i)['source_id'] == '2352.2' for i in range(len(ds)))
    # a variant keeps its seed across strengths; seeds differ otherwise
    assert all(len(s) == 1 for s in seeds.values())
    assert len({s.pop() for s in seeds.values()}) == len(seeds)
    assert sizes == {(32, 32)}  # the tiny model's native resolution
    sides = {}
    for split in ('train', 'val', 'test'):
        part = build_dataset(built['cfg'], split)
        for i in range(len(part)):
            sides.setdefault(part.get_data_info(i)['source_id'],
                             set()).add(split)
    assert len(sides) == 9 and all(len(s) == 1 for s in sides.values())
    meta = json.load(open(osp.join(built['out'], 'build.json')))
    assert meta['variants'] == 2 and meta['versions']['diffusers']


def test_check_dataset_validates_the_output(built, capsys):
    from emoreg_mm.datasets.checks import check_datasets, load_config
    assert check_datasets(load_config(built['cfg'])) == []
    assert 'No problems found' in capsys.readouterr().out


def test_second_run_skips_and_a_lost_row_is_rebuilt(built, model, tmp_path,
                                                    capsys):
    out, cfg = copy_built(built, tmp_path)
    args = [cfg, '--model', model, '--prompt', PROMPT, *FAST]
    mtimes = {p: os.stat(osp.join(out, 'images', p)).st_mtime_ns
              for p in (r['image'] for r in manifest_rows(out))}
    capsys.readouterr()
    assert tool(*args) == 0
    assert '0 generated, 36 already done' in capsys.readouterr().out
    assert mtimes == {p: os.stat(osp.join(out, 'images', p)).st_mtime_ns
                      for p in mtimes}
    # killed between the image and the manifest write: the image is on
    # disk (here half written) but not listed, so it is made again
    rows = manifest_rows(out)
    lost = rows.pop(5)
    path = osp.join(out, 'images', lost['image'])
    before = np.asarray(Image.open(path), dtype=int)
    with open(path, 'r+b') as f:
        f.truncate(40)
    with open(osp.join(out, 'manifest.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(lost))
        writer.writeheader()
        writer.writerows(rows)
    assert tool(*args) == 0
    assert '1 generated, 35 already done' in capsys.readouterr().out
    assert manifest_rows(out)[5] == lost
    # same seed, same settings: the same image up to float rounding
    assert np.abs(np.asarray(Image.open(path), dtype=int) - before).max() <= 2
    # other settings into the same folder: an error naming the image
    assert tool(*args, '--steps', '3') == 1
    err = capsys.readouterr().err
    assert re.search(r'\S+_s[\d.]+_v\d\.png was built with steps=.2., this '
                     "run asks for steps='3'", err), err
    assert len(manifest_rows(out)) == 36
    # a 200 KB field (over csv's field limit): an error naming the line
    manifest = osp.join(out, 'manifest.csv')
    with open(manifest, 'a') as f:
        f.write('x.png,' + 'y' * 200000 + '\n')
    assert tool(*args) == 1
    err = capsys.readouterr().err
    assert f'{manifest}, line 38: not a manifest row' in err, err
    assert 'field larger than field limit' in err and 'Traceback' not in err


def test_shards_merge_into_one_manifest(built, model, tmp_path,
                                        monkeypatch):
    out = str(tmp_path / 'sharded')
    cfg = write_config(tmp_path / 'cfg.py', out, built['emod'])
    args = [cfg, '--model', model, '--prompt', PROMPT, *FAST]
    assert tool(*args, '--shard', '1/2') == 0
    firsts = {r['source_id'] for r in manifest_rows(out)}
    monkeypatch.setenv('RANK', '0')  # as torchrun sets it
    monkeypatch.setenv('WORLD_SIZE', '2')
    assert tool(*args) == 0
    rows = manifest_rows(out)
    assert {r['source_id'] for r in rows} - firsts and len(firsts) == 4
    ref = {r['image']: r for r in manifest_rows(built['out'])}
    assert {r['image']: r for r in rows} == ref  # as one process built it


def _merge_many(path, worker):
    for i in range(15):
        merge_rows(path, [dict(image=f'w{worker}_{i}.png',
                               source_id='1000')])


def test_concurrent_merges_lose_no_row(tmp_path):
    path = str(tmp_path / 'manifest.csv')
    ctx = multiprocessing.get_context('fork')
    procs = [ctx.Process(target=_merge_many, args=(path, w))
             for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    with open(path, newline='') as f:
        assert len(list(csv.DictReader(f))) == 60


@pytest.mark.slow
def test_killed_run_completes_on_the_next(built, model, tmp_path):
    out = str(tmp_path / 'killed')
    cfg = write_config(tmp_path / 'cfg.py', out, built['emod'])
    args = [cfg, '--model', model, '--steps', '4', '--variants', '2',
            '--strengths', '1', '--batch-size', '1']
    proc = subprocess.Popen(
        [*PYTHON, TOOL, *args], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, cwd=REPO,
        env=dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES=''))
    deadline = time.time() + 240
    try:
        while not (osp.isfile(osp.join(out, 'manifest.csv'))
                   and len(manifest_rows(out)) >= 3):
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.time() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = manifest_rows(out)
    assert 3 <= len(partial) < 18, 'the run ended before it was killed'
    assert tool(*args) == 0
    rows = manifest_rows(out)
    assert len(rows) == 18 and partial == [
        r for r in rows if r['image'] in {p['image'] for p in partial}]
    ds = build_dataset(cfg)
    assert len(ds) == 18
    for i in range(len(ds)):
        Image.open(ds.get_data_info(i)['img_path']).load()


def test_undecodable_source_is_reported_and_counted(model, tmp_path,
                                                   capsys):
    emod = make_emod(str(tmp_path / 'EMOd'))
    bad = osp.join(emod, 'EMOdImages1019', '1003.jpg')
    write_corrupt_image(bad)
    out = str(tmp_path / 'out')
    cfg = write_config(tmp_path / 'cfg.py', out, emod)
    assert tool(cfg, '--model', model, '--steps', '2', '--variants',
                      '1') == 0
    text = capsys.readouterr().out
    assert '1 source image(s) could not be decoded' in text and bad in text
    assert '8 generated' in text
    assert '1003' not in {r['source_id'] for r in manifest_rows(out)}


def test_emod_not_matching_its_annotation_fails_first(model, tmp_path,
                                                      capsys):
    emod = make_emod(str(tmp_path / 'EMOd'), missing=[2])
    out = str(tmp_path / 'out')
    cfg = write_config(tmp_path / 'cfg.py', out, emod)
    # the model does not exist either: EMOd is checked before the model
    assert tool(cfg, '--model', str(tmp_path / 'no-model')) == 1
    err = capsys.readouterr().err
    missing = emod_id(emod_matrix()[2, 0])
    assert f'EMOdImages1019: {missing}.' in err and '--skip-missing' in err
    assert not osp.exists(out)
    # --skip-missing builds from the others and names the one left out
    assert tool(cfg, '--model', model, '--steps', '2', '--variants',
                      '1', '--skip-missing') == 0
    assert '1 EMOd image(s) the annotation names are missing' in \
        capsys.readouterr().out
    assert missing not in {r['source_id'] for r in manifest_rows(out)}
    assert len(manifest_rows(out)) == 8


def test_model_neither_cached_nor_reachable_fails_at_once(
        tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants
    emod = make_emod(str(tmp_path / 'EMOd'))
    cfg = write_config(tmp_path / 'cfg.py', str(tmp_path / 'out'), emod)
    cache = str(tmp_path / 'hub')
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', True)
    args = [cfg, '--model', 'someone/not-cached', '--cache-dir', cache]
    assert tool(*args) == 1
    err = capsys.readouterr().err
    assert "'someone/not-cached'" in err and cache in err
    assert 'HF_HUB_OFFLINE' in err
    # online, but the hub does not answer (a closed port on loopback)
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', False)
    monkeypatch.setattr(constants, 'ENDPOINT', 'http://127.0.0.1:9')
    assert tool(*args) == 1
    err = capsys.readouterr().err
    assert 'unreachable' in err and cache in err and 'someone/' in err


def test_bad_prompt_and_missing_extra(tmp_path, monkeypatch, capsys):
    emod = make_emod(str(tmp_path / 'EMOd'))
    out = str(tmp_path / 'out')
    # placeholder class names cannot fill a prompt
    text = ("train_dataloader = dict(dataset=dict(type='DiffusedEMOd', "
            f'data_root={out!r}, emod_root={emod!r}))\n')
    (tmp_path / 'cfg.py').write_text(text)
    cfg = str(tmp_path / 'cfg.py')
    assert tool(cfg, '--prompt', 'a {emotion} photo') == 1
    assert 'placeholders' in capsys.readouterr().err
    assert tool(cfg, '--prompt', 'a {mood} photo') == 1
    assert "only field is '{emotion}'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # int(1 x 0.5) = 0 denoising steps
        tool(cfg, '--steps', '1', '--strengths', '0.5')
    assert 'runs no denoising step' in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, 'diffusers', None)  # not installed
    assert tool(cfg) == 1
    assert 'pip install -e ".[diffusion]"' in capsys.readouterr().err


@pytest.mark.slow
def test_plugin_imports_without_the_extra():
    code = ("import sys; sys.modules['diffusers'] = None; "
            "sys.modules['transformers'] = None\n"
            'import emoreg_mm, emoreg_mm.datasets; '
            'import emoreg_mm.datasets.builders.diffused_emod; print("ok")')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0 and 'ok' in out.stdout, out.stderr[-3000:]


STAGE1 = """
_base_ = [{models!r}, {dataset!r}, {schedule!r}, {runtime!r}]
custom_imports = dict(imports=['emoreg_mm'], allow_failed_imports=False)
model = dict(head=dict(num_classes=9))
data_preprocessor = dict(mean=[127.5] * 3, std=[64.0] * 3)
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=32),
            dict(type='PackInputs')]
dataset = dict(data_root={out!r}, emod_root={emod!r},
               class_names={classes!r}, pipeline=pipeline)
train_dataloader = dict(batch_size=4, num_workers=0, dataset=dataset)
val_dataloader = dict(batch_size=4, num_workers=0, dataset=dataset)
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dataset)
train_cfg = dict(max_epochs=1, val_interval=1)
"""


@pytest.mark.slow
def test_stage1_config_trains_on_a_built_set(built, tmp_path):
    """The project's Diffused-EMOd stage-1 data piece on a built set, with
    the demo's tiny model, schedule and runtime, through tools/train.py's
    main() in this process (its interpreter start is not what is tested)."""
    import torch
    from launch_utils import run_tool
    from test_engine.runs import log_text
    demo = osp.join(REPO, 'configs', 'demo', '_base_')
    cfg = tmp_path / 'tiny-resnet_diffused-emod.py'
    cfg.write_text(STAGE1.format(
        models=osp.join(demo, 'models', 'tiny-resnet.py'),
        dataset=osp.join(REPO, 'configs', '_base_', 'datasets',
                         'diffused-emod.py'),
        schedule=osp.join(demo, 'schedules', 'demo_stage1.py'),
        runtime=osp.join(demo, 'demo_runtime.py'), out=built['out'],
        emod=built['emod'], classes=EMOD_CLASSES))
    work = str(tmp_path / 'work')
    threads = torch.get_num_threads()
    try:
        run_tool('train.py', str(cfg), '--work-dir', work)
    finally:
        torch.set_num_threads(threads)
    log = log_text(work)  # the run's log file
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    assert re.search(r'Epoch\(val\) \[1\].*accuracy/top1', log), log[-3000:]


def hub_cache(root, model, repo_id, sha='0123456789abcdef0123456789abcdef'
              '01234567'):
    """A Hugging Face hub cache holding ``model`` as ``repo_id`` at commit
    ``sha`` (the layout huggingface_hub writes)."""
    repo = osp.join(root, 'models--' + repo_id.replace('/', '--'))
    shutil.copytree(model, osp.join(repo, 'snapshots', sha))
    os.makedirs(osp.join(repo, 'refs'))
    with open(osp.join(repo, 'refs', 'main'), 'w') as f:
        f.write(sha)
    return sha


SOURCES = 3  # EMOd images in test_readme_command's project folder


@pytest.mark.slow
@pytest.mark.readme(README_CMD)
@pytest.mark.readme(DOCS_CMD)
@pytest.mark.parametrize('command', [README_CMD, DOCS_CMD])
def test_readme_command(model, tmp_path, command):
    """The documented commands, run as shown from a project folder with EMOd in
    data/EMOd and the default model in the (offline) hub cache; its
    ``python`` is this interpreter with the diffusion extra
    (:data:`PYTHON`)."""
    for name in ('tools', 'configs'):
        os.symlink(osp.join(REPO, name), tmp_path / name)
    # 3 sources: what the counts check needs (1000, 2352.2, 1002), a
    # third of the fixture's diffusion work
    make_emod(str(tmp_path / 'data' / 'EMOd'), mat=emod_matrix(SOURCES))
    sha = hub_cache(str(tmp_path / 'hub'), model, DEFAULT_MODEL)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'python').write_text(
        f'#!/bin/sh\nexec {shlex.join(PYTHON)} "$@"\n')
    (bin_dir / 'python').chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               HF_HUB_CACHE=str(tmp_path / 'hub'), HF_HUB_OFFLINE='1',
               OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    out = subprocess.run(['bash', '-c', command], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    rows = manifest_rows(str(tmp_path / 'data' / 'Diffused-EMOd'))
    if command == README_CMD:
        assert len(rows) == SOURCES * 4  # 4 variants at 0.5 by default
        assert {(r['model'], r['model_revision'], r['strength'], r['prompt'])
                for r in rows} == {(DEFAULT_MODEL, sha, '0.5',
                                    'a photograph')}
    else:  # 1 variant at each of 2 strengths, the prompt given
        assert len(rows) == SOURCES * 2
        assert {(r['model'], r['model_revision'], r['strength'], r['prompt'])
                for r in rows} == {
                    (DEFAULT_MODEL, sha, s, 'an evocative photograph')
                    for s in ('0.3', '0.5')}
        assert {r['variant'] for r in rows} == {'0'}
