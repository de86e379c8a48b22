# Stage 2 for ResNets: mmpretrain's CIFAR recipe (configs/_base_/schedules/
# cifar10_bs128.py): SGD lr 0.1, momentum 0.9, weight decay 1e-4, 200 epochs,
# lr x0.1 at epochs 100 and 150, total batch 128.
# Frozen parameters (the emotional encoder) stay out of the optimizer.
optim_wrapper = dict(
    constructor='TrainableParamsOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[100, 150], gamma=0.1)
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
