# Stage 1: ViT-B/16 at 224 px learns the emotions of FI.
# Its checkpoints (work_dirs/vit-b16_fi) feed every stage-2 config on
# FI with this backbone.
_base_ = [
    '../_base_/models/vit-b16.py',
    '../_base_/datasets/fi.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
# Schedule sized to about 18,600 training images (the rule of
# schedules/affective_pretrain.py): 500 steps at total batch 256
# (8 GPUs x 32), lr 0.0015; 7 epochs of 73 steps.
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=0.0015))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=1, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[3, 4, 5],
         gamma=0.1),
]
train_cfg = dict(max_epochs=7)
auto_scale_lr = dict(base_batch_size=256)
