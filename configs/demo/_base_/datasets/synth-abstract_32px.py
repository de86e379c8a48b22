# Stage 1 of the demo: the synthetic stimuli (written by tools/run_demo.py)
# read by the real Abstract loader (datasets/abstract.py: seeded 80/10/10
# split), at 32 x 32, normalised like the digits target (digits_32px.py);
# no worker processes (a CPU run of seconds).
_base_ = ['../../../_base_/datasets/abstract.py']
emoreg_affective = 'synth-abstract'  # as affective/synth-abstract.py
data_root = 'work_dirs/demo/data/testImages_abstract'
data_preprocessor = dict(
    mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0], to_rgb=True)
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(32, 32)),
        dict(type='RandomCrop', crop_size=32, padding=2),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs'),
    ]))
test_pipeline_32px = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline_32px))
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline_32px))
