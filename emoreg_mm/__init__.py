"""emoreg_mm: Emotional Regulation for mmpretrain.

Importing the package is light (no torch, mmengine or mmpretrain), so the
tools that plan a sweep or read results (:mod:`emoreg_mm.matrix`,
:mod:`emoreg_mm.results`, :mod:`emoreg_mm.experiments`) start at once.

The components register as OpenMMLab's own packages do: the shipped configs
set ``default_scope = 'emoreg_mm'``, and the first lookup in that scope
imports them (the registry ``locations`` of :mod:`emoreg_mm.registry`),
with the compatibility layer of :mod:`emoreg_mm.compat`. In Python, call
:func:`emoreg_mm.utils.register_all_modules` first, as with mmpretrain's.

A config of one's own that names ``custom_imports=dict(imports=
['emoreg_mm'])`` keeps working: mmengine imports the package while it reads
the config, and imported into a process that has mmengine loaded, the
package registers its components (docs/get_started.md).
"""
import sys
import warnings

from .version import __version__, version_info

# Two warnings of the installed stack that ask nothing of this package's
# users, printed by every tool otherwise: mmcv-lite has no
# MultiScaleDeformableAttention (no model here uses it), and mmengine
# imports setuptools' pkg_resources (requirements/runtime.txt keeps a
# setuptools that has it). Matched by message, so no other warning is hidden.
warnings.filterwarnings(
    'ignore', message='Fail to import ``MultiScaleDeformableAttention``',
    category=UserWarning)
warnings.filterwarnings(
    'ignore', message='pkg_resources is deprecated as an API',
    category=UserWarning)

if 'mmengine' in sys.modules:  # a config's custom_imports, or a user's
    from .utils import register_all_modules  # script after mmengine
    register_all_modules(init_default_scope=False)

__all__ = ['__version__', 'version_info']
