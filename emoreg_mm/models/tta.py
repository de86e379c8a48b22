"""Test-time augmentation of a regulated model (``tools/test.py --tta``).

mmpretrain's ``AverageClsScoreTTA`` averages the views' ``pred_score`` and
keeps every other field of the first view, so the saved branch scores and
rho would belong to one view while the fused score belongs to all of them.
:class:`RegulatedAverageTTA` averages each view's own fields instead: the
branch probabilities, rho and the affective state; the fused score is then
the regulated fusion of those means, ``(1 - mean rho) mean p_N + mean rho
mean p_I``, so a predictions file keeps ``pred_score == (1 - rho)
pred_score_n + rho pred_score_i``. For ``const`` (rho = 0.5) that is the
mean of the views' fused scores; a plain classifier (``baseline``) and a
one-branch model (``e-infl``) get the mean score, as mmpretrain's. A
stage-1 regressor (``AffectRegressionHead``) gets the mean of its
``pred_va``. A dimensional state (``RegulationHead(affect_space=
'dimensional')``) is a point, not a distribution: it gets no top emotion
(``affect_label`` / ``affect_class``).
"""
from typing import List

import torch
from mmpretrain.models import AverageClsScoreTTA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

#: The per-image fields a regulated model's prediction carries, averaged
#: over the views.
AVERAGED = ('pred_score_n', 'pred_score_i', 'rho', 'affect_score',
            'pred_va')


@MODELS.register_module()
class RegulatedAverageTTA(AverageClsScoreTTA):
    """Average a (regulated) classifier's predictions over test-time views.

    Args:
        module (dict | nn.Module): The classifier, as in mmengine's
            ``BaseTTAModel``.
    """

    def _merge_single_sample(self, data_samples: List[DataSample]
                             ) -> DataSample:
        merged = data_samples[0].new()
        views = len(data_samples)
        for key in AVERAGED:
            if key in merged:
                merged.set_field(sum(s.get(key) for s in data_samples) /
                                 views, key)
        if all(k in merged for k in ('rho', 'pred_score_n', 'pred_score_i')):
            rho = merged.rho
            score = (1 - rho) * merged.pred_score_n + \
                rho * merged.pred_score_i
        elif 'pred_score' in merged:
            score = sum(s.pred_score for s in data_samples) / views
        else:  # a regressor: pred_va averaged above
            return merged
        merged.set_pred_score(score).set_pred_label(
            score.argmax(dim=-1, keepdim=True))
        head = getattr(self.module, 'head', None)
        if 'affect_score' in merged and \
                getattr(head, 'affect_space', None) != 'dimensional':
            label = int(merged.affect_score.argmax())
            merged.set_field(torch.tensor([label]), 'affect_label')
            classes = getattr(head, 'emotion_classes', None)
            if classes:
                merged.set_field(classes[label], 'affect_class')
        return merged
