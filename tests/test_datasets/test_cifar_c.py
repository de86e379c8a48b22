"""CIFAR-10-C / CIFAR-100-C read in the distributed layout; bad files named;
the checks of the re-creation builder."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmpretrain.datasets import CIFAR10
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import make_cifar
from cifar_c_fixtures import make_cifar_c
from emoreg_mm.datasets import CIFARCorruptedError


def build(root, corruption='contrast', severity=1, n=4, **kwargs):
    dataset = DATASETS.build(
        dict(type=kwargs.pop('type', 'CIFAR10C'), data_root=root,
             corruption=corruption, severity=severity,
             images_per_severity=n, **kwargs))
    return dataset


def test_reads_one_severity_as_cifar_test(tmp_path):
    root = make_cifar_c(str(tmp_path / 'CIFAR-10-C'), labels=[3, 1, 4, 1])
    block = np.load(osp.join(root, 'contrast.npy'))[8:12]  # severity 3
    dataset = build(root, severity=3,
                    pipeline=[dict(type='mmpretrain.PackInputs')])
    assert len(dataset) == 4 and len(dataset.metainfo['classes']) == 10
    infos = [dataset.get_data_info(i) for i in range(4)]
    assert all(np.array_equal(d['img'], b) for d, b in zip(infos, block))
    assert [d['gt_label'] for d in infos] == [3, 1, 4, 1]
    packed = dataset[2]
    assert tuple(packed['inputs'].shape) == (3, 32, 32)
    assert packed['data_samples'].gt_label.tolist() == [4]
    c100 = make_cifar_c(str(tmp_path / 'CIFAR-100-C'), labels=[99, 0, 5, 7])
    assert len(build(c100, type='CIFAR100C').metainfo['classes']) == 100
    with pytest.raises(CIFARCorruptedError, match=r'classes 0\.\.9'):
        build(c100)  # labels up to 99 are not CIFAR-10's


def _rewrite(root, name, array):
    np.save(osp.join(root, name), array)


@pytest.mark.parametrize('name,array,expected', [
    ('contrast.npy', np.zeros((19, 32, 32, 3), np.uint8),
     r'shape \(19, 32, 32, 3\); expected uint8 of shape \(20, 32, 32, 3\)'),
    ('contrast.npy', np.zeros((20, 32, 32, 3), np.float32),
     'float32 array'),
    ('contrast.npy', np.zeros((20, 3, 32, 32), np.uint8),
     r'expected uint8 of shape \(20, 32, 32, 3\)'),
    ('labels.npy', np.zeros(16, np.int64),
     r'shape \(16,\); expected the labels of 5 severities x 1 to 10000'),
    ('labels.npy', np.zeros(25, np.int64),
     r'5 images per severity; expected 4 \(set images_per_severity=5'),
    ('labels.npy', np.zeros((5, 4), np.int64),
     r'shape \(5, 4\); expected the labels of 5 severities'),
    ('labels.npy', np.arange(4).repeat(5),
     r'severity \[2, 3, 4, 5\] differ from those of severity 1'),
    ('labels.npy', np.zeros(20, np.float64), 'expected integer labels'),
])
def test_bad_files_are_named(tmp_path, name, array, expected):
    root = make_cifar_c(str(tmp_path / 'C'))
    _rewrite(root, name, array)
    with pytest.raises(CIFARCorruptedError, match=expected) as err:
        build(root)
    assert osp.join(root, name) in str(err.value)


def test_missing_and_pickled_files(tmp_path):
    root = make_cifar_c(str(tmp_path / 'C'))
    with pytest.raises(CIFARCorruptedError) as err:
        build(root, corruption='fog')
    assert osp.join(root, 'fog.npy') in str(err.value)
    assert "['contrast', 'gaussian_noise']" in str(err.value)
    np.save(osp.join(root, 'contrast.npy'), np.array([{}], dtype=object),
            allow_pickle=True)
    with pytest.raises(CIFARCorruptedError, match='without unpickling'):
        build(root)
    with pytest.raises(CIFARCorruptedError, match='folder not found'):
        build(str(tmp_path / 'none'))
    with pytest.raises(ValueError, match='not a CIFAR-C corruption'):
        build(root, corruption='rain')
    with pytest.raises(ValueError, match='expected 1 to 5'):
        build(root, severity=6)
    # by default, the size labels.npy gives (5 x 4 images here)
    assert len(DATASETS.build(dict(type='CIFAR10C', data_root=root,
                                   corruption='gaussian_noise',
                                   severity=1))) == 4


def test_labels_checked_against_the_cifar_test_set(tmp_path, monkeypatch):
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    cifar = make_cifar(str(tmp_path / 'cifar'), 10, per_file=6)
    good = make_cifar_c(str(tmp_path / 'good'), labels=np.arange(4) % 10)
    assert len(build(good, cifar_root=cifar)) == 4  # test labels 0..5
    bad = make_cifar_c(str(tmp_path / 'bad'), labels=[0, 1, 3, 2])
    with pytest.raises(CIFARCorruptedError,
                       match='2 of 4 labels differ from the CIFAR test'):
        build(bad, cifar_root=cifar)
    with pytest.raises(CIFARCorruptedError, match='has 6 labels; expected '
                       'at least 8'):
        build(make_cifar_c(str(tmp_path / 'long'), per_severity=8),
              n=8, cifar_root=cifar)


def test_recreation_record_is_followed(tmp_path):
    root = make_cifar_c(str(tmp_path / 'C'))
    with open(osp.join(root, 'build.json'), 'w') as f:
        json.dump(dict(num_images=4, corruptions=dict(contrast=[1, 3])), f)
    assert len(build(root, severity=3)) == 4
    with pytest.raises(CIFARCorruptedError,
                       match=r'built at severities \[1, 3\], not 2'):
        build(root, severity=2)
    with pytest.raises(CIFARCorruptedError,
                       match='images_per_severity=4'):
        build(root, n=2)


# ---------------------------------------------- the builder's checks (no
# corruption is run: tests/test_tools/test_corruptions.py builds sets)
def test_builder_refuses_bad_requests_before_any_work(tmp_path):
    from emoreg_mm.datasets.builders.cifar_c import (BuildError,
                                                     build_cifar_c,
                                                     check_request,
                                                     start_record)
    assert check_request(['fog', 'contrast', 'fog'], [3, 1, 3]) == (
        ['fog', 'contrast'], [1, 3])
    for kwargs, says in (
            (dict(corruptions=['rain']),
             r"unknown corruption\(s\) \['rain'\]"),
            (dict(severities=[0, 6]), r'--severities \[0, 6\]: expected 1 '),
            (dict(num_images=0), '--num-images must be positive'),
            (dict(workers=0), '--workers must be positive')):
        with pytest.raises(ValueError, match=says):
            build_cifar_c(str(tmp_path / 'none'), str(tmp_path / 'out'),
                          **kwargs)
    assert not (tmp_path / 'out').exists()
    # a folder built with other settings, or holding another file
    record = tmp_path / 'build.json'
    settings = dict(source='cifar10', num_images=4, seed=0)
    record.write_text(json.dumps(dict(settings, corruptions={'fog': [1]})))
    assert start_record(str(record), settings)['corruptions'] == {'fog': [1]}
    with pytest.raises(BuildError, match="built with .*'seed': 0.*, not "
                       ".*'seed': 1"):
        start_record(str(record), dict(settings, seed=1))
    record.write_text('[1, 2]')
    with pytest.raises(BuildError, match='not a build record'):
        start_record(str(record), settings)


def test_builder_cli_names_a_bad_option(capsys):
    from launch_utils import load_tool
    tool = load_tool('dataset_converters/build_cifar_c.py')
    with pytest.raises(SystemExit) as exit_:
        tool.main(['--cifar-root', 'x', '--out', 'y', '--corruptions',
                   'fog', 'rain'])
    assert exit_.value.code == 2
    assert "unknown corruption(s) ['rain']; valid: gaussian_noise" in \
        capsys.readouterr().err


def test_builder_writes_only_into_a_folder_of_its_own(tmp_path, capsys,
                                                      monkeypatch):
    """--out at an official CIFAR-10-C folder (no build.json), or at a file:
    refused naming it, not a byte changed; a damaged record of its own is
    named; an empty folder is taken."""
    from emoreg_mm.datasets.builders.cifar_c import check_out
    from launch_utils import load_tool
    tool = load_tool('dataset_converters/build_cifar_c.py')
    official = make_cifar_c(str(tmp_path / 'CIFAR-10-C'))
    before = {p: p.read_bytes() for p in (tmp_path / 'CIFAR-10-C').iterdir()}
    assert tool.main(['--cifar-root', str(tmp_path / 'none'), '--out',
                      official]) == 1
    err = capsys.readouterr().err
    assert f'--out {official}: an existing folder without build.json' in err
    assert {p: p.read_bytes()
            for p in (tmp_path / 'CIFAR-10-C').iterdir()} == before
    (tmp_path / 'file').write_text('x')
    assert tool.main(['--cifar-root', 'x', '--out',
                      str(tmp_path / 'file')]) == 1
    assert 'not a folder' in capsys.readouterr().err
    (tmp_path / 'empty').mkdir()
    check_out(str(tmp_path / 'empty'))  # nothing in it to overwrite
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    cifar = make_cifar(str(tmp_path / 'cifar'), 10, per_file=4)
    damaged = tmp_path / 'damaged'
    damaged.mkdir()
    (damaged / 'build.json').write_text('{"source": ')
    assert tool.main(['--cifar-root', cifar, '--out', str(damaged)]) == 1
    err = capsys.readouterr().err
    assert f"{damaged / 'build.json'}: not JSON" in err
    assert 'Traceback' not in err and os.listdir(damaged) == ['build.json']


def test_builder_parameters_recorded_and_kept(tmp_path, monkeypatch):
    """--parameters cifar (default) and imagenet: each recorded in
    build.json and README.txt; a folder built with one is not continued
    with the other; the CIFAR constants are milder than ImageNet-C's."""
    from emoreg_mm.datasets.builders.cifar_c import BuildError, build_cifar_c
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    cifar = make_cifar(str(tmp_path / 'cifar'), 10, per_file=4)
    clean = np.stack([CIFAR10(cifar, split='test').get_data_info(i)['img']
                      for i in range(4)]).astype(float)
    noise = {}
    for parameters in ('cifar', 'imagenet'):
        out = str(tmp_path / f'C-{parameters}')
        build_cifar_c(cifar, out, corruptions=['gaussian_noise'],
                      severities=[1], parameters=parameters)
        info = json.load(open(osp.join(out, 'build.json')))
        assert info['parameters'] == parameters
        assert info['library'] == ('emoreg_mm' if parameters == 'cifar'
                                   else 'imagecorruptions')
        assert f'--parameters {parameters}' in open(
            osp.join(out, 'README.txt')).read()
        block = np.load(osp.join(out, 'gaussian_noise.npy'))[:4]
        noise[parameters] = np.abs(block - clean).mean()
    assert noise['cifar'] < noise['imagenet']  # sigma 0.04 vs 0.08
    with pytest.raises(BuildError, match="'parameters': 'cifar'"):
        build_cifar_c(cifar, str(tmp_path / 'C-cifar'),
                      corruptions=['gaussian_noise'], severities=[1],
                      parameters='imagenet')
    with pytest.raises(ValueError, match="--parameters 'x'"):
        build_cifar_c(cifar, str(tmp_path / 'x'), parameters='x')
