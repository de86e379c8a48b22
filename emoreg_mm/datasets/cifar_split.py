"""CIFAR-10 / CIFAR-100 with a validation split held out from training.

CIFAR ships a training and a test split only. Validating on the test split
(mmpretrain's CIFAR configs do) and keeping the best checkpoint by that
validation selects the model on the test set. :class:`HeldOutCIFAR10` and
:class:`HeldOutCIFAR100` cut a stratified validation split out of the
50,000 training images (5,000 by default, so 45,000 remain for training):

=============  =======================================================
``split``      images
=============  =======================================================
``'train'``    the training split minus the held-out images (45k)
``'val'``      the held-out images (5k, every class in proportion)
``'trainval'`` the whole training split (50k)
``'test'``     the official test split (10k), unchanged
=============  =======================================================

The held-out images are fixed by ``split_seed`` alone (the run's
``randomness.seed`` does not move them), through the same stratified split
helper as the affective sets (:func:`~.splits.split_indices`).
"""
from typing import List

from mmpretrain.datasets import CIFAR10, CIFAR100
from mmpretrain.registry import DATASETS

from .file_checks import check_choice
from .splits import split_indices

SPLITS = ('train', 'val', 'trainval', 'test')


class _HeldOutMixin:
    """Split logic shared by the CIFAR-10 and CIFAR-100 classes."""

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 val_size: int = 5000,
                 split_seed: int = 0,
                 **kwargs):
        check_choice('split', split, SPLITS)
        if not isinstance(val_size, int) or val_size < 1:
            raise ValueError(f'val_size={val_size!r} is invalid; expected a '
                             'positive number of held-out training images.')
        self.held_out_split = split
        self.val_size = val_size
        self.split_seed = split_seed
        super().__init__(
            data_root=data_root,
            split='test' if split == 'test' else 'train',
            **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        if self.held_out_split in ('test', 'trainval'):
            return data_list
        total = len(data_list)
        if self.val_size >= total:
            raise ValueError(
                f'{type(self).__name__}: val_size={self.val_size} leaves no '
                f'training images out of the {total} under '
                f"{self.data_prefix['root']!r}.")
        ratio = self.val_size / total
        keep = split_indices([d['gt_label'] for d in data_list],
                             self.held_out_split,
                             split_ratios=(1. - ratio, ratio, 0.),
                             seed=self.split_seed)
        return [data_list[i] for i in keep]

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Split: {self.held_out_split} (val_size={self.val_size}, '
            f'split_seed={self.split_seed})'
        ]


@DATASETS.register_module()
class HeldOutCIFAR10(_HeldOutMixin, CIFAR10):
    """CIFAR-10 with a stratified validation split held out of training.

    Args:
        data_root (str): The folder holding ``cifar-10-batches-py``.
        split (str): ``'train'``, ``'val'``, ``'trainval'`` or ``'test'``.
            Defaults to ``'train'``.
        val_size (int): Number of training images held out for
            validation. Defaults to 5000.
        split_seed (int): Seed of the held-out draw; independent of the
            run's seed. Defaults to 0.
        **kwargs: Other arguments of mmpretrain's ``CIFAR10``
            (``pipeline``, ``download``...).
    """


@DATASETS.register_module()
class HeldOutCIFAR100(_HeldOutMixin, CIFAR100):
    """CIFAR-100 with a stratified validation split held out of training.

    Args: as :class:`HeldOutCIFAR10` (``data_root`` holds
    ``cifar-100-python``).
    """
