import math
import os.path as osp

import pytest
import torch

from emoreg_mm.models import (ALL_BRANCHES, REGULATION_MODES, BaseRegulator,
                              build_regulator)
from emoreg_mm.models import regulators as regulators_module
from mmpretrain.registry import MODELS

K = 8
MODES = sorted(REGULATION_MODES)


def affects(batch_size=16, seed=0):
    """Random points of the simplex plus a one-hot and a uniform affect."""
    gen = torch.Generator().manual_seed(seed)
    random = torch.softmax(torch.randn(batch_size, K, generator=gen) * 3, -1)
    return torch.cat([random, torch.eye(K)[:1], torch.full((1, K), 1. / K)])


def rho_of(mode_or_cfg, affect):
    regulator = build_regulator(mode_or_cfg, K)
    affect_in = affect if 'E' in regulator.branches else None
    return regulator(affect_in, affect.size(0))


def test_every_builtin_regulator_has_a_mode_name():
    builtin = {
        name
        for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and issubclass(cls, BaseRegulator)
        and cls.__module__ == regulators_module.__name__
    }
    assert builtin == set(REGULATION_MODES.values())


@pytest.mark.parametrize('mode', MODES)
def test_rho_lies_in_unit_interval(mode):
    affect = affects()
    rho = rho_of(mode, affect)
    assert rho.shape == (affect.size(0), )
    assert torch.isfinite(rho).all()
    assert ((rho >= 0) & (rho <= 1)).all()


@pytest.mark.parametrize('mode,branches', [('baseline', ('N', )),
                                           ('e-infl', ('I', )),
                                           ('const', ('N', 'I')),
                                           ('ereg', ALL_BRANCHES),
                                           ('learn-ereg', ALL_BRANCHES),
                                           ('rand-learn-ereg', ALL_BRANCHES)])
def test_branches_each_mode_needs(mode, branches):
    assert tuple(build_regulator(mode, K).branches) == branches


@pytest.mark.parametrize('mode,value', [('baseline', 0.), ('e-infl', 1.),
                                        ('const', .5)])
def test_constant_modes(mode, value):
    rho = rho_of(mode, affects())
    assert torch.equal(rho, torch.full_like(rho, value))


def test_const_value_is_configurable_and_checked():
    rho = rho_of(dict(type='const', value=0.25), affects())
    assert torch.equal(rho, torch.full_like(rho, 0.25))
    with pytest.raises(ValueError, match='1.5'):
        build_regulator(dict(type='ConstRegulator', value=1.5), K)


def test_ereg_is_affective_intensity():
    regulator = build_regulator('ereg', K)
    one_hot = torch.eye(K)
    assert torch.equal(regulator(one_hot, K), torch.ones(K))
    uniform = torch.full((2, K), 1. / K)
    assert torch.allclose(regulator(uniform, 2), torch.zeros(2), atol=1e-6)
    mixed = torch.tensor([[0.5, 0.5] + [0.] * (K - 2)])
    assert torch.allclose(regulator(mixed, 1),
                          torch.tensor([1 - math.log(2) / math.log(K)]))


def test_learn_ereg_starts_at_exactly_half_and_learns():
    regulator = build_regulator('learn-ereg', K)
    affect = affects()
    rho = regulator(affect, affect.size(0))
    assert torch.equal(rho, torch.full_like(rho, 0.5))
    rho.sum().backward()
    assert regulator.weight.grad.abs().sum() > 0
    assert regulator.bias.grad.abs().sum() > 0


def test_rand_learn_ereg_is_random_but_reproducible():
    rng_before = torch.get_rng_state()
    first = build_regulator(dict(type='rand-learn-ereg', seed=3), K)
    again = build_regulator(dict(type='rand-learn-ereg', seed=3), K)
    other = build_regulator(dict(type='rand-learn-ereg', seed=4), K)
    assert torch.equal(torch.get_rng_state(), rng_before)  # own generator
    assert torch.equal(first.weight, again.weight)
    assert torch.equal(first.bias, again.bias)
    assert not torch.equal(first.weight, other.weight)
    affect = affects()
    rho = first(affect, affect.size(0))
    assert not torch.allclose(rho, torch.full_like(rho, 0.5))
    assert rho.std() > 0


