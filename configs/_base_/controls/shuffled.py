# The shuffled control of an affective set X (docs/method.md, "Controls"):
# stage 1 on X's own images with X's pieces and schedule, the emotion labels
# (a rated set: the valence / arousal ratings) of the training split
# permuted across its images by a seeded permutation that keeps the class
# counts (the distribution of ratings; BaseAffectiveDataset's
# shuffle_labels). The leaf sets these options on train_dataloader.dataset
# and labels its runs emoreg_affective = 'X-shuffled'. The validation and
# test splits keep their true labels: stage 1's validation accuracy (chance
# expected; a rated set: correlations near 0) then says how much of X's
# affect the shuffled encoder learned.
shuffled_train_dataset = dict(shuffle_labels=True, shuffle_seed=0)
