# Tiny CIFAR ResNet-18 at 32 px, regulation mode learn-ereg, on scikit-learn digits (demo); untrained
# control of Synthetic stimuli, Abstract layout (demo) (controls/untrained.py): no stage 1; E
# (where the mode builds it) of random weights with its 8
# emotions, frozen; I initialised as N.
_base_ = [
    './_base_/models/tiny-resnet_emoreg.py',
    '../_base_/regulation/learn-ereg.py',
    './_base_/affective/synth-abstract.py',
    './_base_/datasets/digits_32px.py',
    './_base_/schedules/demo_stage2.py',
    './_base_/demo_runtime.py',
    '../_base_/controls/untrained.py',
]
work_dir = 'work_dirs/demo/tiny-resnet_learn-ereg_synth-abstract-untrained_digits'
model = dict(
    backbone=_base_.untrained_encoders,
    head=dict(
        num_classes=_base_.data_preprocessor.num_classes,
        regulator=_base_.regulator,
        emotion_classes=_base_.emotion_classes))
emoreg_affective = 'synth-abstract-untrained'
