import os
import os.path as osp

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import (EMOTION6_CLASSES, EMOTION6_ROWS, EMOTIONS,
                                make_emotion6, rewrite_file)


def build(root, **kwargs):
    return DATASETS.build(dict(type='Emotion6', data_root=root, **kwargs))


def infos(ds):
    return {ds.get_data_info(i)['img_id']: ds.get_data_info(i)
            for i in range(len(ds))}


EXPECTED = {name: label for name, *_, label in EMOTION6_ROWS}


@pytest.fixture
def emotion6_root(tmp_path):
    return make_emotion6(str(tmp_path / 'Emotion6'))


def test_labels_from_probabilities_not_folders(emotion6_root, pipeline):
    ds = build(emotion6_root, pipeline=pipeline)
    assert ds.CLASSES == EMOTION6_CLASSES
    got = infos(ds)
    assert {k: d['gt_label'] for k, d in got.items()} == {
        k: v for k, v in EXPECTED.items() if v is not None}
    # the folder is the search keyword; here it disagrees 3 times
    assert got['anger/2.jpg']['keyword'] == 'anger'
    assert got['anger/2.jpg']['gt_label'] == EMOTION6_CLASSES.index('sadness')
    assert got['joy/2.jpg']['gt_label'] == EMOTION6_CLASSES.index('neutral')
    assert got['surprise/1.jpg']['gt_label'] == EMOTION6_CLASSES.index('fear')
    # valence / arousal and the 7 probabilities stay in the data info
    d = got['disgust/1.jpg']
    assert (d['valence'], d['arousal']) == (2.5, 3.8)
    np.testing.assert_allclose(d['probs'],
                               [0.133333, 0.7, 0, 0.0666667, 0.1, 0, 0])
    assert ds.tied_images == ['fear/1.jpg']
    assert ds.skipped == {'tied': ['fear/1.jpg']}
    idx = list(got).index('anger/2.jpg')
    out = ds[idx]
    assert out['inputs'].shape == (3, 8, 8)
    assert out['data_samples'].gt_label.item() == 4
    assert 'gt_score' not in out['data_samples']


def test_soft_labels(emotion6_root, pipeline):
    ds = build(emotion6_root, tie_policy='soft', pipeline=pipeline)
    assert len(ds) == 9
    scores = np.stack([ds[i]['data_samples'].gt_score.numpy()
                       for i in range(len(ds))])
    np.testing.assert_allclose(scores.sum(1), 1, rtol=1e-6)
    tie = list(infos(ds)).index('fear/1.jpg')
    np.testing.assert_allclose(scores[tie], [0, .1, .3, 0, .3, .2, .1],
                               rtol=1e-6)
    assert ds[tie]['data_samples'].gt_label.item() == 2  # first tied


def test_canonical_only_where_defined(emotion6_root):
    ds = build(emotion6_root, label_space='canonical', tie_policy='soft')
    assert ds.CLASSES == EMOTIONS
    got = infos(ds)
    # joy, surprise and neutral have no canonical counterpart: left out
    assert sorted(ds.skipped['label without a canonical class']) == [
        'joy/1.jpg (joy)', 'joy/2.jpg (neutral)', 'surprise/2.jpg (surprise)'
    ]
    assert got['anger/1.jpg']['gt_label'] == EMOTIONS.index('anger')
    assert got['anger/2.jpg']['gt_label'] == EMOTIONS.index('sadness')
    assert got['surprise/1.jpg']['gt_label'] == EMOTIONS.index('fear')
    # soft labels over the mapped classes only (0.6 / 0.9 on anger)
    np.testing.assert_allclose(got['anger/1.jpg']['gt_score'][4], 0.6 / 0.9,
                               rtol=1e-6)
    # name_map adds a mapping where the user wants one
    joy = build(emotion6_root, label_space='binary',
                name_map={'joy': 'amusement'})
    assert joy.CLASSES == ('positive', 'negative')
    assert infos(joy)['joy/1.jpg']['gt_label'] == 0
    assert infos(joy)['anger/1.jpg']['gt_label'] == 1
    assert 'joy/1.jpg (joy)' not in sum(joy.skipped.values(), [])


def test_split_independent_of_label_space(tmp_path):
    root = make_emotion6(str(tmp_path), repeat=10)
    sides = {s: set(infos(build(root, split=s, tie_policy='first')))
             for s in ('train', 'val', 'test')}
    assert [len(sides[s]) for s in ('train', 'val', 'test')] == [72, 9, 9]
    assert len(set().union(*sides.values())) == 90
    canon = set(infos(build(root, split='val', label_space='canonical')))
    assert canon <= sides['val']


def rewrite(root, old, new):
    rewrite_file(osp.join(root, 'ground_truth.txt'), old, new)


def test_malformed_row_names_file_and_line(emotion6_root):
    rewrite(emotion6_root, 'joy/1.jpg\t7.2\t5.1\t0', 'joy/1.jpg\t7.2\t5.1')
    with pytest.raises(ValueError, match=r'ground_truth\.txt, line 6: 9 '
                       'tab-separated cells, expected 10'):
        build(emotion6_root)


def test_bad_number_and_probability(emotion6_root):
    rewrite(emotion6_root, 'anger/2.jpg\t4', 'anger/2.jpg\tx')
    with pytest.raises(ValueError, match=r"ground_truth\.txt, line 3, "
                       r"column 'valence': 'x' is not a number"):
        build(emotion6_root)
    rewrite(emotion6_root, 'anger/2.jpg\tx', 'anger/2.jpg\t4')
    rewrite(emotion6_root, '\t0.7\t0\t0.0666667', '\t-0.7\t0\t0.0666667')
    with pytest.raises(ValueError, match=r'line 4: negative probability'):
        build(emotion6_root)


def test_bad_header_and_missing_files(emotion6_root):
    rewrite(emotion6_root, '[prob. neutral]', '[prob. calm]')
    with pytest.raises(ValueError, match=r"ground_truth\.txt, line 1: header "
                       r".*'\[prob\. calm\]'.*expected the tab-separated"):
        build(emotion6_root)
    os.remove(osp.join(emotion6_root, 'ground_truth.txt'))
    with pytest.raises(FileNotFoundError, match=r'Emotion6 ground truth not '
                       r'found: .*ground_truth\.txt'):
        build(emotion6_root)


def test_missing_image(emotion6_root):
    os.remove(osp.join(emotion6_root, 'images', 'joy', '1.jpg'))
    with pytest.raises(FileNotFoundError, match=r'1 image\(s\) named by '
                       r'Emotion6 ground truth .*: joy/1\.jpg'):
        build(emotion6_root)
    assert len(build(emotion6_root, skip_missing=True)) == 7
