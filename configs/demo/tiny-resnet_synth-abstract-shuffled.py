# Stage 1, shuffled control of Synthetic stimuli, Abstract layout (demo): tiny-resnet_synth-abstract.py with
# the emotion labels of its training split permuted (controls/shuffled.py);
# the same images, pieces and schedule. Its checkpoints feed the stage-2
# configs on synth-abstract-shuffled: work_dirs/demo/tiny-resnet_synth-abstract-shuffled.
_base_ = [
    './_base_/models/tiny-resnet.py',
    './_base_/datasets/synth-abstract_32px.py',
    './_base_/schedules/demo_stage1.py',
    './_base_/demo_runtime.py',
    '../_base_/controls/shuffled.py',
]
work_dir = 'work_dirs/demo/tiny-resnet_synth-abstract-shuffled'
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
emoreg_affective = 'synth-abstract-shuffled'
train_dataloader = dict(dataset=_base_.shuffled_train_dataset)
