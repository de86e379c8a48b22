"""Speed features of the regulated model: shared frozen prefix, affect
cache, inference-mode E, AMP, channels-last and torch.compile. Exactness
only; speed is measured by tools/analysis_tools/benchmark.py."""
import copy

import numpy as np
import pytest
import torch
from mmengine.dataset import BaseDataset
from mmengine.optim import build_optim_wrapper
from mmpretrain.datasets.transforms import PackInputs
from mmpretrain.registry import MODELS

from conftest import IMG_SIZE, make_batch, regulated_cfg, write_stage1
from emoreg_mm.models import fill_affect_cache

#: Frozen (and shared) stages of I per tiny arch: half of them.
HALF = dict(resnet=2, vit=1)


def build(cfg, state_dict=None):
    model = MODELS.build(cfg)
    if state_dict is None:
        model.init_weights()
    else:
        model.load_state_dict(state_dict)
    return model


def indexed_batch(batch_size=4, seed=0, first_idx=0):
    inputs, samples = make_batch(batch_size, seed=seed)
    for i, sample in enumerate(samples):
        sample.set_metainfo(dict(sample_idx=first_idx + i))
    return inputs, samples


def cached_cfg(arch, mode, checkpoint, **cache):
    cfg = regulated_cfg(arch, mode, checkpoint)
    cfg['type'] = 'RegulatedImageClassifier'
    cfg['backbone']['affect_cache'] = cache or True
    return cfg


class ArrayDataset(BaseDataset):
    """In-memory images (like CIFAR: no files, sample_idx keys)."""

    def __init__(self, images, **kwargs):
        self.images = images
        super().__init__(pipeline=[PackInputs()], **kwargs)

    def load_data_list(self):
        return [dict(img=img, gt_label=0) for img in self.images]


def images(n, seed):
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 255, (IMG_SIZE, IMG_SIZE, 3), dtype=np.uint8)
        for _ in range(n)
    ]


# ---------------------------------------------------------------- prefix --
def test_shared_prefix_is_exact(arch, stage1):
    cfg = regulated_cfg(arch, 'learn-ereg', stage1[0])
    cfg['backbone']['frozen_stages_i'] = HALF[arch]
    unshared = build(cfg)
    shared_cfg = copy.deepcopy(cfg)
    shared_cfg['backbone']['share_frozen_prefix'] = True
    shared = build(shared_cfg, unshared.state_dict())
    assert shared.backbone.shared_stages == HALF[arch]
    inputs, samples = make_batch()
    grads = []
    for model in (unshared, shared):
        model.train()
        feats = model.backbone(inputs)
        loss = model.head.loss(feats, samples)['loss']
        loss.backward()
        grads.append({
            n: p.grad.clone()
            for n, p in model.named_parameters() if p.grad is not None
        })
        model.zero_grad()
        feats_eval = model.eval().backbone(inputs)
        grads[-1].update(
            {f'feat{i}': f for i, f in enumerate(feats + feats_eval)})
        grads[-1]['loss'] = loss.detach()
    assert grads[0].keys() == grads[1].keys()
    for key in grads[0]:
        torch.testing.assert_close(grads[1][key], grads[0][key],
                                   rtol=1e-5, atol=1e-6, msg=key)
    # I's frozen stages get no gradient; its later ones do.
    assert 'backbone.encoder_i.backbone.layers.0.ln1.weight' not in grads[1]
    assert any(k.startswith('backbone.encoder_i.') for k in grads[1])


