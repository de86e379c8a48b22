# Stage 1, shuffled control of EMOd: vit-b16_emod.py with
# the emotion labels of its training split permuted (controls/shuffled.py);
# the same images, pieces and schedule. Its checkpoints feed the stage-2
# configs on emod-shuffled: work_dirs/vit-b16_emod-shuffled.
_base_ = [
    '../_base_/models/vit-b16.py',
    '../_base_/datasets/emod.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
    '../_base_/controls/shuffled.py',
]
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
emoreg_affective = 'emod-shuffled'
# Schedule sized to about 815 training images (the rule of
# schedules/affective_pretrain.py): 500 steps at total batch 128
# (8 GPUs x 16), lr 0.00075; 72 epochs of 7 steps.
train_dataloader = dict(batch_size=16, dataset=_base_.shuffled_train_dataset)
optim_wrapper = dict(optimizer=dict(lr=0.00075))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=14, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[29, 43, 57],
         gamma=0.1),
]
train_cfg = dict(max_epochs=72)
auto_scale_lr = dict(base_batch_size=128)
