"""CIFAR-10.1 and CIFAR-10.2 read in the distributed layouts; layout errors
name the file and the expected shape; the restricted reader of CIFAR-10.2's
pickled dict refuses hostile files without running anything they hold."""
import io
import os
import os.path as osp
import pickle

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from cifar_shift_fixtures import (cifar10_2_content, fake_images,
                                  make_cifar10_1, make_cifar10_2)
from emoreg_mm.datasets import CIFARShiftError, cifar_shift
from emoreg_mm.datasets.pickled_npy import PickledNpyError, read_pickled_dict


def build(root, type='CIFAR10_1', **kwargs):
    return DATASETS.build(dict(type=type, data_root=root, **kwargs))


@pytest.mark.parametrize('version,n', [('v6', 24), ('v4', 7)])
def test_cifar10_1_reads_as_the_cifar10_test_split(tmp_path, version, n):
    images, labels = fake_images(n, seed=3)
    root = make_cifar10_1(str(tmp_path), version=version, images=images,
                          labels=labels)
    dataset = build(root, version=version,
                    pipeline=[dict(type='mmpretrain.PackInputs')])
    assert len(dataset) == n and len(dataset.metainfo['classes']) == 10
    info = dataset.get_data_info(5)
    assert np.array_equal(info['img'], images[5]) and info['gt_label'] == 5
    assert dataset.get_gt_labels().tolist() == list(labels)
    assert tuple(dataset[2]['inputs'].shape) == (3, 32, 32)
    assert [osp.basename(f) for f in dataset.files()] == [
        f'cifar10.1_{version}_data.npy', f'cifar10.1_{version}_labels.npy']
    with pytest.raises(ValueError, match=r"version='v5' is not supported"):
        build(root, version='v5')


def test_cifar10_2_reads_the_pickled_dict_of_either_numpy(tmp_path):
    """np.save of numpy 2 (protocol 4, numpy._core) and of numpy 1, as the
    authors wrote it (protocol 3, numpy.core, dtype args 0 / 1)."""
    content = cifar10_2_content(12)
    root = make_cifar10_2(str(tmp_path / 'v2'), content=content)
    dataset = build(root, type='CIFAR10_2')
    assert len(dataset) == 12
    assert np.array_equal(dataset.get_data_info(3)['img'],
                          content['images'][3])
    assert dataset.get_gt_labels().tolist() == content['labels'].tolist()
    raw = pickle.dumps(np.array(content), protocol=3).replace(
        b'numpy._core', b'numpy.core').replace(b'\x89\x88', b'K\x00K\x01')
    assert b'\x89\x88' not in raw  # each dtype's (name, 0, 1)
    old = tmp_path / 'v1' / 'cifar102_train.npy'
    old.parent.mkdir()
    _write_npy(old, raw)
    got = read_pickled_dict(str(old), 1 << 20)
    assert got['keywords'] == content['keywords']
    assert np.array_equal(got['images'], content['images'])
    assert len(build(str(old.parent), type='CIFAR10_2', split='train')) == 12


def _write_npy(path, pickled: bytes):
    """A .npy of a 0-d object array whose pickle is ``pickled``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, dict(descr='|O', fortran_order=False, shape=()))
    with open(path, 'wb') as f:
        f.write(buf.getvalue() + pickled)


def _c101(tmp_path, data=None, labels=None):
    images, default = fake_images(24)
    root = make_cifar10_1(str(tmp_path), images=images, labels=default)
    if data is not None:
        np.save(osp.join(root, 'cifar10.1_v6_data.npy'), data)
    if labels is not None:
        np.save(osp.join(root, 'cifar10.1_v6_labels.npy'), labels)
    return root


@pytest.mark.parametrize('data,labels,file,expected', [
    (np.zeros((24, 32, 32, 1), np.uint8), None, 'data',
     r'images uint8 of shape \(24, 32, 32, 1\); expected uint8 of shape '
     r'\(N, 32, 32, 3\), N from 1 to 2000'),
    (np.zeros((24, 32, 32, 3), np.float32), None, 'data',
     r'images float32 of shape \(24, 32, 32, 3\); expected uint8'),
    (None, np.arange(23), 'labels',
     r'labels int64 of shape \(23,\); expected integers of shape \(24,\)'),
    (None, np.arange(24) * 0.5, 'labels', r'labels float64 .* expected '
     r'integers of shape \(24,\)'),
    (None, np.arange(24), 'labels',
     r"labels span 0\.\.23; expected CIFAR-10's classes 0\.\.9"),
])
def test_cifar10_1_layout_errors_name_the_file_and_shape(
        tmp_path, data, labels, file, expected):
    root = _c101(tmp_path, data, labels)
    path = osp.join(root, f'cifar10.1_v6_{file}.npy')
    with pytest.raises(CIFARShiftError, match=f'^{path}: {expected}'):
        build(root)


def test_cifar10_1_missing_files_and_counts(tmp_path, monkeypatch):
    root = _c101(tmp_path)
    monkeypatch.setitem(cifar_shift.CIFAR10_1.VERSIONS, 'v6', 20)
    with pytest.raises(CIFARShiftError, match=r'N from 1 to 20'):
        build(root)  # more images than published
    monkeypatch.undo()
    os.remove(osp.join(root, 'cifar10.1_v6_labels.npy'))
    with pytest.raises(CIFARShiftError, match=r'v6_labels\.npy: file not '
                       'found'):
        build(root)
    with pytest.raises(CIFARShiftError, match=r'nowhere: folder not found; '
                       r'expected the folder holding cifar10\.1_v4_data\.npy,'
                       r' cifar10\.1_v4_labels\.npy'):
        build(str(tmp_path / 'nowhere'), version='v4')


def _c102(content_changes):
    content = cifar10_2_content(12)
    content.update(content_changes)
    return content


@pytest.mark.parametrize('changes,expected', [
    (dict(images=np.zeros((12, 32, 32), np.uint8)),
     r'images uint8 of shape \(12, 32, 32\); expected uint8 of shape '
     r'\(N, 32, 32, 3\), N from 1 to 2000'),
    (dict(labels=np.arange(11)),
     r'labels int64 of shape \(11,\); expected integers of shape \(12,\)'),
    (dict(labels=np.arange(12) + 5), r'labels span 5\.\.16'),
    (dict(ti_indices=np.arange(13)),
     r'ti_indices int64 of shape \(13,\); expected integers of shape'),
    (dict(keywords=['a'] * 11), r'keywords list of 11; expected a list of '
     r'12 str'),
    (dict(label_names=['plane'] + ['x'] * 9), r"label_names \['plane', .*"
     r"expected CIFAR-10's \['airplane'"),
    (dict(extra=np.arange(12)), r"keys \[.*'extra'.*\]; expected exactly "
     r"\['images', 'labels', 'label_names', 'ti_indices', 'keywords'\]"),
])
def test_cifar10_2_layout_errors_name_the_file_and_shape(
        tmp_path, changes, expected):
    root = make_cifar10_2(str(tmp_path), content=_c102(changes))
    path = osp.join(root, 'cifar102_test.npy')
    with pytest.raises(CIFARShiftError, match=f'^{path}: {expected}'):
        build(root, type='CIFAR10_2')


# ----------------------------------------------------------- hostile files
class Payload:
    """Runs ``os.system(command)`` when unpickled."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


