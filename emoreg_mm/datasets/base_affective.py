"""Shared pieces of the affective datasets.

* the canonical 8-emotion vocabulary (EmoSet's order, positive first) and the
  mapping of a set's own emotion names onto it;
* :class:`BaseAffectiveDataset`, the mmpretrain ``BaseDataset`` every
  affective set derives from (label space, missing-image policy, file names
  in pipeline errors);
* validation helpers that turn a bad file into an early, clear error naming
  the file, the entry and what was expected;
* seeded, stratified (optionally grouped) splits and k-fold for the sets
  that ship without an official split;
* reports of what a set skips (missing, invalid, tied or unmapped images):
  the count and names are logged and kept in ``dataset.skipped``.

One helper per idea; every dataset class reuses them.
"""
import csv
import json
import logging
import os
import os.path as osp
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Tuple)

import numpy as np
from mmengine.logging import print_log

from mmpretrain.datasets import BaseDataset

from ..matrix import MIKELS

EMOTIONS = MIKELS
"""The canonical vocabulary (``emoreg_mm.matrix.MIKELS``): EmoSet's order,
positive = 0-3."""
POSITIVE = EMOTIONS[:4]
NEGATIVE = EMOTIONS[4:]
BINARY_CLASSES = ('positive', 'negative')
# Other spellings found in the affective sets' own files.
EMOTION_ALIASES = {'content': 'contentment', 'sad': 'sadness'}
LABEL_SPACES = ('canonical', 'binary', 'own')
TIE_POLICIES = ('drop', 'soft', 'first')
SPLITS = ('train', 'val', 'test', 'all')
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')
_MAX_LISTED = 20


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------
def check_choice(name: str, value: Any, choices: Iterable) -> None:
    """Raise ``ValueError`` naming ``name``, ``value`` and the choices."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(
            f'{name}={value!r} is not supported; expected one of {choices}.')


def check_file(path: str, what: str) -> str:
    """Return ``path`` or raise ``FileNotFoundError`` naming it and its role.

    Args:
        path (str): The file that must exist.
        what (str): What the file is, e.g. ``"EmoSet split file"``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


def check_dir(path: str, what: str) -> str:
    """Return ``path`` or raise ``FileNotFoundError`` naming its role."""
    if not osp.isdir(path):
        raise FileNotFoundError(f'{what} (a folder) not found: {path}')
    return path


def load_json(path: str, what: str, expected: str = '') -> Any:
    """Read a JSON file; a parse error names the file, line and column.

    Args:
        path (str): JSON file to read.
        what (str): What the file is (used in the error messages).
        expected (str): A description of the expected content, added to the
            error message. Defaults to ''.
    """
    check_file(path, what)
    with open(path, encoding='utf-8') as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            hint = f' Expected {expected}.' if expected else ''
            raise ValueError(f'{what} {path} is not valid JSON: {e.msg} at '
                             f'line {e.lineno}, column {e.colno}.{hint}'
                             ) from e


def clean_cell(cell: str) -> str:
    """Strip whitespace and one layer of single or double quotes."""
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] and cell[0] in '\'"':
        cell = cell[1:-1].strip()
    return cell


def read_csv_rows(path: str,
                  what: str,
                  delimiter: str = ',') -> List[Tuple[int, List[str]]]:
    """Read a CSV defensively: ``[(line_number, cleaned_cells), ...]``.

    Tolerates a BOM, CRLF or LF line ends, blank lines, spaces after the
    delimiter and cells wrapped in single or double quotes (every cell is
    passed through :func:`clean_cell`).

    Args:
        path (str): The file to read.
        what (str): What the file is (used in the error messages).
        delimiter (str): The cell separator (``'\\t'`` for a TSV).
            Defaults to ``','``.
    """
    check_file(path, what)
    rows = []
    with open(path, encoding='utf-8-sig', newline='') as f:
        reader = csv.reader(f, delimiter=delimiter, skipinitialspace=True)
        try:
            for cells in reader:
                cells = [clean_cell(c) for c in cells]
                if any(cells):
                    rows.append((reader.line_num, cells))
        except csv.Error as e:
            raise ValueError(f'{what} {path} is not valid CSV at line '
                             f'{reader.line_num}: {e}') from e
    if not rows:
        raise ValueError(f'{what} {path} is empty.')
    return rows


