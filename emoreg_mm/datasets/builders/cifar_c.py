"""Re-create CIFAR-10-C / CIFAR-100-C from the CIFAR test set.

Where the official files (Hendrycks & Dietterich, ICLR 2019; Zenodo
records 2535967 and 3555552) are not at hand, :func:`build_cifar_c` writes
the layout they are distributed in, which
:class:`emoreg_mm.datasets.CIFAR10C` reads::

    OUT/labels.npy           (5 N,) the test labels, once per severity
    OUT/<corruption>.npy     (5 N, 32, 32, 3) uint8, severity 1 first
    OUT/build.json           library, version, seed, N, what was built
    OUT/README.txt           says that the folder is a re-creation

with one of two sets of corruptions (``parameters``):

- ``'cifar'`` (the default): :mod:`.cifar_c_corruptions`, the constants of
  the published CIFAR generator (``make_cifar_c.py``) at 32 px; its own
  random draws, a numpy motion blur in place of ImageMagick's and a
  synthetic frost texture (that module says how they differ);
- ``'imagenet'``: ``imagecorruptions`` 1.1.2 (Apache-2.0), which uses the
  ImageNet-C constants (for 224 px images): far harsher on 32 px images.

Either is a re-creation, not the official files; ``build.json`` records
which.

The builder writes only into a folder it created: ``OUT`` must be missing,
empty, or hold its own ``build.json`` (written first); any other folder (an
official CIFAR-C download, for one) is refused, naming it, before anything
is written.

Severities not asked for are written as black images and recorded as not
built in ``build.json``; the reader refuses them. Each corruption file is
written atomically once all its severities are done; a build again with the
same settings skips the corruptions already written (resumable at the
granularity of one corruption). Each (corruption, severity) draws its
randomness from a seed of its own, so a resumed build equals an
uninterrupted one.

Example::

    from emoreg_mm.datasets.builders.cifar_c import build_cifar_c
    build_cifar_c('data/cifar10', 'data/CIFAR-10-C', workers=4)

Needs the ``corruptions`` extra: ``pip install -e ".[corruptions]"``
(scikit-image for ``'cifar'``, imagecorruptions for ``'imagenet'``).
"""
import hashlib
import io
import json
import os
import os.path as osp
import time
import types
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ...evaluation.robustness import ALL_CORRUPTIONS, SEVERITIES
from ...fileio import (UnreadableFileError, atomic_write, atomic_write_text,
                       read_json)
from . import BuildError

INFO = 'build.json'
LIBRARY = 'imagecorruptions'
#: ``{parameters: (library, what the record says)}``.
PARAMETERS = {
    'cifar': ('emoreg_mm', 'the CIFAR-specific constants of the published '
              'make_cifar_c.py (hendrycks/robustness), re-implemented: own '
              'random draws, numpy motion blur, synthetic frost texture'),
    'imagenet': (LIBRARY, 'imagecorruptions (ImageNet-C constants, for 224 '
                 'px images)')}
SOURCES = {'cifar10': ('CIFAR10', 'CIFAR-10'),
           'cifar100': ('CIFAR100', 'CIFAR-100')}
"""``{dataset: (mmpretrain class, name)}`` of the sets a build starts
from."""
EXTRA_HINT = ('The CIFAR-C builder needs imagecorruptions: pip install -e '
              '".[corruptions]" (or pip install -r '
              'requirements/corruptions.txt).')
README = """\
This folder is a RE-CREATION of {name}-C, not the official files of
Hendrycks & Dietterich (ICLR 2019).

It was written by emoreg_mm's tools/dataset_converters/build_cifar_c.py
from the first {n} images of the {name} test set,
with --parameters {parameters}: {what} ({library} {version}).
The settings and what was built are in build.json.
"""


def check_request(corruptions: Sequence[str], severities: Sequence[int],
                  num_images: Optional[int] = None,
                  workers: int = 1) -> Tuple[List[str], List[int]]:
    """The corruptions (first occurrence order) and severities (sorted) of
    a build, each once.

    Raises:
        ValueError: An unknown corruption, a severity outside 1 to 5, or a
            ``num_images`` / ``workers`` below 1; the message names it.
    """
    unknown = [c for c in corruptions if c not in ALL_CORRUPTIONS]
    if unknown:
        raise ValueError(f'unknown corruption(s) {unknown}; valid: '
                         f'{", ".join(ALL_CORRUPTIONS)}')
    bad = [s for s in severities if s not in SEVERITIES]
    if bad:
        raise ValueError(f'--severities {bad}: expected 1 to 5')
    if num_images is not None and num_images < 1:
        raise ValueError('--num-images must be positive')
    if workers < 1:
        raise ValueError('--workers must be positive')
    return list(dict.fromkeys(corruptions)), sorted(set(severities))


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