class Eval:
    def __reduce__(self):
        return eval, ('1 + 1', )


class Forged:
    """An object whose pickle is ``reduce`` (callable, args, state)."""

    def __init__(self, *reduce):
        self.reduce = reduce

    def __reduce__(self):
        return self.reduce


def _forged_array(dtype_state, data=b'\0' * 16, shape=(2, )):
    """An int64 array pickled with the dtype state ``dtype_state``."""
    from numpy._core.multiarray import _reconstruct
    dtype = Forged(np.dtype, ('i8', False, True), dtype_state)
    return Forged(_reconstruct, (np.ndarray, (0, ), b'b'),
                  (1, shape, dtype, False, data))


def test_the_os_system_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / 'ran'
    path = tmp_path / 'cifar102_test.npy'
    np.save(path, _c102(dict(keywords=Payload(f'touch {marker}'))),
            allow_pickle=True)
    with pytest.raises(CIFARShiftError, match=r'refused: the pickle asks for '
                       r'(posix|os|nt)\.system.*nothing it holds was run'):
        build(str(tmp_path), type='CIFAR10_2')
    assert not marker.exists()
    np.load(path, allow_pickle=True)  # what numpy's own reading does
    assert marker.exists()


HOSTILE = [
    (dict(keywords=Eval()), r'asks for builtins\.eval'),
    (dict(images=np.array([1, 'a'], dtype=object)),
     r'an object array of shape \(2,\); only the outer 0-d one'),
    (dict(images=np.zeros((2, 2), np.float64)),
     r"dtype 'f8' .*expected one of u1, i1"),
    (dict(labels=np.array(['a', 'b'])), r"dtype '(U1|<U1)'"),
    (dict(labels=_forged_array((3, '<', None, ('a', ), {'a': 1}, -1, -1,
                                63))), r"dtype 'i8' with the state"),
    (dict(labels=_forged_array((3, '<', None, None, None, -1, -1, 0),
                               data=b'\0' * 8)),
     r'i8 array of shape \(2,\) with 8 bytes of data; expected 16'),
    (dict(labels=np.float64(1.)), r'asks for numpy\._core\.multiarray\.'
     r'scalar'),
    (dict(labels={'nested': 1}), r"'labels' holds dict; expected an "
     'integer array'),
]


@pytest.mark.parametrize('changes,expected', HOSTILE)
def test_hostile_content_is_refused(tmp_path, changes, expected):
    path = tmp_path / 'cifar102_test.npy'
    np.save(path, _c102(changes), allow_pickle=True)
    with pytest.raises(PickledNpyError, match=expected):
        read_pickled_dict(str(path), 1 << 20)


def test_damaged_and_oversized_files_are_refused(tmp_path):
    good = tmp_path / 'good.npy'
    np.save(good, _c102({}), allow_pickle=True)
    raw = good.read_bytes()
    cases = {
        'cut.npy': (raw[:len(raw) // 2], 'truncated or damaged'),
        'tail.npy': (raw + b'\0', 'bytes after the pickle'),
        'plain.npy': (None, r'a \.npy of uint8 and shape \(12, 32, 32, 3\);'
                      r' expected the pickled dict'),
        'list.npy': (None, 'holds list; expected a dict'),
        'text.npy': (b'not numpy', r'not a \.npy file'),
    }
    np.save(tmp_path / 'plain.npy', _c102({})['images'])
    outer = np.empty((), dtype=object)
    outer[()] = [1, 'a']
    np.save(tmp_path / 'list.npy', outer, allow_pickle=True)
    for name, (content, expected) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(PickledNpyError, match=f'{name}: .*{expected}'):
            read_pickled_dict(str(tmp_path / name), 1 << 20)
    with pytest.raises(PickledNpyError, match=r'over the limit of 1000'):
        read_pickled_dict(str(good), 1000)
    # the bound of the published files: 10,000 images of 3,072 bytes
    assert 31_000_000 < cifar_shift.max_bytes(10000) < 36_000_000
    assert cifar_shift.max_bytes(2000) < 8_000_000
