import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import (EMOTIONS, FI_FOLDERS, FI_INVALID,
                                FI_PLACEHOLDERS, make_fi, write_image)


def build(root, **kwargs):
    return DATASETS.build(dict(type='FI', data_root=root, **kwargs))


def ids(ds):
    return {ds.get_data_info(i)['img_id'] for i in range(len(ds))}


@pytest.fixture
def fi_root(tmp_path):
    return make_fi(str(tmp_path / 'emotion_dataset'))


def test_folders_labels_and_pipeline(fi_root, pipeline):
    ds = build(fi_root, pipeline=pipeline)
    assert ds.CLASSES == EMOTIONS
    assert len(ds) == 8 * 4
    for i in range(len(ds)):
        d = ds.get_data_info(i)
        folder = d['img_id'].split('/')[0]
        assert d['emotion'] == folder
        assert d['gt_label'] == EMOTIONS.index(folder)
    out = ds[0]
    assert out['inputs'].shape == (3, 8, 8)
    assert out['data_samples'].gt_label.item() == ds.get_data_info(0)[
        'gt_label']
    own = build(fi_root, label_space='own')
    assert own.CLASSES == FI_FOLDERS
    binary = build(fi_root, label_space='binary')
    assert sorted(np.bincount(binary.get_gt_labels()).tolist()) == [16, 16]


def test_invalid_and_placeholder_images_reported_and_skipped(fi_root):
    ds = build(fi_root)
    kept = ids(ds)
    assert not kept & set(FI_INVALID) and not kept & set(FI_PLACEHOLDERS)
    assert [s.split(' ')[0] for s in ds.skipped['invalid']] == sorted(
        FI_INVALID)
    assert 'empty file' in ds.skipped['invalid'][0]
    assert "not an image (starts with b'<html>" in ds.skipped['invalid'][1]
    assert [s.split(' ')[0] for s in ds.skipped['placeholder']] == list(
        FI_PLACEHOLDERS)
    assert ds.skipped['not an image file by its extension'] == [
        'fear/Thumbs.db'
    ]
    assert not any('.DS_Store' in n for v in ds.skipped.values() for n in v)
    # two identical copies stay below placeholder_min_copies=3 ...
    os.remove(osp.join(fi_root, FI_PLACEHOLDERS[2]))
    assert 'placeholder' not in build(fi_root).skipped
    # ... unless the digest is known, or the check is stricter
    digest = ds.skipped['placeholder'][0].split('sha1 ')[1].rstrip(')')
    assert len(build(fi_root, placeholder_sha1=[digest]).skipped[
        'placeholder']) == 2
    assert len(build(fi_root, placeholder_min_copies=2).skipped[
        'placeholder']) == 2
    everything = build(fi_root, placeholder_min_copies=None)
    assert len(everything) == 32 + 2


def test_split_seeded_stratified_before_the_checks(tmp_path):
    root = make_fi(str(tmp_path), count=20, quirks=False)
    sides = {s: build(root, split=s) for s in ('train', 'val', 'test')}
    names = {s: ids(d) for s, d in sides.items()}
    # FI's usual 80 / 5 / 15, stratified: per class 16 / 1 / 3
    assert [len(names[s]) for s in ('train', 'val', 'test')] == [128, 8, 24]
    assert len(set().union(*names.values())) == 160
    for s, n in (('train', 16), ('val', 1), ('test', 3)):
        assert np.bincount(sides[s].get_gt_labels()).tolist() == [n] * 8
    assert ids(build(root, split='val')) == names['val']
    assert ids(build(root, split='val', seed=1)) != names['val']
    # an invalid file leaves its own side only: the others do not move
    victim = sorted(names['test'])[0]
    open(osp.join(root, victim), 'wb').close()
    again = {s: ids(build(root, split=s)) for s in ('train', 'val', 'test')}
    assert again['train'] == names['train'] and again['val'] == names['val']
    assert again['test'] == names['test'] - {victim}
    folds = [ids(build(root, fold=k, num_folds=4, split='test'))
             for k in range(4)]
    assert sorted(len(f) for f in folds) == [39, 40, 40, 40]  # the victim
    assert len(set().union(*folds)) == 159


def test_missing_and_unexpected_folders(fi_root):
    shutil.rmtree(osp.join(fi_root, 'awe'))
    with pytest.raises(FileNotFoundError, match=r"emotion_dataset: missing "
                       r"emotion folder\(s\) \['awe'\].*expected exactly"):
        build(fi_root)
    write_image(osp.join(fi_root, 'awe', 'awe_1.jpg'))
    write_image(osp.join(fi_root, 'joy', 'joy_1.jpg'))
    with pytest.raises(FileNotFoundError, match=r"unexpected folder\(s\) "
                       r"\['joy'\]"):
        build(fi_root)
    with pytest.raises(FileNotFoundError, match=r'FI folder \(emotion_dataset'
                       r'\) \(a folder\) not found: .*nowhere'):
        build(osp.join(fi_root, 'nowhere'))


def test_folder_names_in_any_case(fi_root):
    """FI as some copies have it: ``Awe/`` for ``awe``; labels unchanged.
    Two folders of one emotion, or a root one level too high, are named."""
    before = build(fi_root)
    os.rename(osp.join(fi_root, 'awe'), osp.join(fi_root, 'Awe'))
    after = build(fi_root)
    assert len(after) == len(before)
    labels = {after.get_data_info(i)['img_id']: after.get_data_info(i)[
        'gt_label'] for i in range(len(after))}
    awe = [k for k in labels if k.startswith('Awe/')]
    assert awe and {labels[k] for k in awe} == {EMOTIONS.index('awe')}
    write_image(osp.join(fi_root, 'AWE', 'awe_9.jpg'))
    with pytest.raises(FileNotFoundError, match=r"one emotion in several "
                       r"folders \[\['AWE', 'Awe'\]\]"):
        build(fi_root)
    shutil.rmtree(osp.join(fi_root, 'AWE'))
    with pytest.raises(FileNotFoundError, match='Did you mean data_root='
                       f"'{fi_root}'"):
        build(osp.dirname(fi_root))


def test_bad_arguments(fi_root):
    with pytest.raises(ValueError, match='placeholder_min_copies=1'):
        build(fi_root, placeholder_min_copies=1)
    with pytest.raises(ValueError, match=r'split_ratios=\(0.5, 0.1, 0.1\)'):
        build(fi_root, split='train', split_ratios=(0.5, 0.1, 0.1))
    with pytest.raises(ValueError, match='needs data_root'):
        build('')
