"""A missing CIFAR folder is still the RuntimeError mmpretrain raises."""
import pytest
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
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
