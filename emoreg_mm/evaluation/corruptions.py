"""A checkpoint evaluated on every corruption and severity of CIFAR-C
(``tools/analysis_tools/eval_corruptions.py``, docs/robustness.md).

The model is built and loaded once; each corruption and severity of a
CIFAR-10-C / CIFAR-100-C folder (:mod:`emoreg_mm.datasets.cifar_c`) is then
read through the config's test pipeline and dataloader settings, and its
predictions saved as ``tools/test.py --out`` saves them
(:mod:`emoreg_mm.evaluation.predictions`), in the run's work dir::

    WORK_DIR/corruptions/<corruption>/s<severity>.npz
    WORK_DIR/corruptions/summary.json    accuracy per corruption and
                                         severity, the mean over the 15

A run again skips the prediction files already complete (counted in the
summary); a summary of another checkpoint is refused unless ``overwrite``.
With a baseline run (evaluated the same way) the summary adds CE per
corruption and mCE (:func:`emoreg_mm.evaluation.robustness.
corruption_errors`), and the relative mCE where both runs have
``predictions.npz``. Which corrupted set a config's target has is
:data:`emoreg_mm.matrix.CORRUPTED_TARGETS`.
"""
import json
import math
import os
import os.path as osp
import time
from typing import List, Optional, Sequence

from .. import matrix
from ..fileio import atomic_write_text, read_json
from .predictions import (PredictionsFileError, load_predictions,
                          save_predictions)
from .robustness import (FOLDER, SUMMARY, accuracy_of, corruption_errors,
                         mean_accuracy, predictions_path,
                         read_corruption_accuracy)


class CorruptionEvalError(ValueError):
    """Bad input to the corruption evaluation; the message names it."""


def corrupted_type(cfg, target: Optional[str] = None) -> str:
    """The corrupted dataset class of ``cfg``'s target (``CIFAR10C``):
    ``target``, else the config's ``emoreg_target``, else the target whose
    name is in its test dataset's type."""
    targets = matrix.CORRUPTED_TARGETS
    target = target or cfg.get('emoreg_target')
    if target not in targets:
        kind = str(cfg.get('test_dataloader', {}).get('dataset', {}).get(
            'type', '')).lower()
        # the longest first: cifar100 before cifar10
        target = next((t for t in sorted(targets, key=len, reverse=True)
                       if t in kind), None)
    if target is None:
        raise CorruptionEvalError(
            f'not a config of a target with a corrupted test set '
            f'({", ".join(targets)}; emoreg_target, test dataset type); '
            'give --dataset')
    return targets[target]


def complete(path: str, labels) -> bool:
    """Whether ``path`` holds the predictions of every image of
    ``labels`` (a killed or foreign file is evaluated again)."""
    import numpy as np
    if not osp.isfile(path):
        return False
    try:
        p = load_predictions(path)
    except PredictionsFileError:
        return False
    return np.array_equal(p['gt_label'], labels)


def predict(model, loader, amp: bool) -> list:
    """The model's predictions on every batch of ``loader`` (test mode)."""
    import torch
    from mmengine.runner.amp import autocast
    samples = []
    model.eval()
    with torch.no_grad(), autocast(enabled=amp):
        for batch in loader:
            samples.extend(model.test_step(batch))
    return samples


