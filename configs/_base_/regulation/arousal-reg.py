# arousal-reg (a dimensional affective state): rho = (arousal + 1) / 2,
# arousal's place on its scale: an aroused response leans on I, a calm one
# on N (regulator.mapping='abs': rho = |arousal|).
emoreg_mode = 'arousal-reg'
regulator = dict(type='ArousalRegulator')
