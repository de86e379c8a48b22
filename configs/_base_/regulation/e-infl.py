# e-infl (ablation): rho = 1, only the emotionally-influenced encoder I
# (emotion-pretrained initialisation, fine-tuned).
emoreg_mode = 'e-infl'
regulator = dict(type='EInflRegulator')
