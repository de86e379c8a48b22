"""Regulation functions rho(a): how much the emotionally-influenced branch
counts for an image, given its affective state ``a`` (a point of the
K-simplex).

One small registered class per regulation mode (see ``docs/method.md``). Each
class declares the encoder ``branches`` it needs: ``'N'`` (non-emotional),
``'I'`` (emotionally-influenced) and ``'E'`` (emotional, which produces the
affect). :class:`RegulatedImageClassifier` builds its
:class:`EmotionalBackboneWrapper` with exactly those branches, read from the
head's regulator (:func:`regulator_branches`).

A user adds a mode by subclassing :class:`BaseRegulator`, registering it in
``mmpretrain.registry.MODELS`` (e.g. from a module in ``custom_imports``) and
writing ``head=dict(regulator=dict(type='MyRegulator'))``.
"""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

#: Every branch an :class:`EmotionalBackboneWrapper` can build.
ALL_BRANCHES = ('N', 'I', 'E')

#: Config mode names (``docs/method.md``) -> registered regulator types.
REGULATION_MODES: Dict[str, str] = {
    'baseline': 'BaselineRegulator',
    'e-infl': 'EInflRegulator',
    'const': 'ConstRegulator',
    'ereg': 'ERegRegulator',
    'learn-ereg': 'LearnERegRegulator',
    'rand-learn-ereg': 'RandLearnERegRegulator',
}


class BaseRegulator(BaseModule):
    """Base class of the regulation functions.

    Subclasses set the class attributes ``branches`` and
    ``affect_spaces`` and implement :meth:`forward`; the head calls
    :meth:`bind` with its affective state's names and space.

    Args:
        num_emotions (int, optional): Number of emotion categories K of the
            affective state. The head fills it in. Defaults to None.
        init_cfg (dict, optional): The config to control the initialization.
            Defaults to None.
    """

    #: The encoder branches this regulation needs, a subset of ALL_BRANCHES.
    branches: Tuple[str, ...] = ALL_BRANCHES
    #: The affective states it reads: ``'categorical'`` (a distribution
    #: over emotions) and / or ``'dimensional'`` (valence, arousal, ...).
    affect_spaces: Tuple[str, ...] = ('categorical', 'dimensional')

    def __init__(self,
                 num_emotions: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.num_emotions = num_emotions

    def bind(self, names: Sequence[str], space: str) -> None:
        """Check that this regulation reads the head's affective state:
        ``space`` (``'categorical'`` or ``'dimensional'``) named by
        ``names`` (its emotions or dimensions).

        Raises:
            ValueError: the state is of a space this regulation does not
                read, named with both.
        """
        if space not in self.affect_spaces:
            spaces = ' or '.join(self.affect_spaces)
            raise ValueError(
                f'{type(self).__name__} regulates a {spaces} affective '
                f'state, but model.head.affect_space is {space!r} '
                f'({", ".join(names)}): choose a regulator of that space '
                '(docs/method.md).')

    def forward(self, affect: Optional[torch.Tensor],
                batch_size: int) -> torch.Tensor:
        """Compute rho.

        Args:
            affect (Tensor, optional): Affective state of shape
                ``(batch_size, K)``; None when ``'E'`` is not in
                ``branches``.
            batch_size (int): Number of images.

        Returns:
            Tensor: rho in [0, 1], shape ``(batch_size, )``.
        """
        raise NotImplementedError


class _ConstantRegulator(BaseRegulator):
    """A rho that ignores the affect (no emotional encoder needed)."""

    def __init__(self, value: float, **kwargs):
        super().__init__(**kwargs)
        value = float(value)
        if not 0. <= value <= 1.:
            raise ValueError(f'rho must lie in [0, 1], got value={value}.')
        # Not persistent: a constant is config, not a weight, and keeps the
        # state dict of `baseline` identical to a plain classifier's.
        self.register_buffer('rho', torch.tensor(value), persistent=False)

    def forward(self, affect: Optional[torch.Tensor],
                batch_size: int) -> torch.Tensor:
        return self.rho.repeat(batch_size)


@MODELS.register_module()
class BaselineRegulator(_ConstantRegulator):
    """``baseline``: rho = 0, only the non-emotional encoder N (a plain
    classifier)."""

    branches = ('N', )

    def __init__(self, **kwargs):
        super().__init__(value=0., **kwargs)


@MODELS.register_module()
class EInflRegulator(_ConstantRegulator):
    """``e-infl``: rho = 1, only the emotionally-influenced encoder I."""

    branches = ('I', )

    def __init__(self, **kwargs):
        super().__init__(value=1., **kwargs)


@MODELS.register_module()
class ConstRegulator(_ConstantRegulator):
    """``const``: the same rho for every image, an N + I ensemble without
    affect (the control that separates an emotional effect from an ensemble
    effect).

    Args:
        value (float): The constant rho in [0, 1]. Defaults to 0.5.
        **kwargs: Arguments of :class:`BaseRegulator`.
    """

    branches = ('N', 'I')

    def __init__(self, value: float = 0.5, **kwargs):
        super().__init__(value=value, **kwargs)


@MODELS.register_module()
class ERegRegulator(BaseRegulator):
    """``ereg`` (E-Reg): affective intensity rho = 1 - H(a) / log K.

    A sharp emotional response (one-hot affect) gives 1 and leans on I; an
    ambiguous one (uniform affect) gives 0 and leans on N.
    """
    affect_spaces = ('categorical', )

    def forward(self, affect: Optional[torch.Tensor],
                batch_size: int) -> torch.Tensor:
        num_emotions = affect.size(-1)
        if num_emotions < 2:
            raise ValueError('ERegRegulator needs at least 2 emotions, got '
                             f'an affect of shape {tuple(affect.shape)}.')
        # entr(0) = 0: no NaN for affects with exact zeros.
        entropy = torch.special.entr(affect).sum(dim=-1)
        return (1. - entropy / math.log(num_emotions)).clamp(0., 1.)


@MODELS.register_module()
class LearnERegRegulator(BaseRegulator):
    """``learn-ereg`` (Learn-E-Reg): rho = sigmoid(w . a + b).

    ``w`` and ``b`` are zero-initialised, so rho starts at exactly 0.5.

    Args:
        num_emotions (int): Number of emotion categories K.
        init_cfg (dict, optional): The config to control the initialization.
            Defaults to None.
    """
    affect_spaces = ('categorical', )

    def __init__(self, num_emotions: int, init_cfg: Optional[dict] = None):
        super().__init__(num_emotions=num_emotions, init_cfg=init_cfg)
        if num_emotions is None or num_emotions < 1:
            raise ValueError(f'num_emotions must be >= 1, got {num_emotions}.')
        self.weight = nn.Parameter(torch.zeros(num_emotions))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, affect: Optional[torch.Tensor],
                batch_size: int) -> torch.Tensor:
        if affect.size(-1) != self.num_emotions:
            raise ValueError(f'{type(self).__name__} was built for '
                             f'{self.num_emotions} emotions, got an affect '
                             f'of shape {tuple(affect.shape)}.')
        return torch.sigmoid(affect @ self.weight + self.bias)


