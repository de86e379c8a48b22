# Stage 1: ResNet-50 at 224 px learns the emotions of Abstract.
# Its checkpoints (work_dirs/resnet50_abstract) feed every stage-2 config on
# Abstract with this backbone.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/abstract.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=_base_.num_emotions))
