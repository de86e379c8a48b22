"""CIFAR-10.1 and CIFAR-10.2, read in the layout their authors distribute.

Both are test sets of CIFAR-10's ten classes collected anew from the same
source (80 Million Tiny Images) by the original's procedure: a model's drop
from its CIFAR-10 test accuracy is what a natural distribution shift costs
it (docs/shift.md).

- CIFAR-10.1 (Recht et al., 2018; github.com/modestyachts/CIFAR-10.1,
  folder ``datasets/``): ``cifar10.1_v6_data.npy`` (2000, 32, 32, 3) uint8
  RGB and ``cifar10.1_v6_labels.npy`` (2000,) integer labels; version
  ``v4``: the same names with ``v4``, 2,021 images. Plain arrays, read with
  ``np.load(allow_pickle=False, mmap_mode='r')``.
- CIFAR-10.2 (Lu et al., 2020; github.com/modestyachts/cifar-10.2):
  ``cifar102_test.npy`` (2,000 images) and ``cifar102_train.npy``
  (10,000), each a dict saved with ``np.save``: a pickle, which the authors
  read with ``allow_pickle=True``. Here :func:`~.pickled_npy.
  read_pickled_dict` reads it, running nothing the file holds, at most
  :func:`max_bytes` of it; then exactly the keys ``images`` (N, 32, 32, 3)
  uint8, ``labels`` (N,) integers, ``label_names`` (CIFAR-10's ten class
  names, in mmpretrain's order), ``ti_indices`` (N,) integers and
  ``keywords`` (N strings) are admitted.

Both yield what mmpretrain's ``CIFAR10`` test split yields (``img`` an RGB
uint8 array, ``gt_label``) with CIFAR-10's classes, so a CIFAR-10 config's
test pipeline applies unchanged. Files with fewer images than published
are read (a subset, as the tests use); more are refused. Every mismatch is
a :class:`CIFARShiftError` naming the file and what was expected.
"""
import os.path as osp
from typing import List, Tuple

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.datasets.categories import CIFAR10_CATEGORIES
from mmpretrain.registry import DATASETS

from .file_checks import check_choice
from .pickled_npy import PickledNpyError, read_pickled_dict

IMAGE_SHAPE = (32, 32, 3)
#: CIFAR-10.2's keys, as its README lists them.
CIFAR10_2_KEYS = ('images', 'labels', 'label_names', 'ti_indices',
                  'keywords')
#: Bytes a CIFAR-10.2 file may hold per published image beyond its pixels
#: (label, Tiny Images index, keyword), and in all beyond those.
PER_IMAGE_SLACK, SLACK = 256, 1 << 20


class CIFARShiftError(ValueError):
    """A CIFAR-10.1 / CIFAR-10.2 file is missing or not as distributed."""


def _load(path: str) -> np.ndarray:
    """A plain ``.npy`` array, memory-mapped, never unpickled."""
    if not osp.isfile(path):
        raise CIFARShiftError(f'{path}: file not found')
    try:
        return np.load(path, allow_pickle=False, mmap_mode='r')
    except (ValueError, OSError, EOFError) as err:
        raise CIFARShiftError(
            f'{path}: not a .npy array readable without unpickling '
            f'({type(err).__name__}: {err})') from None


def check_images(path: str, images, at_most: int) -> int:
    """The number N of ``(N, 32, 32, 3)`` uint8 images, 1 <= N <=
    ``at_most``, in ``images`` (read from ``path``)."""
    shape = getattr(images, 'shape', None)
    if getattr(images, 'dtype', None) != np.uint8 or shape is None or \
            len(shape) != 4 or tuple(shape[1:]) != IMAGE_SHAPE or \
            not 0 < shape[0] <= at_most:
        raise CIFARShiftError(
            f'{path}: images {getattr(images, "dtype", type(images))} of '
            f'shape {shape}; expected uint8 of shape (N, 32, 32, 3), N from '
            f'1 to {at_most} (RGB, as distributed)')
    return shape[0]


def check_labels(path: str, labels, n: int, what: str = 'labels'
                 ) -> np.ndarray:
    """``labels`` (read from ``path``) as int64: integers of shape
    ``(n,)`` among CIFAR-10's classes 0..9."""
    shape = getattr(labels, 'shape', None)
    if getattr(getattr(labels, 'dtype', None), 'kind', None) not in (
            'i', 'u') or shape != (n, ):
        raise CIFARShiftError(
            f'{path}: {what} {getattr(labels, "dtype", type(labels))} of '
            f'shape {shape}; expected integers of shape ({n},), one per '
            'image')
    labels = np.asarray(labels, dtype=np.int64)
    if what == 'labels' and (labels.min() < 0 or labels.max() > 9):
        raise CIFARShiftError(
            f'{path}: labels span {labels.min()}..{labels.max()}; expected '
            "CIFAR-10's classes 0..9")
    return labels


