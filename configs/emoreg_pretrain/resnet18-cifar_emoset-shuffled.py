# Stage 1, shuffled control of EmoSet: resnet18-cifar_emoset.py with
# the emotion labels of its training split permuted (controls/shuffled.py);
# the same images, pieces and schedule. Its checkpoints feed the stage-2
# configs on emoset-shuffled: work_dirs/resnet18-cifar_emoset-shuffled.
_base_ = [
    '../_base_/models/resnet18-cifar.py',
    '../_base_/datasets/emoset_32px.py',
    '../_base_/schedules/affective_scratch.py',
    '../_base_/default_runtime.py',
    '../_base_/controls/shuffled.py',
]
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
emoreg_affective = 'emoset-shuffled'
# From scratch, about 94,500 training images (schedules/affective_scratch.py):
# total batch 128 (8 GPUs x 16), lr 0.1; 200 epochs of 739 steps.
train_dataloader = dict(batch_size=16, dataset=_base_.shuffled_train_dataset)
optim_wrapper = dict(optimizer=dict(lr=0.1))
auto_scale_lr = dict(base_batch_size=128)
