"""Fill the affect cache before training (see docs/performance.md)."""
import copy
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict
from mmpretrain.registry import HOOKS

from emoreg_mm.models.affect_cache import fill_affect_cache


def amp_dtype(optim_wrapper):
    """The autocast dtype training runs in: None without mixed precision."""
    wrappers = optim_wrapper.values() if isinstance(
        optim_wrapper, OptimWrapperDict) else [optim_wrapper]
    for wrapper in wrappers:
        if isinstance(wrapper, AmpOptimWrapper):
            # autocast's default on the device: float16
            return wrapper.cast_dtype or torch.float16
    return None


@HOOKS.register_module()
class AffectCacheHook(Hook):
    """Fill the affect cache before training from the un-augmented training
    set: the train dataset with the val (else test) pipeline, or
    ``pipeline``.

    Args:
        pipeline (list, optional): The clean pipeline. Defaults to the
            val / test dataloader's.
        batch_size (int): Batch size of the fill pass. Defaults to 64.
        num_workers (int, optional): Workers of the fill pass. Defaults to
            None: the train dataloader's. Distributed, each rank fills a
            share of the samples and the ranks gather them.
    """

    priority = 'LOW'

    def __init__(self, pipeline=None, batch_size: int = 64,
                 num_workers: Optional[int] = None):
        self.pipeline = pipeline
        self.batch_size = batch_size
        self.num_workers = num_workers

    def before_train(self, runner) -> None:
        cfg = runner.cfg
        dataset = copy.deepcopy(cfg.train_dataloader.dataset)
        pipeline = self.pipeline
        for name in ('val_dataloader', 'test_dataloader'):
            if pipeline is None and cfg.get(name):
                pipeline = cfg.get(name).dataset.get('pipeline')
        if pipeline is None:
            raise ValueError('AffectCacheHook needs the clean pipeline: set '
                             'its pipeline or a val/test dataloader.')
        dataset['pipeline'] = copy.deepcopy(pipeline)
        workers = self.num_workers if self.num_workers is not None else \
            cfg.train_dataloader.get('num_workers', 0)
        computed = fill_affect_cache(runner.model, dataset, self.batch_size,
                                     workers,
                                     amp_dtype(runner.optim_wrapper))
        wrapper = getattr(runner.model, 'module', runner.model).backbone
        runner.logger.info(
            f'Affect cache: {len(wrapper.affect_cache)} samples, '
            f'{computed} computed, file {wrapper.affect_cache.path}')
