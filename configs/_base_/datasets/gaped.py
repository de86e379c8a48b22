# GAPED (stage 1): the six folders' pictures and their <category>_with SD.txt
# mean ratings. No official split: a seeded split stratified by valence
# quintile, 80 / 10 / 10.
_base_ = ['./valence_arousal_224px.py', '../affective/gaped.py']
dataset = dict(
    type='GAPED', data_root='data/GAPED', split_ratios=(0.8, 0.1, 0.1), seed=0)
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
