import os.path as osp

import pytest
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import emod_matrix, make_diffused_emod, make_emod


def build(root, emod_root, **kwargs):
    return DATASETS.build(
        dict(type='DiffusedEMOd', data_root=root, emod_root=emod_root,
             **kwargs))


@pytest.fixture
def roots(tmp_path):
    mat = emod_matrix(18)
    mat[:, 0] = 1000 + mat[:, 0] * 0 + range(18)
    mat[1, 0] = 2352.2
    emod = make_emod(str(tmp_path / 'EMOd'), mat=mat, csv_export=False)
    ids = ['2352.2' if i == 1 else str(1000 + i) for i in range(18)]
    root = make_diffused_emod(str(tmp_path / 'DiffusedEMOd'), emod, ids,
                              per_source=2)
    return root, emod


def test_labels_inherited(roots, pipeline):
    root, emod = roots
    ds = build(root, emod, pipeline=pipeline)
    assert len(ds) == 36
    for i in range(len(ds)):
        d = ds.get_data_info(i)
        src = d['source_id']
        expect = (1 if src == '2352.2' else int(src) - 1000) % 9
        assert d['gt_label'] == expect and d['generated']
        assert d['prompt'].endswith(src)
    out = ds[0]
    assert out['inputs'].shape == (3, 8, 8)
    assert out['data_samples'].gt_label.item() == ds.get_data_info(0)[
        'gt_label']


def test_group_split_keeps_sources_together(roots):
    root, emod = roots
    sides = {
        s: build(root, emod, split=s, include_sources=True,
                 split_ratios=(0.5, 0.25, 0.25))
        for s in ('train', 'val', 'test')
    }
    groups = {}
    for s, ds in sides.items():
        for i in range(len(ds)):
            d = ds.get_data_info(i)
            groups.setdefault(d['source_id'], set()).add(s)
    assert len(groups) == 18
    assert all(len(v) == 1 for v in groups.values())
    total = sum(len(d) for d in sides.values())
    assert total == 18 * 3  # 2 generated + the EMOd source each
    originals = [
        ds.get_data_info(i) for ds in sides.values() for i in range(len(ds))
        if not ds.get_data_info(i)['generated']
    ]
    assert len(originals) == 18
    assert osp.basename(originals[0]['img_path']).endswith('.jpg')
    assert [len(sides[s]) for s in ('train', 'val', 'test')] == [27, 15, 12]


def test_kfold_groups(roots):
    root, emod = roots
    seen = {}
    for k in range(3):
        ds = build(root, emod, fold=k, num_folds=3, split='test')
        for i in range(len(ds)):
            seen.setdefault(ds.get_data_info(i)['source_id'], set()).add(k)
    assert len(seen) == 18 and all(len(v) == 1 for v in seen.values())


def test_unknown_source(roots):
    root, emod = roots
    with open(osp.join(root, 'manifest.csv'), 'a') as f:
        f.write('x.png,4242,prompt\n')
    with pytest.raises(ValueError, match=r"line 38: source_id '4242' is not "
                       'in the EMOd annotation'):
        build(root, emod)


def test_manifest_errors(roots, tmp_path):
    root, emod = roots
    with pytest.raises(ValueError, match='needs emod_root'):
        build(root, '')
    with pytest.raises(FileNotFoundError, match='manifest not found'):
        build(str(tmp_path), emod)
    with open(osp.join(root, 'manifest.csv'), 'w') as f:
        f.write('file,source\na.png,1000\n')
    with pytest.raises(ValueError, match=r"lacks column 'image'.*"
                       'image,source_id'):
        build(root, emod)
    with open(osp.join(root, 'manifest.csv'), 'w') as f:
        f.write('image,source_id\n1000/missing.png,1000\n')
    with pytest.raises(FileNotFoundError, match=r'1 image.*1000/missing\.png'):
        build(root, emod)
