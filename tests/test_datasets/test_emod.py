import os
import os.path as osp

import numpy as np
import pytest
import scipy.io
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import EMOD_CLASSES, emod_matrix, make_emod
from emoreg_mm.datasets import EMOD_PLACEHOLDER_CLASSES, file_checks


def build(root, **kwargs):
    return DATASETS.build(dict(type='EMOd', data_root=root, **kwargs))


def ids_labels(ds):
    return {
        ds.get_data_info(i)['img_id']: ds.get_data_info(i)['gt_label']
        for i in range(len(ds))
    }


EXPECTED = {('2352.2' if i == 1 else str(1000 + i)): i for i in range(9)}


@pytest.mark.parametrize('ann_file', [
    'allfindata1019_renamed.mat', 'allfindata1019.csv'])
def test_mat_and_csv(emod_root, pipeline, ann_file):
    ds = build(emod_root, ann_file=ann_file, class_names=EMOD_CLASSES,
               pipeline=pipeline)
    assert ds.CLASSES == EMOD_CLASSES
    assert ids_labels(ds) == EXPECTED
    assert ds.get_data_info(1)['img_path'].endswith('2352.2.jpg')
    out = ds[1]
    assert out['inputs'].shape == (3, 8, 8)
    assert out['data_samples'].gt_label.item() == 1


def test_placeholder_classes_default(emod_root):
    ds = build(emod_root)
    assert ds.CLASSES == EMOD_PLACEHOLDER_CLASSES and len(ds) == 9


def test_csv_with_header(emod_root):
    src = osp.join(emod_root, 'allfindata1019.csv')
    lines = open(src).read().splitlines()
    with open(osp.join(emod_root, 'export.csv'), 'w') as f:
        f.write(','.join(f'c{i}' for i in range(16)) + '\n')
        f.write('\n'.join(lines) + '\n')
    assert ids_labels(build(emod_root, ann_file='export.csv')) == EXPECTED


def test_soft_labels_and_canonical_mapping(emod_root, pipeline):
    with pytest.raises(ValueError, match=r"Unknown emotion name 'neutral'"):
        build(emod_root, class_names=EMOD_CLASSES, label_space='canonical')
    names = list(EMOD_CLASSES[:8]) + ['awe']  # map column 9 onto awe
    ds = build(emod_root, class_names=names, label_space='canonical',
               tie_policy='soft', pipeline=pipeline)
    assert len(ds.CLASSES) == 8
    s = ds[8]['data_samples']
    assert s.gt_label.item() == 1  # 0.5 + 0.0625 on awe
    np.testing.assert_allclose(s.gt_score.sum().item(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(s.gt_score[1].item(), 0.5625, rtol=1e-6)


def test_decimal_id_file_names(tmp_path):
    root = make_emod(str(tmp_path))
    os.rename(osp.join(root, 'EMOdImages1019', '2352.2.jpg'),
              osp.join(root, 'EMOdImages1019', '2352_2.jpg'))
    with pytest.raises(FileNotFoundError, match=r"filename_tmpl='\{\}\.jpg'"
                       r".*id_decimal_sep='\.'.*: 2352\.2\. Set"):
        build(root, skip_missing=False)
    ds = build(root, id_decimal_sep='_')
    assert ds.get_data_info(1)['img_path'].endswith('2352_2.jpg')
    assert ds.skipped == {}


def test_missing_images_reported_and_skipped(tmp_path, monkeypatch):
    """The download may lack some IAPS images: by default they are
    reported by count and id and the set goes on."""
    logged = []
    monkeypatch.setattr(file_checks, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    root = make_emod(str(tmp_path), missing=(1, 3, 5))
    ds = build(root)
    assert len(ds) == 6
    assert not {'2352.2', '1003', '1005'} & set(ids_labels(ds))
    assert ds.skipped == {'missing': ['2352.2', '1003', '1005']}
    assert len(logged) == 1
    assert logged[0].startswith('3 image(s) named by EMOd annotation')
    assert logged[0].endswith('(skipped: skip_missing=True): 2352.2, '
                              '1003, 1005')
    # the strict behaviour is one option away
    with pytest.raises(FileNotFoundError,
                       match=r'3 image\(s\).*: 2352\.2, 1003, 1005\. Set '
                       'skip_missing=True'):
        build(root, skip_missing=False)


def test_ties(tmp_path):
    mat = emod_matrix()
    mat[0, 6:15] = [0.4, 0.4, 0.2, 0, 0, 0, 0, 0, 0]
    root = make_emod(str(tmp_path), mat=mat)
    assert ids_labels(build(root))['1000'] == 0  # 'first' = np.argmax
    dropped = build(root, tie_policy='drop')
    assert len(dropped) == 8 and dropped.tied_images == ['1000']


def test_split(tmp_path):
    mat = np.concatenate([emod_matrix(18), emod_matrix(18)])
    mat[:, 0] = np.arange(36) + 1
    root = make_emod(str(tmp_path), mat=mat, csv_export=False)
    sides = [set(ids_labels(build(root, split=s, split_ratios=(0.5, 0.25,
                                                                0.25))))
             for s in ('train', 'val', 'test')]
    assert [len(s) for s in sides] == [18, 9, 9]
    assert len(set().union(*sides)) == 36


def test_bad_config(emod_root):
    with pytest.raises(ValueError, match='class_names has 3 names but '
                       r'score_cols=\(6, 15\) selects 9'):
        build(emod_root, class_names=['a', 'b', 'c'])
    with pytest.raises(KeyError, match=r"no variable 'emod'.*allfindata1019"):
        build(emod_root, mat_key='emod')
    with pytest.raises(ValueError, match=r'has 16 columns.*score_cols=\(8, '
                       r'17\)'):
        build(emod_root, score_cols=(8, 17))
    with pytest.raises(FileNotFoundError, match=r'\.mat file not found.*'
                       'nope.mat'):
        build(emod_root, ann_file='nope.mat')


def test_malformed_files(emod_root):
    with open(osp.join(emod_root, 'bad.csv'), 'w') as f:
        f.write('1000,1,2\n1001,x,3\n')
    with pytest.raises(ValueError, match=r"bad\.csv, line 2, column 1: 'x'"):
        build(emod_root, ann_file='bad.csv', score_cols=(1, 3),
              class_names=['a', 'b'])
    with open(osp.join(emod_root, 'bad.mat'), 'wb') as f:
        f.write(b'MATLAB 5.0 MAT-file garbage')
    with pytest.raises(ValueError, match=r'Cannot read EMOd annotation .*'
                       r'bad\.mat'):
        build(emod_root, ann_file='bad.mat')
    scipy.io.savemat(osp.join(emod_root, 'str.mat'),
                     {'allfindata1019': 'text'})
    with pytest.raises(ValueError, match='not a numeric matrix'):
        build(emod_root, ann_file='str.mat')
