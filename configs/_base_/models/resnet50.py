# ResNet-50 classifier at 224 x 224 from ImageNet-1k weights (mmpretrain's
# resnet50_8xb32_in1k). Stage 1 trains it on an affective set; baseline
# leaves train it on the target. head.num_classes is set by each leaf.
emoreg_backbone = 'resnet50'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth',
            prefix='backbone')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=8,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