def parse_number(cell: str, where: str, expected: str = 'a number') -> float:
    """Cast ``cell`` to float or raise ``ValueError`` naming ``where``."""
    try:
        return float(cell)
    except (TypeError, ValueError):
        raise ValueError(
            f'{where}: {cell!r} is not {expected}.') from None


def parse_count(cell: str, where: str) -> int:
    """Cast a vote count to a non-negative int (``'12'``, ``'12.0'``)."""
    value = parse_number(cell, where, 'a non-negative integer vote count')
    if value < 0 or not value.is_integer():
        raise ValueError(f'{where}: {cell!r} is not a non-negative integer '
                         'vote count.')
    return int(value)


def shown(names: Sequence[str]) -> str:
    """The first names of a list, comma-separated (``...`` past 20)."""
    more = ', ...' if len(names) > _MAX_LISTED else ''
    return ', '.join(str(n) for n in names[:_MAX_LISTED]) + more


def report_skipped(names: Sequence[str], message: str,
                   level: int = logging.WARNING) -> None:
    """Log ``'<count> <message>: <names>'`` when ``names`` is not empty."""
    if names:
        print_log(f'{len(names)} {message}: {shown(names)}',
                  logger='current', level=level)


def report_missing(missing: Sequence[str], what: str, skip_missing: bool,
                   where: str) -> None:
    """Report images an annotation names but the disk lacks.

    Raises ``FileNotFoundError`` with the count and names unless
    ``skip_missing``, in which case it logs the same as a warning.
    """
    if not missing:
        return
    msg = (f'image(s) named by {what} are missing under {where}')
    if not skip_missing:
        raise FileNotFoundError(
            f'{len(missing)} {msg}: {shown(missing)}. Set skip_missing=True '
            'to skip them.')
    report_skipped(missing, msg + ' (skipped: skip_missing=True)')


# Leading bytes of the image formats mmcv / OpenCV decode.
_IMAGE_SIGNATURES = (b'\xff\xd8\xff', b'\x89PNG\r\n\x1a\n', b'GIF87a',
                     b'GIF89a', b'BM', b'II*\x00', b'MM\x00*', b'RIFF')


def image_file_problem(path: str) -> Optional[str]:
    """Why ``path`` is not an image file (None when it looks like one).

    Only the first bytes are read: an empty file, or one whose bytes are
    not a JPEG / PNG / GIF / BMP / TIFF / WebP signature (an HTML error
    page saved under an image name, say), is reported; a truncated image
    with a valid header is left to the decoder (see ``check_dataset``).
    """
    try:
        with open(path, 'rb') as f:
            head = f.read(12)
    except OSError as e:
        return f'unreadable ({e.strerror})'
    if not head:
        return 'empty file'
    if not head.startswith(_IMAGE_SIGNATURES) or (
            head.startswith(b'RIFF') and head[8:12] != b'WEBP'):
        return f'not an image (starts with {head[:8]!r})'
    return None


def image_decode_problem(data: bytes) -> Optional[str]:
    """Why the bytes of an image file do not decode (None when they do),
    with the decoder the pipeline's ``LoadImageFromFile`` uses (mmcv)."""
    import mmcv
    try:
        img = mmcv.imfrombytes(data)
    except Exception as e:  # cv2 raises on empty buffers
        img, err = None, f'{type(e).__name__}: {e}'
    else:
        err = 'the decoder returned nothing'
    if img is None:
        return f'corrupt ({err.splitlines()[0]})'
    return None


def read_exclude_file(path: str, root: str) -> List[str]:
    """The image paths an exclude file lists (``check_dataset.py
    --write-exclude``): one per line, absolute or relative to ``root``;
    blank lines and ``#`` comments ignored. Returns absolute, normalised
    paths."""
    check_file(path, 'exclude file')
    with open(path, encoding='utf-8') as f:
        lines = [line.strip() for line in f]
    return [osp.abspath(osp.join(root, line))  # an absolute line stays
            for line in lines if line and not line.startswith('#')]


def visible_files(folder: str) -> List[str]:
    """Sorted names in ``folder``, without hidden ones (``.DS_Store``,
    ``._*``) and macOS ``__MACOSX`` folders."""
    return sorted(n for n in os.listdir(folder)
                  if not n.startswith('.') and n != '__MACOSX')


