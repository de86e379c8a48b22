"""Regulation functions of a dimensional affective state: ``a = (valence,
arousal[, dominance])`` in [-1, 1], the outputs of a stage-1
``AffectRegressionHead`` (``RegulationHead(affect_space='dimensional')``,
docs/method.md). Referred to by their registered type, e.g.
``head=dict(regulator=dict(type='ArousalRegulator'),
affect_space='dimensional')``, or by their mode names in the config
pieces ``configs/_base_/regulation/{arousal-reg,learn-va-reg}.py``
(:data:`emoreg_mm.matrix.DIMENSIONAL_MODES`, the modes of the sets rated
on valence and arousal); :data:`~emoreg_mm.models.regulators.
REGULATION_MODES` stays the categorical state's.
"""
from typing import Optional

import torch
from mmpretrain.registry import MODELS

from .regulators import BaseRegulator, LearnERegRegulator

#: Mode names (a config's ``emoreg_mode``) -> registered types.
DIMENSIONAL_MODES = {'arousal-reg': 'ArousalRegulator',
                     'learn-va-reg': 'LearnVARegulator'}


@MODELS.register_module()
class ArousalRegulator(BaseRegulator):
    """A dimensional affective state's intensity regulation, the analogue
    of E-Reg: rho from the arousal of ``a = (valence, arousal, ...)`` in
    [-1, 1] (``RegulationHead(affect_space='dimensional')``).

    ``mapping='linear'`` (default): rho = (arousal + 1) / 2, the arousal's
    place on its scale (calm 0, most aroused 1): an aroused response leans
    on I, a calm one on N. ``mapping='abs'``: rho = |arousal|, the distance
    from the scale's midpoint (for scales read as bipolar).

    Args:
        index (int): Arousal's place in the affect. Defaults to 1.
        mapping (str): ``'linear'`` or ``'abs'``. Defaults to
            ``'linear'``.
        **kwargs: Arguments of :class:`BaseRegulator`.
    """

    def __init__(self, index: int = 1, mapping: str = 'linear', **kwargs):
        super().__init__(**kwargs)
        if mapping not in ('linear', 'abs'):
            raise ValueError(f"mapping={mapping!r}: expected 'linear' or "
                             "'abs'")
        self.index, self.mapping = index, mapping

    def forward(self, affect: Optional[torch.Tensor],
                batch_size: int) -> torch.Tensor:
        if affect.size(-1) <= self.index:
            raise ValueError(
                f'ArousalRegulator reads dimension {self.index} of an affect '
                f'of shape {tuple(affect.shape)}: give a dimensional state '
                "(RegulationHead(affect_space='dimensional'))")
        arousal = affect[:, self.index]
        rho = arousal.abs() if self.mapping == 'abs' else (arousal + 1) / 2
        return rho.clamp(0., 1.)


@MODELS.register_module()
class LearnVARegulator(LearnERegRegulator):
    """The learnable regulation of a dimensional state: rho =
    sigmoid(w . a + b), ``a = (valence, arousal, ...)``, ``w`` and ``b``
    zero-initialised (rho starts at 0.5): :class:`LearnERegRegulator` on the
    dimensions instead of the emotion probabilities (``num_emotions`` is the
    number of dimensions, which the head fills in)."""
