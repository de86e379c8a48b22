"""plot_analysis writes the per-run reliability diagram and rho-by-branch
plot, as docs/results.md shows it (emoreg_mm.visualization.analysis)."""
import glob
import shlex

import numpy as np
import pytest
from launch_utils import run_tool
from results_fixtures import RHO, write_branch_preds

from emoreg_mm.evaluation import load_predictions
from emoreg_mm.visualization.analysis import plot_run

COMMAND = ('python tools/analysis_tools/plot_analysis.py '
           'work_dirs/*/predictions.npz')
PNG = b'\x89PNG\r\n\x1a\n'


def run_as_shown(command):
    """``command``'s main(argv) in this process, globs expanded as bash
    does (in the current folder)."""
    words = shlex.split(command)
    assert words[:2] == ['python', 'tools/analysis_tools/plot_analysis.py']
    run_tool('analysis_tools/plot_analysis.py',
             *[m for w in words[2:] for m in sorted(glob.glob(w)) or [w]])


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


def test_plot_run_returns_what_it_wrote_and_why_not(tmp_path):
    path = write_branch_preds(str(tmp_path), None)
    written, notes = plot_run(load_predictions(path), str(tmp_path / 'out'),
                              'base')
    assert written == [str(tmp_path / 'out' / 'reliability.png')]
    assert notes == ['base: no rho_by_branch.png (no rho: not a regulated '
                     'model).']


def test_a_malformed_file_is_named(tmp_path):
    work_dir = tmp_path / 'bad'
    work_dir.mkdir()
    path = write_branch_preds(str(work_dir), RHO,
                              extra=dict(pred_score_n=np.zeros((8, 4))))
    with pytest.raises(SystemExit) as exit_:
        run_tool('analysis_tools/plot_analysis.py', path, '--out-dir',
                 str(tmp_path / 'plots'))
    assert str(exit_.value.code) == (
        f"plot_analysis: {path}: 'pred_score_n' has shape (8, 4); expected "
        "(8, 3) like pred_score (one branch's class probabilities per image)")
    assert not (tmp_path / 'plots').exists()
