# Emotion6's valence and arousal (stage 1): ground_truth.txt's [valence] and
# [arousal] columns, every image (no tie policy). No official split: a
# seeded split stratified by valence quintile, 80 / 10 / 10.
_base_ = ['./valence_arousal_224px.py', '../affective/emotion6-va.py']
dataset = dict(
    type='Emotion6VA',
    data_root='data/Emotion6',
    split_ratios=(0.8, 0.1, 0.1),
    seed=0)
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
