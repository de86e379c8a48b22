# ereg (E-Reg): rho = 1 - H(a) / log K, the affective intensity.
emoreg_mode = 'ereg'
regulator = dict(type='ERegRegulator')
