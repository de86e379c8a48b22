"""What the regulation did in one run: rho and the affective state, per
class (``tools/analysis_tools/plot_regulation.py``, the demo's plots).

:func:`plot_regulation` writes three PNGs from a run's predictions (the
arrays of :mod:`emoreg_mm.evaluation.predictions`, or the prediction dicts
the model returns):

* ``rho_hist.png``: histogram of rho over the images (how much the
  emotionally-influenced encoder counts);
* ``rho_per_class.png``: mean rho (+- std) per target class;
* ``affect_per_class.png``: the mean affective state a(x) of each target
  class, stacked by emotion (models with an emotional encoder only); for a
  dimensional state (valence, arousal in [-1, 1]) the mean of each
  dimension per class, side by side;
* ``rho_vs_arousal.png`` (a dimensional state only): rho of every image
  against its arousal (:func:`~.analysis.rho_vs_arousal`).

:func:`explanations` lists per image what the model saw and did: its
class, prediction, rho, each branch's prediction and its affective state,
the top emotion and the emotions' scores, or its valence and arousal
(``tools/analysis_tools/plot_regulation.py`` writes them as
``explanations.csv`` beside the plots).

Whether the state is dimensional is the run's config's
``model.head.affect_space`` (:func:`affect_from_config`, or
:func:`run_affect` for the run dir holding a predictions file); without a
config, what the predictions say
(:func:`~emoreg_mm.evaluation.analysis.infer_affect`).

Example::

    from emoreg_mm.visualization.regulation import (load_predictions,
                                                    plot_regulation)
    preds = load_predictions('work_dirs/run/predictions.npz')
    plot_regulation(preds, 'work_dirs/run/plots', title='run')

Reading predictions and plotting need numpy and matplotlib only (figures
are drawn without pyplot, so the caller's backend is left alone); running a
checkpoint (:func:`predict_checkpoint`) and reading names from a config
(:func:`names_from_config`) import torch, mmengine and mmpretrain when
called.
"""
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple, Union

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ..evaluation.analysis import (affect_of_config, dimension_index,
                                   dimension_names, infer_affect)
from ..evaluation.predictions import check_predictions
from ..evaluation.predictions import load_predictions as _load_predictions
from ..evaluation.predictions import samples_to_arrays
from ..matrix import MIKELS as EMOTIONS
from .analysis import rho_vs_arousal_figure, save_png

Predictions = Dict[str, np.ndarray]
PredictionsLike = Union[Predictions, Sequence[dict]]
#: The colour of the equal-weight line (rho = 0.5) and of the mean.
EQUAL, MEAN = '0.5', '#c44e52'


def as_arrays(preds: PredictionsLike) -> Predictions:
    """The arrays of :mod:`emoreg_mm.evaluation.predictions` (prediction
    dicts, as the model returns them, are stacked)."""
    if isinstance(preds, dict):
        return preds
    return samples_to_arrays(preds)


def load_predictions(path: str, trust_pickle: bool = False) -> Predictions:
    """The predictions that ``tools/test.py --out FILE.npz`` saved (a
    ``.pkl`` only with ``trust_pickle``: unpickling runs any code the file
    holds).

    Raises:
        PredictionsFileError: The file is missing or malformed, or a pickle
            without ``trust_pickle``; the message names it.
    """
    return _load_predictions(path, trust_pickle=trust_pickle)


def predict_checkpoint(config: str, checkpoint: str,
                       work_dir: Optional[str] = None) -> Predictions:
    """Run ``checkpoint`` on the test dataloader of ``config``.

    Args:
        config (str): The run's config file.
        checkpoint (str): The checkpoint to load.
        work_dir (str, optional): mmengine's work dir for the run (its
            logs). Defaults to a temporary folder.
    """
    from mmengine.config import Config
    from mmengine.runner import Runner

    from ..evaluation.metrics import SavePredictions
    from ..utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config)
    with tempfile.TemporaryDirectory() as tmp:
        cfg.work_dir = work_dir or tmp
        cfg.load_from = checkpoint
        runner = Runner.from_cfg(cfg)
        out = osp.join(tmp, 'preds.npz')
        runner.test_evaluator.metrics.append(
            SavePredictions(out_file_path=out))
        runner.test()
        return load_predictions(out)


