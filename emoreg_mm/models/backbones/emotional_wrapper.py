"""The three encoders of Emotional Regulation (``docs/method.md``).

From one backbone config, :class:`EmotionalBackboneWrapper` builds the
non-emotional encoder N, the emotionally-influenced encoder I and the frozen
emotional encoder E with its emotion head g_E. One forward pass runs the
branches it built on the same input tensor and returns
:class:`EmotionalFeatures`, which :class:`RegulationHead` turns into the
affect, rho and the fused prediction.
"""
import copy
import os.path as osp
from typing import NamedTuple, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.runner import find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint
from mmpretrain.registry import MODELS

from ..regulators import ALL_BRANCHES


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
        out = self.backbone(x)
        if self.neck is not None:
            out = self.neck(out)
        feat = out[-1] if isinstance(out, (tuple, list)) else out
        if feat.dim() != 2:
            raise ValueError(
                f'{type(self.backbone).__name__} gives features of shape '
                f'{tuple(feat.shape)}, not a vector per image: set '
                "neck=dict(type='GlobalAveragePooling') on the wrapper.")
        return feat


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
            ``('N', 'I', 'E')``. Must equal the ``branches`` of the head's
            regulator. Defaults to ``('N', 'I', 'E')``.
        emotional_checkpoint (str, optional): Stage-1 checkpoint (a plain
            mmpretrain ``ImageClassifier`` with a ``LinearClsHead``), or the
            stage-1 work dir, whose latest checkpoint (its
            ``last_checkpoint`` record) is used. Required when ``'I'`` or
            ``'E'`` is in ``branches``. Defaults to None.
        emotional_checkpoint_config (str, optional): The stage-1 config that
            produces ``emotional_checkpoint``, named in the error when the
            file is missing. Defaults to None.
        in_channels (int, optional): Feature dimension of the pooled encoder
            output (input of g_E). Required when ``'E'`` is in ``branches``.
            Defaults to None.
        num_emotions (int): Number of emotion categories K of g_E.
            Defaults to 8.
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
                 in_channels: Optional[int] = None,
                 num_emotions: int = 8,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        branches = tuple(branches)
        if not branches or not set(branches) <= set(ALL_BRANCHES):
            raise ValueError(f'branches must be a non-empty subset of '
                             f'{ALL_BRANCHES}, got {branches!r}.')
        if emotional_checkpoint is None and {'I', 'E'} & set(branches):
            raise ValueError(
                f'branches={branches} include I or E, which load the '
                'stage-1 checkpoint: set emotional_checkpoint (and '
                'emotional_checkpoint_config, the stage-1 config making it).')
        if 'E' in branches and in_channels is None:
            raise ValueError('in_channels (the pooled feature dimension, '
                             "input of g_E) is required when 'E' is in "
                             'branches.')
        self.branches = tuple(b for b in ALL_BRANCHES if b in branches)
        self.emotional_checkpoint = emotional_checkpoint
        self.emotional_checkpoint_config = emotional_checkpoint_config

        encoders = {
            b: PooledEncoder(backbone, neck) if b in branches else None
            for b in ALL_BRANCHES
        }
        self.encoder_n = encoders['N']
        self.encoder_i = encoders['I']
        self.encoder_e = encoders['E']
        self.emotion_head = None
        if 'E' in branches:
            self.emotion_head = nn.Linear(in_channels, num_emotions)
            for param in self.frozen_parameters():
                param.requires_grad_(False)
            self.encoder_e.eval()
            self.emotion_head.eval()

    def frozen_parameters(self):
        """Parameters of E and g_E (empty when E is not built)."""
        for module in (self.encoder_e, self.emotion_head):
            if module is not None:
                yield from module.parameters()

    def forward(self, x: torch.Tensor) -> EmotionalFeatures:
        """Run every built encoder on the same ``x`` (no copy per encoder).

        Returns:
            EmotionalFeatures: ``feat_n``, ``feat_i`` and ``emotion_logits``
            (None for a branch not built).
        """
        feat_n = self.encoder_n(x) if self.encoder_n is not None else None
        feat_i = self.encoder_i(x) if self.encoder_i is not None else None
        emotion_logits = None
        if self.encoder_e is not None:
            # no_grad, not inference_mode: learned regulators save the affect
            # for their own backward pass.
            with torch.no_grad():
                emotion_logits = self.emotion_head(self.encoder_e(x))
        return EmotionalFeatures(feat_n, feat_i, emotion_logits)

    def train(self, mode: bool = True) -> 'EmotionalBackboneWrapper':
        """Set train mode; E and g_E stay in eval mode (BatchNorm statistics,
        dropout)."""
        super().train(mode)
        for module in (self.encoder_e, self.emotion_head):
            if module is not None:
                module.eval()
        return self

    def init_weights(self) -> None:
        """Initialise N from its ``init_cfg``, then load the stage-1
        checkpoint into I, E and g_E.

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
        if self.encoder_i is not None or self.encoder_e is not None:
            self.load_emotional_checkpoint()

    def load_emotional_checkpoint(self) -> None:
        """Load the stage-1 checkpoint strictly into I, E and g_E."""
        state_dict = self._read_emotional_checkpoint()
        encoder = self.encoder_e if self.encoder_e is not None \
            else self.encoder_i
        expected = dict(encoder.state_dict())
        if self.emotion_head is not None:
            expected.update({
                f'head.fc.{k}': v
                for k, v in self.emotion_head.state_dict().items()
            })
        # The stage-1 head is only used by E: without E, ignore it.
        ignored = ('data_preprocessor.', ) + (
            ('head.', ) if self.emotion_head is None else ())
        given = {
            k: v
            for k, v in state_dict.items() if not k.startswith(ignored)
        }
        self._check_keys(expected, given)

        encoder_sd = {
            k: v
            for k, v in given.items() if not k.startswith('head.')
        }
        for enc in (self.encoder_i, self.encoder_e):
            if enc is not None:
                enc.load_state_dict(encoder_sd, strict=True)
        if self.emotion_head is not None:
            self.emotion_head.load_state_dict(
                {
                    k[len('head.fc.'):]: v
                    for k, v in given.items() if k.startswith('head.fc.')
                },
                strict=True)

    def _read_emotional_checkpoint(self) -> dict:
        """Read the stage-1 state dict through mmengine's loader."""
        path = self.emotional_checkpoint
        if osp.isdir(path):  # a stage-1 work dir: its latest checkpoint
            path = find_latest_checkpoint(path) or osp.join(
                path, 'last_checkpoint')
        try:
            checkpoint = _load_checkpoint(path, map_location='cpu')
        except FileNotFoundError as err:
            made_by = (
                f"the stage-1 config: python tools/train.py "
                f"{self.emotional_checkpoint_config}"
                if self.emotional_checkpoint_config else
                'its stage-1 config (set emotional_checkpoint_config '
                'to name it here)')
            raise FileNotFoundError(
                f"Stage-1 emotional checkpoint '{self.emotional_checkpoint}' "
                f'not found. Train {made_by} first, or point to its '
                'checkpoint with --cfg-options '
                'model.backbone.emotional_checkpoint=PATH.') from err
        # What stage 1 recorded (e.g. its emotion classes), for checks.
        self.emotional_meta = dict(checkpoint.get('meta') or {})
        return checkpoint.get('state_dict', checkpoint)

    def _check_keys(self, expected: dict, given: dict) -> None:
        """Raise with the key and shape differences, naming the file."""

        def listing(keys):
            keys = sorted(keys)
            more = f', ... ({len(keys) - 20} more)' if len(keys) > 20 else ''
            return ', '.join(keys[:20]) + more

        missing = expected.keys() - given.keys()
        unexpected = given.keys() - expected.keys()
        shapes = [
            f'{k}: checkpoint {tuple(given[k].shape)} vs model '
            f'{tuple(v.shape)}' for k, v in expected.items()
            if k in given and given[k].shape != v.shape
        ]
        if missing or unexpected or shapes:
            raise RuntimeError(
                f"Stage-1 checkpoint '{self.emotional_checkpoint}' does not "
                'match the wrapper architecture (the backbone, neck and '
                'num_emotions of stage 1 must be the same).\n'
                f'  missing keys ({len(missing)}): {listing(missing)}\n'
                f'  unexpected keys ({len(unexpected)}): '
                f'{listing(unexpected)}\n'
                f'  shape mismatches ({len(shapes)}): {listing(shapes)}')
