# FindingEmo (Mertens et al., 2024): one annotation per image, valence
# -3..3 and arousal 0..6.
_base_ = ['./valence_arousal.py']
emoreg_affective = 'findingemo'
