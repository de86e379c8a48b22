"""Configs by name (as ``mim search`` lists them) and mim's name markers."""
import importlib.util
import os.path as osp

import pytest
import yaml

from emoreg_mm.config_names import resolve_config
from launch_utils import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _setup_module():
    """setup.py's helpers (its setup() runs only as __main__)."""
    spec = importlib.util.spec_from_file_location(
        'emoreg_setup', osp.join(REPO, 'setup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


setup = _setup_module()


def metafile_names():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    names = {}
    for rel in imports:
        with open(osp.join(REPO, rel)) as f:
            for model in yaml.safe_load(f)['Models']:
                names[model['Name']] = model['Config']
    return names


def test_markers_are_the_names_mim_search_lists(tmp_path):
    listed = metafile_names()
    assert dict(setup.leaf_config_names()) == listed
    setup.write_config_names(str(tmp_path))
    setup.write_config_names(str(tmp_path))  # again: replaced, not added
    markers = sorted(p.name for p in (tmp_path / 'names').iterdir())
    assert markers == sorted(listed)


def test_resolve_name_marker_and_path():
    for name, rel in metafile_names().items():
        expected = osp.realpath(osp.join(REPO, rel))
        assert resolve_config(name) == expected
        # what mim passes: the marker's path
        assert resolve_config(f'/site/emoreg_mm/.mim/names/{name}') == \
            expected
    assert resolve_config('my/own.py') == 'my/own.py'


def test_unknown_name_fails_naming_it():
    with pytest.raises(FileNotFoundError, match="named 'vit-b16_nope'.*"
                       'mim search emoreg_mm'):
        resolve_config('vit-b16_nope')


def test_train_tool_takes_a_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        load_tool('train.py').main(['nope_cifar'])
    assert exit_.value.code == 2
    assert "no packaged config is named 'nope_cifar'" in \
        capsys.readouterr().err
