import copy
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from emoreg_mm.models import (DEFAULT_EMOTION_CLASSES, REGULATION_MODES,
                              BaseRegulator, EmotionalFeatures, fuse_log_probs)
from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

MODES = sorted(REGULATION_MODES)
C, K, DIM = 10, 8, 16


def head_and_feats(mode, scale=1., batch_size=6, **kwargs):
    """A lone head and synthetic features of magnitude ``scale``."""
    head = MODELS.build(
        dict(type='RegulationHead',
             num_classes=C,
             in_channels=DIM,
             regulator=mode,
             **kwargs))
    head.init_weights()
    gen = torch.Generator().manual_seed(0)
    branches = head.branches

    def feat(branch, dim):
        if branch not in branches:
            return None
        return (torch.randn(batch_size, dim, generator=gen) *
                scale).requires_grad_(branch != 'E')

    feats = EmotionalFeatures(feat('N', DIM), feat('I', DIM), feat('E', K))
    return head, feats


def samples_of(batch_size=6, soft=False):
    gen = torch.Generator().manual_seed(1)
    out = []
    for label in torch.randint(C, (batch_size, ), generator=gen):
        sample = DataSample().set_gt_label(label)
        if soft:
            q = torch.rand(C, generator=gen)
            q[0] = 0.  # classes outside the soft label: 0 * log p
            sample.set_gt_score(q / q.sum())
        out.append(sample)
    return out


@pytest.mark.parametrize('mode', MODES)
def test_loss_predict_tensor_on_tiny_models(tiny, arch, stage1, mode):
    model = tiny.build(arch, mode, stage1[0])
    inputs, samples = tiny.batch()
    model.train()
    for soft in (False, True):
        losses = model(inputs, tiny.batch(soft=soft)[1], mode='loss')
        assert torch.isfinite(losses['loss']) and losses['loss'] > 0
        # losses only: mmengine reads every entry on the host each
        # iteration (rho is logged by RegulationMonitorHook)
        assert all('loss' in k for k in losses), losses.keys()
        losses['loss'].backward()

    model.eval()
    with torch.no_grad():
        logits = model(inputs, mode='tensor')
        preds = model(inputs, samples, mode='predict')
    assert logits.shape == (4, tiny.num_classes)
    fused = torch.stack([p.pred_score for p in preds])
    assert torch.allclose(fused.sum(1), torch.ones(4), atol=1e-6)
    assert torch.allclose(F.softmax(logits, 1), fused, atol=1e-6)
    for pred in preds:
        assert pred.pred_label.item() == pred.pred_score.argmax().item()
        assert pred.rho.ndim == 0 and 0 <= pred.rho <= 1
        if 'E' in tiny.branches_of(mode):
            assert pred.affect_score.shape == (tiny.num_emotions, )
            assert torch.allclose(pred.affect_score.sum(), torch.tensor(1.))
            assert pred.affect_class == \
                DEFAULT_EMOTION_CLASSES[pred.affect_label.item()]
        else:
            assert 'affect_score' not in pred


@pytest.mark.parametrize('mode', MODES)
def test_no_nan_or_inf_with_huge_logits(mode):
    head, feats = head_and_feats(mode, scale=1e4, aux_loss_weight=0.1)
    with torch.no_grad():  # make z_N, z_I of magnitude ~1e4
        for fc in (head.fc_n, head.fc_i):
            if fc is not None:
                fc.weight.copy_(torch.randn_like(fc.weight))
    for soft in (False, True):
        losses = head.loss(feats, samples_of(soft=soft))
        total = sum(v for k, v in losses.items() if 'loss' in k)
        assert torch.isfinite(total)
        head.zero_grad()
        total.backward()
        for param in head.parameters():
            assert param.grad is None or torch.isfinite(param.grad).all()
    logits = head(feats)
    assert torch.isfinite(logits).all()
    scores = torch.stack([p.pred_score for p in head.predict(feats)])
    assert torch.isfinite(scores).all()
    assert torch.allclose(scores.sum(1), torch.ones(len(scores)), atol=1e-6)


