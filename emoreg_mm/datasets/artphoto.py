"""ArtPhoto (Machajdik & Hanbury, ACM MM 2010), as distributed."""
import logging
import os.path as osp
from typing import List, Optional, Sequence

from mmpretrain.registry import DATASETS
from .base_affective import BaseAffectiveDataset
from .file_checks import (IMG_EXTENSIONS, check_dir, one_level_down,
                          visible_files)

ARTPHOTO_CLASSES = ('amusement', 'anger', 'awe', 'contentment', 'disgust',
                    'excitement', 'fear', 'sad')
"""ArtPhoto's own class names: its file-name prefixes, alphabetically
(``sad`` is the canonical sadness)."""


@DATASETS.register_module()
class ArtPhoto(BaseAffectiveDataset):
    """ArtPhoto: 806 artistic photographs, labelled by file-name prefix.

    Layout (``data_root`` is the ``testImages_artphoto`` folder)::

        testImages_artphoto/
          ReadMe.rtf
          amusement_<...>.jpg  anger_<...>.jpg ... sad_<...>.jpg

    The label is the file name's prefix before the first ``_``
    (case-insensitive): one of ``amusement, anger, awe, contentment,
    disgust, excitement, fear, sad`` (``sad`` -> sadness). An image with
    another prefix is an error naming the file. Hidden files
    (``.DS_Store``) and the names in ``ignore`` are skipped; other files
    that are not images are reported and left out.

    There is no official split: ``split`` selects one side of a seeded
    split stratified by label, or, with ``fold`` set, of a stratified
    k-fold partition (ArtPhoto is often evaluated by 5-fold
    cross-validation), as in :class:`Abstract`.

    Args:
        data_root (str): The ``testImages_artphoto`` folder.
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'``.
            Defaults to ``'all'``.
        split_ratios (Sequence[float]): (train, val, test) ratios. Defaults
            to ``(0.8, 0.1, 0.1)``.
        seed (int): Seed of the split. Defaults to 0.
        fold (int, optional): Held-out fold of k-fold. Defaults to None.
        num_folds (int): Number of folds. Defaults to 5.
        extensions (Sequence[str]): Image file extensions. Defaults to the
            common ones.
        ignore (Sequence[str]): File names skipped without a report.
            Defaults to ``('ReadMe.rtf', 'Thumbs.db')``.
        **kwargs: Other arguments of :class:`BaseAffectiveDataset`
            (``label_space``, ``name_map``, ``pipeline``...).
    """

    def __init__(self,
                 data_root: str = '',
                 split: str = 'all',
                 split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 0,
                 fold: Optional[int] = None,
                 num_folds: int = 5,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 ignore: Sequence[str] = ('ReadMe.rtf', 'Thumbs.db'),
                 **kwargs):
        self._init_split(split, split_ratios, seed, fold, num_folds)
        if not data_root:
            raise ValueError('ArtPhoto needs data_root (the '
                             'testImages_artphoto folder).')
        self.extensions = tuple(e.lower() for e in extensions)
        self.ignore = {n.lower() for n in ignore}
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        root = check_dir(self.data_root, 'ArtPhoto folder '
                         '(testImages_artphoto)')
        index_map = self._label_map(ARTPHOTO_CLASSES, root)
        infos, others, bad = [], [], []
        for name in visible_files(root):
            if name.lower() in self.ignore:
                continue
            if (not name.lower().endswith(self.extensions)
                    or not osp.isfile(osp.join(root, name))):
                others.append(name)
                continue
            prefix = name.split('_', 1)[0].lower()
            if '_' not in name or prefix not in ARTPHOTO_CLASSES:
                bad.append(name)
                continue
            infos.append(
                dict(img_path=osp.join(root, name), img_id=name,
                     emotion=prefix,
                     gt_label=index_map[ARTPHOTO_CLASSES.index(prefix)]))
        if bad:  # every one at once: fix them all, run once
            raise ValueError(
                f'ArtPhoto folder {root}: {len(bad)} image(s) whose file-name '
                f'prefix is not an emotion: {bad}; expected <prefix>_<...> '
                f'with prefix one of {list(ARTPHOTO_CLASSES)} (any case).')
        self._skip(others, 'not an image file', logging.INFO)
        if not infos:
            raise ValueError(f'ArtPhoto folder {root} holds no images '
                             f'({self.extensions}).' + one_level_down(
                                 root, [f'{c}_' for c in ARTPHOTO_CLASSES],
                                 prefixes=True))
        return [infos[i] for i in self._split([d['gt_label'] for d in infos])]

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Split: \t{self.split} (seed={self.seed}, fold={self.fold})'
        ]
