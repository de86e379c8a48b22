# Stage 1, emotional pre-training: fine-tune the ImageNet-initialised
# backbone to predict emotions. This project's own recipe (the paper gives
# none): SGD lr 0.01, momentum 0.9, weight decay 1e-4, 30 epochs, cosine
# decay after 1 warm-up epoch, total batch 256 (8 GPUs x 32).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=30),
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=30, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