def names_from_config(
        config: str) -> Tuple[Optional[List[str]], Optional[List[str]]]:
    """``(class names of the test dataset, emotion names)`` of a config,
    each None where it does not say.

    The emotion names are the head's ``emotion_classes`` (a run dir's config
    holds the vocabulary the run used), else the config's top-level
    ``emotion_classes`` (the affective piece's). The class names need the
    test dataset on this machine; without it they are None (printed).
    """
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS

    from ..utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config)
    classes = None
    try:
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        classes = list(dataset.metainfo.get('classes') or []) or None
    except Exception as err:  # dataset not on this machine: fall back
        print(f'plot_regulation: class names not read from the test '
              f'dataset ({type(err).__name__}: {err}); using fallbacks.')
    head = cfg.model.get('head') or {}
    emotions = head.get('emotion_classes') or cfg.get('emotion_classes')
    return classes, (list(emotions) if emotions else None)


def affect_from_config(config: str) -> dict:
    """:func:`~emoreg_mm.evaluation.analysis.affect_of_config` of a config
    file (mmengine reads it: a config of the user's own)."""
    from mmengine.config import Config
    return affect_of_config(Config.fromfile(config))


def run_affect(path: str) -> Optional[dict]:
    """The affective state of the run whose work dir holds ``path`` (a
    predictions file): :func:`affect_of_config` of the config mmengine
    dumped there, read without executing it
    (:func:`emoreg_mm.results.find_config`); None without one."""
    from ..results.runs import find_config
    _, cfg, _ = find_config(osp.dirname(osp.abspath(path)))
    return None if cfg is None else affect_of_config(cfg)


def infer_class_names(preds: PredictionsLike,
                      num_classes: int) -> List[str]:
    """Class names from the images' parent folders (class-folder layouts,
    when they map one-to-one onto the labels), else the indices."""
    preds = as_arrays(preds)
    folders: Dict[int, set] = {}
    if 'img_path' in preds:
        for label, path in zip(preds['gt_label'], preds['img_path']):
            folders.setdefault(int(label), set()).add(
                osp.basename(osp.dirname(str(path))))
    if len(folders) == num_classes and all(
            len(v) == 1 for v in folders.values()):
        return [next(iter(folders[i])) for i in range(num_classes)]
    return [str(i) for i in range(num_classes)]


def infer_emotion_names(preds: PredictionsLike, num: int) -> List[str]:
    """Emotion names of an affective state of ``num`` values: the canonical
    vocabulary's first ``num`` (else the indices), each replaced by the
    ``affect_class`` the predictions name for it."""
    preds = as_arrays(preds)
    names = list(EMOTIONS[:num]) if num <= len(EMOTIONS) \
        else [str(i) for i in range(num)]
    if 'affect_class' in preds and 'affect_score' in preds:
        for score, name in zip(preds['affect_score'], preds['affect_class']):
            names[int(np.argmax(score))] = str(name)
    return names


def summarize(preds: PredictionsLike) -> dict:
    """Arrays: ``rho`` (N,), ``gt`` (N,), ``pred`` (N,), ``affect``
    (N, K) or None; and ``num_classes``.

    Raises:
        ValueError: The predictions carry no rho (a baseline run).
    """
    preds = as_arrays(preds)
    if 'rho' not in preds:
        raise ValueError(
            'The predictions carry no rho: the model has no RegulationHead '
            '(baseline mode?). Plot a regulated run (const, ereg, '
            'learn-ereg, ...).')
    affect = preds['affect_score'].astype(float) \
        if 'affect_score' in preds else None
    return dict(rho=preds['rho'].astype(float), gt=preds['gt_label'],
                pred=preds['pred_label'], affect=affect,
                num_classes=int(preds['pred_score'].shape[1]))


