"""A tiny plain mmpretrain classifier and image-folder dataset for tests.

:func:`make_plain_config` writes a config file that sets ``custom_imports``
for emoreg_mm but uses only mmpretrain's own components, on a folder of
small generated images (:func:`make_image_folder`).
"""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

CLASSES = ('a', 'b')

#: A one-stage, 4-channel CIFAR ResNet classifier of ``{num_classes}``
#: classes, and the imports of a config that uses it.
TINY_MODEL = '''
custom_imports = dict(imports=['emoreg_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=4,
                  stem_channels=4, num_stages=1, out_indices=(0, ),
                  strides=(1, ), dilations=(1, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={num_classes},
              in_channels=4, loss=dict(type='CrossEntropyLoss')))
'''

CONFIG = TINY_MODEL.format(num_classes=2) + '''data_preprocessor = dict(num_classes=2, mean=[127.5] * 3, std=[127.5] * 3)
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
dataset = dict(type='CustomDataset', data_root={root!r}, with_label=True,
               pipeline=pipeline)
train_dataloader = dict(batch_size={batch_size}, num_workers=0,
                        dataset=dataset,
                        sampler=dict(type='DefaultSampler', shuffle=False))
val_dataloader = dict(batch_size=4, num_workers=0, dataset=dataset,
                      sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[1],
                       gamma=0.5, end=100)
train_cfg = dict(by_epoch=True, max_epochs={max_epochs}, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1),
    logger=dict(type='LoggerHook', interval=1))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, deterministic=False)
log_level = 'INFO'
'''


def make_image_folder(root, per_class=4, size=8):
    """Write ``per_class`` random PNGs for each of :data:`CLASSES`."""
    rng = np.random.default_rng(0)
    for name in CLASSES:
        folder = osp.join(root, name)
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(osp.join(folder, f'{i}.png'))
    return root


def make_plain_config(tmp_path, max_epochs=2, batch_size=4):
    """Write the data and the config under ``tmp_path``; return its path."""
    root = make_image_folder(str(tmp_path / 'data'))
    path = tmp_path / 'plain_config.py'
    path.write_text(
        CONFIG.format(root=root, max_epochs=max_epochs,
                      batch_size=batch_size))
    return str(path)


@pytest.fixture
def plain_config(tmp_path):
    """Path of a tiny plain mmpretrain config (2 epochs of 2 iterations)."""
    return make_plain_config(tmp_path)
