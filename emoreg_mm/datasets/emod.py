"""EMOd (Fan et al., CVPR 2018) and this project's Diffused-EMOd.

One idea in two classes: Diffused-EMOd is EMOd's images re-drawn, read with
EMOd's annotation (its labels, ids and split groups) plus the builder's
manifest, so both live with the reader of that annotation.
"""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from mmpretrain.registry import DATASETS
from .base_affective import TIE_POLICIES, BaseAffectiveDataset
from .file_checks import (check_choice, check_dir, check_file, parse_number,
                          read_csv_rows)
from .vocabulary import labels_from_scores, normalize_scores, remap_scores

EMOD_PLACEHOLDER_CLASSES = tuple(f'emod_{i}' for i in range(9))
"""EMOd's 9 category names and their order are not public: set
``class_names`` in the config; these placeholders keep the label space
usable (with ``label_space='own'``) until then."""


def read_mat_matrix(path: str, var: str) -> np.ndarray:
    """Read the 2-D numeric variable ``var`` of a MATLAB .mat file.

    Uses ``mat4py`` (an mmpretrain dependency); falls back to
    ``scipy.io.loadmat`` when mat4py cannot read the file and scipy is
    installed. A v7.3 (HDF5) file needs exporting to CSV or an older format.
    """
    check_file(path, 'EMOd annotation .mat file')
    errors = []
    try:
        import mat4py
        data = mat4py.loadmat(path)
    except Exception as e:  # mat4py raises plain exceptions on v7.3 files
        errors.append(f'mat4py: {type(e).__name__}: {e}')
        try:
            import scipy.io
        except ImportError:
            raise ValueError(
                f'Cannot read EMOd annotation {path} ({errors[0]}); install '
                'scipy or export the matrix to CSV (ann_file=*.csv).')
        try:
            data = scipy.io.loadmat(path)
        except Exception as e2:
            raise ValueError(
                f'Cannot read EMOd annotation {path} ({errors[0]}; scipy: '
                f'{e2}); expected a MATLAB (v5) .mat file, or export the '
                'matrix to CSV (ann_file=*.csv).') from e2
    if var not in data:
        names = [k for k in data if not k.startswith('__')]
        raise KeyError(f'EMOd annotation {path} has no variable {var!r}; '
                       f'it holds {names}. Set mat_key.')
    try:
        mat = np.atleast_2d(np.asarray(data[var], dtype=np.float64))
    except (TypeError, ValueError) as e:
        raise ValueError(f'EMOd annotation {path}: variable {var!r} is not a '
                         'numeric matrix (one row per image).') from e
    if mat.ndim != 2:
        raise ValueError(f'EMOd annotation {path}: variable {var!r} has shape '
                         f'{mat.shape}; expected a 2-D matrix.')
    return mat


def read_csv_matrix(path: str) -> np.ndarray:
    """Read a plain CSV export of the matrix (an optional header is
    skipped: a first row whose first cell is not a number)."""
    rows = read_csv_rows(path, 'EMOd annotation CSV')
    try:
        float(rows[0][1][0])
    except ValueError:
        rows = rows[1:]
    width = len(rows[0][1]) if rows else 0
    mat = []
    for line, cells in rows:
        if len(cells) != width:
            raise ValueError(f'EMOd annotation CSV {path}, line {line}: '
                             f'{len(cells)} cells, expected {width}.')
        mat.append([
            parse_number(c, f'EMOd annotation CSV {path}, line {line}, '
                         f'column {j}') for j, c in enumerate(cells)
        ])
    if not mat:
        raise ValueError(f'EMOd annotation CSV {path} has no data rows.')
    return np.asarray(mat, dtype=np.float64)


