# Abstract paintings (stage 1). No official split: a seeded split
# stratified by label, 80 / 10 / 10; tied votes dropped (and reported).
_base_ = ['./affective_224px.py', '../affective/abstract.py']
dataset = dict(
    type='Abstract',
    data_root='data/testImages_abstract',
    split_ratios=(0.8, 0.1, 0.1),
    seed=0,
    tie_policy='drop')
data_preprocessor = dict(num_classes=len(_base_.emotion_classes))
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
