# ArtPhoto: its 8 file-name prefixes mapped to the canonical order.
_base_ = ['./emoset.py']
emoreg_affective = 'artphoto'
