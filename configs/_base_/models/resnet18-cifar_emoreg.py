# Stage 2 with resnet18-cifar: the same backbone (and pooling) as the stage-1
# classifier in resnet18-cifar.py, built three times by the EmotionalBackboneWrapper
# (N from the backbone's own init_cfg, I and the frozen E from the stage-1
# checkpoint) and read out by the RegulationHead; RegulatedImageClassifier
# builds the wrapper with the branches and emotions that the head's regulator
# and emotion_classes need.
_base_ = ['./resnet18-cifar.py']
model = dict(
    type='RegulatedImageClassifier',
    backbone=dict(
        _delete_=True,
        type='EmotionalBackboneWrapper',
        backbone=_base_.model.backbone,
        neck=_base_.model.neck,
        in_channels=512,
        # weights and input in channels-last memory format: faster
        # convolutions on tensor-core GPUs (the same outputs)
        channels_last=True),
    neck=None,
    head=dict(_delete_=True, type='RegulationHead', num_classes=10,
              in_channels=512))
