# CIFAR-10 at its native 32 x 32 for the cheap CIFAR-resolution ResNet:
# mmpretrain's own recipe (pipeline, CIFAR normalisation, 8 x 16 batch).
_base_ = ['mmpretrain::_base_/datasets/cifar10_bs16.py']
data_root = 'data/cifar10'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
