# Stage 1, emotional pre-training: fine-tune the ImageNet-initialised
# backbone to predict emotions with BiT-HyperRule (Kolesnikov et al., "Big
# Transfer (BiT)", ECCV 2020, Sec. 3.3; google-research/big_transfer,
# bit_hyperrule.py): SGD momentum 0.9, no weight decay, lr 0.003 at batch
# 512, linear warm-up, lr x0.1 at the rule's steps; the rule sizes the
# schedule by the number of training examples n:
#   n < 20k:       500 steps, warm-up 100, decay at 200 / 300 / 400
#   n < 500k:   10,000 steps, warm-up 500, decay at 3k / 6k / 9k
#   otherwise:  20,000 steps, warm-up 500, decay at 6k / 12k / 18k
# (the source adds MixUp alpha 0.1 from 20k examples and fine-tunes at 384
# or 128 px; here images stay at the backbone's 224 (or 32) px, no MixUp).
# This project's part: the steps run at total batch B = the largest power
# of two <= min(256, n / 4) (at least four steps per epoch on the smallest
# sets), with lr 0.003 x B / 512 (linear scaling); steps are rounded to whole
# epochs of ceil(n / B) steps.
#
# Each stage-1 leaf (tools/misc/gen_configs.py writes it from the set's
# size) sets B (8 GPUs x B / 8), lr, warm-up, decay epochs and epochs, and
# states them. The values below are EmoSet's (about 94.5k training images):
# 10k steps at B = 256, 28 epochs of 370 steps. --auto-scale-lr scales lr by
# (GPUs x B / 8) / B; epochs stay. Checkpoints every 10 epochs
# (default_runtime.py) plus the last (stage 2 reads the latest) and the
# best; validation every epoch (the schedules are short).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.0015, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[8, 16, 24],
         gamma=0.1),
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=28, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