def library_version(parameters: str = 'imagenet') -> str:
    from importlib import metadata
    return metadata.version(PARAMETERS[parameters][0])


def check_parameters(parameters: str) -> None:
    """Refuse unknown ``parameters``; stop early when what they need is
    missing."""
    if parameters not in PARAMETERS:
        raise ValueError(f'--parameters {parameters!r}: expected one of '
                         f'{", ".join(PARAMETERS)}')
    if parameters == 'imagenet':
        import_corruptions()
        return
    try:
        import skimage.color  # noqa: F401
    except ImportError as err:
        raise BuildError(f'{EXTRA_HINT} ({err})') from None


def load_test_set(dataset: str, cifar_root: str,
                  num_images: Optional[int] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """The first ``num_images`` (default: all) CIFAR test images
    (N, 32, 32, 3) uint8 and labels (N,)."""
    from mmpretrain.registry import DATASETS

    from .. import cifar_offline
    cifar_offline.apply()  # a clear error for missing CIFAR files
    test_set = DATASETS.build(dict(type=SOURCES[dataset][0],
                                   data_root=cifar_root, split='test',
                                   download=False))
    n = len(test_set)
    if num_images is not None:
        if num_images > n:
            raise BuildError(f'--num-images {num_images}: the test set '
                             f'under {cifar_root} has {n} images')
        n = num_images
    images = np.stack([test_set.get_data_info(i)['img'] for i in range(n)])
    labels = np.array(test_set.get_gt_labels()[:n], dtype=np.int64)
    return images.astype(np.uint8), labels


def block_seed(seed: int, corruption: str, severity: int) -> int:
    """The numpy seed of one (corruption, severity) block."""
    key = f'{seed}/{corruption}/{severity}'.encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], 'little')


def corrupt_block(library, images: np.ndarray, corruption: str,
                  severity: int, seed: int) -> np.ndarray:
    """``images`` corrupted at ``severity``, from the block's own seed
    (imagecorruptions draws from numpy's global generator; ``library``
    None: :mod:`.cifar_c_corruptions`, from a generator of that seed)."""
    if library is None:
        from .cifar_c_corruptions import corrupt
        rng = np.random.default_rng(block_seed(seed, corruption, severity))
        return np.stack([corrupt(img, corruption, severity, rng)
                         for img in images]).astype(np.uint8)
    state = np.random.get_state()
    np.random.seed(block_seed(seed, corruption, severity))
    try:
        return np.stack([library.corrupt(img, corruption_name=corruption,
                                         severity=severity)
                         for img in images]).astype(np.uint8)
    finally:
        np.random.set_state(state)


def build_one(images: np.ndarray, corruption: str, severities: list,
              seed: int, path: str,
              parameters: str = 'cifar') -> Tuple[str, float]:
    """Write ``path``: the 5 severity blocks of ``corruption`` (those not
    in ``severities`` black). Returns ``(corruption, seconds)``."""
    start = time.time()
    library = import_corruptions() if parameters == 'imagenet' else None
    out = np.zeros((5, ) + images.shape, np.uint8)
    for s in severities:
        out[s - 1] = corrupt_block(library, images, corruption, s, seed)
    save_npy(path, out.reshape((5 * len(images), ) + images.shape[1:]))
    return corruption, time.time() - start


