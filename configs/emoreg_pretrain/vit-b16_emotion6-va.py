# Stage 1: ViT-B/16 at 224 px learns the valence / arousal ratings of Emotion6 (valence, arousal).
# Its checkpoints (work_dirs/vit-b16_emotion6-va) feed every stage-2 config on
# Emotion6 (valence, arousal) with this backbone.
_base_ = [
    '../_base_/models/vit-b16.py',
    '../_base_/datasets/emotion6-va.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
]
# The ratings regressed (affective/valence_arousal.py) from this backbone's
# pooled feature; the best checkpoint by the mean of Pearson's r.
model = dict(
    head=dict(_base_.regression_head, _delete_=True,
              in_channels=_base_.model.head.in_channels))
default_hooks = dict(checkpoint=_base_.regression_checkpoint)
# Schedule sized to about 1,584 training images (the rule of
# schedules/affective_pretrain.py): 500 steps at total batch 256
# (8 GPUs x 32), lr 0.0015; 72 epochs of 7 steps.
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=0.0015))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=14, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[29, 43, 57],
         gamma=0.1),
]
train_cfg = dict(max_epochs=72)
auto_scale_lr = dict(base_batch_size=256)