def test_fusion_is_exact_and_nan_free_at_rho_0_and_1():
    z_n = (torch.randn(3, C) * 1e4).requires_grad_()
    z_i = (torch.randn(3, C) * 1e4).requires_grad_()
    rho = torch.tensor([0., 1., 0.5], requires_grad=True)
    log_p_n, log_p_i = F.log_softmax(z_n, 1), F.log_softmax(z_i, 1)
    log_p = fuse_log_probs(log_p_n, log_p_i, rho)
    assert torch.equal(log_p[0], log_p_n[0])
    assert torch.equal(log_p[1], log_p_i[1])
    assert torch.allclose(log_p.exp().sum(1), torch.ones(3))
    log_p[:, 0].sum().backward()
    for tensor in (z_n, z_i, rho):
        assert torch.isfinite(tensor.grad).all()
    assert torch.equal(z_i.grad[0], torch.zeros(C))  # rho = 0: no say for I


def test_loss_is_nll_of_the_fused_prediction():
    head, feats = head_and_feats('learn-ereg')
    with torch.no_grad():
        head.regulator.bias.fill_(0.7)
    out = head.regulate(feats)
    rho = torch.sigmoid(torch.tensor(0.7))
    p = (1 - rho) * F.softmax(out.logits_n, 1) + rho * F.softmax(
        out.logits_i, 1)
    hard = samples_of()
    labels = torch.cat([s.gt_label for s in hard])
    expected = -p.log()[torch.arange(6), labels].mean()
    assert torch.allclose(head.loss(feats, hard)['loss'], expected)
    soft = samples_of(soft=True)
    q = torch.stack([s.gt_score for s in soft])
    expected = -(q * p.log()).sum(1).mean()
    assert torch.allclose(head.loss(feats, soft)['loss'], expected)


def fused_nll(head, feats, q):
    """-sum_c q_c log p_c over the batch, p the head's fused prediction."""
    p = head.probs(head.regulate(feats))
    return -(q * p.log()).sum(1).mean()


@pytest.mark.parametrize('mode', MODES)
def test_default_loss_module_gives_the_nll_of_p(mode):
    """The head's loss is mmpretrain's ``loss_module`` (CrossEntropyLoss by
    default) on log p: the negative log-likelihood of the fused prediction,
    to 1e-6, for hard and soft labels."""
    head, feats = head_and_feats(mode)
    assert type(head.loss_module).__name__ == 'CrossEntropyLoss'
    for soft in (False, True):
        samples = samples_of(soft=soft)
        q = torch.stack([s.gt_score for s in samples]) if soft else \
            F.one_hot(torch.cat([s.gt_label for s in samples]), C).float()
        loss = head.loss(feats, samples)['loss']
        assert abs((loss - fused_nll(head, feats, q)).item()) < 1e-6, mode


def test_mmpretrain_label_smoothing_smooths_the_target_of_p():
    smooth = dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                  mode='original')
    head, feats = head_and_feats('learn-ereg', loss=smooth)
    samples = samples_of()
    labels = torch.cat([s.gt_label for s in samples])
    q = F.one_hot(labels, C) * 0.9 + 0.1 / C
    loss = head.loss(feats, samples)['loss']
    assert abs((loss - fused_nll(head, feats, q)).item()) < 1e-6
    plain = head_and_feats('learn-ereg')[0].loss(feats, samples)['loss']
    assert abs((loss - plain).item()) > 1e-3  # the smoothed target differs


def test_auxiliary_losses_and_temperature():
    head, feats = head_and_feats('ereg', aux_loss_weight=0.5, temperature=2.)
    out = head.regulate(feats)
    assert torch.allclose(out.affect, F.softmax(feats.emotion_logits / 2., 1))
    samples = samples_of()
    labels = torch.cat([s.gt_label for s in samples])
    losses = head.loss(feats, samples)
    assert torch.allclose(losses['loss_aux_n'],
                          0.5 * F.cross_entropy(out.logits_n, labels))
    assert torch.allclose(losses['loss_aux_i'],
                          0.5 * F.cross_entropy(out.logits_i, labels))
    assert 'loss_aux_n' not in head_and_feats('ereg')[0].loss(feats, samples)


