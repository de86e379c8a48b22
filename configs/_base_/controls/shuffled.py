# The shuffled control of an affective set X (docs/method.md, "Controls"):
# stage 1 on X's own images with X's pieces and schedule, the emotion labels
# of the training split permuted across its images by a seeded permutation
# that keeps the class counts (BaseAffectiveDataset's shuffle_labels). The
# leaf sets these options on train_dataloader.dataset and labels its runs
# emoreg_affective = 'X-shuffled'. The validation and test splits keep their
# true labels: stage 1's validation accuracy then says how much of X's
# emotions the shuffled encoder learned (chance is expected).
shuffled_train_dataset = dict(shuffle_labels=True, shuffle_seed=0)
