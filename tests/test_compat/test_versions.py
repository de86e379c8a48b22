"""Importing the plugin next to an mmengine or mmpretrain it was not written
for says so, naming both versions (or refuses, in strict mode)."""
import subprocess
import sys

import pytest

from emoreg_mm.compat import versions


def test_tested_versions_pass_and_others_are_named(monkeypatch):
    import mmengine
    import mmpretrain
    assert versions.untested() == []  # this environment: the tested pair
    assert versions.check() == []
    other = dict(mmengine='0.11.0', mmpretrain=mmpretrain.__version__)
    monkeypatch.delenv(versions.STRICT_ENV, raising=False)
    with pytest.warns(UserWarning, match=r'mmengine 0\.11\.0 is installed; '
                      r"emoreg_mm's patches of mmengine were written and "
                      r'tested for 0\.10\.7.*EMOREG_MM_STRICT_VERSIONS=1'):
        assert len(versions.check(other)) == 1
    monkeypatch.setenv(versions.STRICT_ENV, '1')
    with pytest.raises(versions.UntestedVersionError,
                       match=r'mmengine 0\.11\.0 is installed'):
        versions.check(other)
    old = dict(mmengine=mmengine.__version__, mmpretrain='1.1.1')
    assert 'mmpretrain 1.1.1' in versions.untested(old)[0]
    assert versions._key('0.10.7rc1') == (0, 10, 7)
    assert versions._key('1.2') == (1, 2, 0)


def test_strict_import_refuses_before_patching():
    """A fresh interpreter that reports another mmengine: importing
    emoreg_mm fails in strict mode and nothing of mmengine was patched."""
    code = (
        'import mmengine, mmengine.runner.checkpoint as ck\n'
        "mmengine.__version__ = '0.11.0'\n"
        'before = ck.CheckpointLoader._schemes.get("http://")\n'
        'try:\n'
        '    import emoreg_mm\n'
        'except ImportError as e:\n'
        '    print("refused:", e)\n'
        'print("patched:", ck.CheckpointLoader._schemes.get("http://") '
        'is not before)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, env={**__import__('os').environ,
                                         versions.STRICT_ENV: '1'})
    assert 'refused: mmengine 0.11.0 is installed' in out.stdout, out.stderr
    assert 'patched: False' in out.stdout
