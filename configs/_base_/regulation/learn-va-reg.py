# learn-va-reg (a dimensional affective state): rho = sigmoid(w . a + b),
# a = (valence, arousal), w and b learned from zero (rho starts at 0.5).
emoreg_mode = 'learn-va-reg'
regulator = dict(type='LearnVARegulator')
