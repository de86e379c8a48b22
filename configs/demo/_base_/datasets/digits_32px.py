# Stage-2 target of the demo: scikit-learn's digits as tinted 32 x 32 RGB
# images (written by tools/run_demo.py) in the class-folder layout of
# mmpretrain's CustomDataset: <data_root>/{train,val,test}/<digit>/*.png.
emoreg_target = 'digits'
data_root = 'work_dirs/demo/data/digits'
data_preprocessor = dict(
    num_classes=10,
    mean=[127.5, 127.5, 127.5],
    std=[64.0, 64.0, 64.0],
    to_rgb=True)
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
digits = dict(type='CustomDataset', data_root=data_root)
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(
        digits,
        data_prefix='train',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomCrop', crop_size=32, padding=2),  # no flips
            dict(type='PackInputs'),
        ]),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    dataset=dict(digits, data_prefix='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(digits, data_prefix='test', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
