# const (control): rho = 0.5 for every image, an N + I ensemble without
# affect. Tells an emotional effect from an ensemble effect.
emoreg_mode = 'const'
regulator = dict(type='ConstRegulator', value=0.5)
