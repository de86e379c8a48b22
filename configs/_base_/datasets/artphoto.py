# ArtPhoto (stage 1): labels from the file-name prefixes, no official split:
# a seeded split stratified by label, 80 / 10 / 10 (for k-fold set
# fold=<k>, num_folds=5 on every split).
_base_ = ['./affective_224px.py', '../affective/artphoto.py']
dataset = dict(
    type='ArtPhoto',
    data_root='data/testImages_artphoto',
    split_ratios=(0.8, 0.1, 0.1),
    seed=0)
data_preprocessor = dict(num_classes=len(_base_.emotion_classes))
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
