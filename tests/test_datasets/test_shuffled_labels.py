"""The shuffled control's dataset option (``BaseAffectiveDataset``'s
``shuffle_labels``), on EmoSet's split files and on a user's own folder:
the same images, the same class counts, labels moved to other images,
seeded."""
import os.path as osp
from collections import Counter

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import (EMOTIONS, make_abstract,
                                make_affective_folder, make_emoset)


def records(ds):
    """``[(img_path, gt_label, gt_score or None, info)]`` in order."""
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    return [(d['img_path'], int(d['gt_label']), d.get('gt_score'), d)
            for d in infos]


def check_shuffled(true, shuffled, most=0.5):
    """The same images in the same order, the same labels overall, and
    another label on more than ``most`` of the images."""
    true, shuffled = records(true), records(shuffled)
    assert [r[0] for r in shuffled] == [r[0] for r in true]
    assert Counter(r[1] for r in shuffled) == Counter(r[1] for r in true)
    changed = sum(t[1] != s[1] for t, s in zip(true, shuffled))
    assert changed > most * len(true), (changed, len(true))
    return [r[1] for r in shuffled]


@pytest.fixture
def emoset(tmp_path):
    """EmoSet's layout (3-string split entries, as distributed), 5 train
    images per emotion and 3 val images of amusement / fear."""
    return make_emoset(str(tmp_path / 'EmoSet'), per_split=dict(
        train={e: 5 for e in EMOTIONS},
        val={'amusement': 3, 'fear': 3}, test={'awe': 1}))


def build_emoset(root, **kwargs):
    return DATASETS.build(dict(type='EmoSet', data_root=root, **kwargs))


def test_emoset_split_files(emoset):
    true = build_emoset(emoset)
    seed0 = build_emoset(emoset, shuffle_labels=True)
    labels0 = check_shuffled(true, seed0)
    # every image keeps its own annotations; only the label record moved
    for t, s in zip(records(true), records(seed0)):
        assert s[3]['emotion'] == t[3]['emotion']
        assert s[3]['img_id'] == t[3]['img_id']
    assert check_shuffled(true, build_emoset(
        emoset, shuffle_labels=True, shuffle_seed=0)) == labels0
    assert check_shuffled(true, build_emoset(
        emoset, shuffle_labels=True, shuffle_seed=1)) != labels0
    # another split keeps its images (3 + 3 of two emotions)
    val = build_emoset(emoset, split='val', shuffle_labels=True)
    check_shuffled(build_emoset(emoset, split='val'), val, most=0.)
    assert 'Labels: \tshuffled (seed 0)' in repr(seed0)


def test_the_log_counts_the_images_that_changed_label(emoset, mm_log):
    shuffled = build_emoset(emoset, shuffle_labels=True, shuffle_seed=3)
    changed = sum(a[1] != b[1] for a, b in zip(records(build_emoset(emoset)),
                                               records(shuffled)))
    assert (f'EmoSet (train): shuffle_labels=True, seed 3: the labels of '
            f'40 images permuted, {changed} (') in mm_log.getvalue()


@pytest.mark.parametrize('split', ['train', 'all'])
def test_own_folder_shuffles_after_its_split_and_exclusions(tmp_path, split):
    root = make_affective_folder(str(tmp_path / 'mine'), counts={
        'Amusement': 8, 'Fear': 6, 'Sad': 6, 'Awe': 4})
    exclude = tmp_path / 'exclude.txt'
    exclude.write_text(osp.join(root, 'Fear', 'img_0.png') + '\n')

    def build(**kwargs):
        return DATASETS.build(dict(
            type='AffectiveImageFolder', data_root=root, split=split,
            exclude_file=str(exclude), **kwargs))

    true = build()  # the split's side (of 24), less the excluded image
    assert len(true) in ((18, 19) if split == 'train' else (23, ))
    assert osp.join(root, 'Fear', 'img_0.png') not in {
        r[0] for r in records(true)}
    labels = check_shuffled(true, build(shuffle_labels=True))
    assert check_shuffled(true, build(shuffle_labels=True)) == labels
    assert check_shuffled(true, build(shuffle_labels=True,
                                      shuffle_seed=7)) != labels


def test_soft_labels_move_with_their_hard_label(tmp_path):
    """Abstract with tie_policy='soft': every image carries its vote
    distribution as gt_score, which moves with gt_label."""
    root = make_abstract(str(tmp_path / 'abstract'), repeat=4)

    def build(**kwargs):
        return DATASETS.build(dict(type='Abstract', data_root=root,
                                   split='all', tie_policy='soft', **kwargs))

    true, shuffled = records(build()), records(build(shuffle_labels=True))
    assert all(r[2] is not None for r in shuffled)
    key = lambda r: (r[1], tuple(np.round(r[2], 6)))  # noqa: E731
    assert Counter(map(key, shuffled)) == Counter(map(key, true))
    assert sum(key(t) != key(s) for t, s in zip(true, shuffled)) > \
        len(true) / 2
    for _, _, _, info in shuffled:  # the votes stay with their image
        assert info['votes'] == next(r[3]['votes'] for r in true
                                     if r[0] == info['img_path'])


@pytest.mark.parametrize('bad', [dict(shuffle_labels='yes'),
                                 dict(shuffle_seed=-1)])
def test_bad_arguments_are_named(emoset, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        build_emoset(emoset, **bad)
