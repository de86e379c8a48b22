"""The three encoders of Emotional Regulation (``docs/method.md``).

From one backbone config, :class:`EmotionalBackboneWrapper` builds the
non-emotional encoder N, the emotionally-influenced encoder I and the frozen
emotional encoder E with its emotion head g_E. One forward pass runs the
branches it built on the same input tensor and returns
:class:`EmotionalFeatures`, which :class:`RegulationHead` turns into the
affect, rho and the fused prediction.

Beside it: the stage-1 loader (:mod:`.stage1`), and the two speed paths'
own code, the stage split for ``share_frozen_prefix`` (:mod:`.staged`) and
the affect cache (:mod:`emoreg_mm.models.affect_cache`). What stays here is
one idea, the three encoders as one module: how they are built (paired
initialisation), run (one forward, E first, the speed paths chosen), kept
frozen and initialised; most of its length is the Args of the docstring.
"""
import copy
import logging
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..affect_cache import AffectCache, sample_key, weights_fingerprint
from ..regulators import ALL_BRANCHES
from . import staged
from .stage1 import load_stage1

#: Where E, g_E and I start (``EmotionalBackboneWrapper(emotional_init)``).
EMOTIONAL_INITS = ('stage1', 'random')


class EmotionalFeatures(NamedTuple):
    """Output of :class:`EmotionalBackboneWrapper`; a field is None when its
    branch is not built.

    Attributes:
        feat_n (Tensor | None): Pooled features of N, ``(B, C)``.
        feat_i (Tensor | None): Pooled features of I, ``(B, C)``.
        emotion_logits (Tensor | None): g_E(E(x)), ``(B, K)``, no gradient.
    """
    feat_n: Optional[torch.Tensor]
    feat_i: Optional[torch.Tensor]
    emotion_logits: Optional[torch.Tensor]

    @property
    def branches(self) -> tuple:
        """The branches that produced an output, e.g. ``('N', 'I', 'E')``."""
        return tuple(b for b, out in zip(ALL_BRANCHES, self)
                     if out is not None)


class PooledEncoder(BaseModule):
    """A backbone and an optional neck that pool an image to one vector.

    Its state dict keys (``backbone.*``, ``neck.*``) are those of an
    mmpretrain ``ImageClassifier``, so a stage-1 checkpoint loads as is.

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Neck config, e.g.
            ``dict(type='GlobalAveragePooling')``. Defaults to None.
    """

    def __init__(self, backbone: dict, neck: Optional[dict] = None):
        super().__init__()
        self.backbone = MODELS.build(copy.deepcopy(backbone))
        self.neck = MODELS.build(copy.deepcopy(neck)) if neck else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.backbone(x))

    def pool(self, out) -> torch.Tensor:
        """Neck + last output of the backbone's output tuple."""
        if self.neck is not None:
            out = self.neck(out)
        feat = out[-1] if isinstance(out, (tuple, list)) else out
        if feat.dim() != 2:
            raise ValueError(
                f'{type(self.backbone).__name__} gives features of shape '
                f'{tuple(feat.shape)}, not a vector per image: set '
                "neck=dict(type='GlobalAveragePooling') on the wrapper.")
        return feat


def python_scalars(module: nn.Module) -> None:
    """Make numpy scalars that layers keep as attributes (mmpretrain's
    drop-path rates come from ``np.linspace``: ``DropPath.drop_prob`` is a
    ``numpy.float64``) Python numbers: TorchDynamo breaks the graph on
    arithmetic with numpy scalars, once per layer."""
    for sub in module.modules():
        for name, value in list(vars(sub).items()):
            if isinstance(value, np.generic):
                setattr(sub, name, value.item())