def plot_regulation(preds: PredictionsLike,
                    out_dir: str,
                    class_names: Optional[Sequence[str]] = None,
                    emotion_names: Optional[Sequence[str]] = None,
                    title: str = '',
                    affect: Optional[dict] = None) -> List[str]:
    """Write the PNGs of one run's predictions.

    Args:
        preds (dict | list[dict]): The predictions.
        out_dir (str): Folder for the PNGs (created).
        class_names (list[str], optional): Target class names; default (or
            a list of another length): :func:`infer_class_names`.
        emotion_names (list[str], optional): Emotion names of the affective
            state; default: :func:`infer_emotion_names`.
        title (str): Prefix of each plot's title (the run).
        affect (dict, optional): The run's affective state
            (:func:`affect_from_config`, :func:`run_affect`); default: what
            the predictions say (:func:`infer_affect`). For a dimensional
            state, ``emotion_names`` (else ``affect['names']``) name its
            dimensions.

    Returns:
        list[str]: The paths written; ``affect_per_class.png`` only where
        the predictions hold the affective state, ``rho_vs_arousal.png``
        only where it is dimensional.
    """
    preds = as_arrays(preds)
    check_predictions(title or 'the predictions', preds)
    s = summarize(preds)
    affect = state_of(preds, affect, emotion_names)
    num_classes = s['num_classes']
    if not class_names or len(class_names) != num_classes:
        class_names = infer_class_names(preds, num_classes)
    os.makedirs(out_dir, exist_ok=True)
    prefix = f'{title}: ' if title else ''
    written = [
        _save(_rho_hist(s, prefix), osp.join(out_dir, 'rho_hist.png')),
        _save(_rho_per_class(s, class_names, prefix),
              osp.join(out_dir, 'rho_per_class.png'))
    ]
    if s['affect'] is not None and affect['space'] == 'dimensional':
        written.append(_save(
            _dimensions_per_class(s, class_names, affect['names'], prefix),
            osp.join(out_dir, 'affect_per_class.png')))
        if dimension_index(affect['names'], 'arousal') is not None:
            written.append(_save(
                rho_vs_arousal_figure(preds, affect, title),
                osp.join(out_dir, 'rho_vs_arousal.png')))
    elif s['affect'] is not None:
        k = s['affect'].shape[1]
        if not emotion_names or len(emotion_names) != k:
            emotion_names = infer_emotion_names(preds, k)
        written.append(_save(
            _affect_per_class(s, class_names, emotion_names, prefix),
            osp.join(out_dir, 'affect_per_class.png')))
    else:
        print('plot_regulation: no affect_score in the predictions (no '
              'emotional encoder, e.g. const): affect_per_class.png skipped.')
    return written


def state_of(preds: Predictions, affect: Optional[dict],
             names: Optional[Sequence[str]] = None) -> dict:
    """``affect`` (default: :func:`infer_affect`; ``{'space':
    'categorical'}`` without an affective state), for a dimensional state
    with ``names`` its dimensions' names (``names``, else the run's, else
    valence, arousal: :func:`dimension_names`; a note is printed where
    they are assumed)."""
    affect = dict(affect or infer_affect(preds) or
                  dict(space='categorical', names=None))
    if affect['space'] == 'dimensional' and 'affect_score' in preds:
        k = preds['affect_score'].shape[1]
        given = list(names) if names and len(names) == k else None
        if given is None and affect.get('assumed') and \
                not affect.get('names'):
            print('plot_regulation: no config says what the affective state '
                  'is; it holds values no distribution over emotions has, '
                  'so it is read as dimensional: '
                  f'{", ".join(dimension_names(affect, k))}.')
        affect['names'] = given or dimension_names(affect, k)
    return affect


#: The leading columns of :func:`explanations`.
EXPLANATION_COLUMNS = ('sample_idx', 'img_path', 'gt_class', 'pred_class',
                       'pred_score', 'rho', 'pred_class_n', 'pred_class_i')


