"""Tiny regulated configs and stage-1 checkpoints for the engine tests."""
import os.path as osp

import torch
from mmpretrain.registry import MODELS

from plain_config import make_image_folder

HERE = osp.dirname(osp.abspath(__file__))
EMOTIONS = ['calm', 'joy', 'fear']
#: backbone, wrapper neck and pooled feature size of tiny 8x8 models.
ARCHS = {
    'resnet': dict(
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=4,
                      base_channels=4),
        neck=dict(type='GlobalAveragePooling'), in_channels=32),
    # No BatchNorm (LayerNorm only): per-rank batches give the statistics
    # of the full batch, so DDP matches one process.
    'vit': dict(
        backbone=dict(type='VisionTransformer', img_size=8, patch_size=4,
                      arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                                feedforward_channels=32)),
        neck=None, in_channels=16),
}

CONFIG = '''
custom_imports = dict(imports=['emoreg_mm', '_engine_test_hooks'],
                      allow_failed_imports=False)
default_scope = 'mmpretrain'
model = dict(
    type='RegulatedImageClassifier',
    backbone=dict(type='EmotionalBackboneWrapper', backbone={backbone!r},
                  neck={neck!r}, emotional_checkpoint={stage1!r},
                  in_channels={in_channels}),
    head=dict(type='RegulationHead', num_classes={num_classes},
              in_channels={in_channels}, regulator='learn-ereg',
              emotion_classes={emotions!r}))
data_preprocessor = dict(num_classes=2, mean=[127.5] * 3, std=[127.5] * 3)
train_pipeline = [dict(type='LoadImageFromFile'),
                  dict(type='RandomFlip', prob={flip}, direction='horizontal'),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0,
    dataset=dict(type='CustomDataset', data_root={root!r}, with_label=True,
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle={shuffle}))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root={root!r}, with_label=True,
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9,
                                    weight_decay=1e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[2],
                       gamma=0.5)
train_cfg = dict(type='ResumableEpochBasedTrainLoop',
                 max_epochs={max_epochs}, val_interval=1)
val_cfg = dict()
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1),
    logger=dict(type='LoggerHook', interval=1))
custom_hooks = [
    dict(type='PreflightCheckHook'),
    dict(type='FiniteLossHook'),
    dict(type='RandomStateHook'),
    dict(type='PreemptionHook'),
    dict(type='EngineTestStallHook'),
] + {extra_hooks!r}
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=True)
log_level = 'INFO'
'''


def write_stage1(path, arch='resnet', classes=EMOTIONS, seed=7):
    """Save a stage-1 checkpoint (plain classifier of ``len(classes)``
    emotions, moved BatchNorm statistics; its weights drawn at ``seed``)
    with the classes in its meta, as a Runner writes it (classes that are
    rated dimensions, e.g. valence and arousal, as a rated set's
    ``dimensions`` too); return its state dict."""
    spec = ARCHS[arch]
    torch.manual_seed(seed)
    model = MODELS.build(dict(
        type='ImageClassifier', backbone=spec['backbone'], neck=spec['neck'],
        head=dict(type='LinearClsHead', num_classes=len(classes),
                  in_channels=spec['in_channels'])))
    model.init_weights()
    with torch.no_grad():
        model.train()
        model.extract_feat(torch.randn(4, 3, 8, 8) * 2 + 1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    dataset_meta = dict(classes=list(classes))
    if set(classes) <= {'valence', 'arousal', 'dominance'}:
        dataset_meta.update(dimensions=list(classes))
    torch.save({'state_dict': state, 'meta': dict(dataset_meta=dataset_meta)},
               str(path))
    return state


def write_regulated_config(tmp_path, arch='resnet', max_epochs=3,
                           batch_size=2, shuffle=True, num_classes=2,
                           emotions=EMOTIONS, stage1_arch=None,
                           stage1_emotions=None, extra_hooks=(), flip=0.5,
                           name='regulated.py', stage1_seed=7):
    """Write data (8 images per class), a stage-1 checkpoint (its weights
    drawn at ``stage1_seed``) and a config of a learn-ereg model (``flip``:
    RandomFlip probability; ``emotions`` None leaves
    ``model.head.emotion_classes`` unset, ``stage1_emotions`` then naming
    stage 1's); return the config path."""
    root = osp.join(str(tmp_path), 'data')
    if not osp.isdir(root):
        make_image_folder(root, per_class=8)
    stage1 = osp.join(str(tmp_path), f'stage1_{name}.pth')
    write_stage1(stage1, stage1_arch or arch,
                 stage1_emotions or emotions or EMOTIONS, stage1_seed)
    spec = ARCHS[arch]
    path = osp.join(str(tmp_path), name)
    with open(path, 'w') as f:
        f.write(CONFIG.format(
            backbone=spec['backbone'], neck=spec['neck'], stage1=stage1,
            in_channels=spec['in_channels'],
            num_classes=num_classes,
            emotions=list(emotions) if emotions is not None else None,
            root=root,
            batch_size=batch_size, shuffle=shuffle, max_epochs=max_epochs,
            extra_hooks=list(extra_hooks), flip=flip))
    return path
