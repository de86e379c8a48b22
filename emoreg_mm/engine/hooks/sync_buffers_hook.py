"""Average the trained encoders' BatchNorm statistics over the ranks."""
from typing import List

import torch
import torch.nn as nn
from mmengine.dist import all_reduce_params
from mmengine.hooks import SyncBuffersHook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


def trained_buffers(model: nn.Module) -> List[torch.Tensor]:
    """The floating-point buffers of the modules in training mode (the
    running statistics of N's and I's BatchNorm), not those of modules in
    eval mode (the frozen E and frozen stages, equal on every rank) nor
    integer counters (equal on every rank)."""
    return [
        buf for module in model.modules() if module.training
        for buf in module.buffers(recurse=False)
        if buf.is_floating_point()
    ]


@HOOKS.register_module()
class SyncTrainedBuffersHook(SyncBuffersHook):
    """mmengine's :class:`SyncBuffersHook` restricted to the trained
    encoders' statistics.

    DDP runs with ``broadcast_buffers=False``, so each rank's BatchNorm
    running statistics follow its own batches: without this hook ranks
    validate with different statistics and rank 0's alone are saved. After
    every training epoch (before validation and checkpoints) the running
    means and variances of the modules in training mode are averaged over
    the ranks, one all-reduce per epoch. The emotional encoder E (eval
    mode, never updated) is left out, so it stays bitwise equal to stage 1
    (an average of equal values can round).

    SyncBN is not used: it would all-reduce every BatchNorm layer's batch
    statistics in every forward and backward pass (about 100 collectives a
    step for ResNet-50's N and I), and it changes the method (statistics of
    the global batch); with 64 images a GPU the per-GPU statistics are
    those of an ordinary ResNet-50 run.
    """

    def _sync(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        all_reduce_params(trained_buffers(model), op='mean')

    def before_val_epoch(self, runner) -> None:
        if self.distributed and not self.called_in_train:
            self._sync(runner)
        self.called_in_train = False

    def after_train_epoch(self, runner) -> None:
        if self.distributed:
            self._sync(runner)
            self.called_in_train = True
