# OASIS (Kurdi, Lozano & Banaji, 2017): 900 images, mean valence and arousal
# on 1-7.
_base_ = ['./valence_arousal.py']
emoreg_affective = 'oasis'
