# Stage 1: CIFAR ResNet-18 at 32 px (cheap variant) learns the emotions of EmoSet.
# Its checkpoints (work_dirs/resnet18-cifar_emoset) feed every stage-2 config on
# EmoSet with this backbone.
_base_ = [
    '../_base_/models/resnet18-cifar.py',
    '../_base_/datasets/emoset_32px.py',
    '../_base_/schedules/affective_scratch.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
# From scratch, about 94,500 training images (schedules/affective_scratch.py):
# total batch 128 (8 GPUs x 16), lr 0.1; 200 epochs of 739 steps.
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=0.1))
auto_scale_lr = dict(base_batch_size=128)
