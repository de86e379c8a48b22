"""Distributed training on machines without an accelerator.

mmengine 0.10.7 initialises a torchrun (``--launcher pytorch``) or Slurm
(``--launcher slurm``) job for the accelerator it finds (MLU, NPU, MUSA) and
otherwise calls ``torch.cuda.set_device``, and wraps the model with
``device_ids=[LOCAL_RANK]``. Both fail on a CPU-only machine. Here, and only
where no accelerator mmengine supports is present (CUDA, NPU, MLU, MUSA),
the process group uses gloo; everywhere else mmengine's own initialisation
runs unchanged (NCCL on CUDA, HCCL on NPU, CNCL on MLU, MCCL on MUSA).
:func:`ddp_wrapper_cfg` gives the matching DDP wrapper config.
"""
import gc
import os
import subprocess

import torch
import torch.distributed as torch_dist


def leave_process_group() -> None:
    """Leave the default process group together with the other ranks, once
    the caller has dropped its runner: a barrier, the collection of what
    reference cycles still hold (the DDP wrapper and its reducer keep the
    group alive), then ``destroy_process_group``. A group left to the
    interpreter's exit is torn down while Python finalises, and gloo's
    threads then abort the process ('terminate called without an active
    exception'; seen on busy CPUs). Nothing without a process group."""
    if not torch_dist.is_initialized():
        return
    torch_dist.barrier()
    gc.collect()
    torch_dist.destroy_process_group()


def accelerator_present() -> bool:
    """Whether a device mmengine initialises itself is present.

    Looked up through ``mmengine.dist.utils`` at call time, so it answers
    what mmengine's own launcher code would see.
    """
    from mmengine.dist import utils
    return (torch.cuda.is_available() or utils.is_npu_available()
            or utils.is_mlu_available() or utils.is_musa_available())


def _cpu_fallback(original):
    """``original`` unless there is no accelerator and the plain torch
    process group is asked for; then gloo, ranks from the environment."""

    def init(backend='nccl', init_backend='torch', **kwargs):
        if accelerator_present() or init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        if original.__name__ == '_init_dist_slurm':
            _slurm_env(kwargs.pop('port', None))
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **kwargs)

    init.__name__ = original.__name__
    init.__doc__ = original.__doc__
    init.__wrapped__ = original
    init._emoreg_cpu_aware = True
    return init


def _slurm_env(port=None) -> None:
    """Set what mmengine's Slurm initialisation sets, the same way: rank,
    world size and local rank from ``SLURM_*``, the master address from
    ``scontrol show hostname``, the port from ``port``, ``MASTER_PORT`` or
    29500."""
    node_list = os.environ['SLURM_NODELIST']
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ['RANK'] = os.environ['SLURM_PROCID']


def ddp_wrapper_cfg(cfg) -> None:
    """Fill ``cfg.model_wrapper_cfg`` for CPU-only distributed training.

    Without an accelerator, DDP must not be given ``device_ids``. Configs
    that set their own ``model_wrapper_cfg``, and machines with an
    accelerator, are left as they are.

    Args:
        cfg (mmengine.Config): The full config, modified in place.
    """
    if accelerator_present() or cfg.get('model_wrapper_cfg') is not None:
        return
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel',
        device_ids=None,
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))


def apply() -> None:
    """Patch mmengine's torchrun and Slurm initialisation to fall back to
    gloo where there is no accelerator."""
    from mmengine.dist import utils
    for name in ('_init_dist_pytorch', '_init_dist_slurm'):
        fn = getattr(utils, name)
        if not getattr(fn, '_emoreg_cpu_aware', False):
            setattr(utils, name, _cpu_fallback(fn))
