# ResNet-50 at 224 px, regulation mode arousal-reg, on CIFAR-10; emotional encoder
# pre-trained on Emotion6 (valence, arousal) (stage 1: configs/emoreg_pretrain/resnet50_emotion6-va.py).
_base_ = [
    '../_base_/models/resnet50_emoreg.py',
    '../_base_/regulation/arousal-reg.py',
    '../_base_/affective/emotion6-va.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/bit_finetune_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(
    train_cfg=_base_.model_train_cfg,
    backbone=dict(
        emotional_checkpoint='work_dirs/resnet50_emotion6-va',
        emotional_checkpoint_config='configs/emoreg_pretrain/resnet50_emotion6-va.py'),
    head=dict(
        num_classes=_base_.data_preprocessor.num_classes,
        regulator=_base_.regulator,
        affect_space=_base_.affect_space))
