"""The demo end to end, in its --quick mode (1 epoch per stage)."""
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.slow
def test_run_demo_quick(tmp_path):
    pytest.importorskip('sklearn')
    root = tmp_path / 'demo'
    out = subprocess.run(
        [sys.executable, 'tools/run_demo.py', '--quick', '--work-root',
         str(root)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert '| tiny-resnet | synth-abstract | learn-ereg |' in out.stdout
    assert 'main job finished' in out.stdout
    assert (root / 'results.md').is_file()
    run = root / 'tiny-resnet_learn-ereg_digits'
    assert (run / 'preds.npz').is_file()
    for name in ('rho_hist.png', 'rho_per_class.png',
                 'affect_per_class.png'):
        assert (run / 'plots' / name).stat().st_size > 10_000
    assert (root / 'data' / 'testImages_abstract' /
            'ABSTRACT_groundTruth.csv').is_file()
