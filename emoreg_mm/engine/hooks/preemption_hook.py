"""Save a checkpoint and stop when the job is asked to stop (SIGTERM)."""
import os.path as osp
import signal
import threading
from typing import Optional, Sequence, Union

import torch
from mmengine.dist import all_reduce, barrier, get_world_size, \
    is_main_process
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from emoreg_mm.fileio import atomic_write_text
from .checkpoint_hook import PREEMPTION_KEY, remove_checkpoint


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Checkpoint at the end of the current iteration on SIGTERM, then exit.

    Slurm (pre-emption, time limit, ``scancel``) and torchrun's agent send
    SIGTERM before they kill a job. This hook installs a handler that only
    raises a flag; after the iteration in progress (optimizer step and
    scheduler step done) it saves ``iter_{N}.pth`` (N: iterations trained),
    atomically, points ``last_checkpoint`` at it and exits.
    :class:`AtomicCheckpointHook` removes that file once a later checkpoint
    is complete. ``--resume auto`` then
    continues from iteration N + 1; with ``ResumableEpochBasedTrainLoop``
    an epoch-based run does not replay the epoch's first N batches either.

    In distributed runs the ranks agree on the flag with an all-reduce every
    ``interval`` iterations (a collective and a read on the host each time,
    hence not every iteration), so all ranks stop at the same iteration;
    rank 0 writes the checkpoint and the ranks leave together after a
    barrier. torchrun gives its workers 30 s after SIGTERM (then SIGKILL):
    ``interval`` iterations must fit in that time. A single process checks
    its flag every iteration (no read on the device).

    The process exits with ``exit_code``, by default 143 (128 + SIGTERM, the
    status of a process that SIGTERM ended): the run is not finished, so
    ``train.py && test.py`` chains and Slurm ``afterok`` dependencies must
    not go on. Slurm requeues pre-empted jobs (``--requeue``) whatever the
    status; set ``exit_code=0`` where a wrapper requeues only on success.

    Args:
        signals (Sequence[str | int]): Signals that request a stop.
            Defaults to ``('SIGTERM', )``.
        exit_code (int): Exit status after saving. Defaults to 143.
        interval (int): In distributed runs, agree on the flag every
            ``interval`` iterations (one all-reduce of a scalar each time).
            Defaults to 10.
    """

    priority = 'LOWEST'  # after ParamSchedulerHook, LoggerHook, EMA ...

    def __init__(self,
                 signals: Sequence[Union[str, int]] = ('SIGTERM', ),
                 exit_code: int = 143,
                 interval: int = 10):
        self.signals = [
            getattr(signal, s) if isinstance(s, str) else signal.Signals(s)
            for s in signals
        ]
        self.exit_code = exit_code
        self.interval = interval
        self.requested: Optional[str] = None
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        self.requested = signal.Signals(signum).name

    def before_train(self, runner) -> None:
        """Install the signal handlers (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            runner.logger.warning('PreemptionHook: not in the main thread, '
                                  'no signal handler installed.')
            return
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)

    def after_train(self, runner) -> None:
        """Restore the previous signal handlers."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _stop_requested(self) -> bool:
        if get_world_size() == 1:
            return self.requested is not None
        flag = torch.tensor([float(self.requested is not None)])
        all_reduce(flag, op='max')
        return bool(flag.item() > 0)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Save and exit if a stop was requested."""
        if get_world_size() > 1 and \
                not self.every_n_train_iters(runner, self.interval):
            return
        if not self._stop_requested():
            return
        done = runner.iter + 1
        filename = f'iter_{done}.pth'
        path = osp.join(runner.work_dir, filename)
        runner.logger.warning(
            f'{self.requested or "Stop requested on another rank"}: saving '
            f'{path} after iteration {done} (epoch {runner.epoch + 1}, batch '
            f'{batch_idx + 1}), then exiting with status {self.exit_code}.')
        previous = runner.message_hub.get_info(PREEMPTION_KEY)
        runner.message_hub.update_info(PREEMPTION_KEY, path)
        runner.message_hub.update_info('last_ckpt', path)
        runner.save_checkpoint(runner.work_dir, filename, by_epoch=False)
        if is_main_process():
            atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'),
                              path)
            if previous and osp.abspath(previous) != osp.abspath(path):
                remove_checkpoint(previous)  # only once the new one is safe
        barrier()
        runner.logger.warning(
            f'Saved {path}. Continue with the same command plus --resume '
            '(tools/train.py, tools/dist_train.sh or mim train emoreg_mm) '
            'and the same work dir.')
        raise SystemExit(self.exit_code)
