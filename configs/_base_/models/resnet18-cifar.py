# The cheap variant: mmpretrain's CIFAR ResNet-18 (3x3 stem, no max-pool) at
# 32 x 32, trained from scratch, for quick runs of both stages.
emoreg_backbone = 'resnet18-cifar'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=8,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
