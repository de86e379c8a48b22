"""Re-create CIFAR-10-C / CIFAR-100-C from the CIFAR test set.

Where the official files (Hendrycks & Dietterich, ICLR 2019; Zenodo
records 2535967 and 3555552) are not at hand, this writes the layout they
are distributed in, which :class:`emoreg_mm.datasets.CIFAR10C` reads::

    OUT/labels.npy           (5 N,) the test labels, once per severity
    OUT/<corruption>.npy     (5 N, 32, 32, 3) uint8, severity 1 first
    OUT/build.json           library, version, seed, N, what was built
    OUT/README.txt           says that the folder is a re-creation

with the corruptions of ``imagecorruptions`` (Apache-2.0; a
re-implementation of the paper's code without ImageMagick). It is a
re-creation, not the official files: imagecorruptions uses the
ImageNet-C parameters of each corruption, not the CIFAR-specific ones of
the paper's ``make_cifar_c.py``, and its own random draws. Numbers on it
compare runs with each other, not with published CIFAR-C results.

Usage::

    python tools/dataset_converters/build_cifar_c.py --cifar-root DIR \
        --out DIR [--dataset cifar10|cifar100] [--corruptions ...] \
        [--severities 1 2 3 4 5] [--num-images N] [--seed 0]

``--cifar-root`` is the folder mmpretrain's ``CIFAR10`` / ``CIFAR100``
reads (``cifar-10-batches-py`` / ``cifar-100-python`` in it). The first
``--num-images`` test images (default: all 10,000) are corrupted;
``--workers N`` builds N corruptions at once (about 2 s of CPU per image
for all 19 corruptions x 5 severities, a third of it glass_blur). Severities
left out by ``--severities`` are written as black images and recorded as
not built in ``build.json``; the reader refuses them. Each corruption file
is written atomically once all its severities are done; a run again with
the same settings skips the corruptions already written (resumable at the
granularity of one corruption). Each (corruption, severity) draws its
randomness from a seed of its own, so a resumed build equals an
uninterrupted one.

Needs the ``corruptions`` extra: ``pip install -e ".[corruptions]"``.
"""
import argparse
import hashlib
import io
import json
import os
import os.path as osp
import sys
import time
import types
from typing import List, Optional

import numpy as np

from emoreg_mm.evaluation.robustness import ALL_CORRUPTIONS, SEVERITIES
from emoreg_mm.fileio import atomic_write, atomic_write_text

INFO = 'build.json'
LIBRARY = 'imagecorruptions'
EXTRA_HINT = ('The CIFAR-C builder needs imagecorruptions: pip install -e '
              '".[corruptions]" (or pip install -r '
              'requirements/corruptions.txt).')
README = """\
This folder is a RE-CREATION of {name}-C, not the official files of
Hendrycks & Dietterich (ICLR 2019).

It was written by emoreg_mm's tools/dataset_converters/build_cifar_c.py
from the first {n} images of the {name} test set, with the corruptions of
the Python package {library} {version} (Apache-2.0), which uses the
ImageNet-C parameters of each corruption, not the CIFAR-C ones. Results on
it compare models with each other, not with published {name}-C numbers.
The settings and what was built are in build.json.
"""


