# The untrained control of an affective set X (docs/method.md, "Controls"):
# no stage 1. The wrapper builds E and g_E with random weights of the stage-1
# architecture (the backbone without its init_cfg, so no ImageNet weights),
# drawn from a fixed seed: the same E at every run seed, as one stage-1
# checkpoint is. E stays frozen; I starts as N does (the backbone's own
# init_cfg). The leaf sets model.backbone to these options, names X's
# emotions in the head (g_E's outputs) and labels its runs
# emoreg_affective = 'X-untrained'.
untrained_encoders = dict(emotional_init='random', emotional_seed=0)
