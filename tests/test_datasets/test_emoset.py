import json
import os
import os.path as osp

import pytest
import torch
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import EMOTIONS, make_emoset, write_corrupt_image


def build(root, **kwargs):
    return DATASETS.build(dict(type='EmoSet', data_root=root, **kwargs))


def test_splits_labels_and_pipeline(emoset_root, pipeline):
    train = build(emoset_root, split='train', pipeline=pipeline)
    assert train.CLASSES == EMOTIONS
    assert len(train) == 16
    assert sorted(train.get_gt_labels().tolist()) == sorted(
        [i for i in range(8)] * 2)
    val = build(emoset_root, split='val')
    test = build(emoset_root, split='test')
    assert val.get_gt_labels().tolist() == [0, 6]
    assert test.get_gt_labels().tolist() == [1, 7]

    out = train[0]
    assert out['inputs'].shape == (3, 8, 8)
    assert out['inputs'].dtype == torch.uint8
    info = train.get_data_info(0)
    assert out['data_samples'].gt_label.item() == info['gt_label']
    assert info['img_path'].endswith('.jpg') and osp.isfile(info['img_path'])


def test_attributes_verbatim(emoset_root):
    ds = build(emoset_root, split='train')
    by_emotion = {}
    for i in range(len(ds)):
        d = ds.get_data_info(i)
        by_emotion.setdefault(d['emotion'], []).append(d)
    full, empty = by_emotion['awe']
    # info.json vocabularies as distributed: bins '0.0'..'1.0' looked up as
    # str(value) (colorfulness 1 -> '1.0'), 'amusement_park', capitalised
    # objects, 'boxing ' keeps its trailing space
    assert full['brightness'] == 3 and full['colorfulness'] == 10
    assert full['scene'] == 0 and full['object'] == [3, 0]
    assert full['facial_expression'] == 3 and full['human_action'] == 1
    assert empty['scene'] == -1 and empty['object'] == []


@pytest.mark.parametrize('entry_form', [3, 4])
@pytest.mark.parametrize('info_form', ['full', 'emotion'])
def test_entry_and_info_forms(tmp_path, entry_form, info_form):
    """The distributed (3 strings, emotion-only info.json) and the README
    (4 strings, full info.json) forms, in every combination."""
    root = make_emoset(str(tmp_path), entry_form=entry_form,
                       info_form=info_form)
    entry = json.load(open(osp.join(root, 'val.json')))[0]
    assert len(entry) == entry_form
    info = json.load(open(osp.join(root, 'info.json')))
    assert ('label2idx' in info) == (info_form == 'emotion')
    val = build(root, split='val')
    assert val.get_gt_labels().tolist() == [0, 6]
    d = val.get_data_info(0)
    assert d['img_id'] == osp.splitext(osp.basename(d['img_path']))[0]
    assert d['img_id'] == 'amusement_00017'
    # attributes where info.json has their vocabularies, by default
    assert ('scene' in d) == (info_form == 'full')
    assert 'scene' not in build(root, split='val',
                                with_attributes=False).get_data_info(0)
    if info_form == 'emotion':
        with pytest.raises(ValueError, match=r'info\.json has no vocabulary '
                           r"for the attributes \['brightness'.*emotion-only"
                           r'.*with_attributes=False'):
            build(root, split='val', with_attributes=True)


def test_binary_and_own_label_space(emoset_root):
    ds = build(emoset_root, split='train', label_space='binary')
    assert ds.CLASSES == ('positive', 'negative')
    labels = ds.get_gt_labels().tolist()
    emotions = [ds.get_data_info(i)['emotion'] for i in range(len(ds))]
    assert labels == [int(EMOTIONS.index(e) >= 4) for e in emotions]
    assert labels.count(0) == labels.count(1) == 8
    own = build(emoset_root, split='val', label_space='own',
                with_attributes=False)
    assert own.CLASSES == EMOTIONS and 'scene' not in own.get_data_info(0)


def test_emotion_order_comes_from_info(tmp_path):
    root = make_emoset(str(tmp_path), {'train': {'awe': 1, 'fear': 1}})
    info = json.load(open(osp.join(root, 'info.json')))
    names = list(reversed(EMOTIONS))
    info['emotion']['label2idx'] = {n: i for i, n in enumerate(names)}
    json.dump(info, open(osp.join(root, 'info.json'), 'w'))
    own = build(root, label_space='own')
    assert own.CLASSES == tuple(names)
    assert own.get_gt_labels().tolist() == [names.index('awe'),
                                            names.index('fear')]
    # the canonical space does not depend on info.json's order
    assert build(root).get_gt_labels().tolist() == [1, 6]


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"split='training'.*'train'"):
        build('/nowhere', split='training')
    with pytest.raises(ValueError, match=r"label_space='eight'"):
        build('/nowhere', label_space='eight')


