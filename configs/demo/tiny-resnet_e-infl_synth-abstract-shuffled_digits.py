# Tiny CIFAR ResNet-18 at 32 px, regulation mode e-infl, on scikit-learn digits (demo); shuffled
# control of Synthetic stimuli, Abstract layout (demo): E and I pre-trained on its images with the
# labels permuted (stage 1: configs/demo/tiny-resnet_synth-abstract-shuffled.py).
_base_ = [
    './_base_/models/tiny-resnet_emoreg.py',
    '../_base_/regulation/e-infl.py',
    './_base_/affective/synth-abstract.py',
    './_base_/datasets/digits_32px.py',
    './_base_/schedules/demo_stage2.py',
    './_base_/demo_runtime.py',
]
work_dir = 'work_dirs/demo/tiny-resnet_e-infl_synth-abstract-shuffled_digits'
model = dict(
    backbone=dict(
        emotional_checkpoint='work_dirs/demo/tiny-resnet_synth-abstract-shuffled',
        emotional_checkpoint_config='configs/demo/tiny-resnet_synth-abstract-shuffled.py'),
    head=dict(
        num_classes=_base_.data_preprocessor.num_classes,
        regulator=_base_.regulator))
emoreg_affective = 'synth-abstract-shuffled'
