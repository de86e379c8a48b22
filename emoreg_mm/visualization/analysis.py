"""Plots of the analyses: reliability, rho by branch, the forest plot.

The numbers are those of :mod:`emoreg_mm.evaluation.analysis` (one run's
predictions) and :mod:`emoreg_mm.results` (the paired differences over
seeds). matplotlib is imported when a plot is drawn, with the Agg backend
(no display needed).

* :func:`reliability_diagram`: accuracy against top-1 confidence in the
  ECE's equal-width bins, each bin's mean confidence marked and its gap to
  the accuracy coloured by direction (over- / under-confident), the images
  per bin below; ECE and NLL in the title;
* :func:`rho_by_branch`: the distribution of rho on the images only I got
  right and on those only N got right, their means marked, on the range
  rho spans (a nearly constant rho is drawn wide enough to read);
* :func:`forest_plot`: the paired differences of the results table against
  ``baseline``, ``const`` and the shuffled / untrained controls, with their
  95% intervals and adjusted verdicts;
* :func:`rho_vs_arousal`: for a dimensional affective state (valence,
  arousal), rho of every image against its arousal, the images coloured by
  which branch alone got them right, rho's correlation with arousal and
  valence in the title;
* :func:`plot_run`: the first two for one run's predictions, and the
  third where the run's state is dimensional.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..evaluation.analysis import (affect_analysis, branch_right,
                                   dimension_index, dimension_names,
                                   infer_affect, run_analysis)
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
    planted at the name is replaced, never followed). A figure without a
    layout engine of its own is laid out tight."""
    if fig.get_layout_engine() is None:
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


