# Stage 1: ResNet-50 at 224 px learns the emotions of Diffused-EMOd.
# Its checkpoints (work_dirs/resnet50_diffused-emod) feed every stage-2 config on
# Diffused-EMOd with this backbone.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/diffused-emod.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=_base_.num_emotions))
