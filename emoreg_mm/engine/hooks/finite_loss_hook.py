"""Stop training as soon as it turns non-finite, keeping good checkpoints."""
from typing import Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
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

    After every ``interval``-th iteration, every logged value whose name
    contains ``'loss'`` must be finite. It runs before any other hook's
    ``after_train_iter`` (so before :class:`CheckpointHook` and
    :class:`PreemptionHook` save), and it refuses, in
    ``before_save_checkpoint``, to write a checkpoint whose ``state_dict``
    holds a non-finite floating-point tensor (weights that broke without the
    loss showing it yet). The error names the iteration and the last good
    checkpoint, which stays untouched (``last_checkpoint`` still points at
    it), so ``--resume`` from it works after fixing the cause.

    In distributed runs the ranks agree with one all-reduce of a scalar per
    check, so all of them stop at the same iteration.

    Args:
        interval (int): Check every ``interval`` iterations. Defaults to 1.
        check_checkpoint (bool): Also check the weights before each save.
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, interval: int = 1, check_checkpoint: bool = True):
        self.interval = interval
        self.check_checkpoint = check_checkpoint

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

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Check the losses of this iteration."""
        where = (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
                 f'batch {batch_idx + 1})')
        if not self.every_n_train_iters(runner, self.interval) or not outputs:
            return
        losses = {
            k: torch.as_tensor(v).detach().float()
            for k, v in outputs.items() if 'loss' in k
        }
        bad = {k: v for k, v in losses.items() if not torch.isfinite(v).all()}
        if get_world_size() > 1:
            flag = torch.tensor([float(bool(bad))])
            all_reduce(flag, op='max')
            if flag.item() > 0 and not bad:
                self._raise(runner, 'a loss is not finite on another rank',
                            where)
        if bad:
            values = ', '.join(f'{k}={v.mean().item()}' for k, v in
                               bad.items())
            self._raise(runner, values, where)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to save non-finite weights."""
        if not self.check_checkpoint:
            return
        bad = [
            k for k, v in checkpoint.get('state_dict', {}).items()
            if torch.is_tensor(v) and v.is_floating_point()
            and not torch.isfinite(v).all()
        ]
        if bad:
            more = f' ... ({len(bad)} in all)' if len(bad) > 5 else ''
            self._raise(runner,
                        f'non-finite weights {", ".join(bad[:5])}{more}',
                        f'the checkpoint of epoch {runner.epoch + 1} after '
                        f'{runner.iter} iterations')