def explanations(preds: PredictionsLike,
                 class_names: Optional[Sequence[str]] = None,
                 affect: Optional[dict] = None,
                 emotion_names: Optional[Sequence[str]] = None
                 ) -> Tuple[List[str], List[list]]:
    """Per image, why the model predicted what it did: its class and the
    prediction with its score, rho, the class each branch alone predicts
    (N, I) and the affective state: for a dimensional state each dimension
    by name (``valence``, ``arousal``, in [-1, 1]); for a categorical one
    the top emotion (``affect_class``) and each emotion's score
    (``affect <emotion>``). Columns a prediction lacks (rho of a baseline,
    a branch not built, the affect without E) are left out.

    Args:
        preds (dict | list[dict]): The predictions.
        class_names (list[str], optional): Target class names; default:
            :func:`infer_class_names`.
        affect (dict, optional): As :func:`plot_regulation`'s.
        emotion_names (list[str], optional): Names of the state's values.

    Returns:
        tuple: (header, rows), a CSV's.
    """
    preds = as_arrays(preds)
    check_predictions('the predictions', preds)
    num_classes = int(preds['pred_score'].shape[1])
    if not class_names or len(class_names) != num_classes:
        class_names = infer_class_names(preds, num_classes)
    values = {
        'sample_idx': preds['sample_idx'],
        'img_path': preds.get('img_path'),
        'gt_class': [class_names[int(c)] for c in preds['gt_label']],
        'pred_class': [class_names[int(c)] for c in preds['pred_label']],
        'pred_score': preds['pred_score'][np.arange(len(preds['gt_label'])),
                                          preds['pred_label']],
        'rho': preds.get('rho'),
        'pred_class_n': [class_names[int(c)] for c in
                         preds['pred_score_n'].argmax(1)]
        if 'pred_score_n' in preds else None,
        'pred_class_i': [class_names[int(c)] for c in
                         preds['pred_score_i'].argmax(1)]
        if 'pred_score_i' in preds else None,
    }
    columns = [c for c in EXPLANATION_COLUMNS if values[c] is not None]
    header, table = list(columns), [values[c] for c in columns]
    if 'affect_score' in preds:
        state = preds['affect_score'].astype(float)
        affect = state_of(preds, affect, emotion_names)
        if affect['space'] == 'dimensional':
            header += list(affect['names'])
        else:
            names = list(emotion_names) if emotion_names and len(
                emotion_names) == state.shape[1] else infer_emotion_names(
                preds, state.shape[1])
            header += ['affect_class'] + [f'affect {n}' for n in names]
            table.append(preds['affect_class'] if 'affect_class' in preds
                         else [names[int(k)] for k in state.argmax(1)])
        table += list(state.T)
    rows = []
    for i in range(len(preds['gt_label'])):
        row = []
        for column in table:
            value = column[i]
            row.append(f'{float(value):.4f}' if isinstance(
                value, (float, np.floating)) else
                int(value) if isinstance(value, np.integer) else str(value))
        rows.append(row)
    return header, rows


def write_explanations(path: str, preds: PredictionsLike,
                       class_names: Optional[Sequence[str]] = None,
                       affect: Optional[dict] = None,
                       emotion_names: Optional[Sequence[str]] = None
                       ) -> str:
    """:func:`explanations` as a CSV at ``path``, written atomically."""
    from ..fileio import atomic_write_text
    from ..results.format import csv_text
    header, rows = explanations(preds, class_names, affect, emotion_names)
    atomic_write_text(path, csv_text(header, rows))
    return path


def run_title(config: Optional[str], path: str) -> str:
    """The run a plot is of: the config's name, else the run dir holding
    ``path`` (a predictions file or checkpoint, whose own names say which
    kind of file, not which run)."""
    if config:
        return osp.splitext(osp.basename(config))[0]
    return osp.basename(osp.dirname(osp.abspath(path)))


def _rho_hist(s: dict, prefix: str) -> Figure:
    """Histogram of rho on rho's whole range [0, 1]: a narrow spread shows
    as the narrow peak it is."""
    rho = s['rho']
    acc = 100 * float(np.mean(s['pred'] == s['gt']))
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    ax.hist(rho, bins=np.linspace(0, 1, 101), color='#4c72b0',
            edgecolor='white', linewidth=0.3)
    ax.axvline(0.5, color=EQUAL, lw=1, label='rho = 0.5 (equal weights)')
    ax.axvline(rho.mean(), color=MEAN, ls='--', label=f'mean {rho.mean():.3f}')
    ax.set_xlim(0, 1)
    ax.yaxis.get_major_locator().set_params(integer=True)  # image counts
    ax.set_xlabel('rho (weight of the emotionally-influenced prediction)')
    ax.set_ylabel('number of images')
    ax.set_title(f'{prefix}distribution of rho\n(n = {len(rho)}, '
                 f'std = {rho.std():.3f}, min = {rho.min():.3f}, '
                 f'max = {rho.max():.3f}, top-1 = {acc:.1f}%)')
    ax.legend()
    return fig


def _class_means(values: np.ndarray, gt: np.ndarray, num_classes: int,
                 empty: float = np.nan) -> np.ndarray:
    """The mean of ``values`` (N, ...) over each class's images, (C, ...);
    ``empty`` for a class without images."""
    return np.stack([
        values[gt == c].mean(0) if np.any(gt == c) else
        np.full(values.shape[1:], empty) for c in range(num_classes)
    ])


