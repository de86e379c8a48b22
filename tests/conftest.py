"""Shared pytest fixtures: tiny datasets in each set's native layout.

The builders live in ``tests/affective_fixtures.py``: plain functions any
test imports directly (``from affective_fixtures import make_emoset``; this
file puts ``tests/`` on ``sys.path``). The fixtures below call them into a
``tmp_path``.
"""
import os.path as osp
import sys

import pytest

_TESTS = osp.dirname(osp.abspath(__file__))
if _TESTS not in sys.path:  # `import affective_fixtures` in any import mode
    sys.path.insert(0, _TESTS)

import affective_fixtures as fx  # noqa: E402

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(8, 8)),
    dict(type='PackInputs'),
]


@pytest.fixture
def pipeline():
    """mmpretrain's own LoadImageFromFile -> Resize(8x8) -> PackInputs."""
    return [dict(t) for t in PIPELINE]


@pytest.fixture
def emoset_root(tmp_path):
    return fx.make_emoset(str(tmp_path / 'EmoSet'))


@pytest.fixture
def abstract_root(tmp_path):
    return fx.make_abstract(str(tmp_path / 'testImages_abstract'))


@pytest.fixture
def emod_root(tmp_path):
    return fx.make_emod(str(tmp_path / 'EMOd'))


@pytest.fixture
def affective_folder_root(tmp_path):
    return fx.make_affective_folder(str(tmp_path / 'stimuli'))
