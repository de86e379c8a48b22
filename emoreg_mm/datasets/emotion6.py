"""Emotion6 (Peng et al., CVPR 2015), as distributed."""
import logging
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from mmpretrain.registry import DATASETS
from .base_affective import TIE_POLICIES, BaseAffectiveDataset
from .file_checks import check_choice, check_dir, parse_number, read_csv_rows
from .vocabulary import labels_from_scores, normalize_scores, remap_scores

EMOTION6_CLASSES = ('anger', 'disgust', 'fear', 'joy', 'sadness', 'surprise',
                    'neutral')
"""Emotion6's own 7 classes, in ``ground_truth.txt``'s column order."""
EMOTION6_UNMAPPED = ('joy', 'surprise', 'neutral')
"""Emotion6 classes without a canonical counterpart: anger, disgust, fear
and sadness are canonical emotions; joy, surprise and neutral are not (joy
spans several positive canonical emotions). ``name_map`` may map them."""
_HEADER = ('image_filename', 'valence', 'arousal') + tuple(
    f'prob. {c}' for c in EMOTION6_CLASSES)


@DATASETS.register_module()
class Emotion6(BaseAffectiveDataset):
    """Emotion6: 1,980 Flickr images with an emotion distribution each.

    Layout (``data_root`` is the ``Emotion6`` folder)::

        Emotion6/
          ground_truth.txt
          images/{anger,disgust,fear,joy,sadness,surprise}/<n>.jpg

    ``ground_truth.txt`` is tab-separated with the header
    ``[image_filename] [valence] [arousal] [prob. anger] ... [prob.
    neutral]``; each row names an image relative to ``images/`` and gives
    its valence, arousal and the probabilities of the 7 classes
    (:data:`EMOTION6_CLASSES`). The label is the argmax of the
    probabilities, **never the folder**: the folder is the keyword the
    image was searched with and disagrees with the label in about half the
    rows. It is kept as ``keyword``, with ``valence``, ``arousal`` and the
    7 ``probs``, in each data info.

    Label spaces: ``'own'`` (default) is the 7 classes. ``'canonical'`` and
    ``'binary'`` map anger, disgust, fear and sadness onto the canonical
    emotions; joy, surprise and neutral have no counterpart (unless
    ``name_map`` gives one, e.g. ``{'joy': 'amusement'}``), so images whose
    label is one of them are left out and reported, and their probability
    mass is left out of the soft labels.

    Rows whose top probability is tied (judged on the 7 probabilities)
    follow ``tie_policy`` as in :class:`Abstract`; ``'soft'`` gives every
    sample the normalised probabilities as ``gt_score``. There is no
    official split: ``split`` / ``split_ratios`` / ``seed`` / ``fold`` /
    ``num_folds`` as in :class:`Abstract`, made on the 7-class labels of
    every row, so an image's side depends neither on ``label_space`` nor
    on ``tie_policy``.

    Args:
        data_root (str): The ``Emotion6`` folder.
        ann_file (str): The ground-truth file, relative to ``data_root``.
            Defaults to ``'ground_truth.txt'``.
        img_dir (str): The image folder, relative to ``data_root``.
            Defaults to ``'images'``.
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'``.
            Defaults to ``'all'``.
        split_ratios (Sequence[float]): Defaults to ``(0.8, 0.1, 0.1)``.
        seed (int): Seed of the split. Defaults to 0.
        fold (int, optional): Held-out fold of k-fold. Defaults to None.
        num_folds (int): Number of folds. Defaults to 5.
        tie_policy (str): ``'drop'``, ``'soft'`` or ``'first'``. Defaults to
            ``'drop'``.
        label_space (str): ``'own'``, ``'canonical'`` or ``'binary'``.
            Defaults to ``'own'``.
        **kwargs: Other arguments of :class:`BaseAffectiveDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = 'ground_truth.txt',
                 img_dir: str = 'images',
                 split: str = 'all',
                 split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 0,
                 fold: Optional[int] = None,
                 num_folds: int = 5,
                 tie_policy: str = 'drop',
                 label_space: str = 'own',
                 **kwargs):
        self._init_split(split, split_ratios, seed, fold, num_folds)
        check_choice('tie_policy', tie_policy, TIE_POLICIES)
        self.img_dir = img_dir
        self.tie_policy = tie_policy
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            label_space=label_space,
            **kwargs)

    def _read(self) -> tuple:
        """``(names, values)`` of ground_truth.txt: image paths and the
        ``(N, 9)`` valence, arousal and probabilities."""
        what = 'Emotion6 ground truth'
        path = self.ann_file
        rows = read_csv_rows(path, what, delimiter='\t')
        line, header = rows[0]
        if tuple(c.strip('[]').strip().lower() for c in header) != _HEADER:
            raise ValueError(
                f'{what} {path}, line {line}: header {header}; expected the '
                'tab-separated ' + '\t'.join(f'[{h}]' for h in _HEADER))
        names, values, seen = [], [], set()
        for line, cells in rows[1:]:
            where = f'{what} {path}, line {line}'
            if len(cells) != len(_HEADER):
                raise ValueError(
                    f'{where}: {len(cells)} tab-separated cells, expected '
                    f'{len(_HEADER)} (image, valence, arousal and the 7 '
                    'probabilities).')
            if cells[0] in seen:
                raise ValueError(f'{where}: duplicate image {cells[0]!r}.')
            seen.add(cells[0])
            row = [
                parse_number(c, f'{where}, column {h!r}')
                for c, h in zip(cells[1:], _HEADER[1:])
            ]
            if min(row[2:]) < 0:
                raise ValueError(f'{where}: negative probability in {row[2:]}'
                                 '; expected 7 probabilities in [0, 1].')
            names.append(cells[0])
            values.append(row)
        if not names:
            raise ValueError(f'{what} {path} has a header but no image rows.')
        return names, np.asarray(values, dtype=np.float64)

    def load_data_list(self) -> List[dict]:
        names, values = self._read()
        folder = check_dir(osp.join(self.data_root, self.img_dir),
                           'Emotion6 image folder')
        probs = values[:, 2:]
        own_labels, tied = labels_from_scores(probs)
        index_map = self._label_map(EMOTION6_CLASSES, self.ann_file,
                                    EMOTION6_UNMAPPED)
        scores = remap_scores(probs, index_map, len(self.CLASSES))
        data_list, unmapped = [], []
        for i in self._split(own_labels):
            label = index_map[own_labels[i]]
            if label < 0:
                unmapped.append(
                    f'{names[i]} ({EMOTION6_CLASSES[own_labels[i]]})')
                continue
            data_list.append(
                dict(
                    img_path=osp.join(folder, names[i]),
                    img_id=names[i],
                    keyword=names[i].split('/')[0],
                    valence=float(values[i, 0]),
                    arousal=float(values[i, 1]),
                    probs=probs[i].tolist(),
                    gt_label=int(label),
                    gt_score=scores[i],
                    tied=bool(tied[i])))
        self._skip(unmapped, f'label without a {self.label_space} class',
                   logging.INFO)
        data_list = self._drop_ties(data_list, self.tie_policy)
        if self.tie_policy == 'soft' and data_list:
            soft = normalize_scores(
                np.stack([d['gt_score'] for d in data_list]),
                [f'{self.ann_file}: {d["img_id"]}' for d in data_list])
            for d, s in zip(data_list, soft):
                d['gt_score'] = s
        elif self.tie_policy != 'soft':
            for d in data_list:
                d.pop('gt_score')
        return self._keep_existing(data_list,
                                   f'Emotion6 ground truth {self.ann_file}',
                                   folder)

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Split: \t{self.split} (seed={self.seed}, fold={self.fold})',
            f'Tie policy: \t{self.tie_policy}'
        ]
