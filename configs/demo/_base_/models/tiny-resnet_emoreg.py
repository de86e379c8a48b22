# Demo stage 2: the tiny backbone of tiny-resnet.py built three times by the
# EmotionalBackboneWrapper (models/resnet18-cifar_emoreg.py).
_base_ = ['../../../_base_/models/resnet18-cifar_emoreg.py']
emoreg_backbone = 'tiny-resnet'
model = dict(
    backbone=dict(
        backbone=dict(
            stem_channels=8, base_channels=8, zero_init_residual=False),
        in_channels=64),
    head=dict(in_channels=64))