#: Colours of the reliability diagram's gaps, by direction.
OVER, UNDER = '#d62728', '#54278f'


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
    mid = lows + width / 2
    fig, (ax, ax_n) = plt.subplots(
        2, 1, figsize=(6, 7.2), sharex=True, layout='constrained',
        gridspec_kw=dict(height_ratios=[3, 1]))
    ax.bar(lows[filled], acc[filled], width=width, align='edge',
           color='#9ecae1', edgecolor='white', label='accuracy in the bin')
    ax.plot([0, 1], [0, 1], color='0.3', ls='--', lw=1,
            label='perfect calibration (accuracy = confidence)')
    for over, color, name in (
            (True, OVER, 'over-confident: confidence above accuracy'),
            (False, UNDER, 'under-confident: confidence below accuracy')):
        pick = filled & ((conf > acc) if over else (conf < acc))
        ax.vlines(mid[pick], acc[pick], conf[pick], color=color, lw=3,
                  label=f'{name} (bins: {int(pick.sum())})')
    ax.plot(mid[filled], conf[filled], ls='none', marker='_', ms=14,
            mew=2, color='black', label="the bin's mean confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel('top-1 accuracy (fraction of the bin right)')
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
    ax_n.set_ylabel('images in the bin')
    fig.legend(*ax.get_legend_handles_labels(), loc='outside lower center',
               ncol=1, fontsize=8)
    return _save(fig, path)


def rho_view(rho: np.ndarray) -> Tuple[float, float]:
    """The x range of a plot of ``rho``: [0, 1], or where rho spans under
    a fifth of it, that span widened to at least 0.1 (a spike of one bin
    would hide the shape and run off the axes)."""
    low, high = float(rho.min()), float(rho.max())
    if high - low >= 0.2:
        return 0., 1.
    pad = max(0.05 - (high - low) / 2, (high - low) * 0.1)
    return max(0., low - pad), min(1., high + pad)


def rho_by_branch(preds: dict, path: str, title: str = '') -> str:
    """Write the distribution of rho on the images only I and only N got
    right (``preds`` holds both branches' scores and rho)."""
    plt = _plt()
    right = branch_right(preds)
    right_n, right_i = right['n'], right['i']
    rho = preds['rho'].astype(float)
    groups = ((right_i & ~right_n, 'only I right', '#dd8452'),
              (right_n & ~right_i, 'only N right', '#4c72b0'))
    shown = np.concatenate([rho[m] for m, _, _ in groups if m.any()])
    low, high = rho_view(shown)
    fig, ax = plt.subplots(figsize=(7, 5), layout='constrained')
    edges = np.linspace(low, high, 41)
    top = 1
    for mask, name, color in groups:
        if not mask.any():
            ax.plot([], [], color=color, label=f'{name}: no images')
            continue
        mean = rho[mask].mean()
        n, _, _ = ax.hist(rho[mask], bins=edges, color=color, alpha=0.25)
        ax.hist(rho[mask], bins=edges, color=color, histtype='step', lw=2,
                label=f'{name} (n = {int(mask.sum())}), mean rho = '
                f'{mean:.3f} (dashed)')
        ax.axvline(mean, color=color, lw=1.5, ls='--')
        top = max(top, n.max())
    if low <= 0.5 <= high:
        ax.axvline(0.5, color='0.5', lw=1, label='rho = 0.5 (const)')
    ax.set_xlim(low, high)
    ax.set_ylim(0, top * 1.08)
    ax.yaxis.get_major_locator().set_params(integer=True)
    zoom = '' if (low, high) == (0., 1.) else \
        f'; zoomed to {low:.3f}..{high:.3f}, the range rho spans'
    ax.set_xlabel(f'rho (0: only N counts, 1: only I counts{zoom})')
    ax.set_ylabel('number of images per bin')
    prefix = f'{title}: ' if title else ''
    ax.set_title(f'{prefix}rho where only I / only N was right')
    fig.legend(loc='outside lower center', fontsize=9)
    return _save(fig, path)


#: The images of :func:`rho_vs_arousal`, by which branch got them right.
OUTCOMES = (('only I right', '#dd8452'), ('only N right', '#4c72b0'),
            ('both or neither right', '0.7'))


def rho_vs_arousal_figure(preds: dict, affect: dict, title: str = ''):
    """The figure of :func:`rho_vs_arousal` (a matplotlib ``Figure``,
    drawn without pyplot)."""
    from matplotlib.figure import Figure
    values = preds['affect_score'].astype(float)
    names = dimension_names(affect, values.shape[1])
    a_index = dimension_index(names, 'arousal')
    if a_index is None:
        raise ValueError(f'the affective state names no arousal ({names})')
    arousal, rho = values[:, a_index], preds['rho'].astype(float)
    right = branch_right(preds)
    if 'n' in right and 'i' in right:
        right_n, right_i = right['n'], right['i']
        masks = (right_i & ~right_n, right_n & ~right_i, right_i == right_n)
    else:
        masks = (None, None, np.ones(len(rho), dtype=bool))
    fig = Figure(figsize=(7, 5.2), layout='constrained')
    ax = fig.subplots()
    for mask, (label, color) in zip(masks, OUTCOMES):
        if mask is not None and mask.any():
            ax.scatter(arousal[mask], rho[mask], s=14, color=color,
                       alpha=0.8, label=f'{label} ({int(mask.sum())})'
                       if masks[0] is not None else f'images ({len(rho)})')
    ax.axhline(0.5, color='0.5', lw=1, ls=':')
    ax.set_xlim(-1.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f'{names[a_index]} (dimension {a_index} of the affective '
                  'state a(x), -1 calm .. 1 aroused)')
    ax.set_ylabel('rho (0: only N counts, 1: only I counts)')
    result, _ = affect_analysis(preds, dict(affect, names=names))
    corr = ', '.join(
        f'r(rho, {n}) = ' + ('-' if result['rho_r'][n] is None
                             else f'{result["rho_r"][n]:+.2f}')
        for n in names[:2])
    prefix = f'{title}: ' if title else ''
    ax.set_title(f'{prefix}rho against {names[a_index]}\n{corr}, n = '
                 f'{len(rho)} images', fontsize=10)
    ax.legend(loc='best', fontsize=8)
    return fig


def rho_vs_arousal(preds: dict, affect: dict, path: str,
                   title: str = '') -> str:
    """Write rho of every image against its arousal (``preds`` holds rho
    and a dimensional ``affect_score``; ``affect`` names its dimensions,
    :func:`emoreg_mm.evaluation.analysis.affect_of_config`)."""
    return save_png(rho_vs_arousal_figure(preds, affect, title), path)


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
                metric: str = 'accuracy/top1',
                unit: str = 'percentage points'):
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
        unit (str): The differences' unit, for the axis label.
    """
    from matplotlib.transforms import blended_transform_factory
    plt = _plt()
    labels = list(dict.fromkeys(e['label'] for e in entries))
    fig, ax = plt.subplots(figsize=(10, 2.4 + 0.7 * len(labels)),
                           layout='constrained')
    # the notes in a column right of the axes: never clipped by the frame
    column = blended_transform_factory(ax.transAxes, ax.transData)
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
        ax.text(1.01, y, f'{e["ref"]}: {note}',
                transform=column, va='center', fontsize=7, color=color)
    ax.axvline(0, color='0.3', lw=1)
    ax.set_yticks(range(len(labels)), labels[::-1])
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlabel(f'paired difference in {metric} ({unit}), over seeds: mean '
                  'and 95% t interval, unadjusted\n(hollow: fewer than 2 '
                  'pairs or identical differences, no interval;\n'
                  '"adjusted": the verdict that survives the table\'s '
                  'correction)', fontsize=9)
    ax.set_title('each mode against baseline, const and the controls of '
                 'its affective set', fontsize=10)
    ax.margins(x=0.1)
    fig.legend(loc='outside upper center', ncol=2, fontsize=8)
    return _save(fig, path)


def plot_run(preds: dict, out_dir: str, title: str = '',
             affect: Optional[dict] = None) -> Tuple[List[str], List[str]]:
    """Write ``reliability.png`` and ``rho_by_branch.png`` of one run's
    predictions (``load_predictions``) into ``out_dir``, and
    ``rho_vs_arousal.png`` where its affective state is dimensional.

    Args:
        preds (dict): The predictions.
        out_dir (str): Folder for the PNGs (created).
        title (str): The run, at the start of each title.
        affect (dict, optional): The run's affective state
            (:func:`emoreg_mm.evaluation.analysis.affect_of_config` of its
            config); default: what the predictions say
            (:func:`~emoreg_mm.evaluation.analysis.infer_affect`).

    Returns:
        tuple: (paths written, notes: why a plot was not drawn).
    """
    check_predictions(title or 'the predictions', preds)
    if affect is None:
        affect = infer_affect(preds)
    result = run_analysis(preds, affect)
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
    if result['affect'] and 'rho' in preds and result['affect']['arousal']:
        written.append(rho_vs_arousal(
            preds, affect, osp.join(out_dir, 'rho_vs_arousal.png'), title))
        if affect.get('assumed'):
            notes.append(f'{title}: no config beside the predictions; the '
                         'affective state read as (valence, arousal), the '
                         'dimensional sets\' default order.')
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
