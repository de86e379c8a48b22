"""Paired runs: every regulation mode starts from the same weights and
draws the same batch augmentations and N's dropout at one seed."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ..rng_streams import InStream, RngStream, is_stochastic, \
    run_module_in_stream


@HOOKS.register_module()
class PairedInitHook(Hook):
    """Reseed before the weights are initialised, and give the draws that
    every mode shares streams of their own.

    Weights: mmengine seeds once, then builds the model: every module built
    before a given one draws from the same stream, so the weights N gets
    depend on what else the mode builds (a plain classifier builds one
    linear head, an N + I model two). Reseeded here (``before_run``, the
    last point before ``Runner._init_model_weights``; the lowest priority
    runs it after every other hook's), every mode's ``init_weights`` starts
    from the same state. Together with the wrapper building N first (I and
    E built on a forked generator) and the head initialising h_N before
    h_I, two modes run at one seed start N, h_N (and h_I) from identical
    weights.

    Draws during training (``before_train``): after initialisation the
    global generators stand where each mode's extra modules left them, and
    I draws from them between N's draws. So the data preprocessor's batch
    augmentations (MixUp, CutMix, ...) and, where N has dropout or drop
    path, N's forward each run in a stream of their own
    (:class:`~emoreg_mm.engine.rng_streams.RngStream`, seeded from
    ``randomness.seed`` and the stream's name): at one seed every mode
    mixes the same images with the same weights and drops the same units
    of N. The data order follows the seed already (the sampler and the
    dataloader workers are seeded from it). The streams' states go into
    checkpoints (``checkpoint['paired_streams']``) and are restored on
    ``--resume``, so a resumed run draws what the uninterrupted one did.

    Args:
        streams (bool): Give batch augmentations and N's stochastic layers
            their own streams. Defaults to True.
    """

    priority = 'LOWEST'

    def __init__(self, streams: bool = True):
        self.streams = streams
        self._streams = {}
        self._loaded = {}

    def before_run(self, runner) -> None:
        """Reseed the torch generators (CPU and every device)."""
        torch.manual_seed(runner.seed)

    def _stream(self, runner, name: str) -> RngStream:
        stream = RngStream(runner.seed, name, self._loaded.get(name))
        self._streams[name] = stream
        return stream

    def before_train(self, runner) -> None:
        """Put the batch augmentations and N's forward in their streams."""
        if not self.streams:
            return
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        pre = getattr(model, 'data_preprocessor', None)
        augments = getattr(pre, 'batch_augments', None)
        if augments is not None and not isinstance(augments, InStream):
            pre.batch_augments = InStream(
                augments, self._stream(runner, 'batch_augments'))
        backbone = getattr(model, 'backbone', None)
        n = getattr(backbone, 'encoder_n', backbone)
        if n is not None and is_stochastic(n):
            run_module_in_stream(n, self._stream(runner, 'encoder_n'))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save the streams' states."""
        if self._streams:
            checkpoint['paired_streams'] = {
                name: stream.state for name, stream in self._streams.items()}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the streams' states of a checkpoint resumed from."""
        if getattr(runner, '_resume', False):
            self._loaded = dict(checkpoint.get('paired_streams') or {})
