"""Carry the random number generators' states through checkpoints."""
import random

import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ..rng_streams import capture, restore


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the Python, numpy and torch RNG states; restore them on resume.

    mmengine reseeds a resumed run from the config's seed, so random
    augmentations (in the main process) and dropout draw other numbers than
    the uninterrupted run did after the checkpoint. With this hook a run
    resumed in the same setting continues with exactly the numbers it would
    have drawn. The states go into ``checkpoint['random_state']`` as tensors
    and plain lists, so checkpoints stay loadable by the safe loader.

    Only ``--resume`` restores them (not ``load_from``). Limits: rank 0
    writes the checkpoint, so every rank restores rank 0's states (the same
    as their own when the ranks draw alike, e.g. ``diff_rank_seed=False``);
    dataloader workers reseed themselves when they start, so with
    ``num_workers > 0`` and ``persistent_workers=True`` augmentations after
    a resume differ from the uninterrupted run.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add the current RNG states to ``checkpoint``."""
        state = capture()  # torch's and numpy's, plain
        state['python'] = random.getstate()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()  # every device
        checkpoint['random_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the RNG states when resuming."""
        state = checkpoint.get('random_state')
        if state is None or not getattr(runner, '_resume', False):
            return
        version, internal, gauss = state['python']
        random.setstate((version, tuple(internal), gauss))
        restore(dict(torch=state['torch'], numpy=state['numpy']))
        if 'cuda' in state and torch.cuda.is_available() and \
                len(state['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])
        runner.logger.info('Restored the random number generator states of '
                           'the checkpoint.')
