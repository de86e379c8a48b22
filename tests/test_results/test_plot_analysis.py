"""plot_analysis writes the per-run reliability diagram and rho-by-branch
plot, as docs/results.md shows it."""
import glob
import os.path as osp
import shlex
import sys

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import plot_analysis  # noqa: E402
from test_results_table import RHO, write_branch_preds  # noqa: E402

COMMAND = ('python tools/analysis_tools/plot_analysis.py '
           'work_dirs/*/predictions.npz')
PNG = b'\x89PNG\r\n\x1a\n'


def run_as_shown(command):
    """``command``'s main(argv) in this process, globs expanded as bash
    does (in the current folder)."""
    words = shlex.split(command)
    assert words[:2] == ['python', 'tools/analysis_tools/plot_analysis.py']
    plot_analysis.main([m for w in words[2:]
                        for m in sorted(glob.glob(w)) or [w]])


@pytest.mark.readme(COMMAND)
def test_docs_command_writes_each_runs_plots(tmp_path, monkeypatch,
                                             capsys):
    ereg = tmp_path / 'work_dirs' / 'ereg0'
    base = tmp_path / 'work_dirs' / 'baseline0'
    for folder in (ereg, base):
        folder.mkdir(parents=True)
    write_branch_preds(str(ereg), RHO)
    write_branch_preds(str(base), None)
    monkeypatch.chdir(tmp_path)
    run_as_shown(COMMAND)
    for png in (ereg / 'reliability.png', ereg / 'rho_by_branch.png',
                base / 'reliability.png'):
        data = png.read_bytes()
        assert data[:8] == PNG and len(data) > 10_000, png
    assert not (base / 'rho_by_branch.png').exists()
    out = capsys.readouterr().out
    assert ('baseline0: no rho_by_branch.png (no rho: not a regulated '
            'model)') in out


def test_a_malformed_file_is_named(tmp_path):
    work_dir = tmp_path / 'bad'
    work_dir.mkdir()
    path = write_branch_preds(str(work_dir), RHO,
                              extra=dict(pred_score_n=np.zeros((8, 4))))
    with pytest.raises(SystemExit) as exit_:
        plot_analysis.main([path, '--out-dir', str(tmp_path / 'plots')])
    assert str(exit_.value.code) == (
        f"plot_analysis: {path}: 'pred_score_n' has shape (8, 4); expected "
        "(8, 3) like pred_score (one branch's class probabilities per image)")
    assert not (tmp_path / 'plots').exists()
