# Emotion6 (stage 1): labels from ground_truth.txt's probabilities (never the
# keyword folders), in Emotion6's own 7 classes (neutral included); a seeded
# split stratified by label, 80 / 10 / 10; tied maxima dropped (and
# reported). tie_policy='soft' trains on the probabilities instead.
_base_ = ['./affective_224px.py', '../affective/emotion6.py']
dataset = dict(
    type='Emotion6',
    data_root='data/Emotion6',
    label_space='own',
    split_ratios=(0.8, 0.1, 0.1),
    seed=0,
    tie_policy='drop')
data_preprocessor = dict(num_classes=len(_base_.emotion_classes))
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
