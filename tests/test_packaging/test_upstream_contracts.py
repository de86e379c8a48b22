"""emoreg_mm.upstream_contracts (tools/misc/upstream_contracts.py) on a
tiny upstream-like checkout.

The real suites (mmengine's and mmpretrain's tests at the installed
versions) take minutes and a checkout; here a ``tests/`` folder of four
tests and a stand-in plugin module show what the tool does with outcomes:
a test the plugin breaks is UNLISTED and fails the check (exit 1) until it
is listed, a test it fixes is reported without failing, and a "plain" run
that imports the plugin anyway is refused (exit 2).
"""
import pytest

from emoreg_mm import upstream_contracts as uc
from launch_utils import load_tool

TESTS = '''
import sys
import pytest

PLUGGED = 'contract_stub' in sys.modules


def test_always():
    pass


def test_broken_by_the_plugin():
    assert not PLUGGED


def test_fixed_by_the_plugin():
    assert PLUGGED


@pytest.mark.skip(reason='upstream skips it')
def test_skipped():
    pass
'''
BROKEN = 'tests.test_thing::test_broken_by_the_plugin'
FIXED = 'tests.test_thing::test_fixed_by_the_plugin'


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    root = tmp_path / 'upstream'
    (root / 'tests').mkdir(parents=True)
    (root / 'tests' / 'test_thing.py').write_text(TESTS)
    plugin = tmp_path / 'plugin'
    plugin.mkdir()
    (plugin / 'contract_stub.py').write_text('PATCHED = True\n')
    monkeypatch.setenv('PYTHONPATH', str(plugin))
    return root


def contracts(checkout, tmp_path, name, *extra, modules='tests/test_thing.py'):
    return load_tool('misc/upstream_contracts.py').main([
        '--mmengine-tests', str(checkout), '--mmengine-modules', modules,
        '--mmpretrain-modules', '--plugin',
        'contract_stub', '--work-dir', str(tmp_path / name), *extra
    ])


def test_breaks_fail_the_check_until_listed(checkout, tmp_path, capsys):
    assert contracts(checkout, tmp_path, 'first') == 1
    out = capsys.readouterr().out
    assert f'| {BROKEN} | passed | failed | UNLISTED |' in out
    assert f'| {FIXED} | failed | passed |  |' in out
    assert 'test_always' not in out and 'test_skipped' not in out
    assert '1 failed, 2 passed, 1 skipped' in out  # each run's counts
    assert '1 test(s) pass without contract_stub and fail with it' in out
    known = {(BROKEN, 'any'): 'a deliberate difference, with its reason'}
    suites = [uc.Suite('mmengine', str(checkout), ['tests/test_thing.py'])]
    assert uc.run(suites, str(tmp_path / 'listed'), ['unset'],
                  plugin='contract_stub', out=str(tmp_path / 'table.md'),
                  known=known) == 0
    table = (tmp_path / 'table.md').read_text()
    assert f'| {BROKEN} | passed | failed | a deliberate difference' in table


def test_a_plain_run_that_imports_the_plugin_is_refused(checkout, tmp_path,
                                                        capsys):
    (checkout / 'tests' / 'test_imports.py').write_text(
        'import contract_stub\n\n\ndef test_it():\n    pass\n')
    with pytest.raises(SystemExit) as exit_:
        contracts(checkout, tmp_path, 'plain', modules='tests')
    assert exit_.value.code == 2
    assert 'contract_stub was imported in the run without it' in \
        capsys.readouterr().err


def test_bad_input_is_named(tmp_path, capsys):
    bad = tmp_path / 'junit.xml'
    bad.write_text('<html></html>')
    with pytest.raises(ValueError, match=r'junit.xml: expected <testsuites>'):
        uc.parse_junit(str(bad))
    bad.write_text('<testsuites')
    with pytest.raises(ValueError, match='junit.xml: not junit XML'):
        uc.parse_junit(str(bad))
    with pytest.raises(SystemExit) as exit_:
        load_tool('misc/upstream_contracts.py').main(
            ['--mmengine-tests', str(tmp_path), '--mmpretrain-modules'])
    assert exit_.value.code == 2
    assert 'expected a mmengine checkout (with a tests/ folder)' in \
        capsys.readouterr().err
