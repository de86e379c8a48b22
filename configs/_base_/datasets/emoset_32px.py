# EmoSet at 32 x 32 for the cheap CIFAR-resolution ResNet (stage 1): images
# resized to 32, then CIFAR's augmentation and normalisation, as its
# stage-2 targets (cifar10_32px.py).
_base_ = ['./emoset.py']
data_preprocessor = dict(
    mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255])
train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(32, 32)),
        dict(type='RandomCrop', crop_size=32, padding=4),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs'),
    ]))
test_pipeline_32px = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline_32px))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline_32px))