def one_level_down(root: str, expected: Sequence[str],
                   prefixes: bool = False) -> str:
    """A hint for a ``data_root`` one folder too high: ``' Did you mean
    data_root=<root>/<sub>? ...'`` when exactly one folder directly in
    ``root`` holds what ``root`` should: more than half of the ``expected``
    names (any case), or with ``prefixes`` a name starting with one of
    them; else ''."""
    want = tuple(e.lower() for e in expected)

    def holds(path):
        names = [n.lower() for n in visible_files(path)]
        if prefixes:
            return any(n.startswith(want) for n in names)
        return len(set(names) & set(want)) * 2 > len(want)

    hits = [osp.join(root, sub) for sub in
            (visible_files(root) if osp.isdir(root) else ())
            if osp.isdir(osp.join(root, sub)) and holds(osp.join(root, sub))]
    if len(hits) != 1:
        return ''
    return (f' Did you mean data_root={hits[0]!r}? It holds the expected '
            'entries.')


# --------------------------------------------------------------------------
# Emotion vocabulary
# --------------------------------------------------------------------------
def canonical_emotion(name: str,
                      name_map: Optional[Mapping[str, str]] = None,
                      where: str = '') -> str:
    """Map a set's emotion name (any case) to the canonical vocabulary.

    Args:
        name (str): The name as the set spells it (``'Content'``, ``'Sad'``).
        name_map (dict, optional): Extra ``{set_name: canonical_name}``
            aliases, checked first. Defaults to None.
        where (str): The file the name comes from, for the error message.

    Raises:
        ValueError: naming the file and the allowed names.
    """
    name_map = {k.lower(): v for k, v in (name_map or {}).items()}
    key = name.strip().lower()
    key = name_map.get(key, key)
    key = EMOTION_ALIASES.get(key, key)
    if key not in EMOTIONS:
        allowed = sorted(set(EMOTIONS) | set(EMOTION_ALIASES)
                         | set(name_map))
        src = f' in {where}' if where else ''
        raise ValueError(
            f'Unknown emotion name {name!r}{src}; expected one of {allowed} '
            "(case-insensitive), or pass name_map / label_space='own'.")
    return key


def build_label_map(source_names: Sequence[str],
                    label_space: str,
                    name_map: Optional[Mapping[str, str]] = None,
                    where: str = '',
                    unmapped: Sequence[str] = ()
                    ) -> Tuple[Tuple[str, ...], List[int]]:
    """Classes of ``label_space`` and where each source class goes.

    Args:
        source_names (Sequence[str]): The set's own class names, in its own
            order.
        label_space (str): ``'canonical'`` (8 emotions, EmoSet order),
            ``'binary'`` (positive / negative) or ``'own'`` (the set's own
            names and order).
        name_map (dict, optional): Extra aliases, see
            :func:`canonical_emotion`.
        where (str): The file the names come from, for error messages.
        unmapped (Sequence[str]): Source classes without a canonical
            counterpart (unless ``name_map`` gives one): they map to -1
            instead of raising. Defaults to ().

    Returns:
        tuple: ``(classes, index_map)`` with ``index_map[i]`` the target
        index of source class ``i`` (-1 for an unmapped class).
    """
    check_choice('label_space', label_space, LABEL_SPACES)
    if label_space == 'own':
        return tuple(source_names), list(range(len(source_names)))
    mapped = {k.lower() for k in (name_map or {})}
    skip = {n.lower() for n in unmapped} - mapped
    canon = [
        -1 if n.lower() in skip else EMOTIONS.index(
            canonical_emotion(n, name_map, where)) for n in source_names
    ]
    if label_space == 'canonical':
        return EMOTIONS, canon
    return BINARY_CLASSES, [
        -1 if i < 0 else int(i >= len(POSITIVE)) for i in canon
    ]


def remap_scores(scores: np.ndarray, index_map: Sequence[int],
                 num_classes: int) -> np.ndarray:
    """Sum ``(N, S)`` source scores into ``(N, num_classes)`` target bins
    (sources mapped to -1 are left out)."""
    out = np.zeros((scores.shape[0], num_classes), dtype=np.float64)
    for src, dst in enumerate(index_map):
        if dst >= 0:
            out[:, dst] += scores[:, src]
    return out


