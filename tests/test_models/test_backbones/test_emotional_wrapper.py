import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from emoreg_mm.models import REGULATION_MODES, EmotionalFeatures
from mmpretrain.registry import MODELS

MODES = sorted(REGULATION_MODES)


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def sub_state(state_dict, prefix):
    return {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }


def assert_state_equal(actual, expected):
    assert actual.keys() == expected.keys()
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key


def assert_state_differs(actual, expected):
    assert any(not torch.equal(actual[k], expected[k]) for k in expected)


@pytest.mark.parametrize('mode', MODES)
def test_builds_and_runs_only_the_branches_of_the_mode(tiny, arch, stage1,
                                                       mode):
    model = tiny.build(arch, mode, stage1[0])
    wrapper = model.backbone
    branches = tiny.branches_of(mode)
    assert wrapper.branches == branches
    for branch, enc in (('N', wrapper.encoder_n), ('I', wrapper.encoder_i),
                        ('E', wrapper.encoder_e)):
        assert (enc is not None) == (branch in branches)
    model.train()
    feats = wrapper(tiny.batch()[0])
    assert isinstance(feats, EmotionalFeatures)
    assert feats.branches == branches
    dim = tiny.archs[arch]['in_channels']
    for feat in (feats.feat_n, feats.feat_i):
        assert feat is None or (feat.shape == (4, dim) and feat.requires_grad)
    if 'E' in branches:
        assert feats.emotion_logits.shape == (4, tiny.num_emotions)
        assert not feats.emotion_logits.requires_grad


def test_one_pass_shares_the_batch_and_runs_e_without_grad(
        tiny, resnet_stage1):
    model = tiny.build('resnet', 'ereg', resnet_stage1[0])
    wrapper = model.backbone
    seen = {}

    def record(name):

        def hook(module, args):
            seen[name] = (args[0].data_ptr(), torch.is_grad_enabled())

        return hook

    for name in ('encoder_n', 'encoder_i', 'encoder_e'):
        getattr(wrapper, name).register_forward_pre_hook(record(name))
    inputs = tiny.batch()[0]
    wrapper(inputs)
    assert {ptr for ptr, _ in seen.values()} == {inputs.data_ptr()}
    assert seen['encoder_n'][1] and seen['encoder_i'][1]
    assert not seen['encoder_e'][1]


def test_init_weights_loads_stage1_into_e_i_and_g_e(tiny, arch, stage1):
    path, stage1_sd = stage1
    model = tiny.build(arch, 'ereg', path)
    wrapper = model.backbone
    encoder_sd = {
        k: v
        for k, v in stage1_sd.items() if not k.startswith('head.')
    }
    assert_state_equal(state(wrapper.encoder_e), encoder_sd)
    assert_state_equal(state(wrapper.encoder_i), encoder_sd)
    assert_state_equal(state(wrapper.emotion_head),
                       sub_state(stage1_sd, 'head.fc.'))
    assert_state_differs(state(wrapper.encoder_n), encoder_sd)


def test_backbone_init_cfg_goes_to_n_only(tiny, tmp_path, resnet_stage1,
                                          monkeypatch):
    backbone_cls = MODELS.get('ResNet')
    initialised = []
    original = backbone_cls.init_weights

    def spy(self):
        initialised.append(id(self))
        return original(self)

    monkeypatch.setattr(backbone_cls, 'init_weights', spy)
    # An "ImageNet" checkpoint for the backbone's own Pretrained init_cfg.
    imagenet = MODELS.build(copy.deepcopy(tiny.archs['resnet']['backbone']))
    imagenet_path = str(tmp_path / 'imagenet.pth')
    torch.save({'state_dict': imagenet.state_dict()}, imagenet_path)
    cfg = tiny.regulated_cfg('resnet', 'ereg', resnet_stage1[0])
    cfg['backbone']['backbone']['init_cfg'] = dict(type='Pretrained',
                                                   checkpoint=imagenet_path)
    model = MODELS.build(cfg)
    model.init_weights()
    wrapper = model.backbone
    assert initialised == [id(wrapper.encoder_n.backbone)]
    assert_state_equal(state(wrapper.encoder_n.backbone), state(imagenet))
    stage1_backbone = sub_state(resnet_stage1[1], 'backbone.')
    assert_state_equal(state(wrapper.encoder_e.backbone), stage1_backbone)
    assert_state_equal(state(wrapper.encoder_i.backbone), stage1_backbone)


