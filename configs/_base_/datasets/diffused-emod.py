# Diffused-EMOd (stage 1): generated images listed in manifest.csv, each
# linked to its EMOd source image, whose label it inherits; the split keeps
# every image with its source (see docs/datasets.md).
_base_ = ['./affective_224px.py', '../affective/diffused-emod.py']
dataset = dict(
    type='DiffusedEMOd',
    data_root='data/Diffused-EMOd',
    emod_root='data/EMOd',
    class_names=_base_.emotion_classes,
    label_space='own',
    split_ratios=(0.8, 0.1, 0.1),
    seed=0)
data_preprocessor = dict(num_classes=len(_base_.emotion_classes))
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
