# ViT-B/16 at 224 px, regulation mode e-infl, on CIFAR-10; shuffled
# control of Emotion6 (valence, arousal): E and I pre-trained on its images with the
# ratings permuted (stage 1: configs/emoreg_pretrain/vit-b16_emotion6-va-shuffled.py).
_base_ = [
    '../_base_/models/vit-b16_emoreg.py',
    '../_base_/regulation/e-infl.py',
    '../_base_/affective/emotion6-va.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/vit_finetune_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(
    train_cfg=_base_.model_train_cfg,
    backbone=dict(
        emotional_checkpoint='work_dirs/vit-b16_emotion6-va-shuffled',
        emotional_checkpoint_config='configs/emoreg_pretrain/vit-b16_emotion6-va-shuffled.py'),
    head=dict(
        num_classes=_base_.data_preprocessor.num_classes,
        regulator=_base_.regulator,
        affect_space=_base_.affect_space))
emoreg_affective = 'emotion6-va-shuffled'
