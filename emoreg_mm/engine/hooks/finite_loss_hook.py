"""Stop training as soon as it turns non-finite, keeping good checkpoints."""
from typing import List, Optional

import torch
from mmengine.hooks import Hook, LoggerHook
from mmpretrain.registry import HOOKS

from emoreg_mm.engine.runner.resume import find_resumable_checkpoint


class NonFiniteError(FloatingPointError):
    """The loss or the weights to be saved are NaN or infinite."""


def last_good_checkpoint(runner) -> Optional[str]:
    """The checkpoint to resume from: the one ``work_dir/last_checkpoint``
    names if it is intact, else the newest intact one; None if there is
    none."""
    return find_resumable_checkpoint(runner.work_dir)[0]


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise when a loss turns NaN / inf; never save non-finite weights.

    Every iteration, whether every logged value whose name contains
    ``'loss'`` is finite is computed on the model's device and kept there
    (no read on the host, no collective): the first non-finite iteration
    since the last read and its losses. The hook reads it on the host every
    ``interval`` iterations (by default at the LoggerHook's steps and at the
    end of each epoch), before every checkpoint and at the end of training.
    It runs before any other hook's ``after_train_iter`` (so before
    :class:`CheckpointHook` and :class:`PreemptionHook` save), and it
    refuses, in ``before_save_checkpoint``, to write a checkpoint whose
    ``state_dict`` holds a non-finite floating-point tensor (weights that
    broke without the loss showing it yet; one read for all of them). The
    error names the first non-finite iteration and the last good checkpoint,
    which stays untouched (``last_checkpoint`` still points at it), so
    ``--resume`` from it works after fixing the cause.

    Distributed runs need no collective of their own. A non-finite loss on
    any rank makes its gradients non-finite; DDP's gradient all-reduce
    averages them into every rank's gradients (at the next synchronising
    iteration under gradient accumulation), so the optimizer step makes the
    weights non-finite on every rank alike, and every later loss too. The
    checkpoint of rank 0 is therefore refused by the weight check (or by
    its own loss record) whichever rank broke first. A rank that raises
    ends its process, and torchrun then stops the others. (An optimizer
    step skipped by fp16 loss scaling leaves the weights finite: such a
    checkpoint is sound.)

    Args:
        interval (int, optional): Read the record every ``interval``
            iterations. Defaults to None: the LoggerHook's interval.
        check_checkpoint (bool): Also check the weights before each save.
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 interval: Optional[int] = None,
                 check_checkpoint: bool = True):
        self.interval = interval
        self.check_checkpoint = check_checkpoint
        self._reset()

    def _reset(self) -> None:
        # On the device: the window index of the first non-finite
        # iteration (-1: none) and its losses; on the host: the keys and
        # the (iteration, epoch, batch) of each iteration of the window.
        self._first: Optional[torch.Tensor] = None
        self._values: Optional[torch.Tensor] = None
        self._keys: List[str] = []
        self._where: List[str] = []

    @staticmethod
    def _raise(runner, what: str, where: str) -> None:
        good = last_good_checkpoint(runner)
        good = (f'The last good checkpoint is {good}; resume from it with '
                f'--resume {good}') if good else \
            'No checkpoint was saved before it'
        raise NonFiniteError(
            f'Training turned non-finite at {where}: {what}. Stopped before '
            f'saving these weights. {good} (e.g. after lowering the learning '
            'rate or enabling gradient clipping).')

    def before_run(self, runner) -> None:
        if self.interval is None:
            logger = next(
                (h for h in runner.hooks if isinstance(h, LoggerHook)), None)
            self.interval = logger.interval if logger is not None else 1

    def before_train(self, runner) -> None:
        self._reset()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Record this iteration's losses; read every ``interval``."""
        losses = {
            k: torch.as_tensor(v).detach().float().mean()
            for k, v in (outputs or {}).items() if 'loss' in k
        }
        if losses:
            if list(losses) != self._keys:
                self._check(runner)
                self._keys = list(losses)
            values = torch.stack(list(losses.values()))
            bad = ~torch.isfinite(values).all()
            if self._first is None:
                self._first = torch.full_like(values[0], -1.)
                self._values = torch.zeros_like(values)
            new = bad & (self._first < 0)
            self._first = torch.where(new, float(len(self._where)),
                                      self._first)
            self._values = torch.where(new, values, self._values)
            self._where.append(
                f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
                f'batch {batch_idx + 1})')
        if self.every_n_inner_iters(batch_idx, self.interval) or \
                self.end_of_epoch(runner.train_dataloader, batch_idx):
            self._check(runner)

    def _check(self, runner) -> None:
        """Read the record on the host (one copy); raise if it holds a
        non-finite iteration."""
        if self._first is None:
            return
        first, *values = torch.cat([self._first[None],
                                    self._values]).tolist()
        keys, where = self._keys, self._where
        self._reset()
        if first >= 0:
            self._raise(
                runner,
                ', '.join(f'{k}={v}' for k, v in zip(keys, values)),
                where[int(first)])

    def after_train(self, runner) -> None:
        self._check(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to save after a non-finite loss or non-finite weights."""
        self._check(runner)
        if not self.check_checkpoint:
            return
        tensors = {
            k: v
            for k, v in checkpoint.get('state_dict', {}).items()
            if torch.is_tensor(v) and v.is_floating_point()
        }
        finite = {}
        for device in {v.device for v in tensors.values()}:
            keys = [k for k, v in tensors.items() if v.device == device]
            flags = torch.stack(
                [torch.isfinite(tensors[k]).all() for k in keys]).tolist()
            finite.update(zip(keys, flags))
        bad = [k for k in tensors if not finite[k]]
        if bad:
            more = f' ... ({len(bad)} in all)' if len(bad) > 5 else ''
            self._raise(runner,
                        f'non-finite weights {", ".join(bad[:5])}{more}',
                        f'the checkpoint of epoch {runner.epoch + 1} after '
                        f'{runner.iter} iterations')