def run_jobs(todo: list, workers: int) -> Iterator[Tuple[str, float]]:
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
    """Write ``array`` as a ``.npy`` file (no pickles), atomically."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def read_info(path: str) -> dict:
    """The build record at ``path`` (empty when there is none)."""
    if not osp.lexists(path):
        return {}
    try:
        info = read_json(path, 1 << 20)
    except UnreadableFileError as err:
        raise BuildError(f'{err} Not a build record of this tool; delete it '
                         '(or choose another --out) to build afresh.'
                         ) from None
    if not isinstance(info, dict) or not isinstance(
            info.get('corruptions'), dict):
        raise BuildError(f'{path}: not a build record of this tool; delete '
                         'it (or choose another --out) to build afresh')
    return info


def check_out(out: str) -> None:
    """Refuse an ``out`` that is not a folder this tool created: anything
    but a folder, or a folder that holds files but not the tool's
    ``build.json``.

    Raises:
        BuildError: naming the folder.
    """
    if osp.lexists(out) and not osp.isdir(out):
        raise BuildError(f'--out {out}: not a folder; choose another --out')
    entries = os.listdir(out) if osp.isdir(out) else []
    if entries and INFO not in entries:
        raise BuildError(
            f'--out {out}: an existing folder without {INFO}, the record '
            'this tool writes (an official CIFAR-C download, or files of '
            'another tool): nothing is written into it. Choose a new or '
            'empty folder.')


def start_record(info_path: str, settings: dict) -> dict:
    """The build record to continue: the folder's, when it was built with
    ``settings``, else a new one.

    Raises:
        BuildError: The folder was built with other settings.
    """
    info = read_info(info_path)
    if info and 'parameters' in settings and 'parameters' not in info:
        info = dict(info, parameters=record_parameters(info))
    if info and any(info.get(k) != v for k, v in settings.items()):
        old = {k: info.get(k) for k in settings}
        raise BuildError(f'{info_path}: the folder was built with {old}, '
                         f'not {settings}; choose another --out or delete '
                         'the folder')
    what = PARAMETERS[settings.get('parameters', 'imagenet')][1]
    return dict(info, **settings, official=False,
                note=f'A re-creation with {what}; not the official CIFAR-C '
                'files.', corruptions=info.get('corruptions', {}))


def record_parameters(info: dict) -> Optional[str]:
    """The ``parameters`` of a build record; a record written before
    the option existed was built with imagecorruptions: ``'imagenet'``."""
    if 'parameters' in info:
        return info['parameters']
    return 'imagenet' if info.get('library') == LIBRARY else None


def build_cifar_c(cifar_root: str,
                  out: str,
                  dataset: str = 'cifar10',
                  corruptions: Sequence[str] = ALL_CORRUPTIONS,
                  severities: Sequence[int] = SEVERITIES,
                  num_images: Optional[int] = None,
                  seed: int = 0,
                  workers: int = 1,
                  parameters: str = 'cifar') -> dict:
    """Write the set (or complete it), printing a line per corruption.

    Args:
        cifar_root (str): The folder mmpretrain's ``CIFAR10`` /
            ``CIFAR100`` reads (``cifar-10-batches-py`` /
            ``cifar-100-python`` in it).
        out (str): The output folder, e.g. ``data/CIFAR-10-C``.
        dataset (str): ``'cifar10'`` or ``'cifar100'``.
        corruptions (Sequence[str]): Which to build. Defaults to all 19.
        severities (Sequence[int]): Which to build. Defaults to 1 to 5.
        num_images (int, optional): The first N test images. Defaults to
            all.
        seed (int): The base seed. Defaults to 0.
        workers (int): Corruptions built at once, one process each.
        parameters (str): ``'cifar'`` (the published CIFAR constants) or
            ``'imagenet'`` (imagecorruptions). Defaults to ``'cifar'``.

    Returns:
        dict: ``built`` and ``skipped`` (corruptions), ``images`` (per
        severity) and ``out``.

    Raises:
        BuildError: The extra is missing, the test set is too small, ``out``
            is a folder this tool did not create, or the folder was built
            with other settings.
        ValueError: See :func:`check_request`.
    """
    corruptions, severities = check_request(corruptions, severities,
                                            num_images, workers)
    check_parameters(parameters)  # a missing library stops before any work
    check_out(out)
    library = PARAMETERS[parameters][0]
    version = library_version(parameters)
    images, labels = load_test_set(dataset, cifar_root, num_images)
    n = len(images)
    os.makedirs(out, exist_ok=True)
    info_path = osp.join(out, INFO)
    info = start_record(info_path, dict(
        source=dataset, num_images=n, seed=seed, parameters=parameters,
        library=library, library_version=version))
    # the record first: a folder this tool writes into is always its own
    atomic_write_text(info_path, json.dumps(info, indent=1) + '\n')
    save_npy(osp.join(out, 'labels.npy'), np.tile(labels, 5))
    summary = dict(built=[], skipped=[], images=n, out=out)
    todo = []
    for corruption in corruptions:
        path = osp.join(out, f'{corruption}.npy')
        done = info['corruptions'].get(corruption, [])
        if osp.isfile(path) and set(severities) <= set(done):
            summary['skipped'].append(corruption)
        else:
            todo.append((images, corruption, severities, seed, path,
                         parameters))
    for corruption, seconds in run_jobs(todo, workers):
        info['corruptions'][corruption] = list(severities)
        atomic_write_text(info_path, json.dumps(info, indent=1) + '\n')
        summary['built'].append(corruption)
        print(f'[build_cifar_c] {corruption}: severities {severities} '
              f'of {n} images ({seconds:.1f} s)', flush=True)
    atomic_write_text(info_path, json.dumps(info, indent=1) + '\n')
    atomic_write_text(osp.join(out, 'README.txt'), README.format(
        name=SOURCES[dataset][1], n=n, library=library, version=version,
        parameters=parameters, what=PARAMETERS[parameters][1]))
    return summary
