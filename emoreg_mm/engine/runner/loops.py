"""An epoch-based train loop that resumes exactly where a run stopped."""
from typing import Iterator, Sized

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import LOOPS


class _SkipFirst:
    """Wrap a sampler so that iterating it skips its first ``num`` indices.

    ``len()`` stays the full epoch length, so ``len(dataloader)`` and the
    batch indices the loop gives hooks (logging, intervals) keep counting in
    the whole epoch. Other attributes (``set_epoch``, ``seed``) pass through.
    """

    def __init__(self, sampler: Sized, num: int):
        self.sampler = sampler
        self.num = num

    def __iter__(self) -> Iterator:
        indices = iter(self.sampler)
        for _ in range(self.num):
            next(indices, None)
        return indices

    def __len__(self) -> int:
        return len(self.sampler)

    def __getattr__(self, name):
        return getattr(self.sampler, name)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """:class:`EpochBasedTrainLoop` that resumes mid-epoch without replay.

    mmengine's loop, resumed from a checkpoint saved inside an epoch (e.g. by
    :class:`PreemptionHook`), trains that epoch again from its first batch.
    This loop skips the batches the checkpoint has already trained on: the
    sampler's order is fixed by seed and epoch (``DefaultSampler``), so the
    remaining batches are exactly those the interrupted run would have seen.

    Skipping happens in the sampler, so the skipped images are neither read
    nor augmented (and draw no random numbers). A dataloader built with a
    custom ``batch_sampler`` that has no ``sampler`` / ``batch_size`` falls
    back to loading and discarding the skipped batches.

    Args are those of :class:`mmengine.runner.EpochBasedTrainLoop`; use it
    with ``train_cfg = dict(type='ResumableEpochBasedTrainLoop',
    max_epochs=..., val_interval=...)``.
    """

    def run_epoch(self) -> None:
        """Iterate one epoch, from the first batch not yet trained on."""
        done = self._iter - self._epoch * len(self.dataloader)
        if not 0 < done < len(self.dataloader):
            return super().run_epoch()
        print_log(
            f'Resuming inside epoch {self._epoch + 1}: skipping its first '
            f'{done} of {len(self.dataloader)} batches (already trained).',
            logger='current')
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        batch_sampler = getattr(self.dataloader, 'batch_sampler', None)
        sampler = getattr(batch_sampler, 'sampler', None)
        batch_size = getattr(batch_sampler, 'batch_size', None)
        if sampler is not None and isinstance(batch_size, int):
            batch_sampler.sampler = _SkipFirst(sampler, done * batch_size)
            try:
                for idx, data_batch in enumerate(self.dataloader, done):
                    self.run_iter(idx, data_batch)
            finally:
                batch_sampler.sampler = sampler
        else:
            for idx, data_batch in enumerate(self.dataloader):
                if idx >= done:
                    self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
