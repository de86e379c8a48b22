"""Registries of the ``emoreg_mm`` scope.

Components register into mmpretrain's own registries (so mmpretrain's tools
and ``mmpretrain::`` configs find them). This module only gives configs that
inherit ``emoreg_mm::...`` a scope to build in: mmengine stamps such configs
with ``_scope_='emoreg_mm'`` and looks up ``emoreg_mm.registry``; each
registry here (``MODELS``, ``DATASETS``, ``HOOKS``, ... as in mmpretrain) is
a child of mmpretrain's and finds everything through it.
"""
from mmengine.registry import Registry
from mmpretrain import registry as _mmpretrain

__all__ = [
    name for name, parent in vars(_mmpretrain).items()
    if isinstance(parent, Registry) and parent.scope == 'mmpretrain'
]
globals().update({
    # The parent's lazy-import locations, so a lookup here first imports
    # the mmpretrain modules that fill the parent.
    name: Registry(parent.name, parent=parent, scope='emoreg_mm',
                   locations=list(parent._locations))
    for name, parent in ((n, getattr(_mmpretrain, n)) for n in __all__)
})
