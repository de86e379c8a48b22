"""Fake CIFAR-10.1 and CIFAR-10.2 folders in the distributed layouts.

:func:`make_cifar10_1` writes ``cifar10.1_<version>_data.npy`` and
``cifar10.1_<version>_labels.npy`` (plain arrays); :func:`make_cifar10_2`
writes ``cifar102_<split>.npy`` as the authors did: ``np.save`` of a dict,
which numpy pickles (here, in a test, on purpose: it is the real layout).
"""
import os
import os.path as osp

import numpy as np
from mmpretrain.datasets.categories import CIFAR10_CATEGORIES


def fake_images(n: int, seed: int = 0):
    """``(images, labels)``: ``n`` random RGB 32 x 32 images, labels
    ``0..n-1`` mod 10."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
            np.arange(n) % 10)


def make_cifar10_1(root: str, n: int = 24, version: str = 'v6',
                   seed: int = 0, images=None, labels=None) -> str:
    """A CIFAR-10.1 folder of ``n`` images (or ``images`` / ``labels``)."""
    if images is None:
        images, labels = fake_images(n, seed)
    os.makedirs(root, exist_ok=True)
    np.save(osp.join(root, f'cifar10.1_{version}_data.npy'), images)
    np.save(osp.join(root, f'cifar10.1_{version}_labels.npy'),
            np.asarray(labels, np.int64))
    return root


def cifar10_2_content(n: int = 24, seed: int = 1, images=None,
                      labels=None) -> dict:
    """The dict a CIFAR-10.2 file holds, of ``n`` images."""
    if images is None:
        images, labels = fake_images(n, seed)
    n = len(images)
    return dict(images=images, labels=np.asarray(labels, np.int64),
                label_names=list(CIFAR10_CATEGORIES),
                ti_indices=np.arange(n, dtype=np.int64) * 7,
                keywords=[f'keyword{i}' for i in range(n)])


def make_cifar10_2(root: str, n: int = 24, split: str = 'test',
                   content: dict = None, **kwargs) -> str:
    """A CIFAR-10.2 folder: ``cifar102_<split>.npy``, ``np.save`` of
    ``content`` (default: :func:`cifar10_2_content`)."""
    os.makedirs(root, exist_ok=True)
    np.save(osp.join(root, f'cifar102_{split}.npy'),
            cifar10_2_content(n, **kwargs) if content is None else content,
            allow_pickle=True)
    return root
