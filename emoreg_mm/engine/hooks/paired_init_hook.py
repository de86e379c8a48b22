"""Start every regulation mode from the same weights at one seed."""
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class PairedInitHook(Hook):
    """Reseed torch's generator with ``randomness.seed`` just before the
    runner initialises the model weights.

    mmengine seeds once, then builds the model: every module built before a
    given one draws from the same stream, so the weights N gets depend on
    what else the mode builds (a plain classifier builds one linear head, an
    N + I model two). Reseeded here, every mode's ``init_weights`` starts
    from the same state. Together with the wrapper building N first (I and E
    built on a forked generator) and the head initialising h_N before h_I,
    two modes run at one seed start N, h_N (and h_I) from identical
    weights; the data order and augmentations follow the seed already
    (the sampler and the dataloader workers are seeded from it).

    ``before_run`` is the last point before ``Runner._init_model_weights``;
    the lowest priority runs it after every other hook's ``before_run``.
    Resumed runs load their weights afterwards, so resuming is unaffected.
    """

    priority = 'LOWEST'

    def before_run(self, runner) -> None:
        """Reseed the torch generators (CPU and every device)."""
        torch.manual_seed(runner.seed)
