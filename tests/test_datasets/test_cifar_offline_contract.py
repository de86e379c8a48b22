"""A missing CIFAR folder is still the error mmpretrain raises: a
RuntimeError with upstream's words for ``download=False``, a URLError
offline (mmpretrain's tests/test_datasets/test_datasets.py checks both)."""
import urllib.error

import pytest
from mmpretrain.datasets import cifar as mmpretrain_cifar
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from emoreg_mm.datasets import cifar_offline
from emoreg_mm.datasets.cifar_offline import CIFARFilesMissing


@pytest.mark.parametrize('cls', ['CIFAR10', 'CIFAR100'])
def test_missing_cifar_is_caught_as_runtime_error(tmp_path, cls):
    # download=False: mmpretrain raises RuntimeError for a missing folder;
    # handlers written for it keep catching the clearer error.
    try:
        DATASETS.build(dict(type=cls, data_root=str(tmp_path),
                            download=False))
    except RuntimeError as err:
        caught = err
    else:
        pytest.fail('no error for a missing CIFAR folder')
    assert isinstance(caught, CIFARFilesMissing)
    assert isinstance(caught, FileNotFoundError)
    assert 'Expected layout' in str(caught) and '(missing)' in str(caught)


@pytest.mark.parametrize('cls', ['CIFAR10', 'CIFAR100'])
def test_download_false_keeps_upstream_words(tmp_path, cls):
    # as mmpretrain's TestCIFAR10.test_load_data_list: a corrupt file
    dataset = DATASETS.build(dict(type=cls, data_root=str(tmp_path),
                                  download=False, lazy_init=True,
                                  split='test'))
    with pytest.raises(RuntimeError, match='`download=True`') as info:
        dataset.full_init()
    assert str(info.value).startswith(
        f"Cannot find {cls} dataset in {dataset.data_prefix['root']}, you "
        'can specify '
        '`download=True` to download automatically.\n')
    assert 'Expected layout' in str(info.value)


def test_offline_download_is_also_urlerror(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar_offline, 'url_reachable', lambda url: False)
    dataset = DATASETS.build(dict(type='CIFAR10', data_root=str(tmp_path),
                                  lazy_init=True, split='test'))
    with pytest.raises(urllib.error.URLError) as info:
        dataset.full_init()
    assert isinstance(info.value, CIFARFilesMissing)
    assert info.value.url == mmpretrain_cifar.CIFAR10.url
    assert str(info.value).startswith('CIFAR10 files are missing')
