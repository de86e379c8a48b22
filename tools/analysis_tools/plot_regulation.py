"""Plot what the regulation did: rho and the affective state, per class.

Usage::

    # from saved predictions (python tools/test.py CONFIG CKPT --out p.npz)
    python tools/analysis_tools/plot_regulation.py --preds p.npz \
        [--config CONFIG] [--out-dir DIR]
    # or run a checkpoint on the config's test dataloader first
    python tools/analysis_tools/plot_regulation.py --config CONFIG \
        --checkpoint CKPT [--out-dir DIR]

Writes three PNGs to ``--out-dir`` (default: the predictions' folder, or
the checkpoint's):

* ``rho_hist.png``: histogram of rho over the images (how much the
  emotionally-influenced encoder counts);
* ``rho_per_class.png``: mean rho (+- std) per target class;
* ``affect_per_class.png``: the mean affective state a(x) of each target
  class, stacked by emotion (models with an emotional encoder only).

Class names come from ``--classes``, else the config's test dataset, else
the images' parent folders (class-folder layouts), else the indices.
Emotion names come from the config's ``model.head.emotion_classes`` (a run
dir's config holds the vocabulary the run used), else its top-level
``emotion_classes`` (the affective piece's), else the predictions'
``affect_class``.

``--preds`` reads the ``.npz`` of :mod:`emoreg_mm.evaluation.predictions`
without unpickling. A ``.pkl`` (mmengine's ``DumpResults``) is refused
unless ``--trust-pickle`` is given: unpickling runs any code the file holds.
"""
import argparse
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from emoreg_mm.datasets.base_affective import EMOTIONS

Predictions = Dict[str, np.ndarray]


def as_arrays(preds: Union[Predictions, Sequence[dict]]) -> Predictions:
    """The arrays of :mod:`emoreg_mm.evaluation.predictions` (prediction
    dicts, as the model returns them, are stacked)."""
    if isinstance(preds, dict):
        return preds
    from emoreg_mm.evaluation import samples_to_arrays
    return samples_to_arrays(preds)


def load_predictions(path: str, trust_pickle: bool = False) -> Predictions:
    """The predictions that ``tools/test.py --out FILE.npz`` saved (a
    ``.pkl`` only with ``trust_pickle``)."""
    from emoreg_mm.evaluation import load_predictions as load
    return load(path, trust_pickle=trust_pickle)


