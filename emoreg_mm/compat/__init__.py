"""What makes mmengine 0.10.7 right on current torch and on CPU-only machines.

Applied once when :mod:`emoreg_mm` is imported:

- :mod:`.checkpoint`: checkpoints load with torch's safe loader and the ones
  the Runner writes hold only tensors and plain data.
- :mod:`.dist`: ``--launcher pytorch`` uses gloo where there is no GPU.
"""
from . import checkpoint, dist
from .checkpoint import (UnsafeCheckpointError, convert_trusted, safe_load,
                         to_plain)
from .dist import ddp_wrapper_cfg

checkpoint.apply()
dist.apply()

__all__ = [
    'UnsafeCheckpointError', 'convert_trusted', 'safe_load', 'to_plain',
    'ddp_wrapper_cfg'
]
