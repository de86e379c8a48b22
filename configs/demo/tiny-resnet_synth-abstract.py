# Demo stage 1: the tiny CIFAR ResNet learns the emotions of the synthetic
# stimuli (Abstract layout). Its checkpoints feed every demo stage-2 config.
_base_ = [
    './_base_/models/tiny-resnet.py',
    './_base_/datasets/synth-abstract_32px.py',
    './_base_/schedules/demo_stage1.py',
    './_base_/demo_runtime.py',
]
work_dir = 'work_dirs/demo/tiny-resnet_synth-abstract'
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
