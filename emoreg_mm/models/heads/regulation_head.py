"""The regulation head: affect -> rho -> fused prediction (``docs/method.md``).

    z_N = h_N(feat_n)                  z_I = h_I(feat_i)
    a   = softmax(emotion_logits / T)  rho = regulator(a)
    p   = (1 - rho) softmax(z_N) + rho softmax(z_I)

The loss is the negative log-likelihood of p, computed in log space.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..backbones.emotional_wrapper import EmotionalFeatures
from ...datasets.base_affective import EMOTIONS
from ..regulators import ALL_BRANCHES, build_regulator

#: The canonical 8 emotion categories (Mikels' model, EmoSet's order), as
#: the affective datasets define them.
DEFAULT_EMOTION_CLASSES = EMOTIONS


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


class RegulatedOutput(NamedTuple):
    """Per-branch outputs of :class:`RegulationHead` (None: no branch)."""
    logits_n: Optional[torch.Tensor]
    logits_i: Optional[torch.Tensor]
    affect: Optional[torch.Tensor]
    rho: torch.Tensor


@MODELS.register_module()
class RegulationHead(BaseModule):
    """Classification head of Emotional Regulation.

    Takes the :class:`EmotionalFeatures` of :class:`EmotionalBackboneWrapper`
    (the classifier must have no neck of its own). Which branches it uses is
    set by the regulator's ``branches``: the wrapper must be built with the
    same ones, checked on every call.

    ``forward`` (``ImageClassifier`` tensor mode) returns logits whose softmax
    is the fused prediction: log p, or the raw logits z_N (z_I) when only N
    (I) is built, so ``baseline`` is exactly a ``LinearClsHead``.

    Predictions carry ``pred_score`` / ``pred_label`` and the fields ``rho``
    (0-d tensor), and when E is built ``affect_score`` (K scores),
    ``affect_label`` (top emotion index) and ``affect_class`` (its name).

    Args:
        num_classes (int): Number of target classes C.
        in_channels (int): Dimension of the pooled encoder features.
        regulator (str | dict): A mode name (``'ereg'``, see
            ``REGULATION_MODES``) or a config of a registered regulator, e.g.
            ``dict(type='RandLearnERegRegulator', seed=1)``.
            Defaults to ``dict(type='LearnERegRegulator')``.
        emotion_classes (Sequence[str]): Names of the K emotions of the
            stage-1 head, in its order. Defaults to the canonical 8
            (``DEFAULT_EMOTION_CLASSES``).
        temperature (float): T of the affect softmax(logits / T).
            Defaults to 1.
        aux_loss_weight (float): Weight of the auxiliary cross-entropy on
            z_N and z_I (each built branch). Defaults to 0.
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
                 emotion_classes: Sequence[str] = DEFAULT_EMOTION_CLASSES,
                 temperature: float = 1.,
                 aux_loss_weight: float = 0.,
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = dict(type='Normal',
                                                 layer='Linear',
                                                 std=0.01)):
        super().__init__(init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be positive.')
        if temperature <= 0:
            raise ValueError(f'temperature={temperature} must be positive.')
        if aux_loss_weight < 0:
            raise ValueError(
                f'aux_loss_weight={aux_loss_weight} must be >= 0.')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.emotion_classes = tuple(emotion_classes)
        self.temperature = temperature
        self.aux_loss_weight = aux_loss_weight
        self.topk = topk
        self.cal_acc = cal_acc

        self.regulator = build_regulator(regulator, len(self.emotion_classes))
        self.branches = tuple(b for b in ALL_BRANCHES
                              if b in self.regulator.branches)
        self.fc_n = nn.Linear(in_channels, num_classes) \
            if 'N' in self.branches else None
        self.fc_i = nn.Linear(in_channels, num_classes) \
            if 'I' in self.branches else None

    def regulate(self, feats: EmotionalFeatures) -> RegulatedOutput:
        """Compute z_N, z_I, the affect and rho."""
        if not isinstance(feats, EmotionalFeatures):
            raise TypeError(
                'RegulationHead takes the EmotionalFeatures of '
                'EmotionalBackboneWrapper, got '
                f'{type(feats).__name__}; give the classifier no neck (set '
                'the neck on the wrapper).')
        if feats.branches != self.branches:
            raise ValueError(
                f'{type(self.regulator).__name__} needs the branches '
                f'{self.branches}, but EmotionalBackboneWrapper ran '
                f'{feats.branches}: set '
                f'model.backbone.branches={self.branches}.')
        affect = None
        if feats.emotion_logits is not None:
            if feats.emotion_logits.size(-1) != len(self.emotion_classes):
                raise ValueError(
                    f'The emotion head gives {feats.emotion_logits.size(-1)} '
                    f'emotions, emotion_classes names '
                    f'{len(self.emotion_classes)}.')
            affect = F.softmax(feats.emotion_logits / self.temperature, -1)
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

    def forward(self, feats: EmotionalFeatures) -> torch.Tensor:
        """Logits whose softmax is the fused prediction p, ``(B, C)``."""
        out = self.regulate(feats)
        if out.logits_i is None:
            return out.logits_n
        if out.logits_n is None:
            return out.logits_i
        return self.log_probs(out)

    def loss(self, feats: EmotionalFeatures, data_samples: List[DataSample],
             **kwargs) -> dict:
        """NLL of p (hard or soft labels), the optional auxiliary losses and
        the batch mean of rho (logged, not summed)."""
        out = self.regulate(feats)
        if 'gt_score' in data_samples[0]:
            target = torch.stack([i.gt_score for i in data_samples])
        else:
            target = torch.cat([i.gt_label for i in data_samples])
        log_p = self.log_probs(out)
        losses = dict(loss=nll_loss(log_p, target))
        if self.aux_loss_weight > 0:
            for name, logits in (('n', out.logits_n), ('i', out.logits_i)):
                if logits is not None:
                    losses[f'loss_aux_{name}'] = self.aux_loss_weight * \
                        nll_loss(F.log_softmax(logits, dim=1), target)
        losses['rho'] = out.rho.detach().mean()
        if self.cal_acc:
            if target.ndim != 1:
                raise ValueError('cal_acc needs hard labels; disable it with '
                                 'batch augmentations such as mixup.')
            acc = Accuracy.calculate(log_p, target, topk=self.topk)
            topk = (self.topk, ) if isinstance(self.topk, int) else self.topk
            losses.update({f'accuracy_top-{k}': a for k, a in zip(topk, acc)})
        return losses

    def predict(
        self,
        feats: EmotionalFeatures,
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Fused scores and labels, with rho and the affective state."""
        out = self.regulate(feats)
        scores = self.probs(out).detach()
        labels = scores.argmax(dim=1, keepdim=True)
        rho = out.rho.detach()
        if data_samples is None:
            data_samples = [None] * scores.size(0)
        results = []
        for i, data_sample in enumerate(data_samples):
            data_sample = data_sample if data_sample is not None \
                else DataSample()
            data_sample.set_pred_score(scores[i]).set_pred_label(labels[i])
            data_sample.set_field(rho[i], 'rho')
            if out.affect is not None:
                affect_label = int(out.affect[i].argmax())
                data_sample.set_field(out.affect[i].detach(), 'affect_score')
                data_sample.set_field(torch.tensor([affect_label]),
                                      'affect_label')
                data_sample.set_field(self.emotion_classes[affect_label],
                                      'affect_class')
            results.append(data_sample)
        return results


def nll_loss(log_p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of -log p[y] (hard labels ``(B, )``) or -sum_c q_c log p_c (soft
    labels ``(B, C)``, e.g. mixup or label smoothing)."""
    if target.ndim == 1:
        loss = -log_p.gather(1, target.unsqueeze(1).long()).squeeze(1)
    else:
        loss = -(target.to(log_p.dtype) * log_p).sum(dim=1)
    return loss.sum() / log_p.size(0)
