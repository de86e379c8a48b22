# Stage 1, shuffled control of EmoSet: vit-b16_emoset.py with
# the emotion labels of its training split permuted (controls/shuffled.py);
# the same images, pieces and schedule. Its checkpoints feed the stage-2
# configs on emoset-shuffled: work_dirs/vit-b16_emoset-shuffled.
_base_ = [
    '../_base_/models/vit-b16.py',
    '../_base_/datasets/emoset.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
    '../_base_/controls/shuffled.py',
]
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
emoreg_affective = 'emoset-shuffled'
# Schedule sized to about 94,500 training images (the rule of
# schedules/affective_pretrain.py): 10,000 steps at total batch 256
# (8 GPUs x 32), lr 0.0015; 28 epochs of 370 steps.
train_dataloader = dict(batch_size=32, dataset=_base_.shuffled_train_dataset)
optim_wrapper = dict(optimizer=dict(lr=0.0015))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=1, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[8, 16, 24],
         gamma=0.1),
]
train_cfg = dict(max_epochs=28)
auto_scale_lr = dict(base_batch_size=256)
