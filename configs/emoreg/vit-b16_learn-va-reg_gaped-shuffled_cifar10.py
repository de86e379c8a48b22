# ViT-B/16 at 224 px, regulation mode learn-va-reg, on CIFAR-10; shuffled
# control of GAPED: E and I pre-trained on its images with the
# ratings permuted (stage 1: configs/emoreg_pretrain/vit-b16_gaped-shuffled.py).
_base_ = [
    '../_base_/models/vit-b16_emoreg.py',
    '../_base_/regulation/learn-va-reg.py',
    '../_base_/affective/gaped.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/vit_finetune_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(
    train_cfg=_base_.model_train_cfg,
    backbone=dict(
        emotional_checkpoint='work_dirs/vit-b16_gaped-shuffled',
        emotional_checkpoint_config='configs/emoreg_pretrain/vit-b16_gaped-shuffled.py'),
    head=dict(
        num_classes=_base_.data_preprocessor.num_classes,
        regulator=_base_.regulator,
        affect_space=_base_.affect_space))
emoreg_affective = 'gaped-shuffled'
