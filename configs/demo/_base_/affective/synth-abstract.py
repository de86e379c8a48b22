# The demo's synthetic stimuli (emoreg_mm/demo/data.py) in Abstract's
# layout: Abstract's 8 emotions in the canonical order, tagged apart from
# the real set.
_base_ = ['../../../_base_/affective/abstract.py']
emoreg_affective = 'synth-abstract'
