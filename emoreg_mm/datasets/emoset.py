"""EmoSet-118K (Yang et al., ICCV 2023), read as its authors distribute it."""
import os.path as osp
from typing import List

from mmpretrain.registry import DATASETS
from .base_affective import (BaseAffectiveDataset, check_choice, check_file,
                             load_json)

ATTRIBUTES = ('brightness', 'colorfulness', 'scene', 'object',
              'facial_expression', 'human_action')
_ENTRY = ('a 4-element list [emotion_name, image_id, rel_image_path, '
          'rel_annotation_path] of strings')


@DATASETS.register_module()
class EmoSet(BaseAffectiveDataset):
    """EmoSet-118K.

    Layout::

        data_root/
          info.json  train.json  val.json  test.json
          image/<emotion>/<image_id>.jpg
          annotation/<emotion>/<image_id>.json

    A split file is a JSON list of ``[emotion_name, image_id,
    rel_image_path, rel_annotation_path]``. The emotion names and their
    order come from ``info.json`` (``emotion.label2idx``). With
    ``with_attributes`` each data info also carries the image's attributes
    as indices into ``info.json``'s vocabularies: ``brightness``,
    ``colorfulness``, ``scene``, ``facial_expression``, ``human_action``
    (int, -1 when the annotation lacks it) and ``object`` (list of int);
    names are looked up verbatim (trailing spaces included).

    Args:
        data_root (str): The EmoSet root folder.
        split (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        ann_file (str): The split file; defaults to ``'<split>.json'`` under
            ``data_root``.
        info_file (str): The vocabulary file, relative to ``data_root``.
            Defaults to ``'info.json'``.
        with_attributes (bool): Read every per-image annotation JSON and add
            the attributes to the data infos. Defaults to True.
        label_space (str): ``'canonical'`` (the 8 emotions), ``'binary'``
            (EmoSet's 2-class mode: positive / negative) or ``'own'``
            (info.json's order, which is the canonical one).
            Defaults to ``'canonical'``.
        **kwargs: Other arguments of :class:`BaseAffectiveDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 ann_file: str = '',
                 info_file: str = 'info.json',
                 with_attributes: bool = True,
                 label_space: str = 'canonical',
                 **kwargs):
        check_choice('split', split, ('train', 'val', 'test'))
        if not data_root:
            raise ValueError('EmoSet needs data_root (the folder holding '
                             'info.json and the split files).')
        self.split = split
        self.info_file = info_file
        self.with_attributes = with_attributes
        super().__init__(
            ann_file=ann_file or f'{split}.json',
            data_root=data_root,
            label_space=label_space,
            **kwargs)

    def _load_info(self) -> dict:
        path = osp.join(self.data_root, self.info_file)
        info = load_json(path, 'EmoSet info file',
                         'an object with keys emotion, ' + ', '.join(
                             ATTRIBUTES))
        for key in ('emotion', ) + (ATTRIBUTES
                                    if self.with_attributes else ()):
            if not isinstance(info, dict) or not isinstance(
                    info.get(key), dict) or 'label2idx' not in info[key]:
                raise ValueError(
                    f'EmoSet info file {path}: missing "{key}.label2idx"; '
                    f'expected keys {("emotion", ) + ATTRIBUTES}, each '
                    '{"label2idx": {...}, "idx2label": {...}}.')
        return info

    def _attributes(self, ann: dict, ann_path: str, info: dict) -> dict:
        """Indices of one image's attributes in info.json's vocabularies."""
        if not isinstance(ann, dict):
            raise ValueError(f'EmoSet annotation {ann_path}: expected a JSON '
                             f'object, got {type(ann).__name__}.')

        def index(key, value):
            vocab = info[key]['label2idx']
            if key in ('brightness', 'colorfulness'):
                # The official loader looks numbers up as str(value).
                cands = [str(value)]
                if isinstance(value, (int, float)):
                    cands.append(str(float(value)))
            else:
                cands = [value]
            for c in cands:
                if c in vocab:
                    return int(vocab[c])
            raise ValueError(
                f'EmoSet annotation {ann_path}: {key}={value!r} is not in '
                f'info.json {key}.label2idx; expected one of '
                f'{list(vocab)[:30]}')

        out = {}
        for key in ATTRIBUTES:
            value = ann.get(key)
            if key == 'object':
                if value is None:
                    value = []
                if not isinstance(value, list):
                    raise ValueError(f'EmoSet annotation {ann_path}: object '
                                     'must be a list of strings, got '
                                     f'{value!r}.')
                out[key] = [index(key, v) for v in value]
            else:
                out[key] = -1 if value is None else index(key, value)
        return out

    def load_data_list(self) -> List[dict]:
        info = self._load_info()
        info_path = osp.join(self.data_root, self.info_file)
        emo_vocab = info['emotion']['label2idx']
        own_names = sorted(emo_vocab, key=lambda n: int(emo_vocab[n]))
        index_map = self._label_map(own_names, info_path)
        own_index = {n: i for i, n in enumerate(own_names)}

        check_file(self.ann_file, f'EmoSet {self.split} split file')
        entries = load_json(self.ann_file, f'EmoSet {self.split} split file',
                            'a JSON list of ' + _ENTRY)
        if not isinstance(entries, list):
            raise ValueError(f'EmoSet split file {self.ann_file}: expected a '
                             f'JSON list of {_ENTRY}, got '
                             f'{type(entries).__name__}.')
        data_list = []
        for k, entry in enumerate(entries):
            if (not isinstance(entry, list) or len(entry) != 4
                    or not all(isinstance(e, str) for e in entry)):
                raise ValueError(f'EmoSet split file {self.ann_file}, entry '
                                 f'{k}: {entry!r}; expected {_ENTRY}.')
            emotion, image_id, rel_img, rel_ann = entry
            if emotion not in own_index:
                raise ValueError(
                    f'EmoSet split file {self.ann_file}, entry {k}: unknown '
                    f'emotion {emotion!r}; expected one of {own_names} '
                    f'(from {info_path}).')
            data_list.append(
                dict(
                    img_path=osp.join(self.data_root, rel_img),
                    ann_path=osp.join(self.data_root, rel_ann),
                    img_id=image_id,
                    emotion=emotion,
                    gt_label=index_map[own_index[emotion]]))
        data_list = self._keep_existing(
            data_list, f'EmoSet split file {self.ann_file}', self.data_root)
        if self.with_attributes:
            for d in data_list:
                ann = load_json(
                    d['ann_path'], 'EmoSet per-image annotation file',
                    'an object with optional keys ' + ', '.join(ATTRIBUTES))
                d.update(self._attributes(ann, d['ann_path'], info))
        return data_list

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [f'Split: \t{self.split}']
