# FI, Flickr & Instagram (stage 1): a folder per emotion, no official split:
# FI's usual random 80 / 5 / 15, seeded and stratified by label. Invalid
# files and placeholder pictures (removed photos) are reported and left out.
_base_ = ['./affective_224px.py', '../affective/fi.py']
dataset = dict(
    type='FI',
    data_root='data/emotion_dataset',
    split_ratios=(0.8, 0.05, 0.15),
    seed=0)
data_preprocessor = dict(num_classes=len(_base_.emotion_classes))
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
