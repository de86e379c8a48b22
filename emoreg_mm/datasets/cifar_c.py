"""CIFAR-10-C / CIFAR-100-C, read in the layout they are distributed in.

Hendrycks & Dietterich (ICLR 2019) distribute each set as one folder::

    CIFAR-10-C/
        labels.npy             (50000,) the 10,000 test labels, 5 times
        gaussian_noise.npy     (50000, 32, 32, 3) uint8: severity 1 to 5,
        ...                    10,000 images each, in that order

with the 15 corruptions of :data:`~emoreg_mm.evaluation.robustness.
CORRUPTIONS` and the 4 extra ones. :class:`CIFAR10C` / :class:`CIFAR100C`
read one corruption at one severity, as mmpretrain's ``CIFAR10`` reads the
test split (``img`` an RGB array, ``gt_label``), so a CIFAR config's test
pipeline applies unchanged. Files are opened with
``np.load(allow_pickle=False, mmap_mode='r')``: only the severity read is
loaded. ``tools/dataset_converters/build_cifar_c.py`` writes the same
layout from the CIFAR test set where the download is not at hand.

Every file is checked before use, sizes from the files' headers before
anything is read or allocated: the images per severity are a fifth of
``labels.npy``'s length (at most :data:`MAX_IMAGES_PER_SEVERITY`, the
CIFAR test set's size), and ``build.json``'s count must agree; shape, dtype
and length of the corruption file; dtype and range of ``labels.npy``, and
that it is the same labels repeated for each severity (and, given
``cifar_root``, the CIFAR test labels). A folder of the other CIFAR is
refused: a re-creation by the ``source`` its ``build.json`` records, an
official CIFAR-10-C folder read as CIFAR-100-C by its labels (100 or more
images, all of classes 0..9). A mismatch is a :class:`CIFARCorruptedError`
naming the file and what was expected.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmpretrain.datasets.categories import CIFAR10_CATEGORIES, \
    CIFAR100_CATEGORIES
from mmpretrain.registry import DATASETS

from ..evaluation.robustness import ALL_CORRUPTIONS, KINDS, SEVERITIES

IMAGE_SHAPE = (32, 32, 3)
LABELS = 'labels.npy'
#: What ``build_cifar_c.py`` records in a re-created folder (absent from
#: the official files).
BUILD_INFO = 'build.json'
#: The CIFAR test sets' size: no CIFAR-C folder holds more per severity.
MAX_IMAGES_PER_SEVERITY = 10000
#: Images from which labels all below 10 show a CIFAR-10 folder (a
#: CIFAR-100 test set gives that with probability 0.1 ** 100).
SOURCE_EVIDENCE = 100


#: The md5 of each file of the distributed folders (the extracted
#: ``CIFAR-10-C.tar``, Zenodo record 2535967, archive md5
#: 56bf5dcef84df0e2308c6dcbcbbd8499; ``CIFAR-100-C.tar``, record 3555552,
#: 11f0ed0f1191edbf9fa23466ae6021d3), by file name less ``.npy``.
OFFICIAL_MD5 = {
    'CIFAR10': dict(
        labels='c439b113295ed5254878798ffe28fd54',
        gaussian_noise='ecaf8b9a2399ffeda7680934c33405fd',
        shot_noise='3a7239bb118894f013d9bf1984be7f11',
        impulse_noise='2090e01c83519ec51427e65116af6b1a',
        defocus_blur='7d1322666342a0702b1957e92f6254bc',
        glass_blur='7361fb4019269e02dbf6925f083e8629',
        motion_blur='fffa5f852ff7ad299cfe8a7643f090f4',
        zoom_blur='6ea8e63f1c5cdee1517533840641641b',
        snow='bb238de8555123da9c282dea23bd6e55',
        frost='31f6ab3bce1d9934abfb0cc13656f141',
        fog='7b397314b5670f825465fbcd1f6e9ccd',
        brightness='0a81ef75e0b523c3383219c330a85d48',
        contrast='3c8262171c51307f916c30a3308235a8',
        elastic_transform='9421657c6cd452429cf6ce96cc412b5f',
        pixelate='0f14f7e2db14288304e1de10df16832f',
        jpeg_compression='2b9cc4c864e0193bb64db8d7728f8187',
        speckle_noise='ef00b87611792b00df09c0b0237a1e30',
        gaussian_blur='c33370155bc9b055fb4a89113d3c559d',
        spatter='8a5a3903a7f8f65b59501a6093b4311e',
        saturate='1cfae0964219c5102abbb883e538cc56'),
    'CIFAR100': dict(
        labels='bb4026e9ce52996b95f439544568cdb2',
        gaussian_noise='ecc4d366eac432bdf25c024086f5e97d',
        shot_noise='b0a1fa6e1e465a747c1b204b1914048a',
        impulse_noise='3b3c210ddfa0b5cb918ff4537a429fef',
        defocus_blur='d923e3d9c585a27f0956e2f2ad832564',
        glass_blur='0bf384f38e5ccbf8dd479d9059b913e1',
        motion_blur='732a7e2e54152ff97c742d4c388c5516',
        zoom_blur='0204613400c034a81c4830d5df81cb82',
        snow='0237be164583af146b7b144e73b43465',
        frost='3a39c6823bdfaa0bf8b12fe7004b8117',
        fog='4efc7ebd5e82b028bdbe13048e3ea564',
        brightness='f22d7195aecd6abb541e27fca230c171',
        contrast='322bb385f1d05154ee197ca16535f71e',
        elastic_transform='a0792bd6581f6810878be71acedfc65a',
        pixelate='96c00c60f144539e14cffb02ddbd0640',
        jpeg_compression='c851b7f1324e1d2ffddeb76920576d11',
        speckle_noise='e3f215b1a0f9fd9fd6f0d1cf94a7ce99',
        gaussian_blur='5204ba0d557839772ef5a4196a052c3e',
        spatter='12ccf41d62564d36e1f6a6ada5022728',
        saturate='c0697e9fdd646916a61e9c312c77bf6b'),
}


class CIFARCorruptedError(ValueError):
    """A CIFAR-C file is missing or does not have the expected content."""


def _open(path: str) -> np.ndarray:
    if not osp.isfile(path):
        raise CIFARCorruptedError(f'{path}: file not found')
    try:
        return np.load(path, allow_pickle=False, mmap_mode='r')
    except (ValueError, OSError, EOFError) as err:
        raise CIFARCorruptedError(
            f'{path}: not a .npy array readable without unpickling '
            f'({type(err).__name__}: {err})') from None


def recreation_info(root: str) -> Optional[dict]:
    """The ``build.json`` of a folder ``build_cifar_c.py`` wrote (None in
    the official folders): ``num_images`` per severity, ``source`` and,
    per corruption, the severities built.

    Raises:
        CIFARCorruptedError: A record that cannot be read or that the
            builder does not write, naming it.
    """
    path = osp.join(root, BUILD_INFO)
    if not osp.lexists(path):
        return None
    from ..fileio import UnreadableFileError, read_json
    try:
        info = read_json(path, 1 << 20)
    except UnreadableFileError as err:
        raise CIFARCorruptedError(
            f'{err} Expected the record build_cifar_c.py writes; build the '
            'folder again, or remove the file from an official CIFAR-C '
            'folder.') from None
    n = info.get('num_images') if isinstance(info, dict) else None
    if not isinstance(info, dict) or not isinstance(
            info.get('corruptions'), dict) or type(n) is not int or \
            not 0 < n <= MAX_IMAGES_PER_SEVERITY or info.get(
                'source', 'cifar10') not in ('cifar10', 'cifar100'):
        raise CIFARCorruptedError(
            f'{path}: not a record of build_cifar_c.py (expected '
            f'num_images from 1 to {MAX_IMAGES_PER_SEVERITY}, source and '
            'corruptions); remove it from an official CIFAR-C folder')
    return info


def provenance(root: str, cifar_type: Optional[str],
               corruptions: Sequence[str]) -> dict:
    """What the folder ``root`` is, from the files read: ``kind`` (a key
    of :data:`~emoreg_mm.evaluation.robustness.KINDS`), ``root`` (absolute), ``checked`` (the files whose
    md5 was compared with :data:`OFFICIAL_MD5`) and ``differ`` (those of
    them whose md5 is not the published one).

    A folder with a build record is a re-creation with the parameters it
    records (nothing is hashed). Otherwise ``labels.npy`` and each of
    ``corruptions`` are hashed: the kind is ``'official'`` when every one
    has the md5 of the ``cifar_type`` (``'CIFAR10'`` / ``'CIFAR100'``)
    distribution, else ``'unknown'``. ``cifar_type`` None (an image-folder
    target's folder) is never official.
    """
    from ..fileio import file_identity
    info = recreation_info(root)
    out = dict(root=osp.abspath(root), checked=[], differ=[])
    if info is not None:
        from .builders.cifar_c import record_parameters
        parameters = record_parameters(info)
        kind = f'recreated-{parameters}'
        return dict(out, kind=kind if kind in KINDS else 'unknown')
    published = OFFICIAL_MD5.get(cifar_type, {})
    for name in ('labels', *corruptions):
        out['checked'].append(name)
        if not published or file_identity(
                osp.join(root, f'{name}.npy'), 'md5')['md5'] != \
                published.get(name):
            out['differ'].append(name)
    return dict(out, kind='unknown' if out['differ'] else 'official')


def severity_size(root: str) -> int:
    """The images of each severity in ``root``: a fifth of ``labels.npy``'s
    length, read from its header (nothing else is read), and what
    ``build.json`` records where there is one.

    Raises:
        CIFARCorruptedError: A length that is not 5 x 1 to 5 x
            :data:`MAX_IMAGES_PER_SEVERITY`, or a record of another count.
    """
    path = osp.join(root, LABELS)
    labels = _open(path)
    length = labels.shape[0] if labels.ndim == 1 else None
    if length is None or length % 5 or not 0 < length <= \
            5 * MAX_IMAGES_PER_SEVERITY:
        raise CIFARCorruptedError(
            f'{path}: array of shape {labels.shape}; expected the labels of '
            f'5 severities x 1 to {MAX_IMAGES_PER_SEVERITY} images (one '
            'dimension, a multiple of 5)')
    n = length // 5
    info = recreation_info(root)
    if info is not None and info['num_images'] != n:
        raise CIFARCorruptedError(
            f"{osp.join(root, BUILD_INFO)}: records {info['num_images']} "
            f'images per severity, but {path} holds {n}')
    return n


def check_source(root: str, cifar_type: str, labels: np.ndarray) -> None:
    """Refuse a folder of the other CIFAR than ``cifar_type``
    (``'CIFAR10'`` / ``'CIFAR100'``): by the ``source`` of a re-creation's
    record, else by ``labels`` (module docstring)."""
    info = recreation_info(root)
    wanted = cifar_type.lower()
    if info is not None:
        source = info.get('source', 'cifar10')
        if source != wanted:
            raise CIFARCorruptedError(
                f'{osp.join(root, BUILD_INFO)}: a re-creation of {source} '
                f'(source), read as {cifar_type}-C; give the folder of '
                f'{wanted}')
    elif wanted == 'cifar100' and len(labels) >= SOURCE_EVIDENCE and \
            labels.max() < 10:
        raise CIFARCorruptedError(
            f'{osp.join(root, LABELS)}: all {len(labels)} labels are of '
            'classes 0..9, as in CIFAR-10-C, read as CIFAR-100-C; give the '
            'CIFAR-100-C folder')


def read_labels(root: str, per_severity: int, num_classes: int,
                test_labels: Optional[np.ndarray] = None) -> np.ndarray:
    """The labels of one severity from ``root/labels.npy``, checked.

    Args:
        root (str): The CIFAR-C folder.
        per_severity (int): Images per severity.
        num_classes (int): Labels must lie in ``[0, num_classes)``.
        test_labels (numpy.ndarray, optional): The CIFAR test labels the
            first ``per_severity`` must equal.

    Returns:
        numpy.ndarray: ``(per_severity,)`` int64 labels.
    """
    path = osp.join(root, LABELS)
    labels = _open(path)
    expected = (5 * per_severity, )
    if labels.dtype.kind not in 'iu' or labels.shape != expected:
        raise CIFARCorruptedError(
            f'{path}: {labels.dtype} array of shape {labels.shape}; expected '
            f'integer labels of shape {expected} (5 severities x '
            f'{per_severity} images)')
    blocks = np.asarray(labels, dtype=np.int64).reshape(5, per_severity)
    bad = [s + 1 for s in range(1, 5) if not np.array_equal(blocks[s],
                                                             blocks[0])]
    if bad:
        raise CIFARCorruptedError(
            f'{path}: the labels of severity {bad} differ from those of '
            'severity 1; expected the same test labels repeated for each '
            'of the 5 severities')
    if blocks.min() < 0 or blocks.max() >= num_classes:
        other = ' (a CIFAR-100-C folder?)' if num_classes == 10 and \
            blocks.min() >= 0 and blocks.max() < 100 else ''
        raise CIFARCorruptedError(
            f'{path}: labels span {blocks.min()}..{blocks.max()}; expected '
            f'classes 0..{num_classes - 1}{other}')
    if test_labels is not None:
        test_labels = np.asarray(test_labels)[:per_severity]
        if len(test_labels) < per_severity:
            raise CIFARCorruptedError(
                f'{path}: the CIFAR test set has {len(test_labels)} labels; '
                f'expected at least {per_severity} to compare')
        differ = int(np.sum(test_labels != blocks[0]))
        if differ:
            raise CIFARCorruptedError(
                f'{path}: {differ} of {per_severity} labels differ from the '
                'CIFAR test labels; expected CIFAR-C of this CIFAR test '
                'set, in its order')
    return blocks[0]


def read_images(root: str, corruption: str, severity: int,
                per_severity: int) -> np.ndarray:
    """The images of one corruption at one severity, checked.

    Returns:
        numpy.ndarray: ``(per_severity, 32, 32, 3)`` uint8 RGB images.
    """
    path = osp.join(root, f'{corruption}.npy')
    if not osp.isfile(path):
        found = sorted(f[:-4] for f in os.listdir(root)
                       if f.endswith('.npy') and f != LABELS)
        raise CIFARCorruptedError(
            f'{path}: file not found; the folder holds the corruptions '
            f'{found or "(none)"}')
    images = _open(path)
    expected = (5 * per_severity, ) + IMAGE_SHAPE
    if images.dtype != np.uint8 or images.shape != expected:
        raise CIFARCorruptedError(
            f'{path}: {images.dtype} array of shape {images.shape}; expected '
            f'uint8 of shape {expected} (5 severities x {per_severity} '
            'images of 32 x 32 x 3)')
    start = (severity - 1) * per_severity
    return np.array(images[start:start + per_severity])


class _CIFARCorrupted(BaseDataset):
    """CIFAR-C reading; subclasses set the classes and the CIFAR class."""

    cifar_type = None

    def __init__(self,
                 data_root: str,
                 corruption: str,
                 severity: int,
                 images_per_severity: Optional[int] = None,
                 cifar_root: Optional[str] = None,
                 pipeline=(),
                 **kwargs):
        if corruption not in ALL_CORRUPTIONS:
            raise ValueError(f'corruption={corruption!r} is not a CIFAR-C '
                             f'corruption; valid: {", ".join(ALL_CORRUPTIONS)}')
        if severity not in SEVERITIES:
            raise ValueError(f'severity={severity!r}; expected 1 to 5')
        if images_per_severity is not None and (
                type(images_per_severity) is not int or
                images_per_severity < 1):
            raise ValueError(f'images_per_severity={images_per_severity!r}; '
                             'expected a positive number of images')
        self.corruption = corruption
        self.severity = severity
        self.images_per_severity = images_per_severity
        self.cifar_root = cifar_root
        # one block of arrays: serializing it (a gc.collect() per dataset)
        # saves nothing and costs 0.3 s per corruption and severity
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, pipeline=list(pipeline),
                         **kwargs)

    def _test_labels(self) -> Optional[np.ndarray]:
        if self.cifar_root is None:
            return None
        cifar = DATASETS.build(
            dict(type=self.cifar_type, data_root=self.cifar_root,
                 split='test', download=False))
        return np.array(cifar.get_gt_labels())

    def load_data_list(self) -> List[dict]:
        root = self.data_root
        if not osp.isdir(root):
            raise CIFARCorruptedError(
                f'{root}: folder not found; expected the CIFAR-C folder '
                f'holding {LABELS} and <corruption>.npy files')
        n = severity_size(root)
        if self.images_per_severity not in (None, n):
            raise CIFARCorruptedError(
                f'{osp.join(root, LABELS)}: {n} images per severity; '
                f'expected {self.images_per_severity} (set '
                f'images_per_severity={n}, or leave it unset)')
        info = recreation_info(root)
        if info is not None:
            built = info['corruptions'].get(self.corruption, [])
            if self.severity not in built:
                raise CIFARCorruptedError(
                    f'{osp.join(root, BUILD_INFO)}: {self.corruption} was '
                    f'built at severities {built}, not {self.severity}')
        labels = read_labels(root, n, len(self.metainfo['classes']),
                             self._test_labels())
        check_source(root, self.cifar_type, labels)
        images = read_images(root, self.corruption, self.severity, n)
        return [dict(img=img, gt_label=int(label))
                for img, label in zip(images, labels)]

    def extra_repr(self) -> List[str]:
        return [f'Corruption: {self.corruption}, severity {self.severity}',
                f'Images per severity: {self.images_per_severity}']


@DATASETS.register_module()
class CIFAR10C(_CIFARCorrupted):
    """CIFAR-10-C: one corruption at one severity.

    Args:
        data_root (str): The ``CIFAR-10-C`` folder (``labels.npy`` and one
            ``<corruption>.npy`` per corruption).
        corruption (str): One of the 19 corruptions
            (:data:`~emoreg_mm.evaluation.robustness.ALL_CORRUPTIONS`).
        severity (int): 1 (mildest) to 5.
        images_per_severity (int, optional): Images of each severity in the
            files, each holding 5 times as many. Defaults to None: a fifth
            of ``labels.npy``'s length (10,000 in the distributed files);
            given, it must be that.
        cifar_root (str, optional): A CIFAR folder (as mmpretrain's
            ``CIFAR10`` reads it) whose test labels ``labels.npy`` must
            repeat. Defaults to None (not compared).
        pipeline (Sequence[dict]): As a CIFAR config's test pipeline.
        **kwargs: Other arguments of mmengine's ``BaseDataset``.
    """
    METAINFO = {'classes': CIFAR10_CATEGORIES}
    cifar_type = 'CIFAR10'


@DATASETS.register_module()
class CIFAR100C(_CIFARCorrupted):
    """CIFAR-100-C: one corruption at one severity.

    Args: as :class:`CIFAR10C` (``data_root`` the ``CIFAR-100-C`` folder,
    ``cifar_root`` one that mmpretrain's ``CIFAR100`` reads).
    """
    METAINFO = {'classes': CIFAR100_CATEGORIES}
    cifar_type = 'CIFAR100'


#: The corrupted dataset classes by name.
CORRUPTED = {cls.__name__: cls for cls in (CIFAR10C, CIFAR100C)}