def finite(value):
    """``value`` with NaN / infinite floats as None (strict JSON)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_folder(root: str, kind: str, per_severity: int,
                corruptions: Sequence[str], cifar_root: Optional[str]):
    """The labels of the CIFAR-C folder ``root``, checked (against the
    CIFAR test set in ``cifar_root`` when given) before any model is built;
    every corruption asked for must have its file."""
    from mmpretrain.registry import DATASETS

    from ..datasets.cifar_c import CIFARCorruptedError, read_labels
    corrupted = DATASETS.get(kind)
    try:
        if not osp.isdir(root):
            raise CIFARCorruptedError(
                f'{root}: folder not found; expected a CIFAR-C folder '
                '(labels.npy, <corruption>.npy); build_cifar_c.py writes one')
        test_labels = None
        if cifar_root:  # read once, not per corruption
            test_labels = DATASETS.build(dict(
                type=corrupted.cifar_type, data_root=cifar_root,
                split='test', download=False)).get_gt_labels()
        labels = read_labels(root, per_severity,
                             len(corrupted.METAINFO['classes']), test_labels)
        missing = [c for c in corruptions
                   if not osp.isfile(osp.join(root, f'{c}.npy'))]
        if missing:
            raise CIFARCorruptedError(
                f'{root}: no file for {", ".join(missing)}; expected '
                '<corruption>.npy for each of --corruptions')
    except CIFARCorruptedError as err:
        raise CorruptionEvalError(str(err)) from None
    return labels


def evaluate_cells(runner, cfg, cells: List[tuple], kind: str, root: str,
                   per_severity: int, batch_size: Optional[int]) -> None:
    """Predict each ``(corruption, severity)`` of ``cells`` and save the
    predictions in ``cfg.work_dir``."""
    from mmengine.runner import Runner

    from ..datasets.cifar_c import CIFARCorruptedError
    loader_cfg = dict(cfg.test_dataloader)
    if batch_size:
        loader_cfg['batch_size'] = batch_size
    pipeline = loader_cfg['dataset'].get('pipeline', [])
    amp = bool(cfg.get('test_cfg', {}).get('fp16', False))
    for c, s in cells:
        dataset = dict(type=kind, data_root=root, corruption=c, severity=s,
                       images_per_severity=per_severity, pipeline=pipeline)
        try:
            loader = Runner.build_dataloader(dict(loader_cfg,
                                                  dataset=dataset))
        except CIFARCorruptedError as err:
            raise CorruptionEvalError(str(err)) from None
        path = save_predictions(predictions_path(cfg.work_dir, c, s),
                                predict(runner.model, loader, amp))
        print(f'[eval_corruptions] {c} s{s}: top-1 '
              f'{100 * accuracy_of(load_predictions(path)):.2f}%',
              flush=True)


def evaluate_corruptions(cfg, args) -> dict:
    """Evaluate ``args.checkpoint`` under ``cfg`` (merged with
    :func:`emoreg_mm.evaluation.evaluate.merge_test_args`) on the
    corruptions of ``args.corruption_root``; write and return the summary.

    ``args`` holds what ``eval_corruptions.py`` parses: ``config``,
    ``checkpoint``, ``corruption_root``, ``corruptions``, ``severities``,
    ``images_per_severity``, ``dataset``, ``cifar_root``, ``baseline``,
    ``batch_size``, ``overwrite`` and ``non_strict``. Bad input raises
    :class:`CorruptionEvalError` before any model is built.
    """
    from ..datasets.cifar_c import (BUILD_INFO, CIFARCorruptedError,
                                    recreation_info)
    from .evaluate import build_runner, load_strict
    root = args.corruption_root
    try:
        info = recreation_info(root) if osp.isdir(root) else None
    except CIFARCorruptedError as err:
        raise CorruptionEvalError(str(err)) from None
    n = args.images_per_severity or (info['num_images'] if info else 10000)
    try:
        kind = corrupted_type(cfg, args.dataset)
    except CorruptionEvalError as err:
        raise CorruptionEvalError(f'{args.config}: {err}') from None
    summary_path = osp.join(cfg.work_dir, FOLDER, SUMMARY)
    checkpoint = osp.abspath(args.checkpoint)
    if osp.isfile(summary_path) and not args.overwrite:
        old = read_json(summary_path)
        if old.get('checkpoint') != checkpoint:
            raise CorruptionEvalError(
                f'{summary_path} holds the predictions of '
                f"{old.get('checkpoint')}, not {checkpoint}; give another "
                '--work-dir, or --overwrite to evaluate again')
    labels = read_folder(root, kind, n, args.corruptions, args.cifar_root)
    cells = [(c, s) for c in args.corruptions for s in args.severities]
    todo = [(c, s) for c, s in cells
            if args.overwrite or not complete(
                predictions_path(cfg.work_dir, c, s), labels)]
    start = time.time()
    if todo:
        runner = build_runner(cfg)
        if not args.non_strict:
            load_strict(runner, args.checkpoint, args.config,
                        prog='eval_corruptions.py')
        evaluate_cells(runner, cfg, todo, kind, root, n, args.batch_size)
    result = read_corruption_accuracy(cfg.work_dir)
    accuracy = {c: {s: result['accuracy'][c][s] for s in args.severities}
                for c in args.corruptions}
    summary = dict(
        config=osp.abspath(args.config), checkpoint=checkpoint,
        corruption_root=osp.abspath(root), official=info is None,
        recreation=None if info is None else osp.join(
            osp.abspath(root), BUILD_INFO),
        images_per_severity=n, evaluated=len(todo),
        skipped=len(cells) - len(todo),
        accuracy=accuracy, mean_accuracy=mean_accuracy(accuracy),
        clean_accuracy=result['clean_accuracy'])
    if args.baseline:
        summary.update(baseline_errors(args.baseline, accuracy,
                                       result['clean_accuracy']))
    os.makedirs(osp.dirname(summary_path), exist_ok=True)
    atomic_write_text(summary_path,
                      json.dumps(finite(summary), indent=1) + '\n')
    line = (f'[eval_corruptions] {len(todo)} evaluated, '
            f'{len(cells) - len(todo)} already done '
            f'({time.time() - start:.0f} s); mean corruption accuracy '
            f"{100 * summary['mean_accuracy']:.2f}%")
    if 'mce' in summary:
        line += f" , mCE {summary['mce']:.3f} relative to {args.baseline}"
    print(f'{line}; {summary_path}', flush=True)
    return summary


def baseline_errors(baseline: str, accuracy: dict,
                    clean: Optional[float]) -> dict:
    """The summary's CE / mCE entries relative to the baseline run dir."""
    base = read_corruption_accuracy(baseline)
    if base is None:
        raise CorruptionEvalError(
            f'--baseline {baseline}: no {FOLDER}/ predictions there; '
            'evaluate the baseline run first')
    try:
        return dict(baseline=osp.abspath(baseline), **corruption_errors(
            accuracy, base['accuracy'], model_clean=clean,
            baseline_clean=base['clean_accuracy']))
    except (KeyError, ValueError) as err:
        raise CorruptionEvalError(f'--baseline {baseline}: {err}') from None
