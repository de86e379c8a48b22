"""FI, Flickr & Instagram (You et al., AAAI 2016), as distributed."""
import hashlib
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

from mmpretrain.registry import DATASETS
from .base_affective import BaseAffectiveDataset
from .file_checks import (IMG_EXTENSIONS, check_dir, image_file_problem,
                          one_level_down, visible_files)

FI_CLASSES = ('amusement', 'anger', 'awe', 'contentment', 'disgust',
              'excitement', 'fear', 'sadness')
"""FI's own class order: its folders, alphabetically."""


@DATASETS.register_module()
class FI(BaseAffectiveDataset):
    """FI (Flickr & Instagram): a folder per emotion, no official split.

    Layout (``data_root`` is the ``emotion_dataset`` folder)::

        emotion_dataset/
          amusement/amusement_<...>.jpg
          anger/ awe/ contentment/ disgust/ excitement/ fear/ sadness/

    The label is the folder (FI's 8 categories are the canonical ones). All
    8 folders must be there; another visible folder is an error (hidden
    files and ``__MACOSX`` are ignored). Files that are not images
    (extension outside ``extensions``) are reported and left out.

    Copies of FI hold pictures that are no longer the photo: empty files,
    error pages under an image name, and the placeholder a photo site
    serves once a photo is removed. They are reported (count and names, in
    ``self.skipped``) and left out:

    * ``'invalid'``: empty, or not an image by its first bytes;
    * ``'placeholder'``: content whose SHA-1 is in ``placeholder_sha1``, or
      that ``placeholder_min_copies`` or more files share byte for byte (a
      photo does not come back that many times; a placeholder does). Only
      files of equal size are hashed, so the check stays cheap.

    The split (seeded, stratified by label; or k-fold) is made over every
    image file found, before invalid ones are left out, so an image's side
    does not depend on the checks. FI's usual protocol is a random
    80 / 5 / 15 split.

    Args:
        data_root (str): The ``emotion_dataset`` folder.
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'``.
            Defaults to ``'all'``.
        split_ratios (Sequence[float]): (train, val, test) ratios. Defaults
            to ``(0.8, 0.05, 0.15)``.
        seed (int): Seed of the split. Defaults to 0.
        fold (int, optional): Held-out fold of k-fold. Defaults to None.
        num_folds (int): Number of folds. Defaults to 5.
        extensions (Sequence[str]): Image file extensions. Defaults to the
            common ones.
        placeholder_sha1 (Sequence[str]): SHA-1 hex digests of known
            placeholder pictures. Defaults to ().
        placeholder_min_copies (int, optional): Identical content shared by
            this many files or more is a placeholder; None turns the check
            off. Defaults to 3.
        **kwargs: Other arguments of :class:`BaseAffectiveDataset`
            (``label_space``, ``pipeline``...).
    """

    def __init__(self,
                 data_root: str = '',
                 split: str = 'all',
                 split_ratios: Sequence[float] = (0.8, 0.05, 0.15),
                 seed: int = 0,
                 fold: Optional[int] = None,
                 num_folds: int = 5,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 placeholder_sha1: Sequence[str] = (),
                 placeholder_min_copies: Optional[int] = 3,
                 **kwargs):
        self._init_split(split, split_ratios, seed, fold, num_folds)
        if placeholder_min_copies is not None and (
                not isinstance(placeholder_min_copies, int)
                or placeholder_min_copies < 2):
            raise ValueError(
                f'placeholder_min_copies={placeholder_min_copies!r} is '
                'invalid; expected an int >= 2 or None (no check).')
        if not data_root:
            raise ValueError('FI needs data_root (the emotion_dataset folder '
                             'holding a folder per emotion).')
        self.extensions = tuple(e.lower() for e in extensions)
        self.placeholder_sha1 = {h.lower() for h in placeholder_sha1}
        self.placeholder_min_copies = placeholder_min_copies
        super().__init__(data_root=data_root, **kwargs)

    def _scan(self, root: str) -> List[dict]:
        """Every image file of the 8 folders, with its folder's label.
        Folder names match case-insensitively (``Awe/`` is ``awe``)."""
        folders = [n for n in visible_files(root)
                   if osp.isdir(osp.join(root, n))]
        by_class = defaultdict(list)
        for n in folders:
            by_class[n.lower()].append(n)
        absent = [c for c in FI_CLASSES if c not in by_class]
        unknown = [n for n in folders if n.lower() not in FI_CLASSES]
        twice = [names for c, names in by_class.items()
                 if c in FI_CLASSES and len(names) > 1]
        if absent or unknown or twice:
            raise FileNotFoundError(
                f'FI folder {root}: missing emotion folder(s) {absent}, '
                f'unexpected folder(s) {unknown}' +
                (f', one emotion in several folders {twice}' if twice
                 else '') +
                f'; expected exactly {list(FI_CLASSES)} (any case).' +
                one_level_down(root, FI_CLASSES))
        index_map = self._label_map(FI_CLASSES, root)
        infos, others = [], []
        for k, name in enumerate(FI_CLASSES):
            folder = by_class[name][0]
            for f in visible_files(osp.join(root, folder)):
                rel = f'{folder}/{f}'
                if not f.lower().endswith(self.extensions):
                    others.append(rel)
                    continue
                infos.append(dict(img_path=osp.join(root, rel), img_id=rel,
                                  emotion=name, gt_label=index_map[k]))
        self._skip(others, 'not an image file by its extension')
        return infos

    def _placeholders(self, paths: List[str]) -> Dict[str, str]:
        """``{path: reason}`` of placeholder pictures among ``paths``."""
        by_size = defaultdict(list)
        for p in paths:
            by_size[os.path.getsize(p)].append(p)
        min_copies = self.placeholder_min_copies
        out = {}
        for group in by_size.values():
            if not self.placeholder_sha1 and (
                    min_copies is None or len(group) < min_copies):
                continue
            by_hash = defaultdict(list)
            for p in group:
                with open(p, 'rb') as f:
                    by_hash[hashlib.sha1(f.read()).hexdigest()].append(p)
            for digest, same in by_hash.items():
                if digest in self.placeholder_sha1 or (
                        min_copies is not None and len(same) >= min_copies):
                    out.update(dict.fromkeys(same, digest))
        return out

    def load_data_list(self) -> List[dict]:
        root = check_dir(self.data_root, 'FI folder (emotion_dataset)')
        infos = self._scan(root)
        if not infos:
            raise ValueError(f'FI folder {root}: the emotion folders hold no '
                             f'images ({self.extensions}).')
        placeholders = self._placeholders([d['img_path'] for d in infos])
        infos = [infos[i] for i in self._split([d['gt_label'] for d in infos])]
        invalid, found, data_list = [], [], []
        for d in infos:
            problem = image_file_problem(d['img_path'])
            if problem:
                invalid.append(f'{d["img_id"]} ({problem})')
            elif d['img_path'] in placeholders:
                found.append(
                    f'{d["img_id"]} (sha1 {placeholders[d["img_path"]]})')
            else:
                data_list.append(d)
        self._skip(invalid, 'invalid')
        self._skip(found, 'placeholder')
        return data_list

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Split: \t{self.split} (seed={self.seed}, fold={self.fold})'
        ]