def test_wrong_features_are_a_clear_error():
    head, _ = head_and_feats('ereg')
    with pytest.raises(TypeError, match='EmotionalFeatures'):
        head((torch.randn(2, DIM), ))
    with pytest.raises(ValueError, match='5 emotions'):
        head(
            EmotionalFeatures(torch.randn(2, DIM), torch.randn(2, DIM),
                              torch.randn(2, 5)))


def test_emotion_class_names_come_from_config():
    names = ('joy', 'calm', 'fear')
    head, _ = head_and_feats('ereg', emotion_classes=names)
    feats = EmotionalFeatures(torch.randn(1, DIM), torch.randn(1, DIM),
                              torch.tensor([[0., 5., 1.]]))
    pred = head.predict(feats)[0]
    assert pred.affect_class == 'calm' and pred.affect_label.item() == 1


def test_user_registered_regulator(tiny, resnet_stage1):

    @MODELS.register_module(force=True)
    class QuarterRegulator(BaseRegulator):
        branches = ('N', 'I')

        def forward(self, affect, batch_size):
            return torch.full((batch_size, ), 0.25)

    model = tiny.build('resnet', dict(type='QuarterRegulator'),
                       resnet_stage1[0])
    preds = model(tiny.batch()[0], mode='predict')
    assert all(p.rho.item() == 0.25 for p in preds)


def plain_twin(tiny, arch, model, branch='n'):
    """A plain ImageClassifier with the weights of branch N (or I)."""
    spec = tiny.archs[arch]
    plain = MODELS.build(
        dict(type='ImageClassifier',
             backbone=copy.deepcopy(spec['backbone']),
             neck=copy.deepcopy(spec['neck']),
             head=dict(type='LinearClsHead',
                       num_classes=tiny.num_classes,
                       in_channels=spec['in_channels'])))
    encoder = getattr(model.backbone, f'encoder_{branch}')
    plain.backbone.load_state_dict(encoder.backbone.state_dict())
    plain.head.fc.load_state_dict(
        getattr(model.head, f'fc_{branch}').state_dict())
    return plain


@pytest.mark.parametrize('regulator',
                         ['baseline', dict(type='const', value=0.)])
def test_rho_zero_equals_plain_classifier(tiny, arch, stage1, regulator):
    model = tiny.build(arch, regulator, stage1[0])
    plain = plain_twin(tiny, arch, model)
    inputs, samples = tiny.batch()
    model.eval(), plain.eval()
    with torch.no_grad():
        ours = model(inputs, copy.deepcopy(samples), mode='predict')
        theirs = plain(inputs, copy.deepcopy(samples), mode='predict')
        for a, b in zip(ours, theirs):
            assert torch.equal(a.pred_score, b.pred_score)
            assert torch.equal(a.pred_label, b.pred_label)
            assert a.rho.item() == 0.
        assert torch.equal(
            model(inputs, samples, mode='loss')['loss'],
            plain(inputs, samples, mode='loss')['loss'])
        if regulator == 'baseline':  # a plain classifier, tensor mode too
            assert torch.equal(model(inputs), plain(inputs))


def test_rho_one_equals_plain_classifier_of_i(tiny, resnet_stage1):
    model = tiny.build('resnet', dict(type='const', value=1.),
                       resnet_stage1[0])
    plain = plain_twin(tiny, 'resnet', model, branch='i')
    inputs = tiny.batch()[0]
    model.eval(), plain.eval()
    with torch.no_grad():
        for a, b in zip(model(inputs, mode='predict'),
                        plain(inputs, mode='predict')):
            assert torch.equal(a.pred_score, b.pred_score)


