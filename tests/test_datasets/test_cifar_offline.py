import socket
import time

import pytest
from mmpretrain.datasets import cifar as mmpretrain_cifar
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import make_cifar10
from emoreg_mm.datasets import cifar_offline


@pytest.fixture
def offline_url(monkeypatch):
    """The real CIFAR host is unreachable on this machine; should a test
    machine have internet, point the classes at a host that never resolves
    (RFC 2606 ``.invalid``) so no test downloads 170 MB."""
    for cls in (mmpretrain_cifar.CIFAR10, mmpretrain_cifar.CIFAR100):
        if cifar_offline.url_reachable(cls.url):
            monkeypatch.setattr(cls, 'url',
                                cls.url.replace('www.cs.toronto.edu',
                                                'cifar.invalid'))


def build_timed(**cfg):
    start = time.monotonic()
    with pytest.raises(FileNotFoundError) as info:
        DATASETS.build(cfg)
    return str(info.value), time.monotonic() - start


def test_guard_installed_on_import():
    assert getattr(mmpretrain_cifar.download_and_extract_archive,
                   '_emoreg_guarded', False)
    assert getattr(mmpretrain_cifar.CIFAR10.load_data_list,
                   '_emoreg_guarded', False)


def test_cifar10_missing_fails_fast_with_layout(tmp_path, offline_url):
    msg, elapsed = build_timed(type='CIFAR10', data_root=str(tmp_path),
                               split='train')
    assert elapsed < 10
    assert ('<data_root>/cifar-10-batches-py/{data_batch_1,data_batch_2,'
            'data_batch_3,data_batch_4,data_batch_5,test_batch,'
            'batches.meta}') in msg
    assert 'cifar-10-batches-py/data_batch_1 (missing)' in msg
    assert 'cifar-10-python.tar.gz' in msg and 'cannot be reached' in msg
    assert not (tmp_path / 'cifar-10-python.tar.gz').exists()


def test_cifar10_incomplete_names_corrupt_files(tmp_path, offline_url):
    make_cifar10(str(tmp_path))
    msg, elapsed = build_timed(type='CIFAR10', data_root=str(tmp_path),
                               split='test')
    assert elapsed < 10
    assert 'test_batch (md5 mismatch' in msg
    assert 'batches.meta (md5 mismatch' in msg


def test_cifar100_missing(tmp_path, offline_url):
    msg, elapsed = build_timed(type='CIFAR100', data_root=str(tmp_path),
                               split='test')
    assert elapsed < 10
    assert '<data_root>/cifar-100-python/{train,test,meta}' in msg
    assert 'cifar-100-python.tar.gz' in msg


def test_download_false_names_layout(tmp_path):
    msg, _ = build_timed(type='CIFAR10', data_root=str(tmp_path),
                         download=False)
    assert 'download=False' in msg and 'cifar-10-batches-py/{' in msg


def test_probe_is_bounded_when_dns_hangs(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(30)  # a name lookup that never answers
        raise OSError('timed out')

    monkeypatch.setattr(socket, 'create_connection', hang)
    start = time.monotonic()
    assert not cifar_offline.url_reachable('https://example.org/x', 0.5)
    assert time.monotonic() - start < 2


def test_online_download_is_delegated(monkeypatch):
    calls = []
    guarded = cifar_offline.guard_download(
        lambda url, root, **kw: calls.append((url, root, kw)))
    monkeypatch.setattr(cifar_offline, 'url_reachable', lambda url: True)
    guarded('https://host/cifar-10-python.tar.gz', '/data', md5='x')
    assert calls == [('https://host/cifar-10-python.tar.gz', '/data',
                      dict(md5='x'))]
