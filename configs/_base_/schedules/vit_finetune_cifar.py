# Stage 2 for ViT-B/16: the ViT paper's fine-tuning recipe (Dosovitskiy et
# al., ICLR 2021, Appendix B.1.1 / Table 4): SGD momentum 0.9, no weight
# decay, total batch 512, gradient clipping at global norm 1, cosine decay,
# 10k steps for CIFAR-10/100 with lr picked from {0.001, 0.003, 0.01, 0.03}.
# Here lr 0.01 at batch 512 is scaled linearly to the targets' total batch
# of 8 GPUs x 16 = 128 (room for three encoders): lr 0.0025;
# `--auto-scale-lr` rescales it for other batch sizes. 10k steps of 512 are
# about 100 epochs of CIFAR's 50k images; the 500 warm-up steps are 5 epochs.
# Frozen parameters (the emotional encoder) stay out of the optimizer.
optim_wrapper = dict(
    constructor='TrainableParamsOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.0025, momentum=0.9, weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=100, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
