# OASIS (stage 1): OASIS.csv's mean valence and arousal of each image. No
# official split: a seeded split stratified by valence quintile, 80 / 10 / 10.
_base_ = ['./valence_arousal_224px.py', '../affective/oasis.py']
dataset = dict(
    type='OASIS',
    data_root='data/OASIS_database_2016',
    split_ratios=(0.8, 0.1, 0.1),
    seed=0)
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
