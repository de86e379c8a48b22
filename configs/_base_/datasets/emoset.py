# EmoSet-118K (stage 1): official train / val / test split files (the
# distributed 3-string entries or the README's 4). Stage 1 learns emotions
# only, so the 118k per-image attribute files are not read
# (with_attributes=None reads them when info.json has their vocabularies).
_base_ = ['./affective_224px.py', '../affective/emoset.py']
dataset = dict(
    type='EmoSet', data_root='data/EmoSet-118K', with_attributes=False)
data_preprocessor = dict(num_classes=len(_base_.emotion_classes))
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
