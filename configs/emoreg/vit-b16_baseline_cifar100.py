# Baseline: plain ViT-B/16 at 224 px classifier on CIFAR-100 (no emotional
# encoder), the reference every regulation mode is compared with.
_base_ = [
    '../_base_/models/vit-b16.py',
    '../_base_/regulation/baseline.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/vit_finetune_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(
    train_cfg=_base_.model_train_cfg,
    head=dict(num_classes=_base_.data_preprocessor.num_classes))
