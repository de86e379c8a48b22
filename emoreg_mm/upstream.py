"""Run one of mmpretrain's own tools with the plugin imported first.

Usage::

    python -m emoreg_mm.upstream misc/print_config.py CONFIG
    python -m emoreg_mm.upstream analysis_tools/get_flops.py CONFIG
    python -m emoreg_mm.upstream visualization/browse_dataset.py CONFIG

mmpretrain's tools (``mmpretrain/.mim/tools/<TOOL>``, installed with
mmpretrain) read the config before anything imports the plugin, so a config
that inherits ``emoreg_mm::...`` fails in them ("mmengine does not support
to load emoreg_mm config"). Here the plugin registers first (the
``emoreg_mm::`` prefix and the components), then the tool runs as ``python
TOOL ARGS`` would run it. In Python,
:func:`emoreg_mm.utils.register_all_modules` before mmpretrain's APIs does
the same (docs/results.md).

A config that inherits through ``emoreg_mm::`` carries ``_scope_ =
'emoreg_mm'`` in every dict with a ``type`` (mmengine marks a package's
base so); some of mmpretrain's tools pass such a dict to a constructor
(``browse_dataset.py``: ``UniversalVisualizer(**cfg.visualizer)``). While a
tool runs here, a ``_scope_`` equal to the config's ``default_scope`` is
dropped: the registries resolve the same names without it.
"""
import os
import os.path as osp
import runpy
import sys


def tools_root() -> str:
    """mmpretrain's installed tools folder."""
    import mmpretrain
    return osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools')


def tool_path(name: str) -> str:
    """The path of mmpretrain's tool ``name`` (e.g. ``misc/print_config.py``);
    an unknown name exits listing the tools there."""
    root = tools_root()
    path = osp.normpath(osp.join(root, name))
    if path.startswith(root + os.sep) and path.endswith('.py') and \
            osp.isfile(path):
        return path
    found = sorted(
        osp.relpath(osp.join(d, f), root) for d, _, files in os.walk(root)
        for f in files if f.endswith('.py') and '__pycache__' not in d)
    sys.exit(f'emoreg_mm.upstream: no mmpretrain tool {name!r} in {root}; '
             f'the tools: {", ".join(found)}')


def drop_default_scope(node, scope) -> None:
    """Remove, in place, every ``_scope_`` key equal to ``scope`` from the
    dicts (and lists) of ``node``."""
    if isinstance(node, dict):
        if scope is not None and node.get('_scope_') == scope:
            del node['_scope_']
        for value in node.values():
            drop_default_scope(value, scope)
    elif isinstance(node, (list, tuple)):
        for value in node:
            drop_default_scope(value, scope)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        return
    path = tool_path(argv[0])
    from .utils import register_all_modules
    register_all_modules(init_default_scope=False)
    from mmengine.config import Config
    fromfile, descriptor = Config.fromfile, Config.__dict__['fromfile']

    def read(*args, **kwargs):
        cfg = fromfile(*args, **kwargs)
        drop_default_scope(cfg._cfg_dict, cfg.get('default_scope'))
        return cfg

    saved = sys.argv
    sys.argv = [path, *argv[1:]]
    Config.fromfile = staticmethod(read)
    try:
        runpy.run_path(path, run_name='__main__')
    finally:
        sys.argv = saved
        Config.fromfile = descriptor


if __name__ == '__main__':
    main()
