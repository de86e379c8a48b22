"""The base class of the affective datasets.

:class:`BaseAffectiveDataset` is the mmpretrain ``BaseDataset`` every
affective set derives from: the label space, the missing-image policy, the
skip reports (count and names, kept in ``dataset.skipped``) and file names
in pipeline errors. Its helpers live by idea: reading files with clear
errors (:mod:`.file_checks`), the emotion vocabulary (:mod:`.vocabulary`)
and the splits of the sets without an official one (:mod:`.splits`); the
names the dataset modules use are imported here from them.
"""
import logging
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence

from mmengine.logging import print_log

from mmpretrain.datasets import BaseDataset

from .file_checks import (check_choice, image_decode_problem,
                          read_exclude_file, report_missing, report_skipped,
                          shown)
from .splits import check_split_args, permute_labels, split_indices
from .vocabulary import EMOTIONS, build_label_map

LABEL_SPACES = ('canonical', 'binary', 'own')
TIE_POLICIES = ('drop', 'soft', 'first')


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

    ``shuffle_labels`` builds the shuffled control of a set (docs/method.md,
    "Controls"): the same images, with the label records (:attr:`LABEL_KEYS`:
    ``gt_label`` and, where present, the soft label ``gt_score``) permuted
    across the images of the split as loaded, i.e. after the split, the
    exclusions and ``verify_images``, so each split keeps its images (see
    :func:`~.splits.permute_labels`). Every class keeps its count; an
    image's other annotations (its emotion name as read, votes, valence,
    attributes) stay with it. How many images changed label is logged.

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
        shuffle_labels (bool): Permute the label records across the images
            of this split (the shuffled control, above). Defaults to False.
        shuffle_seed (int): Seed of that permutation: the same seed gives
            the same permutation of the same split, another seed another
            one. Defaults to 0.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``data_root``, ``pipeline``, ``test_mode``, ``lazy_init``...).
    """
    METAINFO = {'classes': EMOTIONS}
    #: What ``shuffle_labels`` moves between images.
    LABEL_KEYS = ('gt_label', 'gt_score')
    #: How the shuffled control's log line names them, and what it keeps.
    PERMUTED = ('labels', 'label', 'class counts kept')

    def __init__(self,
                 ann_file: str = '',
                 label_space: str = 'canonical',
                 name_map: Optional[Mapping[str, str]] = None,
                 skip_missing: bool = False,
                 exclude_file: Optional[str] = None,
                 verify_images: bool = False,
                 shuffle_labels: bool = False,
                 shuffle_seed: int = 0,
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
        check_choice('shuffle_labels', shuffle_labels, (False, True))
        if not isinstance(shuffle_seed, int) or shuffle_seed < 0:
            raise ValueError(f'shuffle_seed={shuffle_seed!r} is invalid; '
                             'expected an int >= 0.')
        self.shuffle_labels = shuffle_labels
        self.shuffle_seed = shuffle_seed
        self.skipped: Dict[str, List[str]] = {}
        self.tied_images: List[str] = []
        super().__init__(ann_file=ann_file, **kwargs)

    def filter_data(self) -> List[dict]:
        """Leave out what ``exclude_file`` lists and, with
        ``verify_images``, what does not decode, each reported (an empty
        result is an error naming the dataset and split); then, with
        ``shuffle_labels``, permute the labels of what is left."""
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
        data_list = self._check_not_empty(data_list)
        if self.shuffle_labels:
            data_list = self._permute_labels(data_list)
        return data_list

    def _permute_labels(self, data_list: List[dict]) -> List[dict]:
        """``data_list`` with its label records permuted (seeded by
        ``shuffle_seed``), logging how many images changed label."""
        data_list, changed = permute_labels(data_list, self.shuffle_seed,
                                            self.LABEL_KEYS)
        n = len(data_list)
        what, one, kept = self.PERMUTED
        print_log(
            f'{type(self).__name__} ({getattr(self, "split", None)}): '
            f'shuffle_labels=True, seed {self.shuffle_seed}: the {what} of '
            f'{n} images permuted, {changed} ({100 * changed / n:.0f}%) '
            f'changed {one}; {kept}.',
            logger='current', level=logging.INFO)
        return data_list

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
        if self.shuffle_labels:
            body.append(f'Labels: \tshuffled (seed {self.shuffle_seed})')
        return body


def is_affective(dataset_cfg: Mapping) -> bool:
    """Whether a dataset config builds an affective dataset (one of this
    module's :class:`BaseAffectiveDataset` subclasses)."""
    from mmpretrain.registry import DATASETS
    kind = dataset_cfg.get('type')
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    return isinstance(cls, type) and issubclass(cls, BaseAffectiveDataset)
