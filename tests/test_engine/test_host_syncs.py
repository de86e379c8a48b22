"""Device-to-host syncs per training iteration through the Runner.

On a GPU every read of a device value on the host (``.item()``,
``.tolist()``, ``.cpu()``, ``bool(t)``, ``float(t)``, ``int(t)``) waits for
the queued kernels: the device idles while the host launches the next
ones. This CPU proxy counts the calls of those methods between the first
``before_train_iter`` hook and the last ``after_train_iter`` hook of each
iteration (the data loading is outside), with the shipped runtime's hooks
(``configs/_base_/default_runtime.py``) on a tiny learn-ereg ViT.

On a CPU every tensor is on the host, so the reads of tensors that are on
the host on any device are left out by their caller: mmengine's
``stack_batch`` compares the padding of the batch's shapes (a CPU tensor).
"""
import glob
import os.path as osp
import sys
from collections import Counter

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from emoreg_mm.engine.hooks import NonFiniteError
from engine_configs import write_regulated_config
from runs import REPO

#: The methods that read a tensor on the host.
READS = ('item', 'tolist', 'cpu', 'numpy', '__bool__', '__float__',
         '__int__')

#: Callers whose reads are of host tensors on any device.
HOST_ONLY = ('stack_batch', )


class _SyncCounter(Hook):
    """Counts the reads of every training iteration into ``per_iter``."""

    def __init__(self, priority):
        self.priority = priority
        self.per_iter, self.current = [], None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.priority == 'HIGHEST':
            self.current = Counter()
            self.per_iter.append(self.current)


class _Stop(Hook):

    def __init__(self, counter):
        self.priority = 'LOWEST'
        self.counter = counter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.counter.current = None


def shipped_runner(tmp_path, log_interval=3, max_epochs=1):
    """A Runner of a tiny learn-ereg ViT (8 iterations an epoch) with the
    shipped runtime's hooks."""
    config = write_regulated_config(tmp_path, arch='vit', batch_size=2,
                                    max_epochs=max_epochs)
    cfg = Config.fromfile(config)
    runtime = Config.fromfile(
        osp.join(REPO, 'configs/_base_/default_runtime.py'))
    cfg.default_hooks = runtime.default_hooks
    cfg.default_hooks.logger.interval = log_interval
    cfg.custom_hooks = runtime.custom_hooks
    cfg.work_dir = str(tmp_path / 'work')
    return Runner.from_cfg(cfg)


def count_syncs(tmp_path, log_interval=3):
    """Reads per training iteration of a tiny run (list of Counters of
    method names) and the logging iterations' indices."""
    runner = shipped_runner(tmp_path, log_interval)
    counter = _SyncCounter('HIGHEST')
    runner.register_hook(counter)
    runner.register_hook(_Stop(counter))

    originals = {name: getattr(torch.Tensor, name) for name in READS}

    def wrap(name, method):

        def read(self, *args, **kwargs):
            if counter.current is not None and \
                    sys._getframe(1).f_code.co_name not in HOST_ONLY:
                counter.current[name] += 1
            return method(self, *args, **kwargs)

        return read

    try:
        for name, method in originals.items():
            setattr(torch.Tensor, name, wrap(name, method))
        runner.train()
    finally:
        for name, method in originals.items():
            setattr(torch.Tensor, name, method)
    iters = len(runner.train_dataloader)
    logging = {i for i in range(iters)
               if (i + 1) % log_interval == 0 or i + 1 == iters}
    return counter.per_iter, logging


def test_at_most_one_sync_per_iteration_outside_logging(tmp_path):
    per_iter, logging = count_syncs(tmp_path)
    assert len(per_iter) == 8
    # The first iteration runs the preflight checks (once per run).
    quiet = [per_iter[i] for i in range(1, len(per_iter))
             if i not in logging]
    assert len(quiet) == 4
    for reads in quiet:
        assert sum(reads.values()) <= 1, (reads, per_iter)
    # The logging iterations read the accumulated statistics once more.
    for i in logging:
        assert sum(per_iter[i].values()) <= 4, (i, per_iter[i])


class _BreakAt(Hook):
    """Set a weight of h_N to NaN before iteration ``at`` (0-based)."""
    priority = 'NORMAL'

    def __init__(self, at):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            with torch.no_grad():
                runner.model.head.fc_n.weight[0, 0] = float('nan')


def test_a_nan_between_reads_is_named_and_never_saved(tmp_path):
    """Read at the logging step after it, the record names the first
    non-finite iteration, and the epoch's checkpoint is not written."""
    runner = shipped_runner(tmp_path, log_interval=3, max_epochs=2)
    runner.register_hook(_BreakAt(3))
    with pytest.raises(NonFiniteError) as exc:
        runner.train()
    assert 'iteration 4 (epoch 1, batch 4): loss=nan' in str(exc.value)
    assert 'No checkpoint was saved' in str(exc.value)
    assert not glob.glob(osp.join(runner.work_dir, '*.pth'))