@MODELS.register_module()
class EmotionalBackboneWrapper(BaseModule):
    """Non-emotional, emotionally-influenced and emotional encoders.

    All encoders share ``backbone`` (+ ``neck``). Initialisation, done by
    :meth:`init_weights` (which mmengine's Runner calls before training):

    - N: from the backbone config's own ``init_cfg`` (ImageNet weights or
      scratch).
    - I: from the stage-1 checkpoint's ``backbone.*`` / ``neck.*``.
    - E and g_E: from the stage-1 checkpoint's ``backbone.*`` / ``neck.*``
      and ``head.fc.*``; frozen (``requires_grad=False``, always in eval
      mode, run under ``torch.no_grad()``), never re-initialised.

    Paired runs: N is built first and I, E, g_E on a forked generator, so
    at one seed N gets the weights a plain classifier's backbone gets (with
    :class:`~emoreg_mm.engine.hooks.PairedInitHook` reseeding before
    ``init_weights``); modes differ only by what they add.

    ``emotional_init='random'`` is the untrained control (docs/method.md,
    "Controls"): no stage 1 at all. E and g_E keep random weights of the
    stage-1 architecture, the backbone config's class defaults without its
    ``init_cfg`` (so no ImageNet weights), drawn on the CPU from
    ``emotional_seed`` when the wrapper is built (the same E at every run
    seed and on every device, as one stage-1 checkpoint is for all seeds),
    and frozen as always; I starts as N does, from the backbone config's
    own ``init_cfg``, on a fork of the generator (it shifts nothing drawn
    after it).

    Stage-1 weights load strictly. A stage-2 checkpoint already holds E, I
    and g_E, so a model built for inference and loaded from it never reads
    the stage-1 file (only :meth:`init_weights` does).

    The wrapper owns g_E and outputs the raw emotion logits; the head turns
    them into the affective state (with its temperature).

    Args:
        backbone (dict): Config of any mmpretrain backbone whose (necked)
            output pools to one vector per image.
        neck (dict, optional): Neck applied to every encoder's output, e.g.
            ``dict(type='GlobalAveragePooling')`` for CNNs; None for ViT with
            ``out_type='cls_token'``. Defaults to None.
        branches (Sequence[str]): Encoders to build and run, a subset of
            ``('N', 'I', 'E')``: those of the head's regulator, which
            :class:`RegulatedImageClassifier` sets (leave it unset in a
            config). Defaults to ``('N', 'I', 'E')``.
        emotional_checkpoint (str, optional): Stage-1 checkpoint (a plain
            mmpretrain ``ImageClassifier`` with a ``LinearClsHead``), or the
            stage-1 work dir, whose latest checkpoint (its
            ``last_checkpoint`` record) is used. Required when ``'I'`` or
            ``'E'`` is in ``branches``, unless ``emotional_init='random'``
            (then it must be None). Defaults to None.
        emotional_checkpoint_config (str, optional): The stage-1 config that
            produces ``emotional_checkpoint``, named in the error when the
            file is missing. Defaults to None.
        emotional_init (str): Where E, g_E and I start: ``'stage1'``, from
            ``emotional_checkpoint``; ``'random'``, the untrained control
            (above), which reads no checkpoint. Defaults to ``'stage1'``.
        emotional_seed (int): Seed of E's and g_E's random weights with
            ``emotional_init='random'``. Defaults to 0.
        in_channels (int, optional): Feature dimension of the pooled encoder
            output (input of g_E). Required when ``'E'`` is in ``branches``.
            Defaults to None.
        num_emotions (int): Number of emotion categories K of g_E: the
            length of the head's ``emotion_classes``, which
            :class:`RegulatedImageClassifier` sets (leave it unset in a
            config). Defaults to 8.
        frozen_stages_i (int, optional): ``frozen_stages`` of I only
            (overrides the backbone config's for I; N keeps the config's, E
            is frozen whole). Defaults to None.
        share_frozen_prefix (bool): Compute the stages that I holds frozen
            (from stage 1, like E's) once, with E's modules under no_grad,
            and feed both E's and I's remaining stages. Exact (I's frozen
            stages equal E's, checked after every load). ResNet family and
            VisionTransformer. Defaults to False.
        affect_cache (bool | dict): Reuse each training image's emotion
            logits (:mod:`emoreg_mm.models.affect_cache`). ``True`` or a
            dict with ``cache_dir`` (persist to disk), ``dataset_id`` (dataset
            identity of a lazily filled cache) and ``eval`` (also use it in
            eval mode; only when evaluating cached images). Needs the data
            samples: use ``type='RegulatedImageClassifier'``. Defaults to
            False.
        channels_last (bool): Keep the encoders' 4-d weights and the input in
            channels-last memory format (faster convolutions on recent CPUs
            and on tensor-core GPUs). Defaults to False.
        init_cfg (dict, optional): The config to control the initialization
            of the wrapper. The stage-1 weights are loaded after it, so it
            never changes E, I or g_E. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 branches: Sequence[str] = ALL_BRANCHES,
                 emotional_checkpoint: Optional[str] = None,
                 emotional_checkpoint_config: Optional[str] = None,
                 emotional_init: str = 'stage1',
                 emotional_seed: int = 0,
                 in_channels: Optional[int] = None,
                 num_emotions: int = 8,
                 frozen_stages_i: Optional[int] = None,
                 share_frozen_prefix: bool = False,
                 affect_cache: Union[bool, dict] = False,
                 channels_last: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        branches = tuple(branches)
        if not branches or not set(branches) <= set(ALL_BRANCHES):
            raise ValueError(f'branches must be a non-empty subset of '
                             f'{ALL_BRANCHES}, got {branches!r}.')
        if emotional_init not in EMOTIONAL_INITS:
            raise ValueError(f'emotional_init={emotional_init!r} is not '
                             f'supported; expected one of {EMOTIONAL_INITS}.')
        random_e = emotional_init == 'random'
        if random_e and emotional_checkpoint is not None:
            raise ValueError(
                "emotional_init='random' (the untrained control) reads no "
                f"stage-1 checkpoint, but emotional_checkpoint="
                f"{emotional_checkpoint!r} is set: unset one of them.")
        if not random_e and emotional_checkpoint is None and \
                {'I', 'E'} & set(branches):
            raise ValueError(
                f'branches={branches} include I or E, which load the '
                'stage-1 checkpoint: set emotional_checkpoint (and '
                'emotional_checkpoint_config, the stage-1 config making it), '
                "or emotional_init='random' for the untrained control.")
        if random_e and share_frozen_prefix:
            raise ValueError(
                "share_frozen_prefix shares I's frozen stages with E, which "
                "emotional_init='random' starts apart: unset it.")
        if 'E' in branches and in_channels is None:
            raise ValueError('in_channels (the pooled feature dimension, '
                             "input of g_E) is required when 'E' is in "
                             'branches.')
        self.branches = tuple(b for b in ALL_BRANCHES if b in branches)
        self.emotional_checkpoint = emotional_checkpoint
        self.emotional_checkpoint_config = emotional_checkpoint_config
        self.emotional_init = emotional_init
        self.emotional_seed = emotional_seed

        backbone_i = dict(backbone)
        if frozen_stages_i is not None:
            backbone_i['frozen_stages'] = frozen_stages_i
        # Paired runs: N draws from the global generator exactly as the
        # backbone of a plain classifier would; I, E and g_E (overwritten by
        # stage 1) draw from a fork, so they shift nothing built after them.
        self.encoder_n = PooledEncoder(backbone, neck) \
            if 'N' in branches else None
        self.encoder_i = self.encoder_e = self.emotion_head = None
        with torch.random.fork_rng(devices=[]):
            if 'I' in branches:
                self.encoder_i = PooledEncoder(backbone_i, neck)
            if 'E' in branches and random_e:
                self._build_random_e(backbone, neck, in_channels,
                                     num_emotions)
            elif 'E' in branches:
                self.encoder_e = PooledEncoder(backbone, neck)
                self.emotion_head = nn.Linear(in_channels, num_emotions)
        if 'E' in branches:
            for param in self.frozen_parameters():
                param.requires_grad_(False)
            self.encoder_e.eval()
            self.emotion_head.eval()

        self.shared_stages = 0  # stages computed once for E and I
        if share_frozen_prefix:
            self.shared_stages = self._shared_stages()
        self._prefix_checked = False

        self.affect_cache = None
        self.affect_cache_eval = False
        if affect_cache:
            if 'E' not in self.branches:
                raise ValueError(
                    f'affect_cache caches E, which branches={self.branches} '
                    'does not build: unset it.')
            cache_cfg = dict(affect_cache) if isinstance(affect_cache,
                                                         dict) else {}
            self.affect_cache_eval = bool(cache_cfg.pop('eval', False))
            self.affect_cache = AffectCache(**cache_cfg)
        self._weights_fp = None

        python_scalars(self)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def _build_random_e(self, backbone: dict, neck: Optional[dict],
                        in_channels: int, num_emotions: int) -> None:
        """E and g_E of random weights (``emotional_init='random'``): built
        and initialised now, on the CPU generator seeded with
        ``emotional_seed`` (the caller forks it)."""
        torch.random.default_generator.manual_seed(self.emotional_seed)
        self.encoder_e = PooledEncoder(
            {k: v for k, v in backbone.items() if k != 'init_cfg'}, neck)
        self.emotion_head = nn.Linear(in_channels, num_emotions)
        logger = MMLogger.get_current_instance()
        level = logger.level  # E alone: no report of each parameter's init
        logger.setLevel(logging.WARNING)
        try:
            self.encoder_e.init_weights()
        finally:
            logger.setLevel(level)

    def frozen_parameters(self):
        """Parameters of E and g_E (empty when E is not built)."""
        for module in (self.encoder_e, self.emotion_head):
            if module is not None:
                yield from module.parameters()

    def _shared_stages(self) -> int:
        """Validate ``share_frozen_prefix``; the number of shared stages."""
        if self.encoder_e is None or self.encoder_i is None:
            raise ValueError(
                'share_frozen_prefix shares I\'s frozen stages with E: '
                f'branches={self.branches} lack one of them; unset it.')
        return staged.shared_stages(self.encoder_i.backbone)

    @staticmethod
    def _frozen_context():
        """inference_mode for E (no autograd bookkeeping at all); no_grad
        under torch.compile, which traces it more reliably."""
        if torch.compiler.is_compiling():
            return torch.no_grad()
        return torch.inference_mode()

    def _e_logits(self, x=None, state=None) -> torch.Tensor:
        """g_E(E(x)) (or from E's shared-prefix ``state``), float32, a
        normal tensor (cloned out of inference mode: learned regulators save
        the affect for their backward pass)."""
        with self._frozen_context():
            if state is None:
                feat = self.encoder_e(x)
            else:
                feat = self.encoder_e.pool(
                    staged.suffix(self.encoder_e.backbone, state,
                                  self.shared_stages))
            if feat.size(-1) != self.emotion_head.in_features:
                raise ValueError(
                    f'The emotional encoder gives {feat.size(-1)}-d '
                    'features, but model.backbone.in_channels is '
                    f'{self.emotion_head.in_features}: set '
                    f'model.backbone.in_channels={feat.size(-1)} (and '
                    'model.head.in_channels).')
            logits = self.emotion_head(feat)
        return logits.float() if logits.dtype != torch.float32 else \
            logits.clone()

    @torch.no_grad()
    def emotion_logits(self, x: torch.Tensor) -> torch.Tensor:
        """g_E(E(x)) of a batch (used by the affect cache's fill pass)."""
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self._e_logits(x)

    def bind_affect_cache(self, dataset_fp: Optional[str] = None) -> None:
        """Bind the affect cache to the current E / g_E weights (hashed once
        per load) and ``dataset_fp``."""
        if self._weights_fp is None:
            self._weights_fp = weights_fingerprint(
                [self.encoder_e, self.emotion_head])
        self.affect_cache.bind(self._weights_fp, dataset_fp)

    @torch.compiler.disable
    def _cached_logits(self, x, data_samples, state=None):
        """Emotion logits from the cache; misses computed and stored.

        Outside any ``torch.compile`` region (run eagerly, one graph break):
        traced, the lookup would guard on every sample key and recompile
        for each new batch."""
        if data_samples is None:
            raise ValueError(
                'affect_cache needs the data samples (their img_path / '
                "sample_idx): build the model with type="
                "'RegulatedImageClassifier'.")
        self.bind_affect_cache()

        def compute(idx):
            if idx is None:
                return self._e_logits(x, state)
            idx = torch.tensor(idx, device=x.device)
            sub = None if state is None else (
                state[idx] if torch.is_tensor(state) else
                (state[0][idx], ) + tuple(state[1:]))
            return self._e_logits(x[idx], sub)

        keys = [sample_key(s) for s in data_samples]
        return self.affect_cache.fetch(keys, compute).to(x.device,
                                                         non_blocking=True)

    def forward(self,
                x: torch.Tensor,
                data_samples: Optional[list] = None) -> EmotionalFeatures:
        """Run every built encoder on the same ``x`` (no copy per encoder).

        Args:
            x (Tensor): The batch.
            data_samples (list, optional): Its data samples; needed (for
                their keys) only with ``affect_cache``.

        Returns:
            EmotionalFeatures: ``feat_n``, ``feat_i`` and ``emotion_logits``
            (None for a branch not built).
        """
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        use_cache = self.affect_cache is not None and (
            self.training or self.affect_cache_eval)
        # E first: its transient activations are freed before N's and I's
        # saved activations pile up (a lower peak memory).
        emotion_logits = feat_i = None
        if self.shared_stages:
            if not self._prefix_checked:
                staged.check_shared(self.encoder_i.backbone,
                                    self.encoder_e.backbone,
                                    self.shared_stages)
                self._prefix_checked = True
            with torch.no_grad():  # I's backward needs it: no inference_mode
                state = staged.prefix(self.encoder_e.backbone, x,
                                      self.shared_stages)
            emotion_logits = self._cached_logits(x, data_samples, state) \
                if use_cache else self._e_logits(state=state)
            feat_i = self.encoder_i.pool(
                staged.suffix(self.encoder_i.backbone, state,
                              self.shared_stages))
            del state
        elif self.encoder_e is not None:
            emotion_logits = self._cached_logits(x, data_samples) \
                if use_cache else self._e_logits(x)
        feat_n = self.encoder_n(x) if self.encoder_n is not None else None
        if feat_i is None and self.encoder_i is not None:
            feat_i = self.encoder_i(x)
        return EmotionalFeatures(feat_n, feat_i, emotion_logits)

    def train(self, mode: bool = True) -> 'EmotionalBackboneWrapper':
        """Set train mode; E and g_E stay in eval mode (BatchNorm statistics,
        dropout)."""
        super().train(mode)
        for module in (self.encoder_e, self.emotion_head):
            if module is not None:
                module.eval()
        if self.shared_stages:  # I's shared stages run as E's: eval too
            for module in staged.prefix_modules(self.encoder_i.backbone,
                                                self.shared_stages):
                module.eval()
        return self

    def _load_from_state_dict(self, *args, **kwargs):
        # New weights: re-hash E for the cache, re-check the shared prefix.
        self._weights_fp = None
        self._prefix_checked = False
        super()._load_from_state_dict(*args, **kwargs)

    def init_weights(self) -> None:
        """:meth:`_init_weights` on weights in the contiguous format.

        Initialisers fill a tensor in memory order, so the same draws give
        other weights in channels-last format: N would not start as the
        plain backbone of the same seed (paired runs). The weights are
        drawn contiguous, then converted.
        """
        if not self.channels_last:
            return self._init_weights()
        self.to(memory_format=torch.contiguous_format)
        try:
            self._init_weights()
        finally:
            self.to(memory_format=torch.channels_last)

    def _init_weights(self) -> None:
        """Initialise N from its ``init_cfg``, then load the stage-1
        checkpoint into I, E and g_E (with ``emotional_init='random'``:
        I from the same ``init_cfg`` as N, on a fork of the generator; E
        and g_E keep the weights they were built with).

        Raises:
            FileNotFoundError: The stage-1 checkpoint is missing; the message
                names the stage-1 config that produces it.
            RuntimeError: The stage-1 weights do not match the architecture;
                the message lists missing / unexpected keys or shapes.
        """
        if self.is_init:
            return super().init_weights()  # mmengine warns and skips
        # I and E must not receive the backbone's own init_cfg (e.g.
        # ImageNet weights): mark them initialised, load stage 1 last.
        for enc in (self.encoder_i, self.encoder_e):
            if enc is not None:
                enc.is_init = True
        super().init_weights()
        if self.emotional_init == 'random':
            if self.encoder_i is not None:
                devices = sorted({p.device.index for p in
                                  self.encoder_i.parameters() if p.is_cuda})
                with torch.random.fork_rng(devices=devices):
                    self.encoder_i.is_init = False
                    self.encoder_i.init_weights()
        elif self.encoder_i is not None or self.encoder_e is not None:
            self.load_emotional_checkpoint()

    def load_emotional_checkpoint(self) -> None:
        """Load the stage-1 checkpoint strictly into I, E and g_E
        (:func:`~.stage1.load_stage1`); keeps what stage 1 recorded
        (``emotional_meta``, e.g. its emotion classes) for checks."""
        encoders = [enc for enc in (self.encoder_i, self.encoder_e)
                    if enc is not None]
        self.emotional_meta = load_stage1(self.emotional_checkpoint,
                                          encoders, self.emotion_head,
                                          self.emotional_checkpoint_config)
        self._weights_fp = None
        self._prefix_checked = False
