# Stage 1: Tiny CIFAR ResNet-18 at 32 px learns the emotions of Synthetic stimuli, Abstract layout (demo).
# Its checkpoints (work_dirs/demo/tiny-resnet_synth-abstract) feed every stage-2 config on
# Synthetic stimuli, Abstract layout (demo) with this backbone.
_base_ = [
    './_base_/models/tiny-resnet.py',
    './_base_/datasets/synth-abstract_32px.py',
    './_base_/schedules/demo_stage1.py',
    './_base_/demo_runtime.py',
]
work_dir = 'work_dirs/demo/tiny-resnet_synth-abstract'
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
