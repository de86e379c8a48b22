import os.path as osp

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import (ARTPHOTO_COUNTS, EMOTIONS, make_artphoto,
                                write_image)
from emoreg_mm.datasets import ARTPHOTO_CLASSES


def build(root, **kwargs):
    return DATASETS.build(dict(type='ArtPhoto', data_root=root, **kwargs))


def ids(ds):
    return {ds.get_data_info(i)['img_id'] for i in range(len(ds))}


@pytest.fixture
def artphoto_root(tmp_path):
    return make_artphoto(str(tmp_path / 'testImages_artphoto'))


def test_prefix_labels_and_ignored_files(artphoto_root, pipeline):
    ds = build(artphoto_root, pipeline=pipeline)
    assert ds.CLASSES == EMOTIONS
    assert len(ds) == sum(ARTPHOTO_COUNTS.values())
    assert 'ReadMe.rtf' not in ids(ds) and '.DS_Store' not in ids(ds)
    assert ds.skipped == {}
    for i in range(len(ds)):
        d = ds.get_data_info(i)
        prefix = d['img_id'].split('_')[0]
        expected = 'sadness' if prefix == 'sad' else prefix
        assert d['gt_label'] == EMOTIONS.index(expected)
    assert np.bincount(ds.get_gt_labels()).tolist()[7] == 4  # sad_*
    out = ds[0]
    assert out['inputs'].shape == (3, 8, 8)
    own = build(artphoto_root, label_space='own')
    assert own.CLASSES == ARTPHOTO_CLASSES and 'sad' in own.CLASSES


def test_other_files_reported_upper_case_prefix(artphoto_root):
    with open(osp.join(artphoto_root, 'notes.txt'), 'w') as f:
        f.write('x')
    write_image(osp.join(artphoto_root, 'Fear_77.jpg'))
    ds = build(artphoto_root)
    assert ds.skipped == {'not an image file': ['notes.txt']}
    fear = [ds.get_data_info(i) for i in range(len(ds))
            if ds.get_data_info(i)['img_id'] == 'Fear_77.jpg']
    assert fear[0]['gt_label'] == EMOTIONS.index('fear')


def test_every_unknown_prefix_in_one_error(artphoto_root):
    """Each file whose name is not <emotion>_<...> is named, all at once."""
    for name in ('joy_12.jpg', 'amusement12.jpg'):
        write_image(osp.join(artphoto_root, name))
    with pytest.raises(ValueError, match=r"2 image\(s\) whose file-name "
                       r"prefix is not an emotion: \['amusement12.jpg', "
                       r"'joy_12.jpg'\]; expected <prefix>_<\.\.\.> "
                       r"with prefix one of \['amusement'.*'sad'\]"):
        build(artphoto_root)


def test_a_root_one_level_too_high_gets_a_hint(artphoto_root):
    parent = osp.dirname(artphoto_root)
    with pytest.raises(ValueError, match='Did you mean data_root='
                       f"'{artphoto_root}'"):
        build(parent)


def test_split_and_kfold(artphoto_root):
    sides = {s: ids(build(artphoto_root, split=s))
             for s in ('train', 'val', 'test')}
    # cuts at round(25 * (0.8, 0.9)) = 20, 22 (numpy rounds half to even)
    assert [len(sides[s]) for s in ('train', 'val', 'test')] == [20, 2, 3]
    assert len(set().union(*sides.values())) == 25
    folds = [ids(build(artphoto_root, fold=k, split='test'))
             for k in range(5)]
    assert [len(f) for f in folds] == [5] * 5
    assert len(set().union(*folds)) == 25
    train0 = ids(build(artphoto_root, fold=0, split='train'))
    assert train0 == set().union(*folds[1:])


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'ArtPhoto folder '
                       r'\(testImages_artphoto\) \(a folder\) not found'):
        build(str(tmp_path / 'testImages_artphoto'))
