# Demo model: mmpretrain's CIFAR ResNet-18 (models/resnet18-cifar.py) with
# 8 base channels instead of 64 (64-d features), for 32 x 32 on a CPU.
# zero_init_residual=False: from scratch in a few epochs it learns faster.
_base_ = ['../../../_base_/models/resnet18-cifar.py']
emoreg_backbone = 'tiny-resnet'
model = dict(
    backbone=dict(
        stem_channels=8, base_channels=8, zero_init_residual=False),
    head=dict(in_channels=64))
