"""What makes mmengine 0.10.7 right on current torch and on CPU-only machines.

Applied once when :mod:`emoreg_mm` is imported, after :mod:`.versions` has
checked that mmengine and mmpretrain are the versions these were written for
(a warning otherwise, or a refusal with ``EMOREG_MM_STRICT_VERSIONS=1``):

- :mod:`.checkpoint`: checkpoints load with torch's safe loader and the ones
  the Runner writes hold only tensors and plain data.
- :mod:`.dist`: ``--launcher pytorch`` uses gloo where there is no GPU.
- :mod:`.offline`: pretrained weights from a URL load from torch's hub
  cache without network, and fail at once, clearly, when offline.
- :mod:`.config_text`: a config is formatted by yapf once per content, not
  at every log, dump and checkpoint save.
- ``_base_ = 'emoreg_mm::emoreg/<config>.py'`` resolves like the OpenMMLab
  packages mmengine knows by name
  (:func:`emoreg_mm.config_names.allow_package_bases`).
"""
from ..config_names import allow_package_bases
from . import checkpoint, config_text, dist, offline, versions
from .checkpoint import convert_trusted, to_plain
from .safe_load import DamagedCheckpointError, UnsafeCheckpointError, safe_load
from .dist import ddp_wrapper_cfg

versions.check()  # before anything is patched: warns, or refuses (strict)
checkpoint.apply()
config_text.apply()
dist.apply()
offline.apply()
allow_package_bases()

__all__ = [
    'DamagedCheckpointError', 'UnsafeCheckpointError', 'convert_trusted',
    'safe_load', 'to_plain', 'ddp_wrapper_cfg'
]