def _rho_per_class(s: dict, class_names: Sequence[str],
                   prefix: str) -> Figure:
    """Mean rho per class on [0, 1] with the equal-weight line; each class's
    image count under its name."""
    rho, gt, num_classes = s['rho'], s['gt'], s['num_classes']
    counts = np.array([int(np.sum(gt == c)) for c in range(num_classes)])
    means = _class_means(rho, gt, num_classes)
    stds = np.array([rho[gt == c].std() if n else 0
                     for c, n in enumerate(counts)])
    fig = Figure(figsize=(max(6, 0.6 * num_classes + 2), 5),
                 layout='constrained')
    ax = fig.subplots()
    x = np.arange(num_classes)
    # whiskers within rho's range [0, 1]
    whiskers = np.stack([np.minimum(stds, np.nan_to_num(means)),
                         np.minimum(stds, 1 - np.nan_to_num(means))])
    ax.bar(x, means, yerr=whiskers, capsize=3, color='#55a868')
    ax.axhline(0.5, color=EQUAL, lw=1, label='rho = 0.5 (equal weights)')
    ax.axhline(rho.mean(), color=MEAN, ls='--',
               label=f'all images {rho.mean():.3f}')
    ax.set_xticks(x, [f'{name}\nn={n}' for name, n in
                      zip(class_names, counts)],
                  rotation=45 if num_classes > 12 else 0)
    ax.set_xlabel('target class (ground truth), images per class')
    ax.set_ylabel('mean rho (+- std, within 0..1)')
    ax.set_ylim(0, 1)
    ax.set_title(f'{prefix}mean rho per target class')
    fig.legend(loc='outside lower center', ncol=2)
    return fig


def _affect_per_class(s: dict, class_names: Sequence[str],
                      emotion_names: Sequence[str], prefix: str) -> Figure:
    """The mean affective state of each class, stacked by emotion."""
    affect, gt, num_classes = s['affect'], s['gt'], s['num_classes']
    k = affect.shape[1]
    mix = _class_means(affect, gt, num_classes, empty=0.)
    fig = Figure(figsize=(max(7, 0.6 * num_classes + 4), 4.8))
    ax = fig.subplots()
    x = np.arange(num_classes)
    colors = matplotlib.colormaps['tab10'].colors
    bottom = np.zeros(num_classes)
    for e in range(k):
        ax.bar(x, mix[:, e], bottom=bottom, label=emotion_names[e],
               color=colors[e % len(colors)])
        bottom += mix[:, e]
    ax.set_xticks(x, class_names, rotation=45 if num_classes > 12 else 0)
    ax.set_xlabel('target class (ground truth)')
    ax.set_ylabel('mean affective state a(x)')
    ax.set_ylim(0, 1)
    ax.set_title(f'{prefix}affective state per target class')
    ax.legend(title='emotion', bbox_to_anchor=(1.01, 1), loc='upper left')
    return fig


def _dimensions_per_class(s: dict, class_names: Sequence[str],
                          names: Sequence[str], prefix: str) -> Figure:
    """The mean of each dimension of a dimensional state (valence,
    arousal, in [-1, 1]) per class, side by side, with the scale's
    midpoint."""
    affect, gt, num_classes = s['affect'], s['gt'], s['num_classes']
    k = affect.shape[1]
    means = _class_means(affect, gt, num_classes)
    fig = Figure(figsize=(max(7, 0.6 * num_classes * k / 2 + 4), 4.8),
                 layout='constrained')
    ax = fig.subplots()
    x = np.arange(num_classes)
    width = 0.8 / k
    colors = matplotlib.colormaps['tab10'].colors
    for d, name in enumerate(names):
        ax.bar(x - 0.4 + width * (d + 0.5), means[:, d], width=width,
               label=name, color=colors[d % len(colors)])
    ax.axhline(0, color=EQUAL, lw=1)
    ax.set_xticks(x, class_names, rotation=45 if num_classes > 12 else 0)
    ax.set_xlabel('target class (ground truth)')
    ax.set_ylabel('mean of each dimension of a(x) (-1 .. 1)')
    ax.set_ylim(-1, 1)
    ax.set_title(f'{prefix}{" and ".join(names)} per target class')
    ax.legend(title='dimension', bbox_to_anchor=(1.01, 1), loc='upper left')
    return fig


def _save(fig: Figure, path: str) -> str:
    return save_png(fig, path)
