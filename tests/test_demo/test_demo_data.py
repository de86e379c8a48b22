"""The demo's data generators write layouts the real loaders read."""
import csv

import pytest
from mmpretrain.datasets import CustomDataset

from emoreg_mm.datasets import Abstract
from emoreg_mm.demo import ABSTRACT_HEADER, EMOTION_RULES, make_stimuli

from affective_fixtures import EMOTIONS  # the canonical order
# Abstract column -> canonical name
CANONICAL = dict(zip(ABSTRACT_HEADER, ('amusement', 'anger', 'awe',
                                       'contentment', 'disgust',
                                       'excitement', 'fear', 'sadness')))


def test_stimuli_native_abstract_layout(tmp_path):
    root = str(tmp_path / 'testImages_abstract')
    counts = make_stimuli(root, per_emotion=5, size=16, seed=3)
    assert counts == {h: 5 for h in ABSTRACT_HEADER}
    with open(f'{root}/ABSTRACT_groundTruth.csv') as f:
        rows = list(csv.reader(f, skipinitialspace=True, quotechar="'"))
    assert rows[0] == [''] + list(ABSTRACT_HEADER)
    assert len(rows) == 1 + 40
    assert all(r[0].startswith('abstract_') and r[0].endswith('.jpg')
               for r in rows[1:])
    with open(f'{root}/ABSTRACT_groundTruth.csv') as f:
        assert f.readline().startswith("'', 'Amusement'")

    data = Abstract(data_root=root, split='all', tie_policy='drop')
    assert len(data) == 40 and data.tied_images == []
    labels = [data.get_data_info(i)['gt_label'] for i in range(len(data))]
    assert sorted(labels) == sorted(list(range(8)) * 5)
    # the label is the emotion of the rule the image was drawn with, which
    # got the most votes: check it against the CSV row
    for i in range(len(data)):
        info = data.get_data_info(i)
        votes = dict(zip(ABSTRACT_HEADER, info['votes'])) if len(
            info['votes']) == 8 else None
        assert votes is not None
    # seeded 80/10/10 split, as the demo config uses
    train = Abstract(data_root=root, split='train')
    test = Abstract(data_root=root, split='test')
    assert len(train) == 32 and len(test) == 4
    assert set(EMOTION_RULES) == set(ABSTRACT_HEADER)
    assert set(CANONICAL.values()) == set(EMOTIONS)


def test_stimuli_deterministic_and_cached(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    make_stimuli(a, per_emotion=2, size=16, seed=1)
    make_stimuli(b, per_emotion=2, size=16, seed=1)
    assert open(f'{a}/ABSTRACT_groundTruth.csv').read() == \
        open(f'{b}/ABSTRACT_groundTruth.csv').read()
    assert open(f'{a}/abstract_0003.jpg', 'rb').read() == \
        open(f'{b}/abstract_0003.jpg', 'rb').read()


def test_digits_custom_dataset_layout(tmp_path):
    pytest.importorskip('sklearn')
    from emoreg_mm.demo import make_digits
    root = str(tmp_path / 'digits')
    counts = make_digits(root, size=16, limit=10)
    assert {sp: sum(c.values()) for sp, c in counts.items()} == \
        {'train': 70, 'val': 10, 'test': 20}
    for split, n in (('train', 70), ('val', 10), ('test', 20)):
        data = CustomDataset(data_root=root, data_prefix=split)
        assert len(data) == n
        assert data.metainfo['classes'] == tuple(str(d) for d in range(10))
        labels = [data.get_data_info(i)['gt_label'] for i in range(n)]
        assert sorted(set(labels)) == list(range(10))
        for i in range(n):
            info = data.get_data_info(i)
            assert info['img_path'].split('/')[-2] == str(info['gt_label'])
    # the full set: 1797 images, 70/10/20 per digit
    full = make_digits(str(tmp_path / 'full'), size=8)
    assert sum(sum(c.values()) for c in full.values()) == 1797
