# ViT-B/16 classifier at 224 x 224 from ImageNet weights (mmpretrain's
# vit-base-p16_in21k-pre_3rdparty_in1k-384px: ImageNet-21k pre-training,
# ImageNet-1k fine-tuning; its position embeddings are resized to 224 on
# load). The class token feeds a linear head. head.num_classes is set by
# each leaf.
emoreg_backbone = 'vit-b16'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='b',
        img_size=224,
        patch_size=16,
        drop_rate=0.1,
        out_type='cls_token',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'vit/finetune/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_'
            '20210928-98e8652b.pth',
            prefix='backbone')),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=8,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
