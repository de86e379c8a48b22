# Abstract (Machajdik & Hanbury): its 8 emotions mapped to the canonical order.
_base_ = ['./emoset.py']
emoreg_affective = 'abstract'
