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
from typing import Optional, Sequence

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
        dimension (str): The dimension read, looked up by name in the
            head's ``emotion_classes`` (the stage-1 set's dimensions).
            Defaults to ``'arousal'``.
        index (int, optional): Its place in the affect instead of the
            name. Defaults to None (by name; 1 until the head binds it).
        mapping (str): ``'linear'`` or ``'abs'``. Defaults to
            ``'linear'``.
        **kwargs: Arguments of :class:`BaseRegulator`.
    """
    affect_spaces = ('dimensional', )

    def __init__(self, dimension: str = 'arousal',
                 index: Optional[int] = None, mapping: str = 'linear',
                 **kwargs):
        super().__init__(**kwargs)
        if mapping not in ('linear', 'abs'):
            raise ValueError(f"mapping={mapping!r}: expected 'linear' or "
                             "'abs'")
        self.dimension, self.by_name = dimension, index is None
        self.index = 1 if index is None else index
        self.mapping = mapping

    def bind(self, names: Sequence[str], space: str) -> None:
        """Check the space (:meth:`BaseRegulator.bind`) and, unless
        ``index`` was given, find ``dimension`` among ``names``."""
        super().bind(names, space)
        if self.by_name:
            if self.dimension not in names:
                raise ValueError(
                    f'ArousalRegulator reads {self.dimension!r}, but the '
                    f'affective state names {tuple(names)} '
                    '(model.head.emotion_classes, from the stage-1 '
                    "checkpoint): set regulator=dict(type='ArousalRegulator', "
                    'dimension=...) or index=...')
            self.index = list(names).index(self.dimension)

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
    affect_spaces = ('dimensional', )
