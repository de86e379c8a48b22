# ViT-B/16 at 224 px, regulation mode arousal-reg, on CIFAR-10; untrained
# control of OASIS (controls/untrained.py): no stage 1; E
# (where the mode builds it) of random weights with its 2
# dimensions, frozen; I initialised as N.
_base_ = [
    '../_base_/models/vit-b16_emoreg.py',
    '../_base_/regulation/arousal-reg.py',
    '../_base_/affective/oasis.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/vit_finetune_cifar.py',
    '../_base_/default_runtime.py',
    '../_base_/controls/untrained.py',
]
model = dict(
    train_cfg=_base_.model_train_cfg,
    backbone=_base_.untrained_encoders,
    head=dict(
        num_classes=_base_.data_preprocessor.num_classes,
        regulator=_base_.regulator,
        emotion_classes=_base_.emotion_classes,
        affect_space=_base_.affect_space))
emoreg_affective = 'oasis-untrained'
