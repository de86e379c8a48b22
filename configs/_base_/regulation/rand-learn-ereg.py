# rand-learn-ereg (Rand-Learn-E-Reg): rho = sigmoid(w . a + b), w and b
# learned from a seeded random start.
emoreg_mode = 'rand-learn-ereg'
regulator = dict(type='RandLearnERegRegulator', seed=0)
branches = ('N', 'I', 'E')
