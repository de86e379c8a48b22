"""Two gloo processes train like one process with the same global batch.

The model is the tiny learn-ereg regulated *ViT* (LayerNorm, no BatchNorm):
with BatchNorm each rank would normalise with the statistics of its own half
batch, which differ from the full batch's, so no equality could hold. The
pipeline has no random augmentation (each rank would draw its own), and the
sampler does not shuffle: rank r takes samples r, r + 2, ..., so the ranks'
batches of 2 together are the single process's batch of 4.

Tolerance: DDP averages the ranks' gradients, i.e. the same mean over the 4
samples summed in another order, so float32 rounding differs by ~1e-7 per
step; after 8 SGD steps we allow 1e-5 (absolute) on losses and weights.
"""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from engine_configs import write_regulated_config
from launch_utils import free_port, run_tool
from runs import REPO, env

TOL = dict(rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_two_ranks_match_one_process(tmp_path):
    single, dist = str(tmp_path / 'single'), str(tmp_path / 'dist')
    hook = dict(type='EngineTestRecorderHook', out_dir=str(tmp_path / 'rec'))
    config = write_regulated_config(
        tmp_path, arch='vit', max_epochs=2, batch_size=4, shuffle=False,
        flip=0., extra_hooks=[hook])
    # the one process: tools/train.py's main() here (its interpreter start
    # is not what is tested), with one thread as each rank has
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_tool('train.py', config, '--work-dir', single, '--cfg-options',
                 f'custom_hooks.5.out_dir={single}/rec')
    finally:
        torch.set_num_threads(threads)
        # the config's randomness.deterministic, for the tests that follow
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False

    # two ranks: torchrun and its ranks, real processes
    out = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '2',
         '--work-dir', dist, '--cfg-options', 'train_dataloader.batch_size=2',
         f'custom_hooks.5.out_dir={dist}/rec'],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env=env(PYTHON=sys.executable, PORT=free_port()))
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert 'world size 2, backend gloo' in out.stdout + out.stderr

    def rec(work_dir, what, rank):
        path = osp.join(work_dir, 'rec', f'{what}_rank{rank}')
        if what == 'losses':
            return torch.tensor(json.load(open(path + '.json')))
        return torch.load(path + '.pth', weights_only=True)

    # Step by step: the mean of the ranks' losses (each over 2 samples) is
    # the single process's loss over the same 4 samples.
    losses = rec(single, 'losses', 0)
    assert len(losses) == 8
    torch.testing.assert_close(
        (rec(dist, 'losses', 0) + rec(dist, 'losses', 1)) / 2, losses, **TOL)

    rank0, rank1 = rec(dist, 'state', 0), rec(dist, 'state', 1)
    regulation = [k for k in rank0 if k.startswith('head.regulator.')]
    assert regulation
    for key in rank0:  # DDP keeps the ranks bit-identical
        assert torch.equal(rank0[key], rank1[key]), key
    expected = rec(single, 'state', 0)
    moved = [k for k in regulation
             if not torch.equal(expected[k], torch.zeros_like(expected[k]))]
    assert moved, 'the regulator did not learn: the test would be vacuous'
    for key, value in expected.items():
        torch.testing.assert_close(rank0[key], value, **TOL, msg=key)
