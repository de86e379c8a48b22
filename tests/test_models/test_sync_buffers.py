"""SyncTrainedBuffersHook: the running statistics of N's and I's
BatchNorm are averaged over ranks after each epoch; E's are left alone."""
from types import SimpleNamespace

from mmpretrain.registry import MODELS

from emoreg_mm.engine.hooks import SyncTrainedBuffersHook
from emoreg_mm.engine.hooks import sync_buffers_hook


def test_only_the_trained_statistics_are_averaged(tiny, resnet_stage1,
                                                  monkeypatch):
    cfg = tiny.regulated_cfg('resnet', 'learn-ereg', resnet_stage1[0])
    cfg['backbone']['frozen_stages_i'] = 1
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    wrapper = model.backbone
    reduced = []
    monkeypatch.setattr(sync_buffers_hook, 'all_reduce_params',
                        lambda tensors, op: reduced.append((list(tensors),
                                                            op)))
    hook = SyncTrainedBuffersHook()
    hook.distributed = True
    hook.after_train_epoch(SimpleNamespace(model=model))
    hook.before_val_epoch(SimpleNamespace(model=model))  # done already
    assert len(reduced) == 1 and reduced[0][1] == 'mean'
    ids = {id(t) for t in reduced[0][0]}

    def named(module):
        return {n: b for n, b in module.named_buffers()}

    n, i, e = (named(m) for m in (wrapper.encoder_n, wrapper.encoder_i,
                                  wrapper.encoder_e))
    assert all(id(b) in ids for k, b in n.items()
               if b.is_floating_point())
    # I: its trained stages, not its frozen stem and first stage
    assert id(i['backbone.layer2.0.bn1.running_mean']) in ids
    assert id(i['backbone.layer1.0.bn1.running_mean']) not in ids
    assert id(i['backbone.bn1.running_var']) not in ids
    assert not any(id(b) in ids for b in e.values())
    assert not any(not t.is_floating_point() for t in reduced[0][0])
    # single process: nothing
    hook = SyncTrainedBuffersHook()
    assert not hook.distributed
    hook.after_train_epoch(SimpleNamespace(model=model))
    assert len(reduced) == 1
