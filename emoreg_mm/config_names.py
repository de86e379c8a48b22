"""Configs given by name, as ``mim search emoreg_mm`` lists them.

``tools/train.py`` and ``tools/test.py`` take a config path or a config name
(``vit-b16_learn-ereg_cifar100``, no ``.py``). A name is looked up among the
packaged leaf configs, ``configs/<collection>/<name>.py``. For mim,
``setup.py`` ships one small marker file per name in
``emoreg_mm/.mim/names/`` (mim only finds a config whose file is named
exactly as typed); mim passes the marker's path, which resolves here too.
:func:`allow_package_bases` lets mmengine read ``_base_ =
'emoreg_mm::...'`` (torch-free: the sweep reads configs with it).
"""
import glob
import os.path as osp

PACKAGE_DIR = osp.dirname(osp.abspath(__file__))
CONFIG_SUFFIXES = ('.py', '.json', '.yaml', '.yml')


def allow_package_bases() -> None:
    """Let mmengine resolve ``_base_ = ['emoreg_mm::<collection>/<name>.py']``
    as it resolves ``mmpretrain::`` (its ``MODULE2PACKAGE`` table names the
    packages whose ``.mim/configs`` it reads)."""
    from mmengine.config.utils import MODULE2PACKAGE
    MODULE2PACKAGE.setdefault('emoreg_mm', 'emoreg_mm')


def packaged_configs_root() -> str:
    """The configs folder of the installed package (``emoreg_mm/.mim``),
    or of the source checkout it was imported from."""
    mim = osp.join(PACKAGE_DIR, '.mim', 'configs')
    return mim if osp.isdir(mim) else osp.join(
        osp.dirname(PACKAGE_DIR), 'configs')


def resolve_config(config: str) -> str:
    """The config file for ``config``: a path, or a leaf config's name.

    Args:
        config (str): a config file (``.py``, ``.json``, ``.yaml``,
            ``.yml``), returned as it is; or a name without extension, or a
            path whose file name is one (a mim marker file).

    Returns:
        str: the config file's path.

    Raises:
        FileNotFoundError: no packaged config, or more than one, has the
            name; the message names the folder searched.
    """
    if config.endswith(CONFIG_SUFFIXES):
        return config
    name = osp.basename(config.rstrip('/'))
    root = packaged_configs_root()
    found = sorted(glob.glob(osp.join(root, '[!_.]*', f'{name}.py')))
    if len(found) == 1:
        return osp.realpath(found[0])
    if not found:
        raise FileNotFoundError(
            f"Config '{config}': not a config file (.py, .json, .yaml), and "
            f"no packaged config is named '{name}' (searched "
            f'{root}/*/{name}.py). List the names with: mim search emoreg_mm')
    raise FileNotFoundError(
        f"Config name '{name}' is ambiguous: {', '.join(found)}; give the "
        'path instead.')
