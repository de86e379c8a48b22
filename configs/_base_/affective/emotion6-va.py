# Emotion6's valence and arousal ratings (1-9) instead of its emotions.
_base_ = ['./valence_arousal.py']
emoreg_affective = 'emotion6-va'