def test_shared_prefix_needs_frozen_stages_of_e_weights(tiny, resnet_stage1):
    cfg = regulated_cfg('resnet', 'ereg', resnet_stage1[0])
    cfg['backbone']['share_frozen_prefix'] = True
    with pytest.raises(ValueError, match='frozen_stages_i'):
        MODELS.build(cfg)
    cfg['backbone']['frozen_stages_i'] = 2
    model = build(cfg)
    with torch.no_grad():
        model.backbone.encoder_i.backbone.layer1[0].conv1.weight.add_(1.)
    with pytest.raises(RuntimeError, match='differ from E'):
        model.backbone(make_batch()[0])
    no_e = regulated_cfg('resnet', 'const', resnet_stage1[0])
    no_e['backbone'].update(share_frozen_prefix=True, frozen_stages_i=2)
    with pytest.raises(ValueError, match='share_frozen_prefix'):
        MODELS.build(no_e)


def test_frozen_stages_i_leaves_n_trainable(resnet_stage1):
    cfg = regulated_cfg('resnet', 'ereg', resnet_stage1[0])
    cfg['backbone']['frozen_stages_i'] = 2
    wrapper = build(cfg).backbone
    assert all(p.requires_grad for p in wrapper.encoder_n.parameters())
    assert not wrapper.encoder_i.backbone.layer2[0].conv1.weight.requires_grad
    assert wrapper.encoder_i.backbone.layer3[0].conv1.weight.requires_grad


# ----------------------------------------------------- inference-mode E --
def test_e_runs_in_inference_mode_and_learned_rho_trains(resnet_stage1):
    model = build(regulated_cfg('resnet', 'learn-ereg', resnet_stage1[0]))
    seen = []
    model.backbone.encoder_e.register_forward_pre_hook(
        lambda m, a: seen.append(torch.is_inference_mode_enabled()))
    inputs, samples = make_batch()
    feats = model.backbone(inputs)
    assert seen == [True]
    assert not feats.emotion_logits.is_inference()
    model.head.loss(feats, samples)['loss'].backward()
    assert model.head.regulator.weight.grad.abs().sum() > 0


# ------------------------------------------------------------ the cache --
def test_cache_gives_the_same_losses_without_augmentation(arch, stage1):
    plain = build(regulated_cfg(arch, 'learn-ereg', stage1[0]))
    cached = build(cached_cfg(arch, 'learn-ereg', stage1[0]),
                   plain.state_dict())
    optim = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
    losses = []
    for model in (plain, cached):
        optim_wrapper = build_optim_wrapper(model, copy.deepcopy(optim))
        run = []
        for epoch in range(2):  # the same images every epoch
            for step in range(2):
                inputs, samples = indexed_batch(seed=step,
                                                first_idx=4 * step)
                out = model.train_step(
                    dict(inputs=inputs, data_samples=samples), optim_wrapper)
                run.append(out['loss'].detach())
        losses.append(torch.stack(run))
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-6, atol=1e-7)
    cache = cached.backbone.affect_cache
    assert len(cache) == 8 and cache.computed == 8  # epoch 2: all hits


def test_cache_needs_the_data_samples(resnet_stage1):
    cfg = cached_cfg('resnet', 'ereg', resnet_stage1[0])
    cfg['type'] = 'ImageClassifier'
    model = build(cfg)
    with pytest.raises(ValueError, match='RegulatedImageClassifier'):
        model.loss(*indexed_batch())
    with pytest.raises(ValueError, match='affect_cache'):
        MODELS.build(cached_cfg('resnet', 'const', resnet_stage1[0]))


