# GAPED (Dan-Glauser & Scherer, 2011): 730 pictures, mean valence and
# arousal on 0-100.
_base_ = ['./valence_arousal.py']
emoreg_affective = 'gaped'