@MODELS.register_module()
class RandLearnERegRegulator(LearnERegRegulator):
    """``rand-learn-ereg`` (Rand-Learn-E-Reg): rho = sigmoid(w . a + b) with
    ``w``, ``b`` drawn from N(0, std^2).

    The draw uses its own ``torch.Generator``, so it is reproducible and
    leaves the global generator untouched. Its seed is ``seed`` when given,
    else the global generator's initial seed (``torch.initial_seed()``):
    built by a runner, that is the config's ``randomness.seed``, so runs at
    different seeds start from different draws.

    Args:
        num_emotions (int): Number of emotion categories K.
        seed (int, optional): Seed of the initial draw; None follows the
            run's seed. Defaults to None.
        std (float): Standard deviation of the initial draw. Defaults to 1.
        init_cfg (dict, optional): The config to control the initialization.
            Defaults to None.
    """

    def __init__(self,
                 num_emotions: int,
                 seed: Optional[int] = None,
                 std: float = 1.,
                 init_cfg: Optional[dict] = None):
        super().__init__(num_emotions=num_emotions, init_cfg=init_cfg)
        if seed is None:
            seed = torch.initial_seed()
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.weight.copy_(
                torch.randn(num_emotions, generator=generator) * std)
            self.bias.copy_(torch.randn(1, generator=generator) * std)
        self.seed = seed


def regulator_branches(cfg) -> tuple:
    """The encoder branches a regulator needs, from its config (a mode name,
    a dict or a built module) without building it, in ``ALL_BRANCHES``
    order."""
    if isinstance(cfg, nn.Module):
        cls = cfg
    else:
        name = cfg if isinstance(cfg, str) else dict(cfg)['type']
        name = REGULATION_MODES.get(name, name)
        cls = MODELS.get(name) if isinstance(name, str) else name
        if cls is None:
            raise KeyError(
                f'Unknown regulator {name!r}: use a mode name of '
                f'{sorted(REGULATION_MODES)} or a class registered in '
                'mmpretrain.registry.MODELS.')
    branches = getattr(cls, 'branches', None)
    if not branches or not set(branches) <= set(ALL_BRANCHES):
        name = getattr(cls, '__name__', type(cls).__name__)
        raise ValueError(f'{name}.branches must be a non-empty subset of '
                         f'{ALL_BRANCHES}, got {branches!r}.')
    return tuple(b for b in ALL_BRANCHES if b in branches)


def build_regulator(cfg: Union[str, dict, nn.Module],
                    num_emotions: int) -> nn.Module:
    """Build a regulator from a mode name, a config dict or a module.

    Args:
        cfg (str | dict | nn.Module): A mode name of
            :data:`REGULATION_MODES` (``'ereg'``), a dict whose ``type`` is a
            mode name or a registered class (``dict(type='ConstRegulator',
            value=0.3)``), or a built module.
        num_emotions (int): Number of emotion categories K, passed to the
            regulator as ``num_emotions`` unless the dict sets it.

    Returns:
        nn.Module: The regulator; it has a ``branches`` attribute.
    """
    if isinstance(cfg, nn.Module):
        regulator = cfg
    else:
        cfg = dict(type=cfg) if isinstance(cfg, str) else dict(cfg)
        cfg['type'] = REGULATION_MODES.get(cfg['type'], cfg['type'])
        regulator_branches(cfg)  # a known class with valid branches
        cfg.setdefault('num_emotions', num_emotions)
        regulator = MODELS.build(cfg)
    regulator_branches(regulator)
    return regulator
