import os
import os.path as osp

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import (ABSTRACT_LABELS, EMOTIONS, make_abstract,
                                rewrite_file)
from emoreg_mm.datasets import base_affective


def build(root, **kwargs):
    return DATASETS.build(dict(type='Abstract', data_root=root, **kwargs))


def labels_by_name(ds):
    return {
        ds.get_data_info(i)['img_id']: ds.get_data_info(i)['gt_label']
        for i in range(len(ds))
    }


def test_votes_are_ints_and_ties_dropped(abstract_root, pipeline,
                                         monkeypatch):
    logged = []
    monkeypatch.setattr(base_affective, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    ds = build(abstract_root, pipeline=pipeline)
    assert ds.CLASSES == EMOTIONS
    # 10 votes beat 9 (a string-wise max would pick amusement, '9' > '10')
    assert labels_by_name(ds) == ABSTRACT_LABELS
    assert ds.tied_images == ['abstract_0004.jpg']
    assert ds.skipped == {'tied': ['abstract_0004.jpg']}
    assert len(logged) == 1 and 'dropped 1 of 7' in logged[0]
    assert 'abstract_0004.jpg' in logged[0]
    out = ds[1]
    assert out['inputs'].shape == (3, 8, 8)
    assert out['data_samples'].gt_label.item() == 3
    assert 'gt_score' not in out['data_samples']


@pytest.mark.parametrize('quote,sep,newline', [
    ("'", ',', '\r\n'),  # as distributed, with Windows line ends
    ("'", ', ', '\n'),  # spaces after the commas
    ('"', ',', '\n'),  # re-saved with double quotes
    ('', ',', '\n'),  # re-saved without quotes (empty first header cell)
])
def test_header_and_quoting_variants(tmp_path, quote, sep, newline):
    root = make_abstract(str(tmp_path), quote=quote, sep=sep,
                         newline=newline)
    text = open(osp.join(root, 'ABSTRACT_groundTruth.csv'), newline='').read()
    assert text.startswith(sep.join([quote * 2, f'{quote}Amusement{quote}']))
    assert newline in text
    ds = build(root)
    assert labels_by_name(ds) == ABSTRACT_LABELS


def test_soft_ties(abstract_root, pipeline):
    ds = build(abstract_root, tie_policy='soft', pipeline=pipeline)
    assert len(ds) == 7
    tie = next(i for i in range(len(ds))
               if ds.get_data_info(i)['img_id'] == 'abstract_0004.jpg')
    sample = ds[tie]['data_samples']
    # awe (1) and sadness (7) share the votes; gt_label = first tied class
    np.testing.assert_allclose(sample.gt_score.numpy(),
                               [0, .5, 0, 0, 0, 0, 0, .5])
    assert sample.gt_label.item() == 1
    # every sample has a soft label (so a batch stacks), summing to 1
    scores = np.stack([ds[i]['data_samples'].gt_score.numpy()
                       for i in range(len(ds))])
    np.testing.assert_allclose(scores.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(scores[1], np.array([9, 0, 0, 10, 0, 0, 0, 2])
                               / 21, rtol=1e-6)


def test_binary_and_own(abstract_root):
    ds = build(abstract_root, label_space='binary')
    labels = labels_by_name(ds)
    assert labels == {k: int(v >= 4) for k, v in ABSTRACT_LABELS.items()}
    own = build(abstract_root, label_space='own')
    assert own.CLASSES == ('Amusement', 'Anger', 'Awe', 'Content', 'Disgust',
                           'Excitement', 'Fear', 'Sad')
    assert labels_by_name(own)['abstract_0002.jpg'] == 5


def test_split_is_seeded_stratified_and_disjoint(tmp_path):
    root = make_abstract(str(tmp_path), repeat=10)  # 70 rows, 10 ties
    sides = {s: build(root, split=s, tie_policy='first')
             for s in ('train', 'val', 'test')}
    names = {s: set(labels_by_name(d)) for s, d in sides.items()}
    assert sum(len(v) for v in names.values()) == 70
    assert not (names['train'] & names['val']) and not (
        names['train'] & names['test']) and not (names['val'] & names['test'])
    assert [len(names[s]) for s in ('train', 'val', 'test')] == [56, 7, 7]
    # stratified: each of the 7 classes has 8 train, 1 val, 1 test
    for s, n in (('train', 8), ('val', 1), ('test', 1)):
        counts = np.bincount(sides[s].get_gt_labels(), minlength=8)
        assert sorted(counts[counts > 0].tolist()) == [n] * 7
    again = build(root, split='val', tie_policy='first')
    assert set(labels_by_name(again)) == names['val']
    other = build(root, split='val', tie_policy='first', seed=1)
    assert set(labels_by_name(other)) != names['val']
    # an image keeps its side whatever the tie policy
    dropped = set(labels_by_name(build(root, split='val')))
    assert dropped <= names['val']
    ratios = build(root, split='test', split_ratios=(0.5, 0.2, 0.3),
                   tie_policy='first')
    assert len(ratios) == 21


def test_kfold(tmp_path):
    root = make_abstract(str(tmp_path), repeat=5)  # 35 rows
    held = [
        set(labels_by_name(build(root, fold=k, num_folds=5, split='test',
                                 tie_policy='first'))) for k in range(5)
    ]
    assert [len(h) for h in held] == [7] * 5
    assert len(set().union(*held)) == 35
    train0 = set(labels_by_name(build(root, fold=0, split='train',
                                      tie_policy='first')))
    assert train0 == set().union(*held[1:])
    with pytest.raises(ValueError, match=r'fold=5.*\[0, 4\]'):
        build(root, fold=5, num_folds=5)


def test_bad_arguments(abstract_root):
    with pytest.raises(ValueError, match=r"tie_policy='majority'"):
        build(abstract_root, tie_policy='majority')
    with pytest.raises(ValueError, match=r'split_ratios=\(0.8, 0.3, 0.1\)'):
        build(abstract_root, split='train', split_ratios=(0.8, 0.3, 0.1))


def test_missing_csv(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'ground-truth CSV not found.*ABSTRACT_'):
        build(str(tmp_path))


def rewrite_csv(root, old, new):
    rewrite_file(osp.join(root, 'ABSTRACT_groundTruth.csv'), old, new)


def test_non_integer_vote(abstract_root):
    rewrite_csv(abstract_root, "'abstract_0003.jpg',0,0,1",
                "'abstract_0003.jpg',0,0,x")
    with pytest.raises(ValueError, match=r"line 4, column 'Awe': 'x' is not"
                       ' a non-negative integer'):
        build(abstract_root)


def test_short_row(abstract_root):
    rewrite_csv(abstract_root, ',12,1\n', ',12\n')
    with pytest.raises(ValueError, match=r'line 8: 8 cells, expected 9'):
        build(abstract_root)


def test_unknown_emotion_in_header(abstract_root):
    rewrite_csv(abstract_root, "'Fear'", "'Joy'")
    with pytest.raises(ValueError, match=r"Unknown emotion name 'Joy' in "
                       r'.*ABSTRACT_groundTruth\.csv.*amusement'):
        build(abstract_root)


def test_missing_image(abstract_root):
    os.remove(osp.join(abstract_root, 'abstract_0005.jpg'))
    with pytest.raises(FileNotFoundError, match=r'1 image.*abstract_0005'):
        build(abstract_root)
    assert len(build(abstract_root, skip_missing=True)) == 5
