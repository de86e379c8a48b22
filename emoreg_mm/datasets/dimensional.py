"""Image sets rated on valence / arousal (dimensional affect).

Each data info has ``img_path`` and ``gt_va``: a float32 array with one
value per dimension of the set, each normalised to [-1, 1] by the set's
published rating scale::

    x_norm = 2 * (x - low) / (high - low) - 1

The metainfo holds ``dimensions`` (names, e.g. ``('valence', 'arousal')``),
``scales`` (``{name: (low, high)}`` as published) and ``classes`` (the
dimensions too: mmengine expects the key). The raw ratings stay in each
data info under their dimension names (``valence``, ``arousal``...).

``gt_va`` reaches the model through mmpretrain's ``PackInputs``, which
copies the keys it is given in ``algorithm_keys`` into the ``DataSample``
unchanged (mmpretrain 1.2, ``PackInputs.transform``)::

    dict(type='PackInputs', algorithm_keys=('gt_va', ))

None of these sets has an official split: ``split`` / ``split_ratios`` /
``seed`` / ``fold`` / ``num_folds`` as in :class:`~.abstract.Abstract`,
stratified by valence quintile (:func:`rating_strata`) so every side spans
the valence range.
"""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from mmpretrain.registry import DATASETS
from .base_affective import BaseAffectiveDataset
from .emotion6 import Emotion6
from .file_checks import check_dir, check_file, parse_number, read_csv_rows

Scale = Tuple[float, float]
VA = ('valence', 'arousal')


def normalise_ratings(values: np.ndarray, dimensions: Sequence[str],
                      scales: Mapping[str, Scale]) -> np.ndarray:
    """Ratings ``(N, D)`` mapped to [-1, 1] column by column:
    ``2 * (x - low) / (high - low) - 1`` with each dimension's scale.
    Returns float32."""
    low = np.array([scales[d][0] for d in dimensions], dtype=np.float64)
    high = np.array([scales[d][1] for d in dimensions], dtype=np.float64)
    return (2 * (values - low) / (high - low) - 1).astype(np.float32)


def parse_rating(cell: str, where: str, scale: Scale) -> float:
    """A rating cell as a float within ``scale`` (inclusive), else a
    ``ValueError`` naming ``where`` and the scale."""
    low, high = scale
    expected = f'a rating in [{low:g}, {high:g}]'
    if not cell:
        raise ValueError(f'{where}: the rating is missing; expected '
                         f'{expected}.')
    value = parse_number(cell, where, expected)
    if not low <= value <= high:  # False for nan too
        raise ValueError(f'{where}: {cell!r} is outside the scale; '
                         f'expected {expected}.')
    return value


