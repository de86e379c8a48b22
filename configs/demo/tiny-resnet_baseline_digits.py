# Baseline: plain Tiny CIFAR ResNet-18 at 32 px classifier on scikit-learn digits (demo) (no emotional
# encoder), the reference every regulation mode is compared with.
_base_ = [
    './_base_/models/tiny-resnet.py',
    '../_base_/regulation/baseline.py',
    './_base_/datasets/digits_32px.py',
    './_base_/schedules/demo_stage2.py',
    './_base_/demo_runtime.py',
]
work_dir = 'work_dirs/demo/tiny-resnet_baseline_digits'
model = dict(
    head=dict(num_classes=_base_.data_preprocessor.num_classes))
