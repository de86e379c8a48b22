# FI (Flickr & Instagram): the 8 canonical emotions.
_base_ = ['./emoset.py']
emoreg_affective = 'fi'