def format_id(value: float, decimal_sep: str = '.') -> str:
    """An image id as text: ``1001.0 -> '1001'``, ``2352.2 -> '2352.2'``
    (or ``'2352_2'`` with ``decimal_sep='_'``)."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return repr(value).replace('.', decimal_sep)


@DATASETS.register_module()
class EMOd(BaseAffectiveDataset):
    """EMOd: 1019 images with an elicited-emotion distribution each.

    Layout::

        data_root/
          allfindata1019_renamed.mat   (or a CSV export of the matrix)
          EMOdImages1019/<id>.jpg

    The annotation is a matrix with one row per image: column ``id_col`` the
    image id and columns ``score_cols[0]:score_cols[1]`` the emotion
    distribution, whose argmax is the label. Ids with decimals (IAPS ids
    such as 2352.2) become file names through ``filename_tmpl`` and
    ``id_decimal_sep``. The download may lack some IAPS images: images the
    annotation names but ``img_dir`` lacks are reported (count and ids, a
    warning) and left out; they are also kept in
    ``self.skipped['missing']``. ``skip_missing=False`` makes them an
    error instead.

    EMOd has no official split: ``split`` / ``split_ratios`` / ``seed`` /
    ``fold`` / ``num_folds`` work as in :class:`Abstract` (seeded,
    stratified by label).

    Args:
        data_root (str): The EMOd root folder.
        ann_file (str): The .mat file (or ``*.csv`` export), relative to
            ``data_root``. Defaults to ``'allfindata1019_renamed.mat'``.
        mat_key (str): The MATLAB variable. Defaults to
            ``'allfindata1019'``.
        id_col (int): Column of the image id. Defaults to 0.
        score_cols (tuple[int, int]): ``[start, stop)`` columns of the
            emotion distribution. Defaults to ``(6, 15)``.
        class_names (Sequence[str]): Names of the score columns, in order.
            EMOd's are not public; defaults to the placeholders
            ``emod_0`` .. ``emod_8`` (a warning asks for the real ones).
        img_dir (str): Image folder, relative to ``data_root``. Defaults to
            ``'EMOdImages1019'``.
        filename_tmpl (str): Image file name from the id text. Defaults to
            ``'{}.jpg'``.
        id_decimal_sep (str): Replaces the decimal point of ids such as
            2352.2 in file names (``'.'`` keeps ``2352.2.jpg``).
            Defaults to ``'.'``.
        label_space (str): Defaults to ``'own'`` (the 9 ``class_names``);
            ``'canonical'`` / ``'binary'`` need class names that map to the
            8 emotions.
        tie_policy (str): ``'first'`` (argmax, like the public loader),
            ``'drop'`` or ``'soft'`` (every sample gets the normalised
            distribution as ``gt_score``). Defaults to ``'first'``.
        split, split_ratios, seed, fold, num_folds: see :class:`Abstract`.
            ``split`` defaults to ``'all'``.
        skip_missing (bool): Leave out (with a warning naming their ids)
            images the annotation names but ``img_dir`` lacks; False raises
            ``FileNotFoundError`` instead. Defaults to True.
        **kwargs: Other arguments of :class:`BaseAffectiveDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = 'allfindata1019_renamed.mat',
                 mat_key: str = 'allfindata1019',
                 id_col: int = 0,
                 score_cols: Tuple[int, int] = (6, 15),
                 class_names: Sequence[str] = EMOD_PLACEHOLDER_CLASSES,
                 img_dir: str = 'EMOdImages1019',
                 filename_tmpl: str = '{}.jpg',
                 id_decimal_sep: str = '.',
                 label_space: str = 'own',
                 tie_policy: str = 'first',
                 split: str = 'all',
                 split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 0,
                 fold: Optional[int] = None,
                 num_folds: int = 5,
                 skip_missing: bool = True,
                 **kwargs):
        self._init_split(split, split_ratios, seed, fold, num_folds)
        check_choice('tie_policy', tie_policy, TIE_POLICIES)
        if (len(score_cols) != 2 or not all(
                isinstance(c, int) for c in score_cols)
                or not 0 <= score_cols[0] < score_cols[1]):
            raise ValueError(f'score_cols={score_cols!r} is invalid; '
                             'expected (start, stop) column indices with '
                             '0 <= start < stop.')
        if len(class_names) != score_cols[1] - score_cols[0]:
            raise ValueError(
                f'class_names has {len(class_names)} names but score_cols='
                f'{tuple(score_cols)} selects '
                f'{score_cols[1] - score_cols[0]} columns; expected one name '
                'per score column.')
        if '{}' not in filename_tmpl:
            raise ValueError(f'filename_tmpl={filename_tmpl!r} must contain '
                             "'{}' (the image id).")
        if tuple(class_names) == EMOD_PLACEHOLDER_CLASSES:
            print_log(
                'EMOd: class_names are placeholders (emod_0..emod_8); EMOd '
                "does not publish its 9 category names' order, set "
                'class_names in the config.',
                logger='current',
                level=logging.WARNING)
        self.mat_key = mat_key
        self.id_col = id_col
        self.score_cols = tuple(score_cols)
        self.class_names = tuple(class_names)
        self.img_dir = img_dir
        self.filename_tmpl = filename_tmpl
        self.id_decimal_sep = id_decimal_sep
        self.tie_policy = tie_policy
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            label_space=label_space,
            skip_missing=skip_missing,
            **kwargs)

    # ---- annotations -----------------------------------------------------
    def load_annotations(self, ann_file: str) -> Dict[str, dict]:
        """``{id_text: {'gt_label', 'gt_score', 'scores', 'tied'}}`` from the
        EMOd matrix, in file order; also sets the classes."""
        if ann_file.lower().endswith('.csv'):
            mat = read_csv_matrix(ann_file)
        else:
            mat = read_mat_matrix(ann_file, self.mat_key)
        need = max(self.id_col + 1, self.score_cols[1])
        if mat.shape[1] < need:
            raise ValueError(
                f'EMOd annotation {ann_file} has {mat.shape[1]} columns; '
                f'id_col={self.id_col} and score_cols={self.score_cols} '
                f'need at least {need}.')
        ids = [format_id(v, self.id_decimal_sep) for v in mat[:, self.id_col]]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f'EMOd annotation {ann_file}: duplicate image '
                             f'ids {dup}.')
        index_map = self._label_map(self.class_names, ann_file)
        scores = remap_scores(mat[:, slice(*self.score_cols)], index_map,
                              len(self.CLASSES))
        if (scores < 0).any():
            raise ValueError(f'EMOd annotation {ann_file}: negative values in '
                             f'score_cols={self.score_cols}; expected an '
                             'emotion distribution.')
        soft = normalize_scores(scores, [f'{ann_file}: id {i}' for i in ids])
        labels, tied = labels_from_scores(scores)
        return {
            i: dict(gt_label=int(l), gt_score=s, tied=bool(t))
            for i, l, s, t in zip(ids, labels, soft, tied)
        }

    def _select(self, infos: List[dict], labels: List[int],
                groups: Optional[List[str]] = None) -> List[dict]:
        """Apply the split and the tie policy to a data list."""
        infos = [infos[i] for i in self._split(labels, groups)]
        infos = self._drop_ties(infos, self.tie_policy)
        if self.tie_policy != 'soft':
            for d in infos:
                d.pop('gt_score')
        return infos

    def _image_info(self, img_id: str, ann: dict, folder: str) -> dict:
        return dict(
            img_path=osp.join(folder,
                              self.filename_tmpl.format(img_id)),
            img_id=img_id,
            source_id=img_id,
            **ann)

    def load_data_list(self) -> List[dict]:
        anns = self.load_annotations(self.ann_file)
        folder = check_dir(osp.join(self.data_root, self.img_dir),
                           'EMOd image folder')
        infos = [self._image_info(i, dict(a), folder) for i, a in anns.items()]
        infos = self._keep_existing(
            infos, f'EMOd annotation {self.ann_file} (ids; file names '
            f'from filename_tmpl={self.filename_tmpl!r}, id_decimal_sep='
            f'{self.id_decimal_sep!r})', folder, key='img_id')
        return self._select(infos, [d['gt_label'] for d in infos])

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Split: \t{self.split} (seed={self.seed}, fold={self.fold})',
            f'Tie policy: \t{self.tie_policy}'
        ]


@DATASETS.register_module()
class DiffusedEMOd(EMOd):
    """Diffused-EMOd: diffusion-generated variants of EMOd images.

    This project's layout (nothing is public)::

        data_root/                       # the Diffused-EMOd folder
          manifest.csv                   # header: image,source_id[,...]
          images/<any name>.png|jpg
        emod_root/                       # the original EMOd
          allfindata1019_renamed.mat
          EMOdImages1019/<id>.jpg        # only with include_sources=True

    Each manifest row links a generated image (path relative to
    ``data_root/img_dir``) to the EMOd image id it was generated from
    (``2352.2`` and ``2352`` are read as numbers, like the .mat ids).
    Other columns (e.g. ``prompt``, ``seed``) are kept in the data info as
    strings. The label (and soft label) is inherited from the source's EMOd
    annotation; a source id the annotation lacks is an error.

    The split (as in :class:`EMOd`) is grouped by source id: a generated
    image, its siblings and (with ``include_sources``) its EMOd source
    always land on the same side.

    Args:
        data_root (str): The Diffused-EMOd folder.
        emod_root (str): The EMOd folder holding the annotation (and the
            source images for ``include_sources``).
        manifest (str): Manifest CSV, relative to ``data_root``. Defaults to
            ``'manifest.csv'``.
        img_dir (str): Generated-image folder, relative to ``data_root``.
            Defaults to ``'images'``.
        emod_img_dir (str): EMOd image folder, relative to ``emod_root``.
            Defaults to ``'EMOdImages1019'``.
        include_sources (bool): Add each referenced EMOd source image too.
            Defaults to False.
        skip_missing (bool): Skip (with a warning) generated or source
            images the disk lacks instead of raising. Defaults to False:
            a generated set is expected whole.
        **kwargs: The annotation arguments of :class:`EMOd` (``ann_file``
            relative to ``emod_root``, ``mat_key``, ``id_col``,
            ``score_cols``, ``class_names``, ``filename_tmpl``,
            ``id_decimal_sep``), its split and tie arguments, and those of
            :class:`BaseAffectiveDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 emod_root: str = '',
                 manifest: str = 'manifest.csv',
                 img_dir: str = 'images',
                 emod_img_dir: str = 'EMOdImages1019',
                 include_sources: bool = False,
                 skip_missing: bool = False,
                 **kwargs):
        if not emod_root:
            raise ValueError('DiffusedEMOd needs emod_root (the EMOd folder '
                             'holding the annotation its labels come from).')
        self.emod_root = emod_root
        self.manifest = manifest
        self.emod_img_dir = emod_img_dir
        self.include_sources = include_sources
        ann_file = kwargs.get('ann_file', 'allfindata1019_renamed.mat')
        self.emod_ann_file = osp.join(emod_root, ann_file)
        super().__init__(data_root=data_root, img_dir=img_dir,
                         skip_missing=skip_missing, **kwargs)

    def load_data_list(self) -> List[dict]:
        ann_file = self.emod_ann_file  # relative to emod_root
        anns = self.load_annotations(ann_file)
        manifest = osp.join(self.data_root, self.manifest)
        what = 'Diffused-EMOd manifest'
        rows = read_csv_rows(manifest, what)
        _, header = rows[0]
        for col in ('image', 'source_id'):
            if col not in header:
                raise ValueError(
                    f'{what} {manifest}: header {header} lacks column '
                    f'{col!r}; expected a header row "image,source_id" '
                    '(other columns optional).')
        folder = osp.join(self.data_root, self.img_dir)
        infos, seen = [], set()
        for line, cells in rows[1:]:
            if len(cells) != len(header):
                raise ValueError(f'{what} {manifest}, line {line}: '
                                 f'{len(cells)} cells, expected '
                                 f'{len(header)} ({header}).')
            row = dict(zip(header, cells))
            src = format_id(
                parse_number(row['source_id'],
                             f'{what} {manifest}, line {line}, source_id',
                             'an EMOd image id'), self.id_decimal_sep)
            if src not in anns:
                raise ValueError(
                    f'{what} {manifest}, line {line}: source_id '
                    f'{row["source_id"]!r} is not in the EMOd annotation '
                    f'{ann_file}.')
            if row['image'] in seen:
                raise ValueError(f'{what} {manifest}, line {line}: duplicate '
                                 f'image {row["image"]!r}.')
            seen.add(row['image'])
            extra = {k: v for k, v in row.items()
                     if k not in ('image', 'source_id')}
            infos.append(
                dict(
                    extra,
                    img_path=osp.join(folder, row['image']),
                    img_id=row['image'],
                    source_id=src,
                    generated=True,
                    **anns[src]))
        if not infos:
            raise ValueError(f'{what} {manifest} lists no images.')
        infos = self._keep_existing(infos, f'{what} {manifest}', folder)
        if self.include_sources:
            src_dir = check_dir(osp.join(self.emod_root, self.emod_img_dir),
                                'EMOd image folder')
            sources = dict.fromkeys(d['source_id'] for d in infos)
            originals = [
                dict(self._image_info(s, dict(anns[s]), src_dir),
                     generated=False) for s in sources
            ]
            infos += self._keep_existing(
                originals, f'EMOd annotation {ann_file}', src_dir,
                key='img_id')
        return self._select(infos, [d['gt_label'] for d in infos],
                            groups=[d['source_id'] for d in infos])

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [f'EMOd root: \t{self.emod_root}']