@pytest.mark.parametrize('paramwise', [True, False])
def test_e_and_g_e_stay_frozen_while_training(tiny, arch, stage1, paramwise):
    path, stage1_sd = stage1
    model = tiny.build(arch, 'learn-ereg', path)
    wrapper = model.backbone
    optim_cfg = dict(
        optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=1e-2))
    if paramwise:  # any paramwise_cfg makes mmengine skip frozen params
        optim_cfg['paramwise_cfg'] = dict(norm_decay_mult=0.)
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    frozen = set(map(id, wrapper.frozen_parameters()))
    assert len(frozen) > 0
    assert all(not p.requires_grad for p in wrapper.frozen_parameters())
    in_optimizer = {
        id(p)
        for group in optim_wrapper.param_groups
        for p in group['params']
    }
    if paramwise:
        assert not frozen & in_optimizer
    before = state(model)

    model.train()
    assert not any(m.training for m in wrapper.encoder_e.modules())
    assert not wrapper.emotion_head.training
    assert wrapper.encoder_i.training and wrapper.encoder_n.training
    for step in range(3):
        inputs, samples = tiny.batch(seed=step)
        model.train_step(dict(inputs=inputs, data_samples=samples),
                         optim_wrapper)

    encoder_sd = {
        k: v
        for k, v in stage1_sd.items() if not k.startswith('head.')
    }
    assert_state_equal(state(wrapper.encoder_e), encoder_sd)  # BN buffers
    assert_state_equal(state(wrapper.emotion_head),
                       sub_state(stage1_sd, 'head.fc.'))
    after = state(model)
    for prefix in ('backbone.encoder_n.', 'backbone.encoder_i.', 'head.fc_n.',
                   'head.fc_i.', 'head.regulator.'):
        assert_state_differs(sub_state(after, prefix),
                             sub_state(before, prefix))


def test_init_weights_twice_does_not_reload_stage1(tiny, resnet_stage1):
    model = tiny.build('resnet', 'e-infl', resnet_stage1[0])
    conv = model.backbone.encoder_i.backbone.conv1.weight
    with torch.no_grad():
        conv.add_(1.)
    trained = conv.clone()
    model.init_weights()
    assert torch.equal(conv, trained)


def test_missing_stage1_names_the_stage1_config(tiny, tmp_path):
    missing = str(tmp_path / 'no_such_stage1.pth')
    model = MODELS.build(tiny.regulated_cfg('resnet', 'ereg', missing))
    with pytest.raises(FileNotFoundError) as err:
        model.init_weights()
    assert 'emoreg_pretrain/tiny_emoset.py' in str(err.value)
    assert missing in str(err.value)


def test_stage1_of_another_architecture_lists_keys(tiny, tmp_path):
    path = str(tmp_path / 'resnet_stage1.pth')
    tiny.write_stage1('resnet', path)
    model = MODELS.build(tiny.regulated_cfg('vit', 'ereg', path))
    with pytest.raises(RuntimeError) as err:
        model.init_weights()
    message = str(err.value)
    assert path in message
    assert 'missing keys' in message and 'backbone.cls_token' in message
    assert 'unexpected keys' in message and 'backbone.conv1.weight' in message


def test_stage1_with_other_shapes_lists_them(tiny, tmp_path):
    path = str(tmp_path / 'wide_stage1.pth')
    tiny.write_stage1('resnet', path)
    cfg = tiny.regulated_cfg('resnet', 'ereg', path)
    cfg['backbone']['backbone'].update(stem_channels=4, base_channels=4)
    cfg['backbone']['in_channels'] = cfg['head']['in_channels'] = 32
    model = MODELS.build(cfg)
    with pytest.raises(RuntimeError, match='shape mismatches') as err:
        model.init_weights()
    assert path in str(err.value)
    assert 'backbone.conv1.weight' in str(err.value)


def test_emotional_branches_require_a_stage1_checkpoint(tiny):
    with pytest.raises(ValueError, match='emotional_checkpoint'):
        MODELS.build(tiny.regulated_cfg('resnet', 'e-infl', None))
    # baseline is a plain classifier: no stage-1 file needed at all.
    tiny.build('resnet', 'baseline', None)


