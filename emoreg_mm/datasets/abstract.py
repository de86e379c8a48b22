"""Abstract paintings (Machajdik & Hanbury, ACM MM 2010)."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from mmpretrain.registry import DATASETS
from .base_affective import TIE_POLICIES, BaseAffectiveDataset
from .file_checks import check_choice, parse_count, read_csv_rows
from .vocabulary import labels_from_scores, normalize_scores, remap_scores


@DATASETS.register_module()
class Abstract(BaseAffectiveDataset):
    """The Abstract set: 280 paintings with per-emotion vote counts.

    Layout (``data_root`` is the ``testImages_abstract`` folder)::

        testImages_abstract/
          ABSTRACT_groundTruth.csv
          abstract_NNN.jpg ...

    The CSV's first header cell is empty, the others name the emotions
    (``'Amusement', 'Anger', 'Awe', 'Content', 'Disgust', 'Excitement',
    'Fear', 'Sad'``); each row is a quoted file name and the vote counts.
    Cells are stripped of spaces and quotes and votes are cast to int. The
    votes are mapped into ``label_space`` (summed for ``'binary'``) and the
    label is their argmax.

    Rows whose maximum is tied follow ``tie_policy``:

    * ``'drop'``: removed; how many and which are logged and kept in
      ``self.tied_images``.
    * ``'soft'``: kept; then *every* sample carries ``gt_score``, its vote
      distribution (votes / total), which mmpretrain's heads use as a soft
      target, and ``gt_label`` is the first tied class in class order
      (used by accuracy metrics only).
    * ``'first'``: kept with the first tied class as hard label.

    There is no official split: ``split`` selects one side of a seeded split
    stratified by label (ratios ``split_ratios``), or, with ``fold`` set, of
    a stratified ``num_folds``-fold partition (``'train'`` = the other
    folds, ``'val'`` / ``'test'`` = fold ``fold``). Splitting happens before
    ties are dropped, so an image's side does not depend on ``tie_policy``.

    Args:
        data_root (str): The ``testImages_abstract`` folder.
        ann_file (str): The vote CSV, relative to ``data_root``. Defaults to
            ``'ABSTRACT_groundTruth.csv'``.
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'``.
            Defaults to ``'all'``.
        split_ratios (Sequence[float]): (train, val, test) ratios. Defaults
            to ``(0.8, 0.1, 0.1)``.
        seed (int): Seed of the split. Defaults to 0.
        fold (int, optional): Held-out fold of k-fold; None uses
            ``split_ratios``. Defaults to None.
        num_folds (int): Number of folds. Defaults to 5.
        tie_policy (str): ``'drop'``, ``'soft'`` or ``'first'``. Defaults to
            ``'drop'``.
        **kwargs: Other arguments of :class:`BaseAffectiveDataset`
            (``label_space``, ``skip_missing``, ``pipeline``...).
    """

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = 'ABSTRACT_groundTruth.csv',
                 split: str = 'all',
                 split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 0,
                 fold: Optional[int] = None,
                 num_folds: int = 5,
                 tie_policy: str = 'drop',
                 **kwargs):
        self._init_split(split, split_ratios, seed, fold, num_folds)
        check_choice('tie_policy', tie_policy, TIE_POLICIES)
        self.tie_policy = tie_policy
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        what = 'Abstract ground-truth CSV'
        rows = read_csv_rows(self.ann_file, what)
        _, header = rows[0]
        emotions = header[1:]
        if len(emotions) < 2:
            raise ValueError(
                f'{what} {self.ann_file}, line {rows[0][0]}: expected a '
                "header '', 'Amusement', 'Anger', ... naming the vote "
                f'columns, got {header}.')
        index_map = self._label_map(emotions, self.ann_file)
        names, votes, seen = [], [], set()
        for line, cells in rows[1:]:
            if len(cells) != len(header):
                raise ValueError(
                    f'{what} {self.ann_file}, line {line}: {len(cells)} '
                    f'cells, expected {len(header)} (file name + one vote '
                    f'count per emotion {emotions}).')
            name = cells[0]
            if name in seen:
                raise ValueError(f'{what} {self.ann_file}, line {line}: '
                                 f'duplicate image {name!r}.')
            seen.add(name)
            names.append(name)
            votes.append([
                parse_count(c, f'{what} {self.ann_file}, line {line}, '
                            f'column {e!r}')
                for c, e in zip(cells[1:], emotions)
            ])
        if not names:
            raise ValueError(f'{what} {self.ann_file} has a header but no '
                             'image rows.')
        votes = remap_scores(
            np.asarray(votes, dtype=np.float64), index_map, len(self.CLASSES))
        scores = normalize_scores(votes,
                                  [f'{self.ann_file}: {n}' for n in names])
        labels, tied = labels_from_scores(votes)

        data_list = []
        for i in self._split(labels):
            info = dict(
                img_path=osp.join(self.img_root, names[i]),
                img_id=names[i],
                gt_label=int(labels[i]),
                votes=votes[i].astype(int).tolist(),
                tied=bool(tied[i]))
            if self.tie_policy == 'soft':
                info['gt_score'] = scores[i]
            data_list.append(info)
        data_list = self._drop_ties(data_list, self.tie_policy)
        return self._keep_existing(data_list, f'{what} {self.ann_file}',
                                   self.img_root)

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Split: \t{self.split} (seed={self.seed}, fold={self.fold})',
            f'Tie policy: \t{self.tie_policy}'
        ]
