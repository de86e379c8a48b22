"""The regulation head: affect -> rho -> fused prediction (``docs/method.md``).

    z_N = h_N(feat_n)                  z_I = h_I(feat_i)
    a   = softmax(emotion_logits / T)  rho = regulator(a)
    p   = (1 - rho) softmax(z_N) + rho softmax(z_I)

With ``affect_space='dimensional'`` the stage-1 head regresses valence and
arousal and a = tanh(emotion_logits) instead; the regulator must read that
space (``BaseRegulator.affect_spaces``).

The loss is mmpretrain's ``loss_module`` applied to log p (computed in log
space): the default ``CrossEntropyLoss`` is the negative log-likelihood of p,
``LabelSmoothLoss`` smooths the target of p, and so on.
"""
import contextlib
import functools
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..backbones.emotional_wrapper import EmotionalFeatures
from ...matrix import MIKELS
from ..regulators import ALL_BRANCHES, build_regulator

#: The canonical 8 emotion categories (Mikels' model, EmoSet's order), the
#: vocabulary of the affective datasets too (``emoreg_mm.matrix``).
DEFAULT_EMOTION_CLASSES = MIKELS


def safe_log(x: torch.Tensor) -> torch.Tensor:
    """log(x) for x in [0, 1] that gives -inf at 0 with a zero (not NaN)
    gradient."""
    tiny = torch.finfo(x.dtype).tiny
    return torch.where(x > 0, x.clamp_min(tiny).log(), float('-inf'))


def fuse_log_probs(log_p_n: torch.Tensor, log_p_i: torch.Tensor,
                   rho: torch.Tensor) -> torch.Tensor:
    """log((1 - rho) p_N + rho p_I) by logsumexp.

    Exact for rho = 0 (gives ``log_p_n``) and rho = 1 (gives ``log_p_i``).

    Args:
        log_p_n (Tensor): log_softmax(z_N), ``(B, C)``.
        log_p_i (Tensor): log_softmax(z_I), ``(B, C)``.
        rho (Tensor): Regulation weights in [0, 1], ``(B, )``.
    """
    rho = rho.unsqueeze(-1).to(log_p_n.dtype)
    return torch.logsumexp(torch.stack(
        [safe_log(1 - rho) + log_p_n,
         safe_log(rho) + log_p_i]),
                           dim=0)


def in_float32(method):
    """Run a head method with autocast off on the features' device and the
    features cast to float32: under mixed precision the backbones run in
    bf16 / fp16, the head (linear layers, log-softmax, regulator, fusion,
    loss) in float32. It costs a (B, D) x (D, C) product per branch."""

    @functools.wraps(method)
    def wrapper(self, feats, *args, **kwargs):
        if not isinstance(feats, EmotionalFeatures):
            return method(self, feats, *args, **kwargs)
        device = next(f for f in feats if f is not None).device.type
        off = torch.autocast(device, enabled=False) \
            if torch.amp.is_autocast_available(device) \
            else contextlib.nullcontext()
        with off:
            return method(
                self,
                EmotionalFeatures(*(f if f is None else f.float()
                                    for f in feats)), *args, **kwargs)

    return wrapper


class RegulatedOutput(NamedTuple):
    """Per-branch outputs of :class:`RegulationHead` (None: no branch)."""
    logits_n: Optional[torch.Tensor]
    logits_i: Optional[torch.Tensor]
    affect: Optional[torch.Tensor]
    rho: torch.Tensor