class BuildError(RuntimeError):
    """A problem with the inputs or the output folder."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Re-create CIFAR-10-C / CIFAR-100-C from the CIFAR test '
        'set with imagecorruptions, in the layout of the official files.')
    p.add_argument('--cifar-root', required=True,
                   help='folder holding cifar-10-batches-py (or '
                   'cifar-100-python)')
    p.add_argument('--out', required=True, help='output folder, e.g. '
                   'data/CIFAR-10-C')
    p.add_argument('--dataset', choices=('cifar10', 'cifar100'),
                   default='cifar10')
    p.add_argument('--corruptions', nargs='+', default=list(ALL_CORRUPTIONS),
                   metavar='NAME', help='default: all 19')
    p.add_argument('--severities', nargs='+', type=int,
                   default=list(SEVERITIES), help='default: 1 to 5')
    p.add_argument('--num-images', type=int, default=None,
                   help='the first N test images (default: all)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--workers', type=int, default=1,
                   help='corruptions built at once, one process each')
    args = p.parse_args(argv)
    unknown = [c for c in args.corruptions if c not in ALL_CORRUPTIONS]
    if unknown:
        p.error(f'unknown corruption(s) {unknown}; valid: '
                f'{", ".join(ALL_CORRUPTIONS)}')
    bad = [s for s in args.severities if s not in SEVERITIES]
    if bad:
        p.error(f'--severities {bad}: expected 1 to 5')
    if args.num_images is not None and args.num_images < 1:
        p.error('--num-images must be positive')
    if args.workers < 1:
        p.error('--workers must be positive')
    args.corruptions = list(dict.fromkeys(args.corruptions))
    args.severities = sorted(set(args.severities))
    return args


def import_corruptions():
    """imagecorruptions, made to run on current numpy and scikit-image.

    Version 1.1.2 (the latest) calls ``skimage.filters.gaussian`` with
    ``multichannel=True`` (removed in scikit-image 0.21: ``channel_axis``)
    and uses ``np.float_`` (removed in NumPy 2). Its module gets a
    ``gaussian`` that takes the old argument and a numpy namespace with
    ``float_``; numpy itself is not changed.
    """
    try:
        import imagecorruptions
        from imagecorruptions import corruptions
    except ImportError as err:
        raise BuildError(f'{EXTRA_HINT} ({err})') from None
    if not getattr(corruptions, '_emoreg_compat', False):
        from skimage.filters import gaussian as _gaussian

        def gaussian(image, *args, multichannel=None, **kwargs):
            if multichannel:
                kwargs.setdefault('channel_axis', -1)
            return _gaussian(image, *args, **kwargs)

        compat_np = types.ModuleType('numpy')
        compat_np.__dict__.update(np.__dict__)
        compat_np.float_ = np.float64
        corruptions.gaussian = gaussian
        corruptions.np = compat_np
        corruptions._emoreg_compat = True
    return imagecorruptions


def library_version() -> str:
    from importlib import metadata
    return metadata.version(LIBRARY)


def load_test_set(args):
    """The CIFAR test images (N, 32, 32, 3) uint8 and labels (N,)."""
    from mmpretrain.registry import DATASETS

    from emoreg_mm.datasets import cifar_offline
    cifar_offline.apply()  # a clear error for missing CIFAR files
    cls = {'cifar10': 'CIFAR10', 'cifar100': 'CIFAR100'}[args.dataset]
    dataset = DATASETS.build(dict(type=cls, data_root=args.cifar_root,
                                  split='test', download=False))
    n = len(dataset)
    if args.num_images is not None:
        if args.num_images > n:
            raise BuildError(f'--num-images {args.num_images}: the test set '
                             f'under {args.cifar_root} has {n} images')
        n = args.num_images
    images = np.stack([dataset.get_data_info(i)['img'] for i in range(n)])
    labels = np.array(dataset.get_gt_labels()[:n], dtype=np.int64)
    return images.astype(np.uint8), labels


def block_seed(seed: int, corruption: str, severity: int) -> int:
    """The numpy seed of one (corruption, severity) block."""
    key = f'{seed}/{corruption}/{severity}'.encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], 'little')


def corrupt_block(library, images: np.ndarray, corruption: str,
                  severity: int, seed: int) -> np.ndarray:
    """``images`` corrupted at ``severity``, from the block's own seed
    (imagecorruptions draws from numpy's global generator)."""
    state = np.random.get_state()
    np.random.seed(block_seed(seed, corruption, severity))
    try:
        return np.stack([library.corrupt(img, corruption_name=corruption,
                                         severity=severity)
                         for img in images]).astype(np.uint8)
    finally:
        np.random.set_state(state)


def build_one(images: np.ndarray, corruption: str, severities: list,
              seed: int, path: str) -> tuple:
    """Write ``path``: the 5 severity blocks of ``corruption`` (those not
    in ``severities`` black). Returns ``(corruption, seconds)``."""
    start = time.time()
    library = import_corruptions()
    out = np.zeros((5, ) + images.shape, np.uint8)
    for s in severities:
        out[s - 1] = corrupt_block(library, images, corruption, s, seed)
    save_npy(path, out.reshape((5 * len(images), ) + images.shape[1:]))
    return corruption, time.time() - start


def run_jobs(todo: list, workers: int):
    """Yield ``(corruption, seconds)`` as each job of ``todo`` (arguments
    of :func:`build_one`) ends, ``workers`` forked processes at a time
    (fork: nothing is pickled; the images are shared)."""
    if workers == 1 or len(todo) < 2:
        yield from (build_one(*job) for job in todo)
        return
    import multiprocessing.connection
    ctx = multiprocessing.get_context('fork')
    pending, running = list(todo), {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                job = pending.pop(0)
                proc = ctx.Process(target=build_one, args=job, daemon=True)
                proc.start()
                running[proc] = (job[1], time.time())
            multiprocessing.connection.wait([p.sentinel for p in running])
            for proc in [p for p in running if not p.is_alive()]:
                corruption, began = running.pop(proc)
                proc.join()
                if proc.exitcode != 0:
                    raise BuildError(f'{corruption}: the worker building it '
                                     f'exited with {proc.exitcode}')
                yield corruption, time.time() - began
    finally:
        for proc in running:
            proc.terminate()
            proc.join()


def save_npy(path: str, array: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def read_info(path: str) -> dict:
    if not osp.isfile(path):
        return {}
    from emoreg_mm.fileio import read_json
    info = read_json(path)
    if not isinstance(info, dict) or not isinstance(
            info.get('corruptions'), dict):
        raise BuildError(f'{path}: not a build record of this tool; delete '
                         'it (or choose another --out) to build afresh')
    return info


def build(args) -> dict:
    """Write the set (or complete it); return a summary dict."""
    import_corruptions()  # a missing library stops before any work
    version = library_version()
    images, labels = load_test_set(args)
    n = len(images)
    os.makedirs(args.out, exist_ok=True)
    info_path = osp.join(args.out, INFO)
    info = read_info(info_path)
    settings = dict(source=args.dataset, num_images=n, seed=args.seed,
                    library=LIBRARY, library_version=version)
    if info and any(info.get(k) != v for k, v in settings.items()):
        old = {k: info.get(k) for k in settings}
        raise BuildError(f'{info_path}: the folder was built with {old}, '
                         f'not {settings}; choose another --out or delete '
                         'the folder')
    info = dict(info, **settings, official=False,
                note='A re-creation with imagecorruptions (ImageNet-C '
                'parameters), not the official CIFAR-C files.',
                corruptions=info.get('corruptions', {}))
    labels_path = osp.join(args.out, 'labels.npy')
    save_npy(labels_path, np.tile(labels, 5))
    summary = dict(built=[], skipped=[], images=n, out=args.out)
    todo = []
    for corruption in args.corruptions:
        path = osp.join(args.out, f'{corruption}.npy')
        done = info['corruptions'].get(corruption, [])
        if osp.isfile(path) and set(args.severities) <= set(done):
            summary['skipped'].append(corruption)
        else:
            todo.append((images, corruption, args.severities, args.seed,
                         path))
    for corruption, seconds in run_jobs(todo, args.workers):
        info['corruptions'][corruption] = list(args.severities)
        atomic_write_text(info_path, json.dumps(info, indent=1) + '\n')
        summary['built'].append(corruption)
        print(f'[build_cifar_c] {corruption}: severities {args.severities} '
              f'of {n} images ({seconds:.1f} s)', flush=True)
    atomic_write_text(info_path, json.dumps(info, indent=1) + '\n')
    name = {'cifar10': 'CIFAR-10', 'cifar100': 'CIFAR-100'}[args.dataset]
    atomic_write_text(osp.join(args.out, 'README.txt'), README.format(
        name=name, n=n, library=LIBRARY, version=version))
    return summary


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        s = build(args)
    except (BuildError, FileNotFoundError, ValueError) as e:
        print(f'[build_cifar_c] error: {e}', file=sys.stderr, flush=True)
        return 1
    print(f"[build_cifar_c] {len(s['built'])} corruption(s) built, "
          f"{len(s['skipped'])} already done, {s['images']} images per "
          f"severity, in {s['out']} (a re-creation: see README.txt there).",
          flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
