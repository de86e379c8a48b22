"""Builders of tiny datasets in each set's native layout (real images).

Plain functions, importable by any test (``from affective_fixtures import
make_emoset``; ``tests/conftest.py`` puts ``tests/`` on ``sys.path`` and
wraps the common ones as pytest fixtures). Each
returns the dataset root and writes small encoded images (16x16 by
default) whose pixels differ per image, so content hashes differ.
"""
import csv
import json
import os
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

EMOTIONS = ('amusement', 'awe', 'contentment', 'excitement', 'anger',
            'disgust', 'fear', 'sadness')
ABSTRACT_HEADER = ('Amusement', 'Anger', 'Awe', 'Content', 'Disgust',
                   'Excitement', 'Fear', 'Sad')
_counter = [0]


def write_image(path: str, size: int = 16, seed: Optional[int] = None) -> str:
    """Write a real encoded image (format from the extension) with unique
    pixels; returns ``path``."""
    import cv2
    if seed is None:
        _counter[0] += 1
        seed = _counter[0]
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    ok = cv2.imwrite(path, img)
    assert ok, path
    return path


def write_corrupt_image(path: str) -> str:
    """Write bytes that no decoder reads, under an image name."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'wb') as f:
        f.write(b'\xff\xd8 this is not really a jpeg')
    return path


# --------------------------------------------------------------------------
def _vocab(names) -> dict:
    return {
        'label2idx': {n: i for i, n in enumerate(names)},
        'idx2label': {str(i): n for i, n in enumerate(names)}
    }


def emoset_info(form: str = 'full') -> dict:
    """A small EmoSet info.json in one of its two real forms.

    ``'full'``: the repository's (one vocabulary per key, attribute names
    spelt as there: capitalised objects, underscored scenes, no neutral
    facial expression, ``'boxing '`` with its trailing space, 11 bins
    keyed ``'0.0'`` .. ``'1.0'`` whose idx2label values are numbers), the
    vocabularies reduced; ``'emotion'``: the download's emotion-only file.
    """
    if form == 'emotion':
        return _vocab(EMOTIONS)
    bins = _vocab([f'{i / 10:.1f}' for i in range(11)])
    bins['idx2label'] = {str(i): i / 10 for i in range(11)}
    return {
        'emotion': _vocab(EMOTIONS),
        'brightness': bins,
        'colorfulness': dict(bins),
        'scene': _vocab(['amusement_park', 'bakery/shop', 'beach']),
        'object': _vocab(['Car', 'Person', 'Teddy bear', 'Toy']),
        'facial_expression': _vocab(['angry', 'disgust', 'fear', 'happy',
                                     'sad', 'surprise']),
        'human_action': _vocab(['bowling', 'boxing ', 'braiding hair']),
    }


def make_emoset(root: str,
                per_split: Optional[Dict[str, Dict[str, int]]] = None,
                size: int = 16,
                entry_form: int = 3,
                info_form: str = 'full') -> str:
    """EmoSet layout: info.json, {train,val,test}.json, image/, annotation/.

    Args:
        root: Output folder.
        per_split: ``{split: {emotion: count}}``. Defaults to train: 2 per
            emotion, val: 1 of amusement and fear, test: 1 of awe and
            sadness.
        entry_form: 3 (as distributed: ``[emotion, rel_image,
            rel_annotation]``) or 4 (as the README shows: ``[emotion,
            image_id, rel_image, rel_annotation]``).
        info_form: ``'full'`` or ``'emotion'``, see :func:`emoset_info`.
    Returns the root. Image ids are ``<emotion>_<5 digits>``. The first
    train image of each emotion has every attribute
    (``scene='amusement_park'``, ``object=['Toy', 'Car']``,
    ``facial_expression='happy'``, ``human_action='boxing '`` with its
    trailing space, ``brightness=0.3``, ``colorfulness=1``); others have
    none.
    """
    if per_split is None:
        per_split = {
            'train': {e: 2
                      for e in EMOTIONS},
            'val': {
                'amusement': 1,
                'fear': 1
            },
            'test': {
                'awe': 1,
                'sadness': 1
            },
        }
    with open(osp.join(_mkdir(root), 'info.json'), 'w') as f:
        json.dump(emoset_info(info_form), f, indent=2)
    n = 0
    for split, counts in per_split.items():
        entries = []
        for emotion, count in counts.items():
            for k in range(count):
                n += 1
                image_id = f'{emotion}_{n:05d}'
                rel_img = f'image/{emotion}/{image_id}.jpg'
                rel_ann = f'annotation/{emotion}/{image_id}.json'
                write_image(osp.join(root, rel_img), size)
                ann = {}
                if split == 'train' and k == 0:
                    ann = {
                        'brightness': 0.3,
                        'colorfulness': 1,
                        'scene': 'amusement_park',
                        'object': ['Toy', 'Car'],
                        'facial_expression': 'happy',
                        'human_action': 'boxing ',
                    }
                _write_json(osp.join(root, rel_ann), ann)
                entries.append([emotion, image_id, rel_img, rel_ann]
                               if entry_form == 4 else
                               [emotion, rel_img, rel_ann])
        _write_json(osp.join(root, f'{split}.json'), entries)
    return root


# --------------------------------------------------------------------------
def abstract_rows() -> List[Tuple[str, List[int]]]:
    """Vote rows in the CSV's column order (Amusement, Anger, Awe, Content,
    Disgust, Excitement, Fear, Sad), with the expected canonical label.

    Row 2 has a count of 10 beside a 9 ('9' > '10' string-wise); row 4 is a
    tie (Awe = Sad = 5).
    """
    return [
        ('abstract_0001.jpg', [0, 1, 0, 6, 0, 2, 1, 0]),  # contentment
        ('abstract_0002.jpg', [9, 0, 0, 0, 0, 10, 0, 2]),  # excitement
        ('abstract_0003.jpg', [0, 0, 1, 2, 0, 0, 0, 7]),  # sadness
        ('abstract_0004.jpg', [0, 0, 5, 0, 0, 0, 0, 5]),  # tie awe/sadness
        ('abstract_0005.jpg', [8, 0, 0, 1, 0, 0, 0, 0]),  # amusement
        ('abstract_0006.jpg', [0, 11, 0, 0, 3, 0, 2, 0]),  # anger
        ('abstract_0007.jpg', [0, 0, 0, 0, 0, 0, 12, 1]),  # fear
    ]


ABSTRACT_LABELS = {
    'abstract_0001.jpg': 2,
    'abstract_0002.jpg': 3,
    'abstract_0003.jpg': 7,
    'abstract_0005.jpg': 0,
    'abstract_0006.jpg': 4,
    'abstract_0007.jpg': 6,
}


def make_abstract(root: str,
                  rows: Optional[Sequence[Tuple[str, List[int]]]] = None,
                  size: int = 16,
                  repeat: int = 1,
                  quote: str = "'",
                  sep: str = ',',
                  newline: str = '\n') -> str:
    """``testImages_abstract`` layout: flat images ``abstract_NNNN.jpg``
    and ABSTRACT_groundTruth.csv with an empty first header cell and the
    header and file-name cells wrapped in ``quote`` (``"'"`` as
    distributed; ``'"'`` or ``''`` for re-saved copies), cells separated by
    ``sep`` (``', '`` adds spaces) and lines ended by ``newline``.
    ``repeat`` > 1 adds copies of the rows under the next numbers (row k of
    copy c is ``abstract_{c * len(rows) + k:04d}.jpg``) for split tests.
    Returns the root."""
    rows = list(abstract_rows() if rows is None else rows)
    rows = rows + [(f'abstract_{c * len(rows) + k + 1:04d}.jpg', votes)
                   for c in range(1, repeat)
                   for k, (_, votes) in enumerate(rows)]
    lines = [sep.join([quote * 2] + [f'{quote}{h}{quote}'
                                     for h in ABSTRACT_HEADER])]
    for name, votes in rows:
        write_image(osp.join(_mkdir(root), name), size)
        lines.append(sep.join([f'{quote}{name}{quote}'] +
                              [str(v) for v in votes]))
    with open(osp.join(root, 'ABSTRACT_groundTruth.csv'), 'w',
              newline='') as f:
        f.write(newline.join(lines) + newline)
    return root


# --------------------------------------------------------------------------
EMOD_CLASSES = ('amusement', 'awe', 'contentment', 'excitement', 'anger',
                'disgust', 'fear', 'sadness', 'neutral')


def emod_matrix(n: int = 9) -> np.ndarray:
    """``n`` rows x 16 columns: id, 5 filler columns, a 9-value emotion
    distribution (cols 6:15, argmax = row index % 9), one filler column.
    Row 1's id is 2352.2 (an IAPS id with a decimal)."""
    mat = np.zeros((n, 16))
    for i in range(n):
        mat[i, 0] = 1000 + i
        mat[i, 1:6] = [0.1, 0.2, 0.3, 0.4, 0.5]
        dist = np.full(9, 0.5 / 8)
        dist[i % 9] = 0.5
        mat[i, 6:15] = dist
        mat[i, 15] = 7
    if n > 1:
        mat[1, 0] = 2352.2
    return mat