@pytest.mark.parametrize('mode', ['ereg', 'rand-learn-ereg'])
def test_inferencer_from_stage2_checkpoint(tiny, tmp_path, resnet_stage1,
                                           mode):
    stage1_path = resnet_stage1[0]
    model_cfg = tiny.regulated_cfg('resnet', mode, stage1_path)
    model_cfg['data_preprocessor'] = dict(type='ClsDataPreprocessor',
                                          num_classes=tiny.num_classes,
                                          mean=[127.5] * 3,
                                          std=[127.5] * 3,
                                          to_rgb=True)
    model = MODELS.build(copy.deepcopy(model_cfg))
    model.init_weights()
    with torch.no_grad():  # stage 2 "trained": differs from a fresh init
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.1)
    classes = [f'class_{i}' for i in range(tiny.num_classes)]
    stage2_path = str(tmp_path / 'stage2.pth')
    torch.save(
        {
            'state_dict': model.state_dict(),
            'meta': {
                'dataset_meta': {
                    'classes': classes
                }
            }
        }, stage2_path)
    os.remove(stage1_path)  # inference must not need the stage-1 file

    cfg = Config(
        dict(model=model_cfg,
             test_dataloader=dict(
                 dataset=dict(type='CustomDataset',
                              pipeline=[
                                  dict(type='LoadImageFromFile'),
                                  dict(type='PackInputs')
                              ]))))
    inferencer = ImageClassificationInferencer(cfg, pretrained=stage2_path)
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(3)
    ]
    preds = inferencer(images, return_datasamples=True, batch_size=2)
    results = inferencer(images)

    model.eval()
    expected = model.test_step(
        dict(inputs=[
            torch.from_numpy(img).permute(2, 0, 1).contiguous()
            for img in images
        ]))
    for pred, result, ref in zip(preds, results, expected):
        assert torch.allclose(pred.pred_score, ref.pred_score, atol=1e-6)
        assert torch.allclose(pred.rho, ref.rho, atol=1e-6)
        assert 0 <= pred.rho <= 1
        assert torch.allclose(pred.affect_score, ref.affect_score, atol=1e-6)
        assert pred.affect_class in DEFAULT_EMOTION_CLASSES
        assert result['pred_class'] == classes[result['pred_label']]


@pytest.mark.parametrize('mode', ['const', 'learn-ereg'])
def test_feature_size_error_names_the_key(mode):
    """Features of another size than in_channels: the error says which
    config key to change, and to what."""
    head, feats = head_and_feats(mode)
    wrong = EmotionalFeatures(*(f if f is None or i == 2 else f[:, :12]
                                for i, f in enumerate(feats)))
    with pytest.raises(ValueError, match=r'encoders give 12-d features, but '
                       r'model.head.in_channels is 16: set '
                       r'model.head.in_channels=12'):
        head.loss(wrong, samples_of())


def test_predict_reads_the_device_once_per_batch(tiny, resnet_stage1):
    """The emotion names need the top emotions on the host: one read of
    the batch, not one per image."""
    model = tiny.build('resnet', 'learn-ereg', resnet_stage1[0]).eval()
    inputs, samples = tiny.batch()
    reads = []
    names = ('item', 'tolist', 'cpu', 'numpy', '__bool__', '__float__',
             '__int__')
    originals = {name: getattr(torch.Tensor, name) for name in names}

    def wrap(name, method):
        def read(self, *args, **kwargs):
            reads.append(name)
            return method(self, *args, **kwargs)
        return read

    with torch.no_grad():
        feats = model.extract_feat(inputs)
        try:
            for name, method in originals.items():
                setattr(torch.Tensor, name, wrap(name, method))
            preds = model.head.predict(feats, samples)
        finally:
            for name, method in originals.items():
                setattr(torch.Tensor, name, method)
    assert len(preds) == 4 and reads == ['tolist']
    assert all(p.affect_class in model.head.emotion_classes for p in preds)
