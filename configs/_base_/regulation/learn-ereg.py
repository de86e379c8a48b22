# learn-ereg (Learn-E-Reg): rho = sigmoid(w . a + b), w and b learned from
# zero (rho starts at 0.5).
emoreg_mode = 'learn-ereg'
regulator = dict(type='LearnERegRegulator')