@MODELS.register_module()
class RegulationHead(ClsHead):
    """Classification head of Emotional Regulation.

    Takes the :class:`EmotionalFeatures` of :class:`EmotionalBackboneWrapper`
    (the classifier must have no neck of its own). Which branches it uses is
    set by the regulator's ``branches``; :class:`RegulatedImageClassifier`
    builds the wrapper with the same ones.

    ``forward`` (``ImageClassifier`` tensor mode) returns logits whose softmax
    is the fused prediction: log p, or the raw logits z_N (z_I) when only N
    (I) is built, so ``baseline`` is exactly a ``LinearClsHead``.

    Predictions carry ``pred_score`` / ``pred_label`` and the fields ``rho``
    (0-d tensor), ``pred_score_n`` / ``pred_score_i`` (softmax(z_N) /
    softmax(z_I), each built branch's own class probabilities, so that
    ``pred_score = (1 - rho) pred_score_n + rho pred_score_i``), and when E
    is built ``affect_score`` (K scores), ``affect_label`` (top emotion
    index) and ``affect_class`` (its name).

    Args:
        num_classes (int): Number of target classes C.
        in_channels (int): Dimension of the pooled encoder features.
        regulator (str | dict): A mode name (``'ereg'``, see
            ``REGULATION_MODES``) or a config of a registered regulator, e.g.
            ``dict(type='RandLearnERegRegulator', seed=1)``.
            Defaults to ``dict(type='LearnERegRegulator')``.
        emotion_classes (Sequence[str], optional): Names of the K emotions
            of the stage-1 head, in its order. Leave it unset in a config:
            :class:`RegulatedImageClassifier` then gives the classes the
            stage-1 checkpoint recorded. None (or unset, built alone) is the
            canonical 8 (``DEFAULT_EMOTION_CLASSES``); a regulated
            classifier built without a stage-1 record of a dimensional state
            names ``('valence', 'arousal')``.
        temperature (float): T of the affect softmax(logits / T).
            Defaults to 1.
        affect_space (str): ``'categorical'``: the stage-1 head gives K
            emotion logits and a = softmax(logits / T), a point of the
            simplex. ``'dimensional'``: it is a stage-1
            ``AffectRegressionHead`` (valence, arousal [, dominance]) and
            a = tanh(its outputs), the rated values in [-1, 1] (T unused;
            ``emotion_classes`` then name the dimensions, as the stage-1
            checkpoint records them). Defaults to ``'categorical'``.
        loss (dict): Config of the classification loss, applied to the
            logits of ``forward`` (log p when fused), as in ``ClsHead``.
            Defaults to ``dict(type='CrossEntropyLoss', loss_weight=1.0)``:
            the negative log-likelihood of p.
        aux_loss_weight (float): Weight of the auxiliary losses (``loss`` on
            z_N and on z_I, each built branch). Defaults to 0.
        topk (int | Tuple[int]): Top-k accuracy when ``cal_acc``.
            Defaults to ``(1, )``.
        cal_acc (bool): Whether to compute training accuracy (hard labels
            only). Defaults to False.
        init_cfg (dict, optional): The config to control the initialization
            of h_N and h_I. Defaults to
            ``dict(type='Normal', layer='Linear', std=0.01)``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 regulator: Union[str, dict] = dict(type='LearnERegRegulator'),
                 emotion_classes: Optional[
                     Sequence[str]] = DEFAULT_EMOTION_CLASSES,
                 temperature: float = 1.,
                 affect_space: str = 'categorical',
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 aux_loss_weight: float = 0.,
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = dict(type='Normal',
                                                 layer='Linear',
                                                 std=0.01)):
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc,
                         init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be positive.')
        if temperature <= 0:
            raise ValueError(f'temperature={temperature} must be positive.')
        if affect_space not in ('categorical', 'dimensional'):
            raise ValueError(f"affect_space={affect_space!r}: expected "
                             "'categorical' or 'dimensional'")
        self.affect_space = affect_space
        if aux_loss_weight < 0:
            raise ValueError(
                f'aux_loss_weight={aux_loss_weight} must be >= 0.')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.emotion_classes = tuple(emotion_classes or
                                     DEFAULT_EMOTION_CLASSES)
        self.temperature = temperature
        self.aux_loss_weight = aux_loss_weight

        self.regulator = build_regulator(regulator, len(self.emotion_classes))
        self.regulator.bind(self.emotion_classes, affect_space)
        self.branches = tuple(b for b in ALL_BRANCHES
                              if b in self.regulator.branches)
        self.fc_n = nn.Linear(in_channels, num_classes) \
            if 'N' in self.branches else None
        self.fc_i = nn.Linear(in_channels, num_classes) \
            if 'I' in self.branches else None

    @in_float32
    def regulate(self, feats: EmotionalFeatures) -> RegulatedOutput:
        """Compute z_N, z_I, the affect and rho."""
        if not isinstance(feats, EmotionalFeatures):
            raise TypeError(
                'RegulationHead takes the EmotionalFeatures of '
                'EmotionalBackboneWrapper, got '
                f'{type(feats).__name__}; give the classifier no neck (set '
                'the neck on the wrapper).')
        affect = None
        if feats.emotion_logits is not None:
            if feats.emotion_logits.size(-1) != len(self.emotion_classes):
                raise ValueError(
                    f'The emotion head gives {feats.emotion_logits.size(-1)} '
                    f'emotions, emotion_classes names '
                    f'{len(self.emotion_classes)}.')
            affect = torch.tanh(feats.emotion_logits) \
                if self.affect_space == 'dimensional' else \
                F.softmax(feats.emotion_logits / self.temperature, -1)
        for feat in (feats.feat_n, feats.feat_i):
            if feat is not None and feat.size(-1) != self.in_channels:
                raise ValueError(
                    f'The encoders give {feat.size(-1)}-d features, but '
                    f'model.head.in_channels is {self.in_channels}: set '
                    f'model.head.in_channels={feat.size(-1)} (and '
                    'model.backbone.in_channels, the emotion head\'s input).')
        logits_n = self.fc_n(feats.feat_n) if self.fc_n is not None else None
        logits_i = self.fc_i(feats.feat_i) if self.fc_i is not None else None
        batch_size = next(f for f in feats if f is not None).size(0)
        rho = self.regulator(affect, batch_size)
        return RegulatedOutput(logits_n, logits_i, affect, rho)

    @staticmethod
    def log_probs(out: RegulatedOutput) -> torch.Tensor:
        """log p, the fused log-probabilities, ``(B, C)``."""
        if out.logits_i is None:
            return F.log_softmax(out.logits_n, dim=1)
        if out.logits_n is None:
            return F.log_softmax(out.logits_i, dim=1)
        return fuse_log_probs(F.log_softmax(out.logits_n, dim=1),
                              F.log_softmax(out.logits_i, dim=1), out.rho)

    @staticmethod
    def probs(out: RegulatedOutput) -> torch.Tensor:
        """p, the fused probabilities (a convex combination, so exactly
        softmax(z_N) at rho = 0), ``(B, C)``."""
        if out.logits_i is None:
            return F.softmax(out.logits_n, dim=1)
        if out.logits_n is None:
            return F.softmax(out.logits_i, dim=1)
        rho = out.rho.unsqueeze(-1).to(out.logits_n.dtype)
        return (1 - rho) * F.softmax(out.logits_n, dim=1) + \
            rho * F.softmax(out.logits_i, dim=1)

    @classmethod
    def fused_logits(cls, out: RegulatedOutput) -> torch.Tensor:
        """Logits whose softmax is p: z_N (z_I) when only N (I) is built,
        else log p."""
        if out.logits_i is None:
            return out.logits_n
        if out.logits_n is None:
            return out.logits_i
        return cls.log_probs(out)

    @in_float32
    def forward(self, feats: EmotionalFeatures) -> torch.Tensor:
        """Logits whose softmax is the fused prediction p, ``(B, C)``."""
        return self.fused_logits(self.regulate(feats))

    @in_float32
    def loss(self, feats: EmotionalFeatures, data_samples: List[DataSample],
             **kwargs) -> dict:
        """``loss_module`` on the fused logits (as ``ClsHead``: hard or soft
        labels, ``cal_acc``) and the optional auxiliary losses on z_N and
        z_I. Only losses: mmengine reads every entry on the host each
        iteration; :class:`RegulationMonitorHook` logs rho at the logging
        interval instead."""
        out = self.regulate(feats)
        losses = self._get_loss(self.fused_logits(out), data_samples,
                                **kwargs)
        if self.aux_loss_weight > 0:
            for name, logits in (('n', out.logits_n), ('i', out.logits_i)):
                if logits is not None:
                    aux = self._get_loss(logits, data_samples, **kwargs)
                    losses[f'loss_aux_{name}'] = \
                        self.aux_loss_weight * aux['loss']
        return losses

    @in_float32
    def predict(
        self,
        feats: EmotionalFeatures,
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Fused scores and labels, with rho, each branch's probabilities
        and the affective state."""
        out = self.regulate(feats)
        scores = self.probs(out).detach()
        labels = scores.argmax(dim=1, keepdim=True)
        rho = out.rho.detach()
        branch_scores = {
            f'pred_score_{name}': F.softmax(logits.detach(), dim=1)
            for name, logits in (('n', out.logits_n), ('i', out.logits_i))
            if logits is not None}
        if data_samples is None:
            data_samples = [None] * scores.size(0)
        # One read on the host per batch (the emotion names).
        affect_labels = out.affect.argmax(dim=1).tolist() \
            if out.affect is not None and \
            self.affect_space == 'categorical' else None
        results = []
        for i, data_sample in enumerate(data_samples):
            data_sample = data_sample if data_sample is not None \
                else DataSample()
            data_sample.set_pred_score(scores[i]).set_pred_label(labels[i])
            data_sample.set_field(rho[i], 'rho')
            for key, branch in branch_scores.items():
                data_sample.set_field(branch[i], key)
            if out.affect is not None:
                data_sample.set_field(out.affect[i].detach(), 'affect_score')
            if affect_labels is not None:  # the top emotion (categorical)
                affect_label = affect_labels[i]
                data_sample.set_field(torch.tensor([affect_label]),
                                      'affect_label')
                data_sample.set_field(self.emotion_classes[affect_label],
                                      'affect_class')
            results.append(data_sample)
        return results

