# Stage 2 for the CIFAR ResNet-18 (N trained from scratch at 32 px):
# mmpretrain's from-scratch CIFAR recipe (configs/_base_/schedules/
# cifar10_bs128.py): SGD lr 0.1, momentum 0.9, weight decay 1e-4 (not on
# the regulator), 200 epochs, lr x0.1 at epochs 100 and 150, total batch 128.
#
# Default: 8 GPUs x 16 = total batch 128; 352 steps per epoch of the 45,000
# training images, 70,400 steps in all. --auto-scale-lr scales lr by
# (GPUs x 16) / 128, e.g. 0.05 on 4 GPUs; epochs stay. A 32-px batch of
# 16 per GPU keeps mmpretrain's total batch 128 (larger per-GPU batches
# would change the recipe's total).
# Checkpoints every 10 epochs (default_runtime.py) plus the last and the
# best; validation every 5 epochs and at the last one.
# Frozen parameters (the emotional encoder) stay out of the optimizer.
# model_train_cfg: the model's train_cfg (no batch augmentation here).
model_train_cfg = None
optim_wrapper = dict(
    constructor='TrainableParamsOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[100, 150], gamma=0.1)
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=200, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
