# Pipelines of the sets rated on valence and arousal at 224 x 224: those of
# affective_224px.py, packing each image's normalised ratings (gt_va) for
# the regression head. Validation and test report Pearson's and Spearman's
# r and the RMSE per dimension (AffectRegressionMetric).
_base_ = ['./affective_224px.py']
train_pipeline = _base_.train_pipeline[:-1] + [
    dict(type='PackInputs', algorithm_keys=('gt_va', ))]
test_pipeline = _base_.test_pipeline[:-1] + [
    dict(type='PackInputs', algorithm_keys=('gt_va', ))]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_evaluator = dict(_delete_=True, type='AffectRegressionMetric')
test_evaluator = val_evaluator
