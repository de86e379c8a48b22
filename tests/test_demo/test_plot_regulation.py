"""plot_regulation writes readable PNGs from saved predictions: the library
(emoreg_mm.visualization.regulation) and its CLI, main(argv) in this
process."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmpretrain.structures import DataSample

from affective_fixtures import EMOTIONS  # the canonical order
from emoreg_mm.evaluation import save_predictions
from emoreg_mm.visualization import regulation
from launch_utils import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = 'analysis_tools/plot_regulation.py'
PNG = b'\x89PNG\r\n\x1a\n'


def fake_preds(n=60, num_classes=10, affect=True):
    g = torch.Generator().manual_seed(0)
    preds = []
    for i in range(n):
        label = i % num_classes
        s = DataSample().set_gt_label(label)
        s.set_pred_score(torch.softmax(torch.randn(num_classes, generator=g),
                                       0))
        s.set_pred_label(int(s.pred_score.argmax()))
        s.set_field(torch.rand((), generator=g), 'rho')
        s.set_field(f'/data/digits/test/{label}/{i:04d}.png', 'img_path',
                    field_type='metainfo')
        if affect:
            a = torch.softmax(torch.randn(8, generator=g) * 2, 0)
            s.set_field(a, 'affect_score')
            s.set_field(torch.tensor([int(a.argmax())]), 'affect_label')
            s.set_field(EMOTIONS[int(a.argmax())], 'affect_class')
        preds.append(s.to_dict())
    return preds


def test_plots_from_saved_predictions(tmp_path, capsys):
    npz = save_predictions(str(tmp_path / 'preds.npz'), fake_preds())
    load_tool(TOOL).main(['--preds', npz, '--out-dir',
                          str(tmp_path / 'plots')])
    out = capsys.readouterr().out
    for name in ('rho_hist.png', 'rho_per_class.png',
                 'affect_per_class.png'):
        path = tmp_path / 'plots' / name
        assert path.is_file() and path.stat().st_size > 10_000, name
        assert path.read_bytes()[:8] == PNG
        assert f'wrote {path}' in out


def test_names_inferred_and_no_affect(tmp_path):
    preds = fake_preds(affect=False)
    assert regulation.infer_class_names(preds, 10) == \
        [str(d) for d in range(10)]
    paths = regulation.plot_regulation(preds, str(tmp_path), title='t')
    assert [osp.basename(p) for p in paths] == ['rho_hist.png',
                                                'rho_per_class.png']
    with_affect = fake_preds()
    names = regulation.infer_emotion_names(with_affect, 8)
    assert names == list(EMOTIONS)


def test_baseline_predictions_rejected(tmp_path):
    preds = [{k: v for k, v in p.items() if k != 'rho'}
             for p in fake_preds(affect=False)]
    with pytest.raises(ValueError, match='baseline'):
        regulation.plot_regulation(preds, str(tmp_path))


def test_pickle_preds_need_trust_flag(tmp_path):
    """A .pkl --preds is never unpickled unless --trust-pickle is given."""
    import mmengine
    marker = tmp_path / 'ran'
    pkl = str(tmp_path / 'preds.pkl')
    mmengine.dump(_Payload(str(marker)), pkl)
    argv = ['--preds', pkl, '--out-dir', str(tmp_path / 'plots')]
    with pytest.raises(SystemExit) as exit_:
        load_tool(TOOL).main(argv)
    err = str(exit_.value.code)  # a message: exit status 1
    assert pkl in err and '--trust-pickle' in err
    assert not marker.exists()
    # A trusted pickle of DumpResults still plots.
    mmengine.dump(fake_preds(), pkl)
    load_tool(TOOL).main([*argv, '--trust-pickle'])
    assert (tmp_path / 'plots' / 'rho_hist.png').is_file()


class _Payload:
    """Pickles into a call that creates a marker file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def test_rho_axes_are_the_whole_range_with_the_equal_weight_line(
        tmp_path, monkeypatch):
    """rho on [0, 1] whatever its spread (a spread of 0.003 is not zoomed
    into a pattern), the rho = 0.5 line, n under each class, the run in
    the title."""
    preds = fake_preds(affect=False)
    for i, p in enumerate(preds):
        p['rho'] = torch.tensor(0.502 + 0.003 * (i % 2))
    seen = {}

    def keep(fig, path):
        ax = fig.axes[0]
        seen[osp.basename(path)] = dict(
            title=ax.get_title(), xlim=ax.get_xlim(), ylim=ax.get_ylim(),
            ticks=[t.get_text() for t in ax.get_xticklabels()],
            hlines=[tuple(line.get_ydata()) for line in ax.get_lines()],
            vlines=[tuple(line.get_xdata()) for line in ax.get_lines()])
        return path

    monkeypatch.setattr(regulation, '_save', keep)
    title = regulation.run_title(
        None, str(tmp_path / 'tiny-resnet_ereg_digits_s0' / 'predictions.npz'))
    assert title == 'tiny-resnet_ereg_digits_s0'
    assert regulation.run_title('configs/x/my_run.py', 'a/b.npz') == \
        'my_run'
    regulation.plot_regulation(preds, str(tmp_path), title=title)
    hist, per_class = seen['rho_hist.png'], seen['rho_per_class.png']
    assert hist['xlim'] == (0.0, 1.0) and (0.5, 0.5) in hist['vlines']
    assert per_class['ylim'] == (0.0, 1.0)
    assert (0.5, 0.5) in per_class['hlines']
    assert per_class['ticks'][:2] == ['0\nn=6', '1\nn=6']
    assert all(s['title'].startswith(title + ': ') for s in seen.values())


def test_plots_without_torch(tmp_path):
    """Reading predictions and plotting them need numpy and matplotlib only
    (a fresh interpreter with torch made unimportable), and leave the
    caller's matplotlib backend as it was."""
    npz = save_predictions(str(tmp_path / 'preds.npz'), fake_preds())
    code = (
        "import sys; sys.modules['torch'] = None\n"
        'import matplotlib; backend = matplotlib.get_backend()\n'
        'from emoreg_mm.visualization.regulation import (load_predictions, '
        'plot_regulation)\n'
        f'paths = plot_regulation(load_predictions({npz!r}), '
        f"{str(tmp_path / 'plots')!r}, title='run')\n"
        "assert 'mmengine' not in sys.modules, 'mmengine imported'\n"
        'assert matplotlib.get_backend() == backend\n'
        'print(len(paths))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=REPO, timeout=120,
                         env=dict(os.environ, MPLBACKEND='svg'))
    assert out.returncode == 0 and out.stdout.strip() == '3', out.stderr
    assert (tmp_path / 'plots' / 'affect_per_class.png').read_bytes()[:8] \
        == PNG
