# Stage 1, shuffled control of Diffused-EMOd: vit-b16_diffused-emod.py with
# the emotion labels of its training split permuted (controls/shuffled.py);
# the same images, pieces and schedule. Its checkpoints feed the stage-2
# configs on diffused-emod-shuffled: work_dirs/vit-b16_diffused-emod-shuffled.
_base_ = [
    '../_base_/models/vit-b16.py',
    '../_base_/datasets/diffused-emod.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
    '../_base_/controls/shuffled.py',
]
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
emoreg_affective = 'diffused-emod-shuffled'
# Schedule sized to about 3,260 training images (the rule of
# schedules/affective_pretrain.py): 500 steps at total batch 256
# (8 GPUs x 32), lr 0.0015; 39 epochs of 13 steps.
train_dataloader = dict(batch_size=32, dataset=_base_.shuffled_train_dataset)
optim_wrapper = dict(optimizer=dict(lr=0.0015))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=8, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[15, 23, 31],
         gamma=0.1),
]
train_cfg = dict(max_epochs=39)
auto_scale_lr = dict(base_batch_size=256)
