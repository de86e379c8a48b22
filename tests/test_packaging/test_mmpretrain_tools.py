"""mmpretrain's own tools work in the environment the requirements give.

``tools/visualization/browse_dataset.py`` draws its grid with matplotlib's
``adjust_bbox``, whose signature matplotlib 3.11 changed (hence
``matplotlib<3.11`` in requirements/runtime.txt).
"""
import os.path as osp
import subprocess
import sys

import mmpretrain
import pytest

from plain_config import make_plain_config

BROWSE = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                  'visualization', 'browse_dataset.py')


@pytest.mark.slow
def test_browse_dataset_draws_the_pipeline_grid(tmp_path):
    config = make_plain_config(tmp_path, max_epochs=1)
    with open(config, 'a') as f:
        f.write("visualizer = dict(type='UniversalVisualizer')\n")
    out_dir = tmp_path / 'browse'
    # 'transformed' (the default) and 'pipeline' draw through adjust_bbox
    for mode in ('transformed', 'pipeline'):
        proc = subprocess.run(
            [sys.executable, BROWSE, config, '--output-dir',
             str(out_dir / mode), '--phase', 'train', '--show-number', '1',
             '--mode', mode],
            cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        pngs = list((out_dir / mode).glob('*.png'))
        assert len(pngs) == 1 and pngs[0].stat().st_size > 500, mode