def labels_from_scores(scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Argmax labels and a mask of rows whose maximum is tied.

    The label of a tied row is its first (lowest-index) maximum.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = scores.argmax(axis=1)
    top = scores.max(axis=1, keepdims=True)
    tied = np.isclose(scores, top).sum(axis=1) > 1
    return labels, tied


def normalize_scores(scores: np.ndarray, where: Sequence[str]) -> np.ndarray:
    """Rows of ``scores`` divided by their sum (a soft label per row)."""
    sums = scores.sum(axis=1)
    bad = [w for w, s in zip(where, sums) if s <= 0]
    if bad:
        raise ValueError(f'{len(bad)} row(s) have no positive score, so no '
                         f'label can be derived: {bad[:_MAX_LISTED]}')
    return (scores / sums[:, None]).astype(np.float32)


# --------------------------------------------------------------------------
# Splits for the sets without an official one
# --------------------------------------------------------------------------
def check_split_args(split: str, split_ratios: Sequence[float],
                     fold: Optional[int], num_folds: int) -> None:
    """Validate the arguments of :func:`split_indices` early."""
    check_choice('split', split, SPLITS)
    if fold is None:
        if (len(split_ratios) != 3 or any(r < 0 for r in split_ratios)
                or not np.isclose(sum(split_ratios), 1.0)):
            raise ValueError(
                f'split_ratios={tuple(split_ratios)} is invalid; expected '
                'three non-negative (train, val, test) ratios summing to 1.')
        return
    if not isinstance(num_folds, int) or num_folds < 2:
        raise ValueError(f'num_folds={num_folds!r} is invalid; expected an '
                         'int >= 2.')
    if not isinstance(fold, int) or not 0 <= fold < num_folds:
        raise ValueError(f'fold={fold!r} is invalid; expected an int in '
                         f'[0, {num_folds - 1}] (num_folds={num_folds}).')


def split_indices(labels: Sequence[int],
                  split: str,
                  split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                  seed: int = 0,
                  fold: Optional[int] = None,
                  num_folds: int = 5,
                  groups: Optional[Sequence[Any]] = None) -> List[int]:
    """Indices of one side of a seeded, stratified (grouped) split.

    Groups (by default every sample is its own group) are stratified by
    their first sample's label. With ``np.random.default_rng(seed)`` the
    groups of each class (classes in ascending order) are shuffled and given
    their quantile ``(rank + 0.5) / n_class``; all groups are then sorted by
    quantile (random tie-break) and cut at ``round(cumsum(split_ratios) *
    n_groups)``. So the side sizes are exact overall and every class is
    spread over the sides in proportion, even classes too small to give
    each side one group. With ``fold`` set, the shuffled groups of each
    class are dealt round-robin into ``num_folds`` folds (the dealer's
    position carries over between classes so fold sizes stay balanced);
    ``'train'`` is every other fold and ``'val'`` / ``'test'`` is fold
    ``fold``. A group never straddles two sides.

    Returns:
        list[int]: Sorted sample indices of ``split`` (all for ``'all'``).
    """
    check_split_args(split, split_ratios, fold, num_folds)
    n = len(labels)
    if split == 'all':
        return list(range(n))
    groups = list(range(n)) if groups is None else list(groups)
    members: Dict[Any, List[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    by_class: Dict[int, List[Any]] = {}
    for g, idx in members.items():
        by_class.setdefault(int(labels[idx[0]]), []).append(g)

    rng = np.random.default_rng(seed)
    side_of: Dict[Any, str] = {}
    ranked = []
    dealer = 0
    for label in sorted(by_class):
        gs = by_class[label]
        order = [gs[i] for i in rng.permutation(len(gs))]
        for r, g in enumerate(order):
            ranked.append(((r + 0.5) / len(order), rng.random(), g))
            if fold is not None:
                side_of[g] = 'test' if dealer % num_folds == fold else 'train'
                dealer += 1
    if fold is None:
        ranked.sort(key=lambda t: t[:2])
        cuts = np.round(np.cumsum(split_ratios) * len(ranked)).astype(int)
        for k, (_, _, g) in enumerate(ranked):
            side_of[g] = ('train' if k < cuts[0] else
                          'val' if k < cuts[1] else 'test')
    if fold is not None and split == 'val':
        split = 'test'  # k-fold has two sides; 'val' is the held-out fold
    return sorted(i for g, idx in members.items() if side_of[g] == split
                  for i in idx)


# --------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------
class BaseAffectiveDataset(BaseDataset):
    """Base class of the affective (emotion-labelled image) datasets.

    Subclasses implement :meth:`load_data_list` with the helpers of this
    module; each returned data info has ``img_path`` and ``gt_label`` and,
    for soft labels, ``gt_score`` (packed by mmpretrain's ``PackInputs``).
    The classes (``metainfo['classes']``) follow ``label_space``.

    Errors raised by the pipeline while preparing a sample are re-raised as
    ``RuntimeError`` naming the sample's ``img_path`` (mmcv's decoder does
    not always name the file of a corrupt image).

    What a set leaves out while building (missing images with
    ``skip_missing``, tied votes, invalid files...) is logged with its count
    and names and kept in ``self.skipped``: ``{reason: [names]}``.

    Args:
        label_space (str): ``'canonical'``: the 8 emotions in EmoSet's order;
            ``'binary'``: positive (amusement, awe, contentment, excitement)
            / negative; ``'own'``: the set's own class names and order.
            Defaults to ``'canonical'``.
        name_map (dict, optional): Extra ``{set_name: canonical_name}``
            aliases for the canonical mapping. Defaults to None.
        skip_missing (bool): Skip (with a warning naming them) images that
            the annotations name but the disk lacks, instead of raising
            ``FileNotFoundError``. Defaults to False.
        exclude_file (str, optional): A file listing images to leave out,
            one path per line (absolute or relative to ``data_root``), as
            ``tools/analysis_tools/check_dataset.py --write-exclude``
            writes it for the images it could not read or decode. They are
            left out after the split (an image's side does not change) and
            reported; listed paths the set does not hold are reported too.
            Defaults to None.
        verify_images (bool): Read and decode every image while building
            (seconds per thousand images) and leave out, reported, those
            that do not decode; for sets small enough. Defaults to False.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``data_root``, ``pipeline``, ``test_mode``, ``lazy_init``...).
    """
    METAINFO = {'classes': EMOTIONS}

    def __init__(self,
                 ann_file: str = '',
                 label_space: str = 'canonical',
                 name_map: Optional[Mapping[str, str]] = None,
                 skip_missing: bool = False,
                 exclude_file: Optional[str] = None,
                 verify_images: bool = False,
                 **kwargs):
        check_choice('label_space', label_space, LABEL_SPACES)
        if name_map is not None and not isinstance(name_map, Mapping):
            raise TypeError(f'name_map must be a dict of set name -> '
                            f'canonical name, got {type(name_map).__name__}.')
        self.label_space = label_space
        self.name_map = dict(name_map or {})
        self.skip_missing = skip_missing
        self.exclude_file = exclude_file
        self.verify_images = verify_images
        self.skipped: Dict[str, List[str]] = {}
        self.tied_images: List[str] = []
        super().__init__(ann_file=ann_file, **kwargs)

    def filter_data(self) -> List[dict]:
        """Leave out what ``exclude_file`` lists and, with
        ``verify_images``, what does not decode, each reported; an empty
        result is an error naming the dataset and split."""
        data_list = super().filter_data()
        if self.exclude_file:
            listed = set(read_exclude_file(self.exclude_file,
                                           self.data_root))
            kept, found = [], set()
            for info in data_list:
                path = osp.abspath(info['img_path'])  # as listed
                if path in listed:
                    found.add(path)
                else:
                    kept.append(info)
            self._skip(sorted(found), f'listed in {self.exclude_file}')
            # the file covers every split: absent names are only noted
            report_skipped(sorted(listed - found), f'path(s) listed in '
                           f'{self.exclude_file} not in this '
                           f'{type(self).__name__} split (other splits, or '
                           'not in the set)', logging.INFO)
            data_list = kept
        if self.verify_images:
            kept, bad = [], []
            for info in data_list:
                try:
                    with open(info['img_path'], 'rb') as f:
                        problem = image_decode_problem(f.read())
                except OSError as e:
                    problem = f'unreadable ({e.strerror})'
                if problem:
                    bad.append(f'{info["img_path"]} ({problem})')
                else:
                    kept.append(info)
            self._skip(bad, 'does not decode (verify_images=True)')
            data_list = kept
        return self._check_not_empty(data_list)

    # ---- helpers for subclasses ------------------------------------------
    def _set_classes(self, classes: Sequence[str]) -> None:
        """Record the classes of the label space in ``metainfo``."""
        self._metainfo['classes'] = tuple(classes)

    def _label_map(self, source_names: Sequence[str], where: str,
                   unmapped: Sequence[str] = ()) -> List[int]:
        """Set the classes and return the source -> target index map
        (see :func:`build_label_map`)."""
        classes, index_map = build_label_map(source_names, self.label_space,
                                             self.name_map, where, unmapped)
        self._set_classes(classes)
        return index_map

    def _skip(self, names: Sequence[str], reason: str,
              level: int = logging.WARNING) -> None:
        """Record (in ``self.skipped``) and log the images left out."""
        if names:
            self.skipped.setdefault(reason, []).extend(names)
            report_skipped(names, f'file(s) left out by '
                           f'{type(self).__name__} ({reason})', level)

    def _keep_existing(self, data_list: List[dict], what: str, where: str,
                       key: Optional[str] = None) -> List[dict]:
        """Drop (or raise on) data infos whose ``img_path`` is missing.

        Args:
            data_list (list[dict]): The data infos.
            what (str): The annotation that names the images.
            where (str): The image folder (names are relative to it).
            key (str, optional): Name the missing images by this data-info
                key (e.g. ``'img_id'``) instead of their relative path.
                Defaults to None.
        """
        missing = [d for d in data_list if not osp.isfile(d['img_path'])]
        names = [
            str(d[key]) if key else osp.relpath(d['img_path'], where)
            for d in missing
        ]
        report_missing(names, what, self.skip_missing, where)
        if not missing:
            return data_list
        self.skipped.setdefault('missing', []).extend(names)
        gone = {d['img_path'] for d in missing}
        return [d for d in data_list if d['img_path'] not in gone]

    def _init_split(self, split: str, split_ratios: Sequence[float],
                    seed: int, fold: Optional[int], num_folds: int) -> None:
        """Check and keep the arguments of :func:`split_indices`."""
        check_split_args(split, split_ratios, fold, num_folds)
        self.split = split
        self.split_ratios = tuple(split_ratios)
        self.seed = seed
        self.fold = fold
        self.num_folds = num_folds

    def _split(self, labels: Sequence[int],
               groups: Optional[Sequence[Any]] = None) -> List[int]:
        """Indices of ``self.split`` (see :func:`split_indices`)."""
        return split_indices(labels, self.split, self.split_ratios,
                             self.seed, self.fold, self.num_folds, groups)

    def _drop_ties(self, data_list: List[dict],
                   tie_policy: str) -> List[dict]:
        """Apply ``tie_policy`` to data infos marked ``tied`` (popped).

        The tied images' ``img_id`` are kept in ``self.tied_images``; with
        ``'drop'`` they are removed, logged and recorded in ``skipped``.
        """
        tied = [d.pop('tied') for d in data_list]
        self.tied_images = [d['img_id'] for d, t in zip(data_list, tied) if t]
        if tie_policy != 'drop' or not self.tied_images:
            return data_list
        print_log(
            f'{type(self).__name__} ({self.split}): dropped '
            f'{len(self.tied_images)} of {len(data_list)} images whose top '
            f'score is tied (tie_policy="drop"): {shown(self.tied_images)}',
            logger='current', level=logging.INFO)
        self.skipped.setdefault('tied', []).extend(self.tied_images)
        return [d for d, t in zip(data_list, tied) if not t]

    @property
    def img_root(self) -> str:
        """The folder image paths are relative to."""
        return self.data_prefix.get('img_path') or self.data_root or ''

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline; an error names the sample's image file."""
        try:
            return super().prepare_data(idx)
        except Exception as e:
            img_path = self.get_data_info(idx).get('img_path', '?')
            raise RuntimeError(
                f'{type(self).__name__}: the pipeline failed on sample {idx}, '
                f'img_path={img_path!r} (a missing, unreadable or corrupt '
                f'image?): {type(e).__name__}: {e}') from e

    def _check_not_empty(self, data_list: List[dict]) -> List[dict]:
        """An empty data list is an error naming the dataset and split."""
        if not data_list:
            raise ValueError(
                f'{type(self).__name__}: no samples left (split='
                f'{getattr(self, "split", None)!r}, ann_file='
                f'{self.ann_file!r}, data_root={self.data_root!r}); check '
                'the annotations, split_ratios / fold and skip_missing.')
        return data_list

    def extra_repr(self) -> List[str]:
        body = super().extra_repr()
        body.append(f'Label space: \t{self.label_space}')
        return body


def is_affective(dataset_cfg: Mapping) -> bool:
    """Whether a dataset config builds an affective dataset (one of this
    module's :class:`BaseAffectiveDataset` subclasses)."""
    from mmpretrain.registry import DATASETS
    kind = dataset_cfg.get('type')
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    return isinstance(cls, type) and issubclass(cls, BaseAffectiveDataset)