def test_unpooled_features_ask_for_a_neck(tiny):
    cfg = tiny.regulated_cfg('resnet', 'baseline')
    cfg['backbone']['neck'] = None
    model = MODELS.build(cfg)
    with pytest.raises(ValueError, match='GlobalAveragePooling'):
        model.backbone(tiny.batch()[0])


# ------------------------------------------------ the untrained control
def untrained_cfg(tiny, arch, mode='ereg', **wrapper):
    cfg = tiny.regulated_cfg(arch, mode, None)
    cfg['backbone'].update(emotional_init='random', **wrapper)
    return cfg


def test_untrained_e_is_random_frozen_and_the_same_at_every_seed(
        tiny, arch, tmp_path):
    """emotional_init='random': E and g_E are drawn from emotional_seed
    (not the run's seed, not the backbone's ImageNet init_cfg), read no
    checkpoint and stay frozen; I starts where N starts."""
    imagenet = MODELS.build(copy.deepcopy(tiny.archs[arch]['backbone']))
    imagenet_path = str(tmp_path / 'imagenet.pth')
    torch.save({'state_dict': imagenet.state_dict()}, imagenet_path)
    cfg = untrained_cfg(tiny, arch)
    cfg['backbone']['backbone']['init_cfg'] = dict(type='Pretrained',
                                                   checkpoint=imagenet_path)
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(MODELS.build(copy.deepcopy(cfg)))
        models[-1].init_weights()
    first, second = (m.backbone for m in models)
    assert first.emotional_checkpoint is None
    assert not hasattr(first, 'emotional_meta')  # no stage-1 file read
    for name in ('encoder_e', 'emotion_head'):
        assert_state_equal(state(getattr(second, name)),
                           state(getattr(first, name)))
    assert_state_differs(state(first.encoder_e.backbone), state(imagenet))
    assert_state_equal(state(first.encoder_n.backbone), state(imagenet))
    assert_state_equal(state(first.encoder_i.backbone), state(imagenet))
    torch.manual_seed(0)
    other = MODELS.build(untrained_cfg(tiny, arch, emotional_seed=1))
    assert_state_differs(state(other.backbone.emotion_head),
                         state(first.emotion_head))

    models[0].train()
    assert all(not p.requires_grad for p in first.frozen_parameters())
    assert not any(m.training for m in first.encoder_e.modules())
    before = state(first.encoder_e)
    models[0].init_weights()  # again: E keeps its weights
    assert_state_equal(state(first.encoder_e), before)
    feats = first(tiny.batch()[0])
    assert feats.emotion_logits.shape == (4, tiny.num_emotions)
    assert feats.emotion_logits.std() > 0  # an input-dependent affect


def test_untrained_pairs_n_and_its_head_with_stage1_runs(tiny, arch, stage1):
    """At one seed, N, h_N and h_I start as in the stage-1 modes (scratch
    backbone): I's own initialisation draws on a fork of the generator."""
    heads = {}
    for name, cfg in (('stage1', tiny.regulated_cfg(arch, 'ereg', stage1[0])),
                      ('random', untrained_cfg(tiny, arch))):
        torch.manual_seed(3)
        model = MODELS.build(cfg)
        torch.manual_seed(4)
        model.init_weights()
        heads[name] = state(model)
    for prefix in ('backbone.encoder_n.', 'head.fc_n.', 'head.fc_i.'):
        assert_state_equal(sub_state(heads['random'], prefix),
                           sub_state(heads['stage1'], prefix))


@pytest.mark.parametrize('wrapper, message', [
    (dict(emotional_checkpoint='work_dirs/x'), 'reads no stage-1 checkpoint'),
    (dict(emotional_init='imagenet'), "emotional_init='imagenet'"),
    (dict(share_frozen_prefix=True), 'share_frozen_prefix'),
])
def test_untrained_refuses_what_it_cannot_honour(tiny, wrapper, message):
    cfg = untrained_cfg(tiny, 'resnet')
    cfg['backbone'].update(wrapper)
    with pytest.raises(ValueError, match=message):
        MODELS.build(cfg)
    # without it, a missing checkpoint is never taken as the control
    with pytest.raises(ValueError, match="emotional_init='random'"):
        MODELS.build(tiny.regulated_cfg('resnet', 'ereg', None))
