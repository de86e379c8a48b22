"""EmoSet-118K (Yang et al., ICCV 2023), read as its authors distribute it."""
import os.path as osp
from typing import List, Optional, Tuple

from mmpretrain.registry import DATASETS
from .base_affective import BaseAffectiveDataset
from .file_checks import check_choice, load_json

ATTRIBUTES = ('brightness', 'colorfulness', 'scene', 'object',
              'facial_expression', 'human_action')
_ENTRY = ('a list of 3 strings [emotion_name, rel_image_path, '
          'rel_annotation_path] (as distributed) or of 4 strings '
          '[emotion_name, image_id, rel_image_path, rel_annotation_path] '
          '(as the README shows)')
_INFO = ('{"emotion": {"label2idx": ..., "idx2label": ...}, "brightness": '
         '{...}, ...} (the repository\'s info.json) or {"label2idx": ..., '
         '"idx2label": ...} (the download\'s emotion-only info.json)')


def parse_entry(entry, where: str) -> tuple:
    """``(emotion, image_id, rel_image, rel_annotation)`` of a split entry.

    Accepts the distributed 3-string form (the image id is the image file's
    stem) and the README's 4-string form.
    """
    if (not isinstance(entry, list) or len(entry) not in (3, 4)
            or not all(isinstance(e, str) for e in entry)):
        raise ValueError(f'{where}: {entry!r}; expected {_ENTRY}.')
    if len(entry) == 3:
        emotion, rel_img, rel_ann = entry
        return (emotion, osp.splitext(osp.basename(rel_img))[0], rel_img,
                rel_ann)
    return tuple(entry)


@DATASETS.register_module()
class EmoSet(BaseAffectiveDataset):
    """EmoSet-118K.

    Layout::

        data_root/
          info.json  train.json  val.json  test.json
          image/<emotion>/<image_id>.jpg
          annotation/<emotion>/<image_id>.json

    A split file is a JSON list of entries, each either 3 strings
    ``[emotion_name, rel_image_path, rel_annotation_path]`` (the files as
    distributed) or 4 strings ``[emotion_name, image_id, rel_image_path,
    rel_annotation_path]`` (the official README); with 3 the image id is
    the image file's stem.

    ``info.json`` comes in two forms: the repository's, with one
    ``{"label2idx": ..., "idx2label": ...}`` vocabulary per key
    (``emotion`` and the attributes), and the download's emotion-only one,
    ``{"label2idx": ..., "idx2label": ...}`` at the top level. The emotion
    names and their order come from ``label2idx``.

    Attributes: each data info can carry the image's attributes as indices
    into ``info.json``'s vocabularies: ``brightness``, ``colorfulness``,
    ``scene``, ``facial_expression``, ``human_action`` (int, -1 when the
    annotation lacks it) and ``object`` (list of int); names are looked up
    verbatim (trailing spaces included). They need the repository's
    ``info.json`` and the per-image annotation files.

    Args:
        data_root (str): The EmoSet root folder.
        split (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        ann_file (str): The split file; defaults to ``'<split>.json'`` under
            ``data_root``.
        info_file (str): The vocabulary file, relative to ``data_root``.
            Defaults to ``'info.json'``.
        with_attributes (bool, optional): True: read every per-image
            annotation and add the attributes (an error if ``info.json``
            has no attribute vocabularies); False: emotions only; None:
            attributes when ``info.json`` has their vocabularies.
            Defaults to None.
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
                 with_attributes: Optional[bool] = None,
                 label_space: str = 'canonical',
                 **kwargs):
        check_choice('split', split, ('train', 'val', 'test'))
        check_choice('with_attributes', with_attributes, (None, True, False))
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

    def _load_info(self) -> Tuple[dict, bool]:
        """The vocabularies ``{key: label2idx}`` and whether the attributes
        are read (``with_attributes`` resolved against the file)."""
        path = osp.join(self.data_root, self.info_file)
        info = load_json(path, 'EmoSet info file', _INFO)

        def vocab(obj):
            if isinstance(obj, dict) and isinstance(obj.get('label2idx'),
                                                    dict):
                return obj['label2idx']
            return None

        if not isinstance(info, dict):
            raise ValueError(f'EmoSet info file {path}: expected {_INFO}, '
                             f'got {type(info).__name__}.')
        if vocab(info) is not None:  # the download's emotion-only form
            vocabs = {'emotion': vocab(info)}
        elif vocab(info.get('emotion')) is not None:
            vocabs = {k: vocab(v) for k, v in info.items()
                      if vocab(v) is not None}
        else:
            raise ValueError(f'EmoSet info file {path}: no emotion '
                             f'vocabulary; expected {_INFO}.')
        absent = [k for k in ATTRIBUTES if k not in vocabs]
        if self.with_attributes is None:
            return vocabs, not absent
        if self.with_attributes and absent:
            raise ValueError(
                f'EmoSet info file {path} has no vocabulary for the '
                f'attributes {absent} (the download\'s info.json is '
                'emotion-only), so with_attributes=True cannot index them; '
                'use the repository\'s info.json (keys emotion, '
                f'{", ".join(ATTRIBUTES)}) or with_attributes=False.')
        return vocabs, bool(self.with_attributes)

    def _attributes(self, ann: dict, ann_path: str, info: dict) -> dict:
        """Indices of one image's attributes in info.json's vocabularies."""
        if not isinstance(ann, dict):
            raise ValueError(f'EmoSet annotation {ann_path}: expected a JSON '
                             f'object, got {type(ann).__name__}.')

        def index(key, value):
            vocab = info[key]
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
        vocabs, with_attributes = self._load_info()
        info_path = osp.join(self.data_root, self.info_file)
        emo_vocab = vocabs['emotion']
        own_names = sorted(emo_vocab, key=lambda n: int(emo_vocab[n]))
        index_map = self._label_map(own_names, info_path)
        own_index = {n: i for i, n in enumerate(own_names)}

        what = f'EmoSet {self.split} split file'
        entries = load_json(self.ann_file, what, 'a JSON list of ' + _ENTRY)
        if not isinstance(entries, list):
            raise ValueError(f'{what} {self.ann_file}: expected a JSON list '
                             f'of {_ENTRY}, got {type(entries).__name__}.')
        data_list = []
        for k, entry in enumerate(entries):
            where = f'{what} {self.ann_file}, entry {k}'
            emotion, image_id, rel_img, rel_ann = parse_entry(entry, where)
            if emotion not in own_index:
                raise ValueError(
                    f'{where}: unknown emotion {emotion!r}; expected one of '
                    f'{own_names} (from {info_path}).')
            data_list.append(
                dict(
                    img_path=osp.join(self.data_root, rel_img),
                    ann_path=osp.join(self.data_root, rel_ann),
                    img_id=image_id,
                    emotion=emotion,
                    gt_label=index_map[own_index[emotion]]))
        data_list = self._keep_existing(data_list,
                                        f'{what} {self.ann_file}',
                                        self.data_root)
        if with_attributes:
            for d in data_list:
                ann = load_json(
                    d['ann_path'], 'EmoSet per-image annotation file',
                    'an object with optional keys ' + ', '.join(ATTRIBUTES))
                d.update(self._attributes(ann, d['ann_path'], vocabs))
        return data_list

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [f'Split: \t{self.split}']
