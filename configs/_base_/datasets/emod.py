# EMOd (stage 1): labels from the MATLAB matrix, a seeded split stratified
# by label, 80 / 10 / 10. Images the download lacks (some IAPS images) are
# reported by count and id and left out; skip_missing=False makes them an
# error.
_base_ = ['./affective_224px.py', '../affective/emod.py']
dataset = dict(
    type='EMOd',
    data_root='data/EMOd',
    ann_file='allfindata1019_renamed.mat',
    mat_key='allfindata1019',
    class_names=_base_.emotion_classes,
    label_space='own',
    split_ratios=(0.8, 0.1, 0.1),
    seed=0)
data_preprocessor = dict(num_classes=len(_base_.emotion_classes))
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
