"""plot_regulation writes readable PNGs from saved predictions."""
import os.path as osp
import sys

import torch
from mmpretrain.structures import DataSample

from emoreg_mm.evaluation import save_predictions

from affective_fixtures import EMOTIONS  # the canonical order

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))

import plot_regulation  # noqa: E402


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


def test_plots_from_saved_predictions(tmp_path, tools):
    npz = save_predictions(str(tmp_path / 'preds.npz'), fake_preds())
    code, _, err = tools.run('tools/analysis_tools/plot_regulation.py',
                             '--preds', npz, '--out-dir',
                             str(tmp_path / 'plots'))
    assert code == 0, err
    for name in ('rho_hist.png', 'rho_per_class.png',
                 'affect_per_class.png'):
        path = tmp_path / 'plots' / name
        assert path.is_file() and path.stat().st_size > 10_000, name
        assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_names_inferred_and_no_affect(tmp_path):
    preds = fake_preds(affect=False)
    assert plot_regulation.infer_class_names(preds, 10) == \
        [str(d) for d in range(10)]
    paths = plot_regulation.plot_regulation(preds, str(tmp_path), title='t')
    assert [osp.basename(p) for p in paths] == ['rho_hist.png',
                                                'rho_per_class.png']
    with_affect = fake_preds()
    names = plot_regulation.infer_emotion_names(with_affect, 8)
    assert names == list(EMOTIONS)


def test_baseline_predictions_rejected(tmp_path):
    preds = [{k: v for k, v in p.items() if k != 'rho'}
             for p in fake_preds(affect=False)]
    try:
        plot_regulation.plot_regulation(preds, str(tmp_path))
    except ValueError as err:
        assert 'baseline' in str(err)
    else:
        raise AssertionError('baseline predictions must be rejected')


def test_pickle_preds_need_trust_flag(tmp_path, tools):
    """A .pkl --preds is never unpickled unless --trust-pickle is given."""
    import mmengine
    marker = tmp_path / 'ran'
    pkl = str(tmp_path / 'preds.pkl')
    mmengine.dump(_Payload(str(marker)), pkl)
    cmd = ['tools/analysis_tools/plot_regulation.py', '--preds', pkl,
           '--out-dir', str(tmp_path / 'plots')]
    code, _, err = tools.run(*cmd)
    assert code == 1, err
    assert pkl in err and '--trust-pickle' in err
    assert not marker.exists()
    # A trusted pickle of DumpResults still plots.
    mmengine.dump(fake_preds(), pkl)
    code, _, err = tools.run(*cmd, '--trust-pickle')
    assert code == 0, err
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
        import matplotlib.pyplot as plt
        plt.close(fig)
        return path

    monkeypatch.setattr(plot_regulation, '_save', keep)
    title = plot_regulation.run_title(
        None, str(tmp_path / 'tiny-resnet_ereg_digits_s0' / 'predictions.npz'))
    assert title == 'tiny-resnet_ereg_digits_s0'
    assert plot_regulation.run_title('configs/x/my_run.py', 'a/b.npz') == \
        'my_run'
    plot_regulation.plot_regulation(preds, str(tmp_path), title=title)
    hist, per_class = seen['rho_hist.png'], seen['rho_per_class.png']
    assert hist['xlim'] == (0.0, 1.0) and (0.5, 0.5) in hist['vlines']
    assert per_class['ylim'] == (0.0, 1.0)
    assert (0.5, 0.5) in per_class['hlines']
    assert per_class['ticks'][:2] == ['0\nn=6', '1\nn=6']
    assert all(s['title'].startswith(title + ': ') for s in seen.values())
