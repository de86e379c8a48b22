# CIFAR-10 as a stage-2 target at 224 x 224, the input size of the
# ImageNet-initialised ResNet-50 / ViT-B/16 and of their stage-1 training:
# mmpretrain's CIFAR augmentation (random crop with padding 4, flip) on the
# native 32 x 32 images in the data workers, then bicubic upsampling to 224
# on the device (UpsampleClsDataPreprocessor: the workers ship 3 KiB an
# image, not 147 KiB; it matches cv2's Resize up to cv2's rounding to whole
# levels); ImageNet normalisation, as stage 1.
# Batch: 8 GPUs x 64 = 512 images per iteration and optimizer step, the
# total batch of the 224-px schedules (by estimate about 30 GiB a GPU in float32 for
# the regulated ViT-B/16, half of it with --amp; on smaller GPUs
# train_dataloader.batch_size=16 optim_wrapper.accumulative_counts=4 gives
# the same total). Workers persist across epochs and pin their batches, and
# the images go to the device in copies that do not wait (non_blocking),
# each batch stacked into one tensor in the workers (default_collate: one
# copy a batch, not one an image).
#
# Held-out validation: training uses 45,000 of the 50,000 training images;
# validation (and the best checkpoint, `save_best`) uses the other 5,000,
# stratified by class and fixed by `split_seed` (not by the run's seed); the
# test split is read only by tools/test.py. To validate on the test split as
# mmpretrain's CIFAR configs do (then the best checkpoint is selected on the
# test set, and the results table marks it):
#   --cfg-options val_dataloader.dataset.split=test
emoreg_target = 'cifar10'
dataset_type = 'HeldOutCIFAR10'
data_root = 'data/cifar10'
data_preprocessor = dict(
    type='UpsampleClsDataPreprocessor',
    size=224,
    non_blocking=True,
    num_classes=10,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=False)  # CIFAR arrays are RGB already
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        val_size=5000,
        split_seed=0,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        val_size=5000,
        split_seed=0,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = val_evaluator
