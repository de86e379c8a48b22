# baseline: the original backbone, a plain mmpretrain classifier (rho = 0,
# only N). Baseline leaves use the plain model of models/<backbone>.py.
emoreg_mode = 'baseline'
