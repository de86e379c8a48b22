"""Absolute figures of ``tools/analysis_tools/benchmark.py`` beside its
ratios: images/s, FLOPs per image, model FLOPs utilisation (MFU), the
input path's images/s per data worker and the loss path's dtypes.

* FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one training
  step (forward and backward; matrix products and convolutions) divided by
  the batch size.
* MFU: FLOPs of a step / step time / the device's dense bf16 peak
  (:data:`BF16_PEAK_TFLOPS` by device name, or ``--peak-tflops``).
* Input path: the shipped 224-px stage-2 train pipeline
  (``configs/_base_/datasets/cifar10.py``) on random 32 x 32 images in this
  process, one thread: what one data worker (one core) delivers, and the
  bytes of a packed image it ships.
"""
import copy
import os.path as osp
import time
from typing import Optional

import numpy as np
import torch

#: Dense bf16 tensor-core peaks in TFLOP/s (no sparsity), by a part of the
#: device name, first match: the SXM parts' figures (PCIe / NVL parts are
#: lower: give ``--peak-tflops``).
BF16_PEAK_TFLOPS = (('H200', 989.4), ('H100 PCIe', 756.5), ('H100', 989.4),
                    ('A100', 312.0), ('L40S', 362.1), ('L4', 121.0))

#: The stage-2 224-px target whose train pipeline the input path runs.
INPUT_PIECE = 'configs/_base_/datasets/cifar10.py'


def peak_tflops(device: str, given: Optional[float] = None):
    """(device name, dense bf16 peak in TFLOP/s or None)."""
    if device != 'cuda':
        return 'cpu', given
    name = torch.cuda.get_device_name()
    if given is not None:
        return name, given
    return name, next((peak for part, peak in BF16_PEAK_TFLOPS
                       if part in name), None)


def train_step_figures(bench) -> tuple:
    """FLOPs of one training step of a benchmark model (forward and
    backward, eager) and the dtypes of rho and of the loss in it (rho
    None: no regulator)."""
    from torch.utils.flop_counter import FlopCounterMode
    seen = {}

    def record(module, inputs, rho):
        seen.setdefault('rho', str(rho.dtype))

    regulator = getattr(getattr(bench.model, 'head', None), 'regulator',
                        None)
    handle = regulator.register_forward_hook(record) \
        if regulator is not None else None
    bench.model.train()
    try:
        with FlopCounterMode(display=False) as counter, bench.autocast():
            out = bench.model.train_step(bench.data, bench.optim_wrapper)
    finally:
        if handle is not None:
            handle.remove()
    return float(counter.get_total_flops()), dict(
        rho=seen.get('rho'), loss=str(out['loss'].dtype))


def input_path(images: int = 256) -> dict:
    """Images/s of the shipped train pipeline in this process (one data
    worker) and the bytes of a packed image."""
    import cv2
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    from .config_names import packaged_configs_root
    init_default_scope('mmpretrain')
    path = osp.join(packaged_configs_root(), osp.relpath(INPUT_PIECE,
                                                         'configs'))
    pipeline = Compose(copy.deepcopy(Config.fromfile(path).train_pipeline))
    rng = np.random.default_rng(0)
    data = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            for _ in range(images)]
    # as a data worker runs: one torch thread (torch sets it in workers),
    # no OpenCV threads (env_cfg.mp_cfg)
    threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    try:
        for img in data[:16]:  # warm-up
            pipeline(dict(img=img, img_shape=img.shape[:2], gt_label=0))
        start = time.perf_counter()
        for img in data:
            out = pipeline(dict(img=img, img_shape=img.shape[:2],
                                ori_shape=img.shape[:2], gt_label=0))
        seconds = time.perf_counter() - start
    finally:
        cv2.setNumThreads(threads[0])
        torch.set_num_threads(threads[1])
    packed = out['inputs']
    return dict(pipeline=INPUT_PIECE, images=images,
                images_per_s_per_worker=images / seconds,
                shape=list(packed.shape),
                bytes_per_image=packed.numel() * packed.element_size())


def figures(benches, settings, peak: Optional[float]) -> list:
    """Per model: images/s, FLOPs per image and MFU of training, and the
    loss path's dtypes."""
    import statistics
    rows = []
    for bench in benches:
        step = statistics.median(bench.times['train'])
        flops, dtypes = train_step_figures(bench)
        rows.append(dict(
            model=bench.name, train_ms=step * 1e3,
            images_per_s=settings.batch_size / step,
            gflops_per_image=flops / settings.batch_size / 1e9,
            mfu=flops / step / (peak * 1e12) if peak else None,
            peak_mb_train=bench.memory.get('train', 0) / 2**20 or None,
            dtypes=dtypes))
    return rows