def test_fill_pass_and_invalidation(tmp_path, resnet_stage1):
    cache_dir = str(tmp_path / 'cache')
    cfg = cached_cfg('resnet', 'ereg', resnet_stage1[0], cache_dir=cache_dir)
    model = build(cfg)
    dataset = ArrayDataset(images(6, seed=0))
    assert fill_affect_cache(model, dataset, batch_size=4) == 6
    cache = model.backbone.affect_cache
    first = cache.get(['idx:0', 'idx:5']).clone()
    # The clean image's affect, as E computes it.
    img = torch.from_numpy(dataset.images[5]).permute(2, 0, 1)[None].float()
    expected = model.backbone.emotion_logits(img)
    torch.testing.assert_close(cache.get(['idx:5']), expected)
    # Filled once: nothing recomputed; training steps hit the cache.
    assert fill_affect_cache(model, dataset) == 0
    model.train()
    model.loss(*indexed_batch(first_idx=0))
    assert cache.computed == 6

    # A new model on the same checkpoint and dataset loads the file.
    again = build(cfg)
    assert fill_affect_cache(again, ArrayDataset(images(6, seed=0))) == 0

    # A changed dataset: recomputed.
    other = ArrayDataset(images(6, seed=1))
    assert fill_affect_cache(model, other) == 6
    assert not torch.equal(cache.get(['idx:0', 'idx:5']), first)

    # Back to the first dataset: its file is still valid.
    assert fill_affect_cache(model, dataset) == 0
    torch.testing.assert_close(cache.get(['idx:0', 'idx:5']), first)
    other_ckpt = str(tmp_path / 'other_stage1.pth')
    state = write_stage1('resnet', other_ckpt)
    state['head.fc.bias'] += 1.
    torch.save({'state_dict': state}, other_ckpt)
    model.backbone.emotional_checkpoint = other_ckpt
    model.backbone.load_emotional_checkpoint()  # a changed checkpoint
    assert fill_affect_cache(model, dataset) == 6
    assert not torch.equal(cache.get(['idx:0', 'idx:5']), first)
    # ... also when weights arrive through load_state_dict.
    fresh = build(cfg)
    fill_affect_cache(fresh, dataset)
    fresh.load_state_dict(model.state_dict())
    fresh.train()
    fresh.loss(*indexed_batch())
    fresh_cache = fresh.backbone.affect_cache
    assert fresh_cache.fingerprint == cache.fingerprint  # rebound
    torch.testing.assert_close(fresh_cache.get(['idx:0', 'idx:5']),
                               cache.get(['idx:0', 'idx:5']))


def test_fill_pass_is_split_across_ranks(resnet_stage1, monkeypatch):
    """Two ranks, simulated: each computes every other sample, the gather
    gives both the whole cache, equal to one process's fill."""
    from emoreg_mm.models import affect_cache as module
    cfg = cached_cfg('resnet', 'ereg', resnet_stage1[0])
    single = build(cfg)
    dataset = ArrayDataset(images(5, seed=0))
    assert fill_affect_cache(single, dataset, batch_size=2) == 5
    shares = {}

    def gather(rank):
        def all_gather_object(obj):
            shares[rank] = obj
            return [shares[r] for r in sorted(shares)]
        return all_gather_object

    ranks = {}
    for rank in (1, 0):  # rank 1 first: rank 0 then sees both shares
        monkeypatch.setattr(module, 'get_dist_info', lambda: (rank, 2))
        monkeypatch.setattr(module, 'all_gather_object', gather(rank))
        ranks[rank] = build(cfg, single.state_dict())
        fill_affect_cache(ranks[rank], dataset, batch_size=2)
    assert shares[1][0] == ['idx:1', 'idx:3']  # rank 1's share
    assert shares[0][0] == ['idx:0', 'idx:2', 'idx:4']
    keys = [f'idx:{i}' for i in range(5)]
    full = ranks[0].backbone.affect_cache
    assert len(full) == 5
    torch.testing.assert_close(full.get(keys),
                               single.backbone.affect_cache.get(keys))


def test_cache_is_off_in_eval_mode_by_default(resnet_stage1):
    model = build(cached_cfg('resnet', 'ereg', resnet_stage1[0]))
    model.train()
    model.loss(*indexed_batch(seed=0))
    model.eval()
    other_images = indexed_batch(seed=1)  # same sample_idx, other images
    with torch.no_grad():
        preds = model.predict(*other_images)
    expected = torch.softmax(
        model.backbone.emotion_logits(other_images[0]), -1)
    torch.testing.assert_close(torch.stack([p.affect_score for p in preds]),
                               expected)