def test_build_regulator_accepts_names_and_reports_unknown():
    assert type(build_regulator('ereg', K)).__name__ == 'ERegRegulator'
    assert type(build_regulator(dict(type='LearnERegRegulator'),
                                K)).__name__ == 'LearnERegRegulator'
    with pytest.raises(KeyError, match='learn-ereg'):
        build_regulator('learned-ereg', K)


def test_learned_regulator_checks_number_of_emotions():
    regulator = build_regulator('learn-ereg', K)
    with pytest.raises(ValueError, match='8 emotions'):
        regulator(torch.full((2, 5), 0.2), 2)


def test_rand_learn_ereg_draw_follows_the_run_seed():
    """Without its own seed the draw follows torch's initial seed (the
    runner's randomness.seed): three seeds, three starts."""
    draws = {}
    for seed in (0, 1, 0):
        torch.manual_seed(seed)
        regulator = build_regulator('rand-learn-ereg', K)
        assert regulator.seed == seed
        draws.setdefault(seed, []).append(regulator.weight.detach().clone())
    assert torch.equal(draws[0][0], draws[0][1])
    assert not torch.equal(draws[0][0], draws[1][0])
    torch.manual_seed(1)
    fixed = build_regulator(dict(type='rand-learn-ereg', seed=0), K)
    assert torch.equal(fixed.weight, draws[0][0])  # its own seed wins


@pytest.mark.parametrize('paramwise', [False, True])
def test_regulator_gets_no_weight_decay(paramwise, resnet_stage1):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    from conftest import build_regulated
    init_default_scope('mmpretrain')
    model = build_regulated('resnet', 'learn-ereg', resnet_stage1[0])
    cfg = dict(constructor='TrainableParamsOptimWrapperConstructor',
               optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4))
    if paramwise:
        cfg['paramwise_cfg'] = dict(norm_decay_mult=0.)
    optimizer = build_optim_wrapper(model, cfg).optimizer
    decay = {id(p): g['weight_decay'] for g in optimizer.param_groups
             for p in g['params']}
    regulator = [id(p) for p in model.head.regulator.parameters()]
    assert len(regulator) == 2 and all(decay[i] == 0. for i in regulator)
    assert decay[id(model.head.fc_n.weight)] == 1e-4
    assert decay[id(model.backbone.encoder_n.backbone.conv1.weight)] == 1e-4
    assert not any(id(p) in decay
                   for p in model.backbone.frozen_parameters())


def test_every_mode_of_the_matrix_has_a_regulator():
    """The mode names are the matrix's (emoreg_mm/matrix.py), in its order;
    each names a registered regulator."""
    from emoreg_mm.matrix import MODES
    assert tuple(REGULATION_MODES) == MODES
    for mode in MODES:
        assert MODELS.get(REGULATION_MODES[mode]) is not None, mode


def test_every_dimensional_mode_of_the_matrix_has_a_regulator():
    """The matrix's modes of a dimensional state name the registered
    regulators of emoreg_mm.models.dimensional_regulators, and their
    regulation pieces set those."""
    from mmengine.config import Config

    from emoreg_mm.matrix import DIMENSIONAL_MODES as NAMES
    from emoreg_mm.models.dimensional_regulators import DIMENSIONAL_MODES
    assert tuple(DIMENSIONAL_MODES) == NAMES
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    for mode in NAMES:
        piece = Config.fromfile(osp.join(
            repo, 'configs/_base_/regulation', f'{mode}.py'))
        assert piece.emoreg_mode == mode
        assert piece.regulator.type == DIMENSIONAL_MODES[mode]
        assert MODELS.get(DIMENSIONAL_MODES[mode]) is not None, mode
