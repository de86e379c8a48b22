"""Test-only hooks, imported by the configs of tests/test_engine runs."""
import json
import os
import os.path as osp
import time

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class EngineTestStallHook(Hook):
    """With ``ENGINE_TEST_STALL=EPOCH:BATCH:RELEASE_FILE`` set, wait after
    that (1-based) batch until RELEASE_FILE exists (at most 120 s), so a
    test can signal the run at a known iteration."""

    priority = 'LOW'  # after LoggerHook has logged the iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        spec = os.environ.get('ENGINE_TEST_STALL')
        if not spec:
            return
        epoch, batch, release = spec.split(':', 2)
        if (runner.epoch + 1, batch_idx + 1) != (int(epoch), int(batch)):
            return
        deadline = time.time() + 120
        while not osp.exists(release) and time.time() < deadline:
            time.sleep(0.02)


@HOOKS.register_module()
class EngineTestRecorderHook(Hook):
    """Write each rank's per-iteration losses and final state dict to
    ``out_dir`` (``losses_rank{r}.json``, ``state_rank{r}.pth``)."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses.append(float(outputs['loss']))

    def after_train(self, runner):
        os.makedirs(self.out_dir, exist_ok=True)
        rank = get_rank()
        with open(osp.join(self.out_dir, f'losses_rank{rank}.json'), 'w') as f:
            json.dump(self.losses, f)
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        torch.save({k: v.detach().clone()
                    for k, v in model.state_dict().items()},
                   osp.join(self.out_dir, f'state_rank{rank}.pth'))
