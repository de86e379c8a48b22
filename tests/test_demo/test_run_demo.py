"""The demo: README's quick-start command end to end, and run_demo.py from an
installed package writing nothing inside it."""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest

from launch_utils import repo_sandbox

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
README_DEMO = 'bash tools/setup_env.sh && .venv/bin/python tools/run_demo.py'
sys.path.insert(0, REPO)

import setup  # noqa: E402  (its packaging helpers)


def check_run(root, mode):
    run = root / f'tiny-resnet_{mode}_digits'
    assert (run / 'preds.npz').is_file()
    for name in ('rho_hist.png', 'rho_per_class.png',
                 'affect_per_class.png'):
        assert (run / 'plots' / name).stat().st_size > 10_000
    assert (root / 'results.md').is_file()


@pytest.mark.slow
@pytest.mark.readme(README_DEMO)
def test_readme_demo(tmp_path):
    """As written, in a directory laid out like the repository (its .venv
    the project's: setup_env.sh finds everything installed)."""
    pytest.importorskip('sklearn')
    box, env = repo_sandbox(tmp_path, own=('work_dirs', ))
    out = subprocess.run(['bash', '-c', README_DEMO], cwd=str(box), env=env,
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert 'already has emoreg_mm' in out.stdout
    root = box / 'work_dirs' / 'demo'
    for mode in ('baseline', 'const', 'ereg', 'learn-ereg'):
        assert re.search(rf'^\| tiny-resnet \| [^|]+ \| {mode} \|',
                         out.stdout, re.M), mode
    assert 'main job finished' in out.stdout
    assert f'Table: {root}/results.md' in out.stdout  # absolute paths
    check_run(root, 'learn-ereg')
    assert (root / 'data' / 'testImages_abstract' /
            'ABSTRACT_groundTruth.csv').is_file()


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
