# Stage 1: ResNet-50 at 224 px learns the valence / arousal ratings of FindingEmo.
# Its checkpoints (work_dirs/resnet50_findingemo) feed every stage-2 config on
# FindingEmo with this backbone.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/findingemo.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
]
# The ratings regressed (affective/valence_arousal.py) from this backbone's
# pooled feature; the best checkpoint by the mean of Pearson's r.
model = dict(
    head=dict(_base_.regression_head, _delete_=True,
              in_channels=_base_.model.head.in_channels))
default_hooks = dict(checkpoint=_base_.regression_checkpoint)
# Schedule sized to about 20,695 training images (the rule of
# schedules/affective_pretrain.py): 10,000 steps at total batch 256
# (8 GPUs x 32), lr 0.0015; 124 epochs of 81 steps.
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=0.0015))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=6, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[37, 74, 111],
         gamma=0.1),
]
train_cfg = dict(max_epochs=124)
auto_scale_lr = dict(base_batch_size=256)
