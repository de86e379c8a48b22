"""Plots of the analyses: reliability, rho by branch, the forest plot.

The numbers are those of :mod:`emoreg_mm.evaluation.analysis` (one run's
predictions) and :mod:`emoreg_mm.results` (the paired differences over
seeds). matplotlib is imported when a plot is drawn, with the Agg backend
(no display needed).

* :func:`reliability_diagram`: accuracy against mean top-1 confidence in
  the ECE's equal-width bins, the gap to the diagonal shaded, the images
  per bin below; ECE and NLL in the title;
* :func:`rho_by_branch`: the distribution of rho on the images only I got
  right and on those only N got right, their means marked (a regulator that
  leans the right way puts the first to the right of the second);
* :func:`forest_plot`: the paired differences of the results table against
  ``baseline``, ``const`` and the shuffled / untrained controls, with their
  95% intervals and adjusted verdicts;
* :func:`plot_run`: the first two for one run's predictions.
"""
import os
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np

from ..evaluation.analysis import run_analysis
from ..evaluation.predictions import check_predictions
from ..fileio import atomic_write


def _plt():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_png(fig, path):
    """Write ``fig`` as a PNG to ``path``: a binary file, or a file name
    written atomically (:func:`emoreg_mm.fileio.atomic_write`: a symlink
    planted at the name is replaced, never followed)."""
    fig.tight_layout()
    if isinstance(path, (str, os.PathLike)):
        atomic_write(path, lambda f: fig.savefig(f, dpi=110, format='png'))
    else:
        fig.savefig(path, dpi=110, format='png')
    return path


def _save(fig, path):
    save_png(fig, path)
    _plt().close(fig)
    return path


def reliability_diagram(calib: dict, path: str, title: str = '') -> str:
    """Write the reliability diagram of :func:`analysis.calibration`'s
    result ``calib`` to ``path``."""
    plt = _plt()
    bins = calib['bins']
    width = bins[0]['high'] - bins[0]['low']
    lows = np.array([b['low'] for b in bins])
    counts = np.array([b['count'] for b in bins])
    filled = counts > 0
    acc = np.array([b['accuracy'] if b['count'] else 0. for b in bins])
    conf = np.array([b['confidence'] if b['count'] else 0. for b in bins])
    fig, (ax, ax_n) = plt.subplots(
        2, 1, figsize=(6, 6.6), sharex=True,
        gridspec_kw=dict(height_ratios=[3, 1]))
    ax.bar(lows[filled], acc[filled], width=width, align='edge',
           color='#4c72b0', edgecolor='white', label='accuracy')
    for low, a, c in zip(lows[filled], acc[filled], conf[filled]):
        ax.bar(low, c - a, bottom=a, width=width, align='edge', fill=False,
               edgecolor='#c44e52', hatch='///', linewidth=0.8,
               label='gap to mean confidence')
    ax.plot([0, 1], [0, 1], color='0.3', ls='--', lw=1,
            label='perfect calibration')
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))  # one legend entry per kind
    ax.legend(unique.values(), unique.keys(), loc='upper left',
              fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel('top-1 accuracy (hatched above a bar: overconfident)',
                  fontsize=9)
    prefix = f'{title}: ' if title else ''
    ax.set_title(f'{prefix}reliability of the fused prediction\n'
                 f'ECE = {100 * calib["ece"]:.2f}% ({len(bins)} equal-width '
                 f'bins), NLL = {calib["nll"]:.3f}\ntop-1 = '
                 f'{100 * calib["accuracy"]:.1f}%, n = {calib["images"]} '
                 'images', fontsize=10)
    ax_n.bar(lows, counts, width=width, align='edge', color='0.55',
             edgecolor='white')
    ax_n.yaxis.get_major_locator().set_params(integer=True)
    ax_n.set_xlabel('top-1 confidence (score of the predicted class)')
    ax_n.set_ylabel('images')
    return _save(fig, path)


def rho_by_branch(preds: dict, path: str, title: str = '') -> str:
    """Write the distribution of rho on the images only I and only N got
    right (``preds`` holds both branches' scores and rho)."""
    plt = _plt()
    gt = preds['gt_label']
    right_n = preds['pred_score_n'].argmax(1) == gt
    right_i = preds['pred_score_i'].argmax(1) == gt
    rho = preds['rho'].astype(float)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    edges = np.linspace(0, 1, 41)
    for mask, name, color in ((right_i & ~right_n, 'only I right', '#dd8452'),
                              (right_n & ~right_i, 'only N right', '#4c72b0')):
        if not mask.any():
            ax.plot([], [], color=color, label=f'{name}: no images')
            continue
        mean = rho[mask].mean()
        ax.hist(rho[mask], bins=edges, color=color, alpha=0.55,
                label=f'{name} (n = {int(mask.sum())}), mean rho = '
                f'{mean:.3f}')
        ax.axvline(mean, color=color, lw=2, ls='--')
    ax.axvline(0.5, color='0.5', lw=1, label='rho = 0.5 (const)')
    ax.set_xlim(0, 1)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel('rho (0: only N counts, 1: only I counts)')
    ax.set_ylabel('number of images')
    prefix = f'{title}: ' if title else ''
    ax.set_title(f'{prefix}rho where one branch alone was right\n'
                 '(leaning the right way: "only I right" to the right)')
    ax.legend(loc='upper left', fontsize=9)
    return _save(fig, path)


#: Colour, marker and vertical shift of each reference in the forest plot.
FOREST_STYLES = {'baseline': ('#4c72b0', 'o', -0.24),
                 'const': ('#dd8452', 's', -0.08),
                 'shuffled': ('#55a868', 'D', 0.08),
                 'untrained': ('#8172b3', '^', 0.24)}
#: The legend's name of each reference.
FOREST_LEGEND = {'baseline': 'vs baseline', 'const': 'vs const',
                 'shuffled': 'vs shuffled control (X-shuffled)',
                 'untrained': 'vs untrained control (X-untrained)'}


def forest_plot(entries: Sequence[dict], path,
                metric: str = 'accuracy/top1'):
    """Write the forest plot of paired differences.

    Args:
        entries (Sequence[dict]): One per row, target and reference:
            ``label`` (the row and target), ``ref`` (``'baseline'``,
            ``'const'``, ``'shuffled'`` or ``'untrained'``) and ``ci``
            (the result of :func:`emoreg_mm.results.pairing.compare`, with
            the adjusted verdict of :func:`emoreg_mm.results.family.settle`
            where it has one).
        path (str | file): Output PNG (a name or an open binary file).
        metric (str): What was differenced, for the axis label.
    """
    plt = _plt()
    labels = list(dict.fromkeys(e['label'] for e in entries))
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.7 * len(labels)))
    seen = set()
    for e in entries:
        ci = e['ci']
        if not ci or not ci['n']:
            continue
        color, marker, shift = FOREST_STYLES[e['ref']]
        y = len(labels) - 1 - labels.index(e['label']) + shift
        has_interval = ci['low'] is not None
        if has_interval:
            ax.plot([ci['low'], ci['high']], [y, y], color=color, lw=2)
        ax.plot(ci['mean'], y, marker=marker, ms=6, color=color,
                mfc=color if has_interval else 'white',
                label=None if e['ref'] in seen else FOREST_LEGEND[e['ref']])
        seen.add(e['ref'])
        note = f'n={ci["n"]}' + ('' if has_interval else ', no interval')
        if ci.get('primary'):
            note += ', primary'
        elif ci.get('adjusted') not in (None, 'no evidence'):
            note += f', adjusted: {ci["adjusted"]}'
        ax.annotate(note, (ci['high'] if has_interval else ci['mean'], y),
                    xytext=(5, 0), textcoords='offset points', va='center',
                    fontsize=7, color=color)
    ax.axvline(0, color='0.3', lw=1)
    ax.set_yticks(range(len(labels)), labels[::-1])
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlabel(f'paired difference in {metric} over seeds: mean and 95% '
                  't interval, unadjusted\n(hollow: fewer than 2 pairs or '
                  'identical differences, no interval; "adjusted": the '
                  'verdict\nthat survives the table\'s correction)')
    ax.set_title('each mode against baseline, const and the controls of '
                 'its affective set')
    ax.legend(loc='best', fontsize=8)
    ax.margins(x=0.45)  # room for the labels right of the points
    return _save(fig, path)


