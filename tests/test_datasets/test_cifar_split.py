"""CIFAR with a validation split held out of its training set."""
import numpy as np
import pytest
import torch
from mmpretrain.datasets import CIFAR10
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import make_cifar


@pytest.fixture
def cifar10(tmp_path, monkeypatch):
    # Tiny fixture files: their md5 differs from the real ones.
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    return make_cifar(str(tmp_path), 10, per_file=20)  # 100 train, 20 test


def build(root, split, **kwargs):
    return DATASETS.build(
        dict(type='HeldOutCIFAR10', data_root=root, split=split, **kwargs))


def infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def images(dataset):
    return [d['img'].tobytes() for d in infos(dataset)]


def test_val_is_held_out_of_train_and_stratified(cifar10):
    train = build(cifar10, 'train', val_size=10)
    val = build(cifar10, 'val', val_size=10)
    whole = build(cifar10, 'trainval', val_size=10)
    assert (len(train), len(val), len(whole)) == (90, 10, 100)
    assert not set(images(train)) & set(images(val))
    assert sorted(images(train) + images(val)) == sorted(images(whole))
    # 10 images per class in the fixture: one of each held out.
    assert sorted(d['gt_label'] for d in infos(val)) == list(range(10))
    test = build(cifar10, 'test', val_size=10)
    plain = DATASETS.build(dict(type='CIFAR10', data_root=cifar10,
                                split='test'))
    assert images(test) == images(plain)


def test_split_follows_its_own_seed_not_the_run_seed(cifar10):
    torch.manual_seed(1)
    np.random.seed(1)
    first = images(build(cifar10, 'val', val_size=10))
    torch.manual_seed(2)
    np.random.seed(2)
    assert images(build(cifar10, 'val', val_size=10)) == first
    other = images(build(cifar10, 'val', val_size=10, split_seed=1))
    assert other != first


def test_bad_split_arguments_are_named(cifar10):
    with pytest.raises(ValueError, match='val_size=100 leaves no training'):
        build(cifar10, 'train', val_size=100)
    with pytest.raises(ValueError, match='val_size'):
        build(cifar10, 'train', val_size=0)
    with pytest.raises(ValueError, match='split'):
        build(cifar10, 'holdout')