class _ShiftedCIFAR10(BaseDataset):
    """Images and labels of CIFAR-10's classes from distributed files;
    subclasses read their files."""
    METAINFO = {'classes': CIFAR10_CATEGORIES}

    def __init__(self, data_root: str, pipeline=(), **kwargs):
        # one block of arrays: serializing it saves nothing
        kwargs.setdefault('serialize_data', False)
        super().__init__(ann_file='', data_root=data_root,
                         pipeline=list(pipeline), **kwargs)

    def files(self) -> List[str]:
        """The files read, in ``data_root``."""
        raise NotImplementedError

    def read(self) -> Tuple[np.ndarray, np.ndarray]:
        """``(images, labels)``, checked."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        if not osp.isdir(self.data_root):
            raise CIFARShiftError(
                f'{self.data_root}: folder not found; expected the folder '
                f'holding {", ".join(map(osp.basename, self.files()))}')
        images, labels = self.read()
        return [dict(img=img, gt_label=int(label))
                for img, label in zip(images, labels)]


@DATASETS.register_module()
class CIFAR10_1(_ShiftedCIFAR10):
    """CIFAR-10.1 (Recht et al., 2018), a new test set of CIFAR-10.

    Args:
        data_root (str): The folder holding ``cifar10.1_<version>_data.npy``
            and ``cifar10.1_<version>_labels.npy`` (the repository's
            ``datasets/``).
        version (str): ``'v6'`` (2,000 images, the one the paper tables)
            or ``'v4'`` (2,021). Defaults to ``'v6'``.
        pipeline (Sequence[dict]): As a CIFAR-10 config's test pipeline.
        **kwargs: Other arguments of mmengine's ``BaseDataset``.
    """
    VERSIONS = {'v6': 2000, 'v4': 2021}

    def __init__(self, data_root: str, version: str = 'v6', **kwargs):
        check_choice('version', version, self.VERSIONS)
        self.version = version
        super().__init__(data_root=data_root, **kwargs)

    def files(self) -> List[str]:
        return [osp.join(self.data_root, f'cifar10.1_{self.version}_{part}'
                         '.npy') for part in ('data', 'labels')]

    def read(self) -> Tuple[np.ndarray, np.ndarray]:
        data, labels = self.files()
        images = _load(data)
        n = check_images(data, images, self.VERSIONS[self.version])
        return np.array(images), check_labels(labels, _load(labels), n)


def max_bytes(images: int) -> int:
    """The largest CIFAR-10.2 file of ``images`` published images read."""
    return images * (int(np.prod(IMAGE_SHAPE)) + PER_IMAGE_SLACK) + SLACK


@DATASETS.register_module()
class CIFAR10_2(_ShiftedCIFAR10):
    """CIFAR-10.2 (Lu et al., 2020), a new test and training set of
    CIFAR-10's classes.

    Args:
        data_root (str): The folder holding ``cifar102_test.npy`` /
            ``cifar102_train.npy``.
        split (str): ``'test'`` (2,000 images) or ``'train'`` (10,000).
            Defaults to ``'test'``.
        pipeline (Sequence[dict]): As a CIFAR-10 config's test pipeline.
        **kwargs: Other arguments of mmengine's ``BaseDataset``.
    """
    SPLITS = {'test': 2000, 'train': 10000}

    def __init__(self, data_root: str, split: str = 'test', **kwargs):
        check_choice('split', split, self.SPLITS)
        self.split = split
        super().__init__(data_root=data_root, **kwargs)

    def files(self) -> List[str]:
        return [osp.join(self.data_root, f'cifar102_{self.split}.npy')]

    def read(self) -> Tuple[np.ndarray, np.ndarray]:
        path, = self.files()
        if not osp.isfile(path):
            raise CIFARShiftError(f'{path}: file not found')
        try:
            content = read_pickled_dict(
                path, max_bytes(self.SPLITS[self.split]))
        except PickledNpyError as err:
            raise CIFARShiftError(str(err)) from None
        if sorted(content) != sorted(CIFAR10_2_KEYS):
            raise CIFARShiftError(
                f'{path}: keys {sorted(content)}; expected exactly '
                f'{list(CIFAR10_2_KEYS)}')
        n = check_images(path, content['images'], self.SPLITS[self.split])
        labels = check_labels(path, content['labels'], n)
        check_labels(path, content['ti_indices'], n, 'ti_indices')
        keywords, names = content['keywords'], content['label_names']
        if not isinstance(keywords, list) or len(keywords) != n:
            raise CIFARShiftError(
                f'{path}: keywords {type(keywords).__name__} of '
                f'{len(keywords)}; expected a list of {n} str, one per image')
        if names != list(CIFAR10_CATEGORIES):
            raise CIFARShiftError(
                f'{path}: label_names {str(names)[:200]}; expected '
                f"CIFAR-10's {list(CIFAR10_CATEGORIES)}")
        return content['images'], labels
