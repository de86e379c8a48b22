"""The gloo fallback applies only where mmengine finds no accelerator.

Accelerator hosts are simulated by what mmengine's launcher code asks
(``is_npu_available`` and friends, ``torch.<device>.set_device``) and the
process group call is recorded; on the CPU the real gloo group is built.
"""
import sys
import types

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.dist import utils

import emoreg_mm  # noqa: F401  (applies the compat layer)
from emoreg_mm.compat.dist import accelerator_present
from launch_utils import free_port

ACCEL = {  # device: (mmengine predicate, torch extension module)
    'npu': ('is_npu_available', 'torch_npu'),
    'mlu': ('is_mlu_available', 'torch_mlu'),
    'musa': ('is_musa_available', 'torch_musa'),
}
DIST_ENV = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')


@pytest.fixture
def env(monkeypatch):
    """A one-task torchrun / Slurm environment, restored afterwards."""
    for var in DIST_ENV:
        monkeypatch.delenv(var, raising=False)
    values = dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
                  SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_LOCALID='0',
                  SLURM_NODELIST='localhost', MASTER_ADDR='127.0.0.1',
                  MASTER_PORT=str(free_port()))
    for var, value in values.items():
        monkeypatch.setenv(var, value)
    return monkeypatch


def simulate(monkeypatch, device):
    """Make this host look like one with ``device`` to mmengine; return
    the list the device / process-group calls are recorded in."""
    calls = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: device == 'cuda')
    for name, (predicate, module) in ACCEL.items():
        monkeypatch.setattr(utils, predicate, lambda n=name: n == device)
    if device != 'cuda':
        monkeypatch.setitem(sys.modules, ACCEL[device][1],
                            types.ModuleType(ACCEL[device][1]))
        monkeypatch.setattr(
            torch, device, types.SimpleNamespace(
                set_device=lambda i: calls.append((f'{device}.set_device',
                                                   i))), raising=False)
    monkeypatch.setattr(torch.cuda, 'set_device',
                        lambda i: calls.append(('cuda.set_device', i)))
    monkeypatch.setattr(
        torch_dist, 'init_process_group',
        lambda backend=None, **kw: calls.append(('init', backend)))
    return calls


@pytest.mark.parametrize('launcher,device', [
    ('pytorch', 'cuda'), ('pytorch', 'npu'), ('pytorch', 'mlu'),
    ('pytorch', 'musa'), ('slurm', 'cuda'), ('slurm', 'npu'),
    ('slurm', 'mlu'), ('slurm', 'musa')
])
def test_accelerator_hosts_keep_mmengine_init(env, launcher, device):
    calls = simulate(env, device)
    assert accelerator_present()
    patched = getattr(utils, f'_init_dist_{launcher}')
    assert patched._emoreg_cpu_aware
    patched('nccl')
    with_plugin = list(calls)
    calls.clear()
    patched.__wrapped__('nccl')  # stock mmengine
    assert with_plugin == calls
    assert ('init', 'gloo') not in with_plugin


def test_simulated_npu_host_sets_device_and_uses_hccl(env):
    calls = simulate(env, 'npu')
    utils.init_dist('pytorch')
    assert calls == [('npu.set_device', 0), ('init', 'hccl')]


def test_cuda_host_uses_nccl_on_slurm(env):
    calls = simulate(env, 'cuda')
    utils.init_dist('slurm')
    assert calls == [('cuda.set_device', 0), ('init', 'nccl')]


@pytest.mark.parametrize('launcher', ['pytorch', 'slurm'])
def test_cpu_host_uses_gloo(env, launcher):
    env.setattr(torch.cuda, 'is_available', lambda: False)
    if launcher == 'slurm':  # only SLURM_* given, as srun sets them
        for var in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
            env.delenv(var)
    assert not accelerator_present()
    utils.init_dist(launcher)
    try:
        assert torch_dist.get_backend() == 'gloo'
        assert torch_dist.get_world_size() == 1
        assert torch_dist.get_rank() == 0
    finally:
        torch_dist.destroy_process_group()
