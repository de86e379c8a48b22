# The sets rated on valence and arousal (docs/method.md, "A dimensional
# affective state"). Stage 1 regresses the two ratings, each normalised to
# [-1, 1] by its set's scale: an AffectRegressionHead on the backbone's
# pooled feature (each stage-1 leaf gives it the backbone's in_channels),
# the best checkpoint by the mean of Pearson's r over the dimensions (kept
# for reading off stage 1's quality; stage 2 reads the latest checkpoint).
# Stage 2's head reads a = tanh(its outputs) as the affective state
# (affect_space), the dimensions named as stage 1 recorded them.
affect_space = 'dimensional'
emotion_classes = ('valence', 'arousal')
regression_head = dict(
    type='AffectRegressionHead', num_dims=len(emotion_classes))
regression_checkpoint = dict(save_best='mean/pearson', rule='greater')
