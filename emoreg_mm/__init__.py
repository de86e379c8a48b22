"""emoreg_mm: Emotional Regulation for mmpretrain.

Importing the package registers every component into mmpretrain's own
registries and applies the small compatibility layer in
:mod:`emoreg_mm.compat` (safe checkpoints on torch >= 2.6, distributed
training without a GPU).
"""
from .version import __version__, version_info
from . import compat  # noqa: F401  (applies the patches on import)
from . import datasets, engine, evaluation, models  # noqa: F401
from . import apis  # noqa: F401  (regulation in the inferencer's output)

__all__ = ['__version__', 'version_info']
