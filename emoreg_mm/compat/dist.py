"""Distributed training with ``--launcher pytorch`` on machines without GPUs.

mmengine 0.10.7 calls ``torch.cuda.set_device`` unconditionally when it
initialises a torchrun launch, and wraps the model with
``device_ids=[LOCAL_RANK]``. Both fail on a CPU-only machine. Here the
process group uses gloo when CUDA is unavailable (NCCL and the usual device
placement otherwise), and :func:`ddp_wrapper_cfg` gives the matching DDP
wrapper config.
"""
import os

import torch
import torch.distributed as torch_dist


def _init_dist_pytorch_cpu_aware(original):

    def init(backend='nccl', init_backend='torch', **kwargs):
        if torch.cuda.is_available() or init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **kwargs)

    init._emoreg_cpu_aware = True
    return init


def ddp_wrapper_cfg(cfg) -> None:
    """Fill ``cfg.model_wrapper_cfg`` for CPU-only distributed training.

    Without a GPU, DDP must not be given ``device_ids``. Configs that set
    their own ``model_wrapper_cfg`` are left as they are.

    Args:
        cfg (mmengine.Config): The full config, modified in place.
    """
    if torch.cuda.is_available() or cfg.get('model_wrapper_cfg') is not None:
        return
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel',
        device_ids=None,
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))


def apply() -> None:
    """Patch mmengine's torchrun initialisation to fall back to gloo."""
    from mmengine.dist import utils
    if not getattr(utils._init_dist_pytorch, '_emoreg_cpu_aware', False):
        utils._init_dist_pytorch = _init_dist_pytorch_cpu_aware(
            utils._init_dist_pytorch)