# ------------------------------------------- AMP, channels-last, compile --
def test_amp_bf16_on_cpu(arch, stage1):
    model = build(regulated_cfg(arch, 'learn-ereg', stage1[0]))
    optim_wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.1)))
    inputs, samples = make_batch()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = model.train_step(dict(inputs=inputs, data_samples=samples),
                               optim_wrapper)
        feats = model.backbone(inputs)
    assert torch.isfinite(out['loss'])
    assert feats.emotion_logits.dtype == torch.float32
    model.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        preds = model.predict(inputs)
    assert all(torch.isfinite(p.pred_score).all() for p in preds)


def test_cache_is_filled_in_the_training_dtype(resnet_stage1):
    """Under mixed precision the fill pass runs E in training's dtype: the
    cached logits are those the uncached model computes under autocast."""
    cfg = cached_cfg('resnet', 'ereg', resnet_stage1[0])
    model = build(cfg).eval()
    dataset = ArrayDataset(images(4, seed=0))
    keys = [f'idx:{i}' for i in range(4)]
    imgs = torch.stack([torch.from_numpy(i).permute(2, 0, 1)
                        for i in dataset.images]).float()
    assert fill_affect_cache(model, dataset, dtype=torch.bfloat16) == 4
    cache = model.backbone.affect_cache
    assert cache.dataset_id.endswith('|autocast:bfloat16')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        expected = model.backbone.emotion_logits(imgs)
    assert cache.get(keys).dtype == torch.float32
    torch.testing.assert_close(cache.get(keys), expected.float())
    # float32 training: another fingerprint, recomputed in float32
    assert fill_affect_cache(model, dataset) == 4
    torch.testing.assert_close(cache.get(keys),
                               model.backbone.emotion_logits(imgs))


def test_channels_last_draws_the_same_initial_weights(resnet_stage1):
    """Initialisers fill in memory order: the wrapper draws contiguous
    weights, so N starts as without channels-last (paired runs)."""
    states = []
    for channels_last in (False, True):
        cfg = regulated_cfg('resnet', 'learn-ereg', resnet_stage1[0])
        cfg['backbone']['channels_last'] = channels_last
        torch.manual_seed(0)
        model = MODELS.build(cfg)
        torch.manual_seed(1)
        model.init_weights()
        states.append(model.state_dict())
    for key, value in states[0].items():
        assert torch.equal(states[1][key], value), key
    conv = model.backbone.encoder_n.backbone.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_gives_the_same_outputs(resnet_stage1):
    cfg = regulated_cfg('resnet', 'ereg', resnet_stage1[0])
    model = build(cfg)
    cl_cfg = copy.deepcopy(cfg)
    cl_cfg['backbone']['channels_last'] = True
    cl_model = build(cl_cfg, model.state_dict())
    conv = cl_model.backbone.encoder_i.backbone.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    inputs, _ = make_batch()
    model.eval(), cl_model.eval()
    with torch.no_grad():
        for a, b in zip(model.backbone(inputs), cl_model.backbone(inputs)):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_torch_compile_runs_a_tiny_regulated_model(resnet_stage1):
    """TorchDynamo traces the whole regulated model and AOTAutograd its
    backward (``aot_eager``: every step of ``torch.compile`` but inductor's
    C++ code generation, which takes minutes on a CPU; inductor itself runs
    in ``tools/analysis_tools/benchmark.py --compile``)."""
    torch._dynamo.reset()
    model = build(regulated_cfg('resnet', 'learn-ereg', resnet_stage1[0]))
    model.train()
    inputs, samples = make_batch()
    eager = model.head.loss(model.backbone(inputs), samples)['loss']
    compiled = torch.compile(model, backend='aot_eager')
    loss = compiled(inputs, samples, mode='loss')['loss']
    loss.backward()
    torch.testing.assert_close(loss, eager, rtol=1e-4, atol=1e-5)
    assert model.head.regulator.weight.grad is not None
    assert all(p.grad is None for p in model.backbone.frozen_parameters())
