# Demo stage 2: the ResNet CIFAR schedule (schedules/resnet_cifar.py; the
# frozen emotional encoder is kept out of the optimizer) with AdamW at
# lr 5e-3 (from scratch, SGD needs far more than the demo's few epochs)
# and 4 epochs of cosine decay instead of 200 with steps at 100 / 150.
_base_ = ['../../../_base_/schedules/resnet_cifar.py']
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=5e-3, weight_decay=1e-4))
param_scheduler = dict(
    _delete_=True, type='CosineAnnealingLR', by_epoch=True, begin=0, end=4)
train_cfg = dict(max_epochs=4, val_interval=1)
auto_scale_lr = dict(base_batch_size=64)
