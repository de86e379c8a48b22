"""Mixed precision: the regulation head (log-softmax, regulator, fusion,
loss) runs in float32 under autocast; CPU bf16 autocast is the proxy of a
GPU's."""
import torch
from mmpretrain.registry import MODELS

from conftest import NUM_CLASSES, make_batch
from emoreg_mm.models.backbones.emotional_wrapper import EmotionalFeatures

#: Relative error of the head's loss and gradients under bf16 autocast
#: against float32, on float32 features (the head's own share). Measured
#: before the head ran in float32: loss 8e-4, gradients median 1.4e-2.
TOL = 1e-6


def head_and_inputs(seed=0, batch=16, dim=32, classes=NUM_CLASSES, emotions=8):
    torch.manual_seed(seed)
    head = MODELS.build(
        dict(type='RegulationHead', num_classes=classes, in_channels=dim,
             regulator='learn-ereg', aux_loss_weight=0.5))
    head.init_weights()
    with torch.no_grad():  # a regulator that depends on the affect
        for p in head.regulator.parameters():
            p.normal_()
    feats = EmotionalFeatures(
        torch.randn(batch, dim) * 3, torch.randn(batch, dim) * 3,
        torch.randn(batch, emotions) * 2)
    samples = make_batch(batch)[1]
    return head, feats, samples


def loss_and_grads(head, feats, samples, autocast):
    feats = EmotionalFeatures(
        *(f.detach().clone().requires_grad_(i < 2)
          for i, f in enumerate(feats)))
    head.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        losses = head.loss(feats, samples)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in head.named_parameters()}
    grads.update(feat_n=feats.feat_n.grad, feat_i=feats.feat_i.grad)
    return loss.detach(), grads


def bf16_errors(seed=0):
    """(loss relative error, {name: gradient relative error}) of the head
    under CPU bf16 autocast against float32."""
    head, feats, samples = head_and_inputs(seed)
    loss32, grads32 = loss_and_grads(head, feats, samples, False)
    loss16, grads16 = loss_and_grads(head, feats, samples, True)
    assert loss16.dtype == torch.float32
    rel = {
        k: ((grads16[k].float() - g).norm() / g.norm()).item()
        for k, g in grads32.items()
    }
    return (abs(loss16 - loss32) / loss32).item(), rel


def test_head_runs_in_float32_under_bf16_autocast():
    loss_err, grad_err = bf16_errors()
    assert set(grad_err) >= {'fc_n.weight', 'fc_i.weight', 'feat_n',
                             'feat_i'}
    assert any(k.startswith('regulator.') for k in grad_err)
    assert loss_err <= TOL, loss_err
    assert max(grad_err.values()) <= TOL, grad_err


def test_head_outputs_are_float32_for_bf16_features():
    """Features of a bf16 backbone: the head casts them up."""
    head, feats, samples = head_and_inputs()
    feats = EmotionalFeatures(*(f.bfloat16() for f in feats))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = head.regulate(feats)
        logits = head(feats)
        preds = head.predict(feats, samples)
    assert out.rho.dtype == out.logits_n.dtype == torch.float32
    assert logits.dtype == torch.float32
    assert preds[0].pred_score.dtype == torch.float32
