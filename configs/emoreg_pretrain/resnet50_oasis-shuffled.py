# Stage 1, shuffled control of OASIS: resnet50_oasis.py with
# the ratings of its training split permuted (controls/shuffled.py);
# the same images, pieces and schedule. Its checkpoints feed the stage-2
# configs on oasis-shuffled: work_dirs/resnet50_oasis-shuffled.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/oasis.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
    '../_base_/controls/shuffled.py',
]
# The ratings regressed (affective/valence_arousal.py) from this backbone's
# pooled feature; the best checkpoint by the mean of Pearson's r.
model = dict(
    head=dict(_base_.regression_head, _delete_=True,
              in_channels=_base_.model.head.in_channels))
default_hooks = dict(checkpoint=_base_.regression_checkpoint)
emoreg_affective = 'oasis-shuffled'
# Schedule sized to about 720 training images (the rule of
# schedules/affective_pretrain.py): 500 steps at total batch 128
# (8 GPUs x 16), lr 0.00075; 84 epochs of 6 steps.
train_dataloader = dict(batch_size=16, dataset=_base_.shuffled_train_dataset)
optim_wrapper = dict(optimizer=dict(lr=0.00075))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=17, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[33, 50, 67],
         gamma=0.1),
]
train_cfg = dict(max_epochs=84)
auto_scale_lr = dict(base_batch_size=128)
