"""Register the plugin's components, as ``mmpretrain.utils`` does for
mmpretrain's."""

#: The modules whose import registers every component (into mmpretrain's
#: registries); :mod:`emoreg_mm.registry` names them as its locations.
COMPONENT_MODULES = ('emoreg_mm.models', 'emoreg_mm.datasets',
                     'emoreg_mm.engine', 'emoreg_mm.apis',
                     'emoreg_mm.evaluation.affect_regression')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmpretrain's and the plugin's components, and apply the
    compatibility layer (:mod:`emoreg_mm.compat`).

    Args:
        init_default_scope (bool): Also make ``emoreg_mm`` the default scope
            (a new ``DefaultScope`` instance when the current one is
            another scope's), so that configs without ``default_scope``
            build the plugin's components. Defaults to True.
    """
    import importlib

    from mmpretrain.utils import register_all_modules as mmpretrain_modules
    mmpretrain_modules(init_default_scope=False)
    for name in COMPONENT_MODULES:
        importlib.import_module(name)
    if init_default_scope:
        import datetime

        from mmengine.registry import DefaultScope
        current = DefaultScope.get_current_instance()
        if current is None or current.scope_name != 'emoreg_mm':
            DefaultScope.get_instance(
                f'emoreg_mm-{datetime.datetime.now()}',
                scope_name='emoreg_mm')
