"""The CPU demo (``tools/run_demo.py``, ``docs/demo.md``): embedded data in
the native layouts that the real loaders read."""
from .data import (ABSTRACT_HEADER, EMOTION_RULES, make_digits,
                   make_stimuli, stimulus)

__all__ = [
    'ABSTRACT_HEADER', 'EMOTION_RULES', 'make_digits', 'make_stimuli',
    'stimulus'
]
