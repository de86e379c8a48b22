"""Registries of the ``emoreg_mm`` scope.

Components register into mmpretrain's own registries (so mmpretrain's tools
and ``mmpretrain::`` configs find them). The shipped configs set
``default_scope = 'emoreg_mm'``: mmengine then imports this module and builds
from the registries here (``MODELS``, ``DATASETS``, ``HOOKS``, ... as in
mmpretrain), each a child of mmpretrain's. A child's first lookup imports
its ``locations``: its parent's (mmpretrain's modules) and the plugin's
(:data:`emoreg_mm.utils.COMPONENT_MODULES`, which apply
:mod:`emoreg_mm.compat` first), so a config registers what it needs by
naming the scope.
"""
from mmengine.registry import Registry
from mmpretrain import registry as _mmpretrain

from . import compat  # noqa: F401  (before anything is built or loaded)
from .utils import COMPONENT_MODULES

__all__ = [
    name for name, parent in vars(_mmpretrain).items()
    if isinstance(parent, Registry) and parent.scope == 'mmpretrain'
]
globals().update({
    name: Registry(parent.name, parent=parent, scope='emoreg_mm',
                   locations=[*parent._locations, *COMPONENT_MODULES])
    for name, parent in ((n, getattr(_mmpretrain, n)) for n in __all__)
})