def test_missing_split_file(emoset_root):
    os.remove(osp.join(emoset_root, 'val.json'))
    with pytest.raises(FileNotFoundError, match=r'split file.*val\.json'):
        build(emoset_root, split='val')


def test_missing_info(emoset_root):
    os.remove(osp.join(emoset_root, 'info.json'))
    with pytest.raises(FileNotFoundError, match=r'info file.*info\.json'):
        build(emoset_root)


def test_malformed_json(emoset_root):
    with open(osp.join(emoset_root, 'test.json'), 'w') as f:
        f.write('[["awe", "image/awe/a.jpg",\n')
    with pytest.raises(ValueError, match=r'test\.json is not valid JSON.*'
                       r'line 2.*list of 3 strings'):
        build(emoset_root, split='test')


@pytest.mark.parametrize('entry', [
    ['awe', 'image/awe/awe_1.jpg'],
    ['awe', 'awe_1', 'image/awe/awe_1.jpg', 'annotation/awe/awe_1.json', 'x'],
    ['awe', 1, 'image/awe/awe_1.jpg'],
    'image/awe/awe_1.jpg',
])
def test_bad_entry_shape(emoset_root, entry):
    path = osp.join(emoset_root, 'test.json')
    entries = json.load(open(path))
    json.dump(entries + [entry], open(path, 'w'))
    with pytest.raises(ValueError, match=r'test\.json, entry 2: .*expected a '
                       r'list of 3 strings.*or of 4 strings'):
        build(emoset_root, split='test')


def test_bad_info(emoset_root):
    path = osp.join(emoset_root, 'info.json')
    json.dump({'emotions': {'amusement': 0}}, open(path, 'w'))
    with pytest.raises(ValueError, match=r'info\.json: no emotion vocabulary'
                       r'.*emotion-only'):
        build(emoset_root)
    json.dump([1, 2], open(path, 'w'))
    with pytest.raises(ValueError, match=r'info\.json: expected .*got list'):
        build(emoset_root)


def test_unknown_emotion(emoset_root):
    path = osp.join(emoset_root, 'val.json')
    entries = json.load(open(path))
    entries[1][0] = 'joy'
    json.dump(entries, open(path, 'w'))
    with pytest.raises(ValueError,
                       match=r"val\.json, entry 1: unknown emotion 'joy'.*"
                       r'amusement'):
        build(emoset_root, split='val')


def test_unknown_attribute_value(emoset_root):
    ds = build(emoset_root, with_attributes=False)
    ann = next(
        ds.get_data_info(i)['ann_path'] for i in range(len(ds))
        if json.load(open(ds.get_data_info(i)['ann_path'])))
    a = json.load(open(ann))
    a['human_action'] = 'boxing'  # stripped: not the vocabulary's 'boxing '
    json.dump(a, open(ann, 'w'))
    with pytest.raises(ValueError, match=r"human_action='boxing' is not in"):
        build(emoset_root)


def test_missing_image_and_annotation(emoset_root):
    ds = build(emoset_root, split='test')
    img = ds.get_data_info(0)['img_path']
    os.remove(img)
    with pytest.raises(FileNotFoundError,
                       match=r'1 image\(s\) named by EmoSet test split file.*'
                       + osp.basename(img)):
        build(emoset_root, split='test')
    assert len(build(emoset_root, split='test', skip_missing=True)) == 1
    os.remove(ds.get_data_info(1)['ann_path'])
    with pytest.raises(FileNotFoundError, match='per-image annotation'):
        build(emoset_root, split='test', skip_missing=True)


def test_corrupt_image_named_at_load_time(emoset_root, pipeline):
    ds = build(emoset_root, split='val', pipeline=pipeline, test_mode=True)
    bad = ds.get_data_info(1)['img_path']
    write_corrupt_image(bad)
    assert ds[0]['inputs'].shape == (3, 8, 8)
    with pytest.raises(RuntimeError, match=osp.basename(bad)):
        ds[1]
    open(bad, 'wb').close()  # an empty file: cv2 raises without a name
    with pytest.raises(RuntimeError, match=osp.basename(bad)):
        ds[1]
