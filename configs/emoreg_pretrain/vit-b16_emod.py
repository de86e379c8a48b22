# Stage 1: ViT-B/16 at 224 px learns the emotions of EMOd.
# Its checkpoints (work_dirs/vit-b16_emod) feed every stage-2 config on
# EMOd with this backbone.
_base_ = [
    '../_base_/models/vit-b16.py',
    '../_base_/datasets/emod.py',
    '../_base_/schedules/affective_pretrain.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=_base_.num_emotions))