def predict_checkpoint(config: str, checkpoint: str,
                       work_dir: Optional[str] = None) -> Predictions:
    """Run ``checkpoint`` on the test dataloader of ``config``."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import emoreg_mm  # noqa: F401
    from emoreg_mm.evaluation.predictions import SavePredictions
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


def names_from_config(config: str):
    """(class names of the test dataset, emotion names of the head)."""
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS

    import emoreg_mm  # noqa: F401
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


def infer_class_names(preds: Union[Predictions, Sequence[dict]],
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


def infer_emotion_names(preds: Union[Predictions, Sequence[dict]],
                        num: int) -> List[str]:
    preds = as_arrays(preds)
    names = list(EMOTIONS[:num]) if num <= len(EMOTIONS) \
        else [str(i) for i in range(num)]
    if 'affect_class' in preds and 'affect_score' in preds:
        for score, name in zip(preds['affect_score'], preds['affect_class']):
            names[int(np.argmax(score))] = str(name)
    return names


def summarize(preds: Union[Predictions, Sequence[dict]]) -> dict:
    """Arrays: ``rho`` (N,), ``gt`` (N,), ``pred`` (N,), ``affect``
    (N, K) or None."""
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


def plot_regulation(preds: Union[Predictions, Sequence[dict]],
                    out_dir: str,
                    class_names: Optional[Sequence[str]] = None,
                    emotion_names: Optional[Sequence[str]] = None,
                    title: str = '') -> List[str]:
    """Write the PNGs; returns their paths."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    preds = as_arrays(preds)
    s = summarize(preds)
    rho, gt, affect = s['rho'], s['gt'], s['affect']
    num_classes = s['num_classes']
    if not class_names or len(class_names) != num_classes:
        class_names = infer_class_names(preds, num_classes)
    os.makedirs(out_dir, exist_ok=True)
    prefix = f'{title}: ' if title else ''
    written = []
    acc = 100 * float(np.mean(s['pred'] == gt))

    # 1. histogram of rho, on rho's whole range [0, 1]: a narrow spread
    # shows as the narrow peak it is
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lo, hi = float(rho.min()), float(rho.max())
    ax.hist(rho, bins=np.linspace(0, 1, 101), color='#4c72b0',
            edgecolor='white', linewidth=0.3)
    ax.axvline(0.5, color='0.5', lw=1, label='rho = 0.5 (equal weights)')
    ax.axvline(rho.mean(), color='#c44e52', ls='--',
               label=f'mean {rho.mean():.3f}')
    ax.set_xlim(0, 1)
    ax.yaxis.get_major_locator().set_params(integer=True)  # image counts
    ax.set_xlabel('rho (weight of the emotionally-influenced prediction)')
    ax.set_ylabel('number of images')
    ax.set_title(f'{prefix}distribution of rho\n(n = {len(rho)}, '
                 f'std = {rho.std():.3f}, min = {lo:.3f}, max = {hi:.3f}, '
                 f'top-1 = {acc:.1f}%)')
    ax.legend()
    written.append(_save(fig, osp.join(out_dir, 'rho_hist.png')))

    # 2. mean rho per class, on [0, 1] with the equal-weight line; each
    # class's image count under its name
    counts = np.array([int(np.sum(gt == c)) for c in range(num_classes)])
    means = np.array([rho[gt == c].mean() if n else np.nan
                      for c, n in enumerate(counts)])
    stds = np.array([rho[gt == c].std() if n else 0
                     for c, n in enumerate(counts)])
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * num_classes + 2), 4.5))
    x = np.arange(num_classes)
    ax.bar(x, means, yerr=stds, capsize=3, color='#55a868')
    ax.axhline(0.5, color='0.5', lw=1, label='rho = 0.5 (equal weights)')
    ax.axhline(rho.mean(), color='#c44e52', ls='--',
               label=f'all images {rho.mean():.3f}')
    ax.set_xticks(x, [f'{name}\nn={n}' for name, n in
                      zip(class_names, counts)],
                  rotation=45 if num_classes > 12 else 0)
    ax.set_xlabel('target class (ground truth), images per class')
    ax.set_ylabel('mean rho (+- std)')
    ax.set_ylim(0, 1)
    ax.set_title(f'{prefix}mean rho per target class')
    ax.legend()
    written.append(_save(fig, osp.join(out_dir, 'rho_per_class.png')))

    # 3. mean affective state per class
    if affect is not None:
        k = affect.shape[1]
        if not emotion_names or len(emotion_names) != k:
            emotion_names = infer_emotion_names(preds, k)
        mix = np.stack([
            affect[gt == c].mean(0) if np.any(gt == c) else np.zeros(k)
            for c in range(num_classes)
        ])
        fig, ax = plt.subplots(figsize=(max(7, 0.6 * num_classes + 4), 4.8))
        colors = plt.get_cmap('tab10').colors
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
        written.append(_save(fig, osp.join(out_dir, 'affect_per_class.png')))
    else:
        print('plot_regulation: no affect_score in the predictions (no '
              'emotional encoder, e.g. const): affect_per_class.png skipped.')
    return written


def run_title(config: Optional[str], path: str) -> str:
    """The run a plot is of: the config's name, else the run dir holding
    ``path`` (a predictions file or checkpoint, whose own names say which
    kind of file, not which run)."""
    if config:
        return osp.splitext(osp.basename(config))[0]
    return osp.basename(osp.dirname(osp.abspath(path)))


def _save(fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--preds', help='predictions of tools/test.py --out FILE.npz')
    parser.add_argument(
        '--trust-pickle',
        action='store_true',
        help='read a .pkl --preds (mmengine DumpResults); unpickling runs '
        'any code the file holds: only for files you trust')
    parser.add_argument('--config', help='config (names; with --checkpoint '
                        'its test dataloader is run)')
    parser.add_argument('--checkpoint', help='checkpoint to run')
    parser.add_argument('--out-dir', help='folder for the PNGs')
    parser.add_argument('--classes', nargs='+', help='target class names')
    parser.add_argument('--title', default=None,
                        help='title prefix (default: the config\'s name, '
                        'else the run dir of --preds / --checkpoint)')
    args = parser.parse_args()
    if bool(args.preds) == bool(args.checkpoint):
        parser.error('give --preds, or --config with --checkpoint')
    if args.checkpoint and not args.config:
        parser.error('--checkpoint needs --config')
    return args


def main():
    args = parse_args()
    if args.preds:
        try:
            preds = load_predictions(args.preds, args.trust_pickle)
        except ValueError as err:
            raise SystemExit(f'plot_regulation: {err}')
        out_dir = args.out_dir or osp.dirname(osp.abspath(args.preds))
    else:
        preds = predict_checkpoint(args.config, args.checkpoint)
        out_dir = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    classes, emotions = names_from_config(args.config) if args.config \
        else (None, None)
    title = args.title if args.title is not None else run_title(
        args.config, args.preds or args.checkpoint)
    for path in plot_regulation(preds, out_dir, args.classes or classes,
                                emotions, title):
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
