# Demo stage 1: the affective pre-training recipe
# (schedules/affective_pretrain.py) shortened to 12 epochs from scratch,
# lr 0.05 for the small batch, 1 warm-up epoch then cosine decay.
_base_ = ['../../../_base_/schedules/affective_pretrain.py']
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=12),
]
train_cfg = dict(max_epochs=12, val_interval=3)
auto_scale_lr = dict(base_batch_size=32)
