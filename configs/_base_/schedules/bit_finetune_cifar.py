# Stage 2 for ResNet-50 at 224 px: BiT-HyperRule, the fine-tuning rule of
# Kolesnikov et al., "Big Transfer (BiT): General Visual Representation
# Learning", ECCV 2020, Sec. 3.3 (reference code: google-research/
# big_transfer, bit_hyperrule.py). The source reports: SGD, momentum 0.9,
# initial lr 0.003, batch 512, no weight decay; for 20k-500k training
# examples (CIFAR's 45k) 10k steps with a linear warm-up over the first 500
# and lr x0.1 at steps 3k, 6k and 9k (30 / 60 / 90 %); MixUp alpha 0.1 for
# sets of 20k examples or more; CIFAR resized to 160 px, random crop 128,
# flip. Deviation: the images are upsampled to 224 px (stage 1 and the
# ImageNet weights are at 224) after CIFAR's pad-4 crop and flip.
#
# Default: 8 GPUs x 64 images = total batch 512, one optimizer step per
# iteration (no accumulation). 114 epochs of the 45,000 training images: 88
# steps per epoch, 10,032 steps in all; warm-up 6 epochs (528 steps), lr
# x0.1 at epochs 34, 68 and 102 (the whole epochs nearest the rule's
# steps). The lr is the rule's for total batch 512, which is unchanged:
# each step averages the gradient of the same 512 images as 8 x 16 x 4
# accumulated did (BatchNorm now normalises over 64 images a GPU, not 16).
# --auto-scale-lr scales lr by (GPUs x 64) / 512, e.g. 0.0015 on 4 GPUs
# (total batch 256); epochs, hence images seen, stay.
# Checkpoints every 10 epochs (default_runtime.py) plus the last and the
# best; validation every 6 epochs and at the last one.
# Frozen parameters (the emotional encoder) stay out of the optimizer.
# model_train_cfg: the model's train_cfg (each stage-2 leaf passes it on).
model_train_cfg = dict(augments=dict(type='Mixup', alpha=0.1))
optim_wrapper = dict(
    constructor='TrainableParamsOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.003, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=6,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[34, 68, 102],
         gamma=0.1),
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=114, val_interval=6)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=512)
