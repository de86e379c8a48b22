# Diffused-EMOd: generated images that inherit EMOd's labels (see emod.py).
_base_ = ['./emod.py']
emoreg_affective = 'diffused-emod'
