"""What a reader of the plots relies on, asserted on the figures: every
text inside the image, axis labels with units, legends off the data, a
nearly constant rho drawn on the range it spans."""
import numpy as np
import pytest

from emoreg_mm.visualization import analysis, regulation


@pytest.fixture
def figures(monkeypatch):
    """The figures the plotting functions draw, kept instead of saved."""
    kept = []
    monkeypatch.setattr(analysis, '_save',
                        lambda fig, path: kept.append(fig) or path)
    return kept


def check_layout(fig):
    """Every visible text within the figure; no legend over an axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    canvas.draw()
    renderer = canvas.get_renderer()
    drawn, box = fig.get_tightbbox(renderer), fig.bbox_inches
    assert box.x0 - .01 <= drawn.x0 and drawn.x1 <= box.x1 + .01 and \
        box.y0 - .01 <= drawn.y0 and drawn.y1 <= box.y1 + .01, (drawn, box)
    for legend in fig.legends:
        for ax in fig.axes:
            assert not legend.get_window_extent(renderer).overlaps(
                ax.get_window_extent(renderer))


def preds(rho):
    rng = np.random.default_rng(0)
    n = len(rho)
    gt = rng.integers(0, 3, n)
    score = lambda: rng.dirichlet(np.ones(3), n)  # noqa: E731
    fused = score()
    return dict(gt_label=gt, pred_score=fused, pred_label=fused.argmax(1),
                pred_score_n=score(), pred_score_i=score(), rho=rho)


def test_rho_by_branch_nearly_constant(figures):
    rho = 0.395 + 0.01 * np.random.default_rng(1).random(300)
    analysis.rho_by_branch(preds(rho), 'x.png', 'run')
    fig = figures[0]
    check_layout(fig)
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    assert low <= rho.min() and rho.max() <= high and high - low <= 0.11
    tallest = max(p.get_height() for p in ax.patches
                  if hasattr(p, 'get_height'))
    assert tallest <= ax.get_ylim()[1]
    assert 'right way' not in ax.get_title()
    assert 'only I / only N was right' in ax.get_title()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any('only I right' in t for t in labels) and \
        any('only N right' in t for t in labels)


def test_reliability_legend_names_both_directions(figures):
    from emoreg_mm.evaluation.analysis import calibration
    p = preds(np.full(200, .5))
    calib, _ = calibration(p)
    analysis.reliability_diagram(calib, 'x.png')
    fig = figures[0]
    check_layout(fig)
    labels = ' '.join(t.get_text() for t in fig.legends[0].get_texts())
    assert 'over-confident' in labels and 'under-confident' in labels
    assert not any(p.get_hatch() for ax in fig.axes for p in ax.patches)


def test_forest_labels_inside_and_unit_on_the_axis(figures):
    ci = dict(n=1, mean=-12.5, low=None, high=None)
    entries = [dict(label=f'mode {i}', ref=ref, ci=ci)
               for i in range(3) for ref in ('baseline', 'const')]
    entries.append(dict(label='mode 9', ref='baseline',
                        ci=dict(n=2, mean=3., low=1., high=40.)))
    analysis.forest_plot(entries, 'x.png')
    fig = figures[0]
    check_layout(fig)
    assert 'percentage points' in fig.axes[0].get_xlabel()


def test_rho_per_class_whiskers_inside_legend_off_class_0():
    rho = np.r_[np.full(5, 0.97), np.full(5, 0.55), [0.05, 1.0]]
    gt = np.r_[np.zeros(5, int), np.ones(5, int), [0, 0]]
    s = dict(rho=rho, gt=gt, num_classes=2)
    fig = regulation._rho_per_class(s, ['a', 'b'], '')
    check_layout(fig)
    ax = fig.axes[0]
    for line in ax.lines:  # the whiskers' caps
        y = np.asarray(line.get_ydata(), float)
        assert np.all((y >= 0) & (y <= 1))
    assert ax.get_ylabel() and ax.get_xlabel()
