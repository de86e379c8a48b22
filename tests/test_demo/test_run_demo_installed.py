"""run_demo.py from an installed package writes nothing inside it."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from test_run_demo import check_run

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import setup  # noqa: E402  (its packaging helpers)


def snapshot(folder):
    return {
        osp.join(d, f): os.stat(osp.join(d, f)).st_mtime_ns
        for d, _, files in os.walk(folder, followlinks=True) for f in files
        if '__pycache__' not in d
    }


@pytest.mark.slow
def test_run_demo_from_installed_package(tmp_path):
    """The package as a wheel installs it (the code plus ``.mim`` with
    configs and tools, copied by setup.py's build step), run_demo.py run
    from its ``.mim`` copy in another directory."""
    pytest.importorskip('sklearn')
    site = tmp_path / 'site'
    pkg = site / 'emoreg_mm'
    shutil.copytree(osp.join(REPO, 'emoreg_mm'), pkg, ignore=shutil.
                    ignore_patterns('__pycache__', '.mim'))
    setup.write_mim_files(str(pkg / '.mim'), link=False)
    before = snapshot(pkg)
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run(
        [sys.executable, str(pkg / '.mim' / 'tools' / 'run_demo.py'),
         '--quick', '--modes', 'learn-ereg'],
        cwd=str(cwd), env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert str(pkg / '.mim' / 'tools' / 'train.py') in out.stdout
    root = cwd / 'work_dirs' / 'demo_quick'
    check_run(root, 'learn-ereg')
    assert f'Table: {root}/results.md' in out.stdout
    assert snapshot(pkg) == before, 'run_demo.py wrote into the package'
