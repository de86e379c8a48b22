# Stage 1, shuffled control of Abstract: resnet50_abstract.py with
# the emotion labels of its training split permuted (controls/shuffled.py);
# the same images, pieces and schedule. Its checkpoints feed the stage-2
# configs on abstract-shuffled: work_dirs/resnet50_abstract-shuffled.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/abstract.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
    '../_base_/controls/shuffled.py',
]
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
emoreg_affective = 'abstract-shuffled'
# Schedule sized to about 180 training images (the rule of
# schedules/affective_pretrain.py): 500 steps at total batch 32
# (8 GPUs x 4), lr 0.0001875; 84 epochs of 6 steps.
train_dataloader = dict(batch_size=4, dataset=_base_.shuffled_train_dataset)
optim_wrapper = dict(optimizer=dict(lr=0.0001875))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=17, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[33, 50, 67],
         gamma=0.1),
]
train_cfg = dict(max_epochs=84)
auto_scale_lr = dict(base_batch_size=32)