def rating_strata(values: np.ndarray, bins: int = 5,
                  column: int = 0) -> List[int]:
    """Quantile bin (0 .. ``bins - 1``) of each rating in ``column`` (the
    valence), the labels the split stratifies by (equal ratings ranked by
    row order)."""
    ranks = np.argsort(np.argsort(values[:, column], kind='stable'),
                       kind='stable')
    return (ranks * bins // max(len(ranks), 1)).tolist()


def check_scales(scale: Union[Scale, Mapping[str, Scale]],
                 dimensions: Sequence[str]) -> Dict[str, Scale]:
    """``{dimension: (low, high)}`` from one ``(low, high)`` for all or a
    dict per dimension; a missing dimension or ``low >= high`` is an
    error."""
    if isinstance(scale, Mapping):
        missing = [d for d in dimensions if d not in scale]
        if missing:
            raise ValueError(f'scale={dict(scale)!r} has no (low, high) for '
                             f'dimension(s) {missing}.')
        scales = {d: scale[d] for d in dimensions}
    else:
        scales = {d: scale for d in dimensions}
    out = {}
    for d, s in scales.items():
        if (not isinstance(s, Sequence) or len(s) != 2
                or not all(isinstance(v, (int, float)) for v in s)
                or not s[0] < s[1]):
            raise ValueError(f'scale of {d!r} is {s!r}; expected '
                             '(low, high) numbers with low < high.')
        out[d] = (float(s[0]), float(s[1]))
    return out


class BaseDimensionalDataset(BaseAffectiveDataset):
    """Base class of the dimensional sets: subclasses read ``(name,
    ratings)`` records (:meth:`_records`) and this class normalises them,
    splits and checks the images.

    Args:
        dimensions (Sequence[str]): The rated dimensions, in ``gt_va``
            order.
        scale ((float, float) | dict): The published scale, one for all
            dimensions or ``{dimension: (low, high)}``.
        split, split_ratios, seed, fold, num_folds: see
            :class:`~.abstract.Abstract`; the strata are valence quintiles
            (of the first dimension where none is named ``valence``).
            ``split`` defaults to ``'all'``.
        **kwargs: Other arguments of :class:`BaseAffectiveDataset`
            (``data_root``, ``skip_missing``, ``pipeline``...);
            ``label_space`` does not apply. ``shuffle_labels=True`` (the
            shuffled control, docs/method.md) permutes each image's
            ratings, ``gt_va`` and the raw values together, across the
            images of the split (seeded by ``shuffle_seed``): the ratings'
            distribution is kept, their link to the images is broken.
    """
    #: ``shuffle_labels`` moves ``gt_va`` and the raw ratings (set in
    #: ``__init__``: one key per dimension).
    LABEL_KEYS = ('gt_va', )
    PERMUTED = ('ratings', 'ratings', 'the distribution of ratings kept')

    def __init__(self,
                 dimensions: Sequence[str] = VA,
                 scale: Union[Scale, Mapping[str, Scale]] = (1, 9),
                 split: str = 'all',
                 split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 0,
                 fold: Optional[int] = None,
                 num_folds: int = 5,
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if kwargs.pop('label_space', 'own') != 'own':
            raise ValueError(f'{type(self).__name__}: label_space does not '
                             'apply to a dimensional set.')
        dimensions = tuple(dimensions)
        if not dimensions or len(set(dimensions)) != len(dimensions):
            raise ValueError(f'dimensions={dimensions!r}; expected distinct '
                             'names, e.g. ("valence", "arousal").')
        self._init_split(split, split_ratios, seed, fold, num_folds)
        self.dimensions = dimensions
        self.LABEL_KEYS = ('gt_va', ) + dimensions
        self.scales = check_scales(scale, dimensions)
        metainfo = dict(metainfo or {})
        metainfo.update(classes=dimensions, dimensions=dimensions,
                        scales=dict(self.scales))
        super().__init__(label_space='own', metainfo=metainfo, **kwargs)

    def _records(self) -> Tuple[List[Tuple[str, str, List[float]]], str]:
        """``([(image path relative to the image folder, where, ratings in
        dimension order)], image folder)``; ratings already checked
        against the scale."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        records, folder = self._records()
        if not records:
            raise ValueError(f'{type(self).__name__}: '
                             f'{self.ann_file or self.data_root} lists no '
                             'rated images.')
        seen = {}
        for name, where, _ in records:
            if name in seen:
                raise ValueError(f'{where}: duplicate image {name!r} (first '
                                 f'at {seen[name]}).')
            seen[name] = where
        raw = np.asarray([r for _, _, r in records], dtype=np.float64)
        norm = normalise_ratings(raw, self.dimensions, self.scales)
        data_list = []
        valence = self.dimensions.index('valence') \
            if 'valence' in self.dimensions else 0
        for i in self._split(rating_strata(raw, column=valence)):
            name = records[i][0]
            info = dict(img_path=osp.join(folder, name), img_id=name,
                        gt_va=norm[i])
            info.update(zip(self.dimensions, raw[i].tolist()))
            data_list.append(info)
        return self._keep_existing(
            data_list, f'{type(self).__name__} ratings '
            f'{self.ann_file or self.data_root}', folder)

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Dimensions: \t{self.dimensions}',
            f'Scales: \t{self.scales}',
            f'Split: \t{self.split} (seed={self.seed}, fold={self.fold})',
        ]


@DATASETS.register_module()
class AffectiveRatings(BaseDimensionalDataset):
    """Your own images rated on valence / arousal (or more dimensions),
    from one CSV with a header row.

    Layout::

        data_root/
          <ann_file>              header + one row per image
          <data_prefix>/<image>   paths as in image_column (+ image_suffix)

    Rows with a missing rating, a cell that is not a number or a rating
    outside its scale are errors naming the file, the line and the
    column. Images the CSV names but the disk lacks are an error naming
    them (count and names), or with ``skip_missing=True`` left out and
    reported (``dataset.skipped['missing']``).

    Pipelines end with ``dict(type='PackInputs', algorithm_keys=('gt_va',
    ))`` so the DataSample carries ``gt_va``.

    Args:
        data_root (str): Root folder. Defaults to ''.
        ann_file (str): The ratings CSV, relative to ``data_root``.
        image_column (str): The column naming each image. Defaults to
            ``'image'``.
        columns (dict): ``{dimension: CSV column}``, in ``gt_va`` order.
            Defaults to ``{'valence': 'valence', 'arousal': 'arousal'}``.
        scale ((float, float) | dict): The published rating scale, one
            ``(low, high)`` for all dimensions or one per dimension.
            Defaults to ``(1, 9)`` (the SAM scale).
        data_prefix (str | dict): Image folder, relative to ``data_root``.
            Defaults to ''.
        image_suffix (str): Appended to each image cell (for CSVs naming
            images without extension). Defaults to ''.
        delimiter (str): The cell separator. Defaults to ``','``.
        **kwargs: Other arguments of :class:`BaseDimensionalDataset`
            (``split``, ``skip_missing``, ``pipeline``...).
    """
    WHAT = 'Ratings CSV'

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 image_column: str = 'image',
                 columns: Optional[Mapping[str, str]] = None,
                 scale: Union[Scale, Mapping[str, Scale]] = (1, 9),
                 data_prefix: Union[str, dict] = '',
                 image_suffix: str = '',
                 delimiter: str = ',',
                 **kwargs):
        if not ann_file:
            raise ValueError(f'{type(self).__name__} needs ann_file (the '
                             'ratings CSV).')
        columns = dict(columns or {d: d for d in VA})
        if not columns:
            raise ValueError('columns={} names no dimension; expected '
                             '{dimension: CSV column}.')
        self.image_column = image_column
        self.columns = columns
        self.image_suffix = image_suffix
        self.delimiter = delimiter
        super().__init__(dimensions=tuple(columns), scale=scale,
                         data_root=data_root, ann_file=ann_file,
                         data_prefix=data_prefix, **kwargs)

    def _records(self):
        path = self.ann_file
        rows = read_csv_rows(path, self.WHAT, self.delimiter)
        line, header = rows[0]
        wanted = [self.image_column] + list(self.columns.values())
        absent = [c for c in wanted if c not in header]
        if absent:
            raise ValueError(
                f'{self.WHAT} {path}, line {line}: no column(s) {absent} in '
                f'the header {header}; expected the image column '
                f'{self.image_column!r} and {list(self.columns.values())}.')
        index = {c: header.index(c) for c in wanted}
        records = []
        for line, cells in rows[1:]:
            where = f'{self.WHAT} {path}, line {line}'
            cells = cells + [''] * (len(header) - len(cells))
            name = cells[index[self.image_column]]
            if not name:
                raise ValueError(f'{where}: column {self.image_column!r} '
                                 'is empty; expected an image name.')
            ratings = [
                parse_rating(cells[index[col]], f'{where}, column {col!r}',
                             self.scales[dim])
                for dim, col in self.columns.items()
            ]
            records.append((self._image_name(name), where, ratings))
        return records, self.img_root

    def _image_name(self, cell: str) -> str:
        """The image path, relative to the image folder, of a cell."""
        return cell + self.image_suffix


@DATASETS.register_module()
class OASIS(AffectiveRatings):
    """OASIS (Kurdi, Lozano & Banaji, 2017): 900 colour photographs with
    mean valence and arousal ratings on 1-7 scales.

    Layout (``data_root`` is the unzipped ``OASIS_database_2016``
    folder)::

        OASIS_database_2016/
          OASIS.csv      "", Theme, Category, Source, Valence_mean,
                         Valence_SD, ..., Arousal_mean, Arousal_SD, ...
          images/<Theme>.jpg

    The first header cell is empty (its column numbers the stimuli
    ``I1`` ...); ``Theme`` names the image (``images/<Theme>.jpg``; some
    themes end in a space in the CSV, which is stripped). docs/datasets.md
    says which parts of this layout were checked and how.

    Pipelines end with ``dict(type='PackInputs', algorithm_keys=('gt_va',
    ))``.

    Args:
        data_root (str): The ``OASIS_database_2016`` folder.
        ann_file (str): Defaults to ``'OASIS.csv'``.
        img_dir (str): The image folder, relative to ``data_root``.
            Defaults to ``'images'``.
        **kwargs: Other arguments of :class:`AffectiveRatings` (``split``,
            ``skip_missing``, ``pipeline``...).
    """
    WHAT = 'OASIS ratings'
    SCALE = (1, 7)

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = 'OASIS.csv',
                 img_dir: str = 'images',
                 **kwargs):
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            image_column='Theme',
            columns={'valence': 'Valence_mean', 'arousal': 'Arousal_mean'},
            scale=self.SCALE,
            data_prefix=img_dir,
            image_suffix='.jpg',
            **kwargs)


@DATASETS.register_module()
class FindingEmo(AffectiveRatings):
    """FindingEmo (Mertens et al., NeurIPS 2024 Datasets and Benchmarks):
    about 25k photographs of people in social scenes, one annotation each,
    valence on -3..3 and arousal on 0..6 (integers).

    The ``findingemo-light`` package (PyPI) ships the annotations and the
    image URLs, not the images; its ``download_data(target_dir)`` writes
    each image to ``target_dir/<image_path>``. Layout (``data_root`` is
    that ``target_dir``)::

        <target_dir>/
          annotations_single.ann   copied from findingemo_light/data/
          Run_1/<query>/<name>.jpg ...

    ``annotations_single.ann`` is a CSV with the header ``index, user,
    image_path, tags, age, valence, arousal, emotion, dec_factors,
    ambiguity, datetime``; ``image_path`` starts with ``/``
    (``/Run_2/<query>/<name>.jpg``) and is read relative to ``data_root``.
    Some URLs no longer resolve, so a download usually lacks images:
    ``skip_missing=True`` leaves them out with their count and names.
    Layout verified on ``findingemo-light`` 1.0.0 (docs/datasets.md).

    Pipelines end with ``dict(type='PackInputs', algorithm_keys=('gt_va',
    ))``.

    Args:
        data_root (str): The folder the images were downloaded to.
        ann_file (str): Defaults to ``'annotations_single.ann'``
            (relative to ``data_root``, or an absolute path such as the
            installed package's copy).
        **kwargs: Other arguments of :class:`AffectiveRatings` (``split``,
            ``skip_missing``, ``pipeline``...).
    """
    WHAT = 'FindingEmo annotations'
    SCALES = {'valence': (-3, 3), 'arousal': (0, 6)}

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = 'annotations_single.ann',
                 **kwargs):
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            image_column='image_path',
            columns={'valence': 'valence', 'arousal': 'arousal'},
            scale=self.SCALES,
            **kwargs)

    def _image_name(self, cell: str) -> str:
        return cell.lstrip('/')


GAPED_CATEGORIES = ('A', 'H', 'N', 'P', 'Sn', 'Sp')
"""GAPED's folders: ``A`` animal mistreatment, ``H`` human-rights
violations, ``N`` neutral, ``P`` positive, ``Sn`` snakes, ``Sp`` spiders."""


@DATASETS.register_module()
class GAPED(BaseDimensionalDataset):
    """GAPED (Dan-Glauser & Scherer, 2011): 730 pictures in six category
    folders, valence and arousal on 0-100 scales.

    Layout (``data_root`` is the ``GAPED`` folder)::

        GAPED/
          A/ H/ N/ P/ Sn/ Sp/      <name>.bmp
          A_with SD.txt ...        one per folder

    Each ``<category>_with SD.txt`` is tab-separated: a header line, then
    per picture its name (written ``<name>.jpg``, while the file on disk is
    ``<name>.bmp``), mean valence, its SD in parentheses, mean arousal, its
    SD in parentheses; empty cells (doubled tabs) are ignored. The image
    is ``<category>/<name>.bmp``, or the name as written where no
    ``.bmp`` exists. ``category`` is kept in each data info. Layout as
    read by public code that loads GAPED (docs/datasets.md names it).

    Pipelines end with ``dict(type='PackInputs', algorithm_keys=('gt_va',
    ))``.

    Args:
        data_root (str): The ``GAPED`` folder.
        categories (Sequence[str]): Folders to read. Defaults to all six
            (:data:`GAPED_CATEGORIES`).
        rating_suffix (str): Rating file name after the category. Defaults
            to ``'_with SD.txt'``.
        **kwargs: Other arguments of :class:`BaseDimensionalDataset`
            (``split``, ``skip_missing``, ``pipeline``...).
    """
    SCALE = (0, 100)

    def __init__(self,
                 data_root: str = '',
                 categories: Sequence[str] = GAPED_CATEGORIES,
                 rating_suffix: str = '_with SD.txt',
                 **kwargs):
        unknown = [c for c in categories if c not in GAPED_CATEGORIES]
        if unknown or not categories:
            raise ValueError(f'categories={tuple(categories)!r}; expected '
                             f'some of {GAPED_CATEGORIES}.')
        self.categories = tuple(categories)
        self.rating_suffix = rating_suffix
        super().__init__(dimensions=VA, scale=self.SCALE,
                         data_root=data_root, **kwargs)

    def _records(self):
        root = check_dir(self.data_root, 'GAPED folder')
        records = []
        for cat in self.categories:
            path = check_file(osp.join(root, cat + self.rating_suffix),
                              f'GAPED ratings of {cat}')
            what = 'GAPED ratings'
            for line, cells in read_csv_rows(path, what, '\t')[1:]:
                cells = [c for c in cells if c]
                where = f'{what} {path}, line {line}'
                if len(cells) < 4:
                    raise ValueError(
                        f'{where}: {len(cells)} cells {cells}; expected name, '
                        'valence, (SD), arousal, (SD) separated by tabs.')
                valence = parse_rating(cells[1], f'{where}, valence',
                                       self.SCALE)
                arousal = parse_rating(cells[3], f'{where}, arousal',
                                       self.SCALE)
                stem = osp.splitext(cells[0])[0]
                name = f'{cat}/{stem}.bmp'
                if not osp.isfile(osp.join(root, name)) and osp.isfile(
                        osp.join(root, cat, cells[0])):
                    name = f'{cat}/{cells[0]}'
                records.append((name, where, [valence, arousal]))
        return records, root

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        for info in data_list:
            info['category'] = info['img_id'].split('/')[0]
        return data_list


@DATASETS.register_module()
class Emotion6VA(BaseDimensionalDataset):
    """Emotion6's valence and arousal (1-9 scales) as a dimensional set.

    The layout and ``ground_truth.txt`` are Emotion6's (see
    :class:`~.emotion6.Emotion6`, whose reader this class uses); the
    emotion probabilities are kept as ``probs`` in each data info.

    Pipelines end with ``dict(type='PackInputs', algorithm_keys=('gt_va',
    ))``.

    Args:
        data_root (str): The ``Emotion6`` folder.
        ann_file (str): Defaults to ``'ground_truth.txt'``.
        img_dir (str): Defaults to ``'images'``.
        **kwargs: Other arguments of :class:`BaseDimensionalDataset`
            (``split``, ``skip_missing``, ``pipeline``...).
    """
    SCALE = (1, 9)

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = 'ground_truth.txt',
                 img_dir: str = 'images',
                 **kwargs):
        self.img_dir = img_dir
        super().__init__(dimensions=VA, scale=self.SCALE,
                         data_root=data_root, ann_file=ann_file, **kwargs)

    def _records(self):
        names, values = Emotion6._read(self)  # uses only self.ann_file
        folder = check_dir(osp.join(self.data_root, self.img_dir),
                           'Emotion6 image folder')
        self._probs = dict(zip(names, values[:, 2:].tolist()))
        where = f'Emotion6 ground truth {self.ann_file}'
        records = []
        for name, row in zip(names, values):
            # the reader does not keep line numbers: name the image
            at = f'{where}, image {name!r}'
            records.append((name, at, [
                parse_rating(repr(float(v)), f'{at}, {d}', self.SCALE)
                for v, d in zip(row[:2], VA)
            ]))
        return records, folder

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        for info in data_list:
            info['probs'] = self._probs[info['img_id']]
        return data_list