def plot_run(preds: dict, out_dir: str,
             title: str = '') -> Tuple[List[str], List[str]]:
    """Write ``reliability.png`` and ``rho_by_branch.png`` of one run's
    predictions (``load_predictions``) into ``out_dir``.

    Returns:
        tuple: (paths written, notes: why a plot was not drawn).
    """
    check_predictions(title or 'the predictions', preds)
    result = run_analysis(preds)
    os.makedirs(out_dir, exist_ok=True)
    written, notes = [], []
    if result['calibration']:
        written.append(reliability_diagram(
            result['calibration'], osp.join(out_dir, 'reliability.png'),
            title))
    else:
        notes.append(f'{title}: no reliability diagram '
                     f'({result["reasons"]["calibration"]}).')
    if result['branches']:
        written.append(rho_by_branch(
            preds, osp.join(out_dir, 'rho_by_branch.png'), title))
    else:
        notes.append(f'{title}: no rho_by_branch.png '
                     f'({result["reasons"]["branches"]}).')
    return written, notes


def plot_dirs(paths: Sequence[str], out_dir=None) -> List[str]:
    """The folder each predictions file of ``paths`` is plotted into: beside
    it, or with ``out_dir``, ``out_dir`` itself for one file and
    ``out_dir/<run dir's name>`` for several (where run dirs share a name,
    their paths below the folder they have in common).

    Raises:
        ValueError: Two files would be plotted into one folder (two files
            in one run dir, or one file given twice); naming both.
    """
    folders = [osp.dirname(osp.abspath(p)) for p in paths]
    if out_dir is None:
        dirs = folders
    elif len(paths) == 1:
        dirs = [out_dir]
    else:
        names = [osp.basename(f) for f in folders]
        if len(set(names)) < len(names):
            common = osp.commonpath(folders)
            names = [osp.relpath(f, common) for f in folders]
        dirs = [osp.join(out_dir, n) for n in names]
    seen = {}
    for path, folder in zip(paths, dirs):
        key = osp.realpath(folder)
        if key in seen:
            raise ValueError(
                f'{seen[key]} and {path} would write the same plots into '
                f'{folder}; plot them one at a time, each with its own '
                '--out-dir.')
        seen[key] = path
    return dirs
