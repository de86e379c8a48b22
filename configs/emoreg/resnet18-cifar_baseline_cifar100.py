# Baseline: plain CIFAR ResNet-18 at 32 px (cheap variant) classifier on CIFAR-100 (no emotional
# encoder), the reference every regulation mode is compared with.
_base_ = [
    '../_base_/models/resnet18-cifar.py',
    '../_base_/regulation/baseline.py',
    '../_base_/datasets/cifar100_32px.py',
    '../_base_/schedules/resnet_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(
    train_cfg=_base_.model_train_cfg,
    head=dict(num_classes=_base_.data_preprocessor.num_classes))
