# CIFAR-10 at its native 32 x 32 for the cheap CIFAR-resolution ResNet:
# mmpretrain's own recipe (configs/_base_/datasets/cifar10_bs16.py: random
# crop with padding 4, flip, CIFAR normalisation, 8 GPUs x 16 = 128, the
# total batch of schedules/resnet_cifar.py), with the held-out validation
# split of cifar10.py.
_base_ = ['./cifar10.py']
data_preprocessor = dict(
    _delete_=True,
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)  # no upsampling
train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='RandomCrop', crop_size=32, padding=4),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs'),
    ]))
val_dataloader = dict(dataset=dict(pipeline=[dict(type='PackInputs')]))
test_dataloader = dict(dataset=dict(pipeline=[dict(type='PackInputs')]))
