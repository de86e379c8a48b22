"""The demo: README's quick-start command end to end, in a fresh
interpreter as a user runs it (run_demo.py from an installed package:
test_run_demo_installed.py, a file of its own so that a parallel run gives
it another worker)."""
import re
import subprocess

import pytest

from launch_utils import repo_sandbox

README_DEMO = 'bash tools/setup_env.sh && .venv/bin/python tools/run_demo.py'


def check_run(root, mode):
    run = root / f'tiny-resnet_{mode}_digits_s0'  # the sweep's run dir
    assert (run / 'predictions.npz').is_file()
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
    # McNemar's test against const found both runs' predictions
    for mode in ('ereg', 'learn-ereg'):
        row = re.search(rf'^\| tiny-resnet \| [^|]+ \| {mode} \|.*\| '
                        r'([\d.e+-]+) \|$', out.stdout, re.M)
        assert row and 0 <= float(row.group(1)) <= 1, mode
    assert 'main job finished' in out.stdout
    assert f'Table: {root}/results.md' in out.stdout  # absolute paths
    check_run(root, 'learn-ereg')
    assert (root / 'data' / 'testImages_abstract' /
            'ABSTRACT_groundTruth.csv').is_file()
