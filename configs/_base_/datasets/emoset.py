# EmoSet-118K (stage 1): official train / val / test split files.
_base_ = ['./affective_224px.py', '../affective/emoset.py']
dataset = dict(type='EmoSet', data_root='data/EmoSet-118K')
data_preprocessor = dict(num_classes=8)
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
