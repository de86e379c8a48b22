# Stage 1: CIFAR ResNet-18 at 32 px (cheap variant) learns the emotions of EmoSet.
# Its checkpoints (work_dirs/resnet18-cifar_emoset) feed every stage-2 config on
# EmoSet with this backbone.
_base_ = [
    '../_base_/models/resnet18-cifar.py',
    '../_base_/datasets/emoset_32px.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=_base_.num_emotions))
