"""The plot tools never write through a link they did not create, never
write two inputs into one file, and name predictions they cannot plot."""
import os

import numpy as np
import pytest

from emoreg_mm.evaluation import save_predictions
from launch_utils import run_cli


def _samples(n):
    rng = np.random.default_rng(n)
    out = []
    for i in range(n):
        p = rng.dirichlet(np.ones(3))
        out.append(dict(gt_label=i % 3, pred_label=int(p.argmax()),
                        pred_score=p, rho=0.2 + 0.1 * (i % 5),
                        pred_score_n=p, pred_score_i=p[::-1].copy(),
                        affect_score=np.eye(4)[i % 4]))
    return out


@pytest.mark.parametrize('tool,plot', [
    (('analysis_tools/plot_analysis.py', ), 'reliability.png'),
    (('analysis_tools/plot_regulation.py', '--preds'), 'rho_hist.png'),
])
def test_a_planted_link_at_a_plot_is_replaced_not_followed(tmp_path, tool,
                                                           plot):
    """Beside a shared predictions file, a symlink at a plot's name: the
    plot replaces the link; the file it pointed to is kept."""
    shared = tmp_path / 'shared'
    preds = save_predictions(str(shared / 'predictions.npz'), _samples(6))
    victim = tmp_path / 'victim.txt'
    victim.write_text('kept')
    (shared / plot).symlink_to(victim)
    code, out = run_cli(*tool, preds)
    assert code == 0, out[-2000:]
    assert victim.read_text() == 'kept'
    assert not (shared / plot).is_symlink()
    assert (shared / plot).read_bytes()[:4] == b'\x89PNG'


def test_inputs_of_runs_that_share_a_name_get_a_folder_each(tmp_path):
    """Two sweeps' run dirs of one name under --out-dir: each its own
    folder (their paths below the common folder), each plot of its file."""
    paths = [save_predictions(str(tmp_path / s / 'run' / 'predictions.npz'),
                              _samples(n))
             for s, n in (('sweep1', 6), ('sweep2', 9))]
    out = tmp_path / 'plots'
    code, text = run_cli('analysis_tools/plot_analysis.py', *paths,
                         '--out-dir', str(out))
    assert code == 0, text[-2000:]
    one = out / 'sweep1' / 'run' / 'reliability.png'
    two = out / 'sweep2' / 'run' / 'reliability.png'
    assert one.is_file() and two.is_file()
    assert one.read_bytes() != two.read_bytes()  # n = 6 and n = 9


def test_two_inputs_that_would_share_a_folder_are_refused(tmp_path):
    run = tmp_path / 'run'
    first = save_predictions(str(run / 'a.npz'), _samples(6))
    second = save_predictions(str(run / 'b.npz'), _samples(9))
    for extra in ((), ('--out-dir', str(tmp_path / 'plots'))):
        code, out = run_cli('analysis_tools/plot_analysis.py', first,
                            second, *extra)
        assert code == 1
        assert f'{first} and {second} would write the same plots' in out
    assert sorted(os.listdir(run)) == ['a.npz', 'b.npz']
    assert not (tmp_path / 'plots').exists()


def test_no_images_is_named_by_plot_regulation(tmp_path):
    path = str(tmp_path / 'empty.npz')
    np.savez(path, sample_idx=np.zeros(0, int), gt_label=np.zeros(0, int),
             pred_label=np.zeros(0, int), pred_score=np.zeros((0, 3)),
             rho=np.zeros(0))
    code, out = run_cli('analysis_tools/plot_regulation.py', '--preds', path)
    assert code == 1 and 'Traceback' not in out
    assert f'plot_regulation: {path}: pred_score has shape (0, 3)' in out
