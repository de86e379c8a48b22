# rand-learn-ereg (Rand-Learn-E-Reg): rho = sigmoid(w . a + b), w and b
# learned from a random start drawn with the run's seed (randomness.seed);
# set regulator.seed to fix the draw across seeds.
emoreg_mode = 'rand-learn-ereg'
regulator = dict(type='RandLearnERegRegulator')