def make_emod(root: str,
              mat: Optional[np.ndarray] = None,
              missing: Sequence[int] = (),
              size: int = 16,
              csv_export: bool = True) -> str:
    """EMOd layout: allfindata1019_renamed.mat (var ``allfindata1019``,
    written with scipy.io.savemat), its CSV export allfindata1019.csv (no
    header) and EMOdImages1019/<id>.jpg for every row except the indices in
    ``missing``. Returns the root."""
    import scipy.io
    mat = emod_matrix() if mat is None else mat
    _mkdir(root)
    scipy.io.savemat(
        osp.join(root, 'allfindata1019_renamed.mat'), {'allfindata1019': mat})
    if csv_export:
        np.savetxt(
            osp.join(root, 'allfindata1019.csv'), mat, delimiter=',',
            fmt='%.10g')
    for i, row in enumerate(mat):
        if i in missing:
            continue
        write_image(
            osp.join(root, 'EMOdImages1019', f'{emod_id(row[0])}.jpg'), size)
    return root


def emod_id(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def make_diffused_emod(root: str,
                       emod_root: str,
                       source_ids: Sequence[str],
                       per_source: int = 3,
                       size: int = 16) -> str:
    """Diffused-EMOd layout: manifest.csv (image,source_id,prompt) and
    images/<source>/gen_<k>.png, ``per_source`` per EMOd source id.
    Returns the root."""
    lines = [['image', 'source_id', 'prompt']]
    for src in source_ids:
        for k in range(per_source):
            rel = f'{src}/gen_{k}.png'
            write_image(osp.join(_mkdir(root), 'images', rel), size)
            lines.append([rel, src, f'variation {k} of {src}'])
    with open(osp.join(root, 'manifest.csv'), 'w', newline='') as f:
        csv.writer(f).writerows(lines)
    return root


# --------------------------------------------------------------------------
FI_FOLDERS = ('amusement', 'anger', 'awe', 'contentment', 'disgust',
              'excitement', 'fear', 'sadness')
FI_PLACEHOLDERS = ('amusement/amusement_9001.jpg', 'fear/fear_9002.jpg',
                   'sadness/sadness_9003.jpg')
FI_INVALID = ('awe/awe_9004.jpg', 'anger/anger_9005.jpg')


def make_fi(root: str,
            count: int = 4,
            size: int = 16,
            quirks: bool = True) -> str:
    """FI layout (``emotion_dataset``): ``<emotion>/<emotion>_<n>.jpg``,
    ``count`` per folder. With ``quirks``, as in copies of FI: the same
    placeholder picture under 3 names (:data:`FI_PLACEHOLDERS`, a valid
    PNG saved as .jpg), an HTML error page and an empty file under image
    names (:data:`FI_INVALID`), a ``.DS_Store`` per folder and a stray
    ``Thumbs.db``. Returns the root."""
    n = 0
    for emotion in FI_FOLDERS:
        for _ in range(count):
            n += 1
            write_image(osp.join(root, emotion, f'{emotion}_{n:04d}.jpg'),
                        size)
    if quirks:
        import cv2
        placeholder = cv2.imencode('.png', np.full((12, 20, 3), 200,
                                                   np.uint8))[1].tobytes()
        for rel in FI_PLACEHOLDERS:
            with open(osp.join(root, rel), 'wb') as f:
                f.write(placeholder)
        with open(osp.join(root, FI_INVALID[0]), 'wb') as f:
            f.write(b'<html><body>This photo is no longer available'
                    b'</body></html>')
        open(osp.join(root, FI_INVALID[1]), 'wb').close()
        for emotion in FI_FOLDERS:
            with open(osp.join(root, emotion, '.DS_Store'), 'wb') as f:
                f.write(b'\x00\x00\x00\x01Bud1')
        with open(osp.join(root, 'fear', 'Thumbs.db'), 'wb') as f:
            f.write(b'\xd0\xcf\x11\xe0')
    return root


ARTPHOTO_COUNTS = {'amusement': 3, 'anger': 3, 'awe': 3, 'contentment': 3,
                   'disgust': 3, 'excitement': 3, 'fear': 3, 'sad': 4}


def make_artphoto(root: str,
                  counts: Optional[Dict[str, int]] = None,
                  size: int = 16) -> str:
    """ArtPhoto layout (``testImages_artphoto``): flat
    ``<prefix>_<n>.jpg`` (prefixes as distributed: ``sad`` for sadness),
    ``counts`` per prefix (default :data:`ARTPHOTO_COUNTS`), plus the
    ``ReadMe.rtf`` and ``.DS_Store`` the download carries. Returns the
    root."""
    counts = counts or ARTPHOTO_COUNTS
    n = 0
    for prefix, count in counts.items():
        for _ in range(count):
            n += 1
            write_image(osp.join(root, f'{prefix}_{1000 + n}.jpg'), size)
    with open(osp.join(root, 'ReadMe.rtf'), 'w') as f:
        f.write('{\\rtf1\\ansi ArtPhoto: the file name prefix is the '
                'emotion.}')
    with open(osp.join(root, '.DS_Store'), 'wb') as f:
        f.write(b'\x00\x00\x00\x01Bud1')
    return root


EMOTION6_CLASSES = ('anger', 'disgust', 'fear', 'joy', 'sadness', 'surprise',
                    'neutral')
EMOTION6_ROWS = (
    # image (folder = search keyword), valence, arousal, 7 probabilities,
    # expected own label (None: tied)
    ('anger/1.jpg', 3.1, 6.2, (0.6, 0.1, 0.1, 0, 0.1, 0.1, 0), 0),
    ('anger/2.jpg', 4.0, 5.0, (0.1, 0.2, 0.1, 0, 0.5, 0, 0.1), 4),
    ('disgust/1.jpg', 2.5, 3.8, (0.133333, 0.7, 0, 0.0666667, 0.1, 0, 0),
     1),
    ('fear/1.jpg', 3.0, 6.5, (0, 0.1, 0.3, 0, 0.3, 0.2, 0.1), None),
    ('joy/1.jpg', 7.2, 5.1, (0, 0, 0, 0.8, 0, 0.1, 0.1), 3),
    ('joy/2.jpg', 5.0, 2.0, (0, 0, 0, 0.2, 0, 0.1, 0.7), 6),
    ('sadness/1.jpg', 2.1, 3.3, (0, 0, 0.2, 0, 0.7, 0, 0.1), 4),
    ('surprise/1.jpg', 6.0, 6.8, (0, 0, 0.5, 0, 0, 0.4, 0.1), 2),
    ('surprise/2.jpg', 6.3, 6.0, (0, 0, 0, 0.3, 0, 0.6, 0.1), 5),
)
"""Emotion6 rows: four images whose keyword folder is not their label
(anger/2, joy/2, surprise/1, and the tie fear/1), one tie, labels of all 7
classes."""


def make_emotion6(root: str, repeat: int = 1, size: int = 16) -> str:
    """Emotion6 layout: ``images/<keyword>/<n>.jpg`` and the tab-separated
    ``ground_truth.txt`` with its bracketed header (LF line ends).
    ``repeat`` > 1 adds copies of :data:`EMOTION6_ROWS` as
    ``<keyword>/<n + 10 * c>.jpg``. Returns the root."""
    lines = ['\t'.join(['[image_filename]', '[valence]', '[arousal]'] +
                       [f'[prob. {c}]' for c in EMOTION6_CLASSES])]
    for c in range(repeat):
        for name, valence, arousal, probs, _ in EMOTION6_ROWS:
            keyword, n = name[:-4].split('/')
            name = f'{keyword}/{int(n) + 10 * c}.jpg'
            write_image(osp.join(root, 'images', name), size)
            lines.append('\t'.join([name, f'{valence:g}', f'{arousal:g}'] +
                                   [f'{p:g}' for p in probs]))
    with open(osp.join(root, 'ground_truth.txt'), 'w', newline='') as f:
        f.write('\n'.join(lines) + '\n')
    return root


# --------------------------------------------------------------------------
def make_affective_folder(root: str,
                          counts: Optional[Dict[str, int]] = None,
                          size: int = 16,
                          ext: str = '.png') -> str:
    """Folder per emotion: ``root/<emotion>/img_<k>.png``. Defaults to 3
    images for each of Amusement, Fear, Sad (set spellings). Returns the
    root."""
    counts = counts or {'Amusement': 3, 'Fear': 3, 'Sad': 3}
    for name, count in counts.items():
        for k in range(count):
            write_image(osp.join(root, name, f'img_{k}{ext}'), size)
    return root


def make_label_file(root: str,
                    labels: Sequence[Tuple[str, str]],
                    ann_name: str = 'labels.txt',
                    size: int = 16) -> str:
    """Images ``root/images/<path>`` and ``root/<ann_name>`` with lines
    ``<path> <label>``. Returns the label file's path."""
    lines = []
    for rel, label in labels:
        write_image(osp.join(root, 'images', rel), size)
        lines.append(f'{rel} {label}')
    path = osp.join(_mkdir(root), ann_name)
    with open(path, 'w') as f:
        f.write('# path label\n' + '\n'.join(lines) + '\n')
    return path


# --------------------------------------------------------------------------
def make_cifar10(root: str, num_per_batch: int = 4) -> str:
    """A CIFAR-10 folder with the right file names but tiny contents, so
    mmpretrain's md5 check fails (an 'incomplete' copy). Returns root."""
    folder = _mkdir(osp.join(root, 'cifar-10-batches-py'))
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({
                'data': np.zeros((num_per_batch, 3072), np.uint8),
                'labels': [0] * num_per_batch
            }, f)
    with open(osp.join(folder, 'batches.meta'), 'wb') as f:
        pickle.dump({'label_names': [f'c{i}' for i in range(10)]}, f)
    return root


# --------------------------------------------------------------------------
def rewrite_file(path: str, old: str, new: str) -> None:
    """Replace the first ``old`` in a text file by ``new`` (which must be
    there), keeping its line ends: for malformed-annotation tests."""
    with open(path, newline='') as f:
        text = f.read()
    assert old in text, (old, path)
    with open(path, 'w', newline='') as f:
        f.write(text.replace(old, new, 1))


def _mkdir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path


def _write_json(path: str, obj) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f)


def make_cifar(root: str, num_classes: int = 10, per_file: int = 4) -> str:
    """CIFAR-10 (``cifar-10-batches-py``) or CIFAR-100 (``cifar-100-python``)
    in the native pickle layout, with ``per_file`` random images per file.
    The contents are tiny, so mmpretrain's md5 check fails on them: tests
    that load them bypass that check. Returns root."""
    rng = np.random.default_rng(num_classes)
    if num_classes == 10:
        folder = _mkdir(osp.join(root, 'cifar-10-batches-py'))
        files = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
        label_key, meta = 'labels', ('batches.meta', 'label_names')
    else:
        folder = _mkdir(osp.join(root, 'cifar-100-python'))
        files, label_key, meta = ['train', 'test'], 'fine_labels', (
            'meta', 'fine_label_names')
    for name in files:
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({
                'data': rng.integers(0, 256, (per_file, 3072), np.uint8),
                label_key: [int(i % num_classes) for i in range(per_file)],
            }, f)
    with open(osp.join(folder, meta[0]), 'wb') as f:
        pickle.dump({meta[1]: [f'c{i}' for i in range(num_classes)]}, f)
    return root
