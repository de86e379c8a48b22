# FindingEmo (stage 1): annotations_single.ann in the folder download_data
# wrote the images to. Some images' URLs no longer resolve: those missing are
# left out and reported (skip_missing). No official split: a seeded split
# stratified by valence quintile, 80 / 10 / 10.
_base_ = ['./valence_arousal_224px.py', '../affective/findingemo.py']
dataset = dict(
    type='FindingEmo',
    data_root='data/FindingEmo',
    skip_missing=True,
    split_ratios=(0.8, 0.1, 0.1),
    seed=0)
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
