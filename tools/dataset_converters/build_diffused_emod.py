"""Build a Diffused-EMOd set: diffusion image-to-image variants of EMOd.

Reads EMOd with the project's loader and the options of a dataset config,
runs a diffusers image-to-image pipeline on every source image and writes
the layout :class:`emoreg_mm.datasets.DiffusedEMOd` reads (a manifest that
holds what rebuilds each image, the images, a build record; see
:mod:`emoreg_mm.datasets.builders.diffused_emod`).

Usage::

    python tools/dataset_converters/build_diffused_emod.py CONFIG \
        [--out DIR] [--model ID_OR_PATH] [--variants 4] [--strengths 0.5] \
        [--prompt 'a photograph'] [--steps 30] [--guidance-scale 7.5]

CONFIG is a config whose ``train_dataloader.dataset`` is a ``DiffusedEMOd``
(its ``emod_root`` and annotation options say where and how EMOd is read,
its ``data_root`` where the set goes) or an ``EMOd`` (then give ``--out``).
The default model is Stable Diffusion v1.5 (CreativeML OpenRAIL-M licence,
see docs/datasets.md); weights load from safetensors files only.

A run resumes where the last one stopped. Several processes can build one
set: ``torchrun --nproc-per-node N`` (or ``RANK`` / ``WORLD_SIZE``, or
``--shard i/n``) gives each process the sources of its shard, and each uses
GPU ``LOCAL_RANK``. On GPUs the pipeline runs in float16.

Needs the ``diffusion`` extra: ``pip install -e ".[diffusion]"``.
"""
import argparse
import sys
import time
from typing import List, Optional

from emoreg_mm.datasets.builders import BuildError
from emoreg_mm.datasets.builders.diffused_emod import (BuildOptions, build,
                                                       report)
from emoreg_mm.datasets.builders.diffusion import DEFAULT_MODEL
from emoreg_mm.utils import register_all_modules


def parse_args(argv: Optional[List[str]] = None) -> BuildOptions:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Build Diffused-EMOd: image-to-image variants of every '
        'EMOd image, in the layout DiffusedEMOd reads.')
    p.add_argument('config', help='config with a DiffusedEMOd or EMOd '
                   'train_dataloader dataset')
    p.add_argument('--out', help='output folder (default: the DiffusedEMOd '
                   "config's data_root)")
    p.add_argument('--emod-root', help="EMOd folder (default: the config's)")
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
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
    try:
        return BuildOptions(**vars(p.parse_args(argv)))
    except ValueError as err:
        p.error(str(err))


def main(argv: Optional[List[str]] = None) -> int:
    opts = parse_args(argv)
    register_all_modules(init_default_scope=False)
    start = time.time()
    try:
        summary = build(opts)
    except (BuildError, FileNotFoundError, ValueError, KeyError) as e:
        print(f'[build] error: {e}', file=sys.stderr, flush=True)
        return 1
    report(summary, time.time() - start)
    return 0


if __name__ == '__main__':
    sys.exit(main())
