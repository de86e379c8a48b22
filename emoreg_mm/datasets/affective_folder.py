"""A user's own affective stimuli: a folder per emotion or a label file."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmpretrain.registry import DATASETS
from .base_affective import BaseAffectiveDataset
from .file_checks import IMG_EXTENSIONS, check_dir, check_file


@DATASETS.register_module()
class AffectiveImageFolder(BaseAffectiveDataset):
    """Emotion-labelled images of your own; a new set needs only a config.

    Two layouts:

    * folder per emotion (no ``ann_file``)::

        data_root/<data_prefix>/<emotion>/<any/depth>/<image>.jpg

    * a label file (``ann_file``), one ``<path> <label>`` per line, path
      relative to ``data_root/<data_prefix>`` (it may contain spaces; the
      label is the last field), label a class name or an index into the
      classes; blank lines and lines starting with ``#`` are ignored.

    Class names: with ``label_space='canonical'`` (or ``'binary'``) the
    folder / label names are mapped onto the 8 canonical emotions (case
    and ``Content``/``Sad`` spellings tolerated, more via ``name_map``);
    integer labels index the classes of the label space. With
    ``label_space='own'`` the classes are ``classes`` (required for integer
    labels) or, if None, the sorted folder / label names.

    ``split`` selects one side of a seeded stratified split (``'all'``, the
    default, keeps everything: use it when you keep a folder or a label
    file per split).

    Args:
        data_root (str): Root folder. Defaults to ''.
        data_prefix (str): Image folder, relative to ``data_root``.
            Defaults to ''.
        ann_file (str): Optional label file, relative to ``data_root``.
            Defaults to '' (folder per emotion).
        classes (Sequence[str] | str, optional): Own class names (or a file
            with one name per line) for ``label_space='own'``. Defaults to
            None.
        extensions (Sequence[str]): Image extensions scanned in folder mode.
            Defaults to common image extensions.
        label_space (str): ``'canonical'``, ``'binary'`` or ``'own'``.
            Defaults to ``'canonical'``.
        split, split_ratios, seed, fold, num_folds: see
            :class:`Abstract`. ``split`` defaults to ``'all'``.
        **kwargs: Other arguments of :class:`BaseAffectiveDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 data_prefix: str = '',
                 ann_file: str = '',
                 classes: Union[Sequence[str], str, None] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 label_space: str = 'canonical',
                 split: str = 'all',
                 split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 0,
                 fold: Optional[int] = None,
                 num_folds: int = 5,
                 **kwargs):
        self._init_split(split, split_ratios, seed, fold, num_folds)
        if not data_root and not data_prefix:
            raise ValueError('AffectiveImageFolder needs data_root or '
                             'data_prefix (the image folder).')
        if classes is not None and label_space != 'own':
            raise ValueError(
                f"classes={classes!r} is only used with label_space='own'; "
                f'label_space={label_space!r} fixes the classes.')
        if isinstance(classes, str):
            classes = [
                c.strip() for c in open(check_file(classes, 'classes file'))
                if c.strip()
            ]
        self.own_classes = tuple(classes) if classes is not None else None
        self.extensions = tuple(e.lower() for e in extensions)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            label_space=label_space,
            **kwargs)

    def _scan_folders(self, root: str) -> List[tuple]:
        """``[(rel_path, folder_name, where)]`` of a folder-per-class tree."""
        check_dir(root, 'AffectiveImageFolder image root')
        samples = []
        for name in sorted(os.listdir(root)):
            sub = osp.join(root, name)
            if not osp.isdir(sub):
                continue
            for dirpath, dirnames, files in os.walk(sub, followlinks=True):
                dirnames.sort()
                for f in sorted(files):
                    if f.lower().endswith(self.extensions):
                        rel = osp.relpath(osp.join(dirpath, f), root)
                        samples.append((rel, name, sub))
        if not samples:
            raise ValueError(
                f'AffectiveImageFolder: no images ({self.extensions}) found '
                f'in the class folders of {root}; expected '
                '<root>/<emotion>/<image>.')
        return samples

    def _read_label_file(self, path: str) -> List[tuple]:
        """``[(rel_path, label_text, where)]`` of a ``path label`` file."""
        check_file(path, 'AffectiveImageFolder label file')
        samples = []
        with open(path, encoding='utf-8') as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith('#'):
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2:
                    raise ValueError(
                        f'Label file {path}, line {n}: {line!r}; expected '
                        '"<image path> <label>" (label = class name or '
                        'index).')
                samples.append((parts[0], parts[1], f'{path}, line {n}'))
        if not samples:
            raise ValueError(f'Label file {path} lists no images.')
        return samples

    def _source_names(self, samples: List[tuple]) -> List[str]:
        names = sorted({s[1] for s in samples})
        if self.own_classes is not None:
            return list(self.own_classes)
        if all(n.lstrip('-').isdigit() for n in names):
            if self.label_space == 'own':
                raise ValueError(
                    'AffectiveImageFolder: integer labels need classes=[...] '
                    "in the config (label_space='own').")
        return names

    def load_data_list(self) -> List[dict]:
        root = self.img_root
        if self.ann_file:
            samples = self._read_label_file(self.ann_file)
            where = f'label file {self.ann_file}'
        else:
            samples = self._scan_folders(root)
            where = f'image root {root}'
        if self.label_space == 'own':
            names = self._source_names(samples)
        else:
            names = sorted({s[1] for s in samples if not s[1].isdigit()})
        index_map = self._label_map(names, where)
        name_to_label = {n: index_map[i] for i, n in enumerate(names)}
        data_list = []
        for rel, label, src in samples:
            if label in name_to_label:
                gt = name_to_label[label]
            elif label.isdigit() and int(label) < len(self.CLASSES):
                gt = int(label)
            else:
                raise ValueError(
                    f'AffectiveImageFolder: unknown label {label!r} ({src}); '
                    f'expected one of {list(name_to_label)} or an index '
                    f'below {len(self.CLASSES)}.')
            data_list.append(
                dict(img_path=osp.join(root, rel), gt_label=gt,
                     emotion=label))
        data_list = self._keep_existing(data_list, where, root)
        return [
            data_list[i]
            for i in self._split([d['gt_label'] for d in data_list])
        ]

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [f'Split: \t{self.split}']
