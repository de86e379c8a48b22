"""Robustness under common corruptions: accuracy, CE and mCE.

The measures of Hendrycks & Dietterich (ICLR 2019, "Benchmarking Neural
Network Robustness to Common Corruptions and Perturbations") on
CIFAR-10-C / CIFAR-100-C. With ``err`` the top-1 error of a model on
corruption ``c`` at severity ``s`` and ``err_clean`` its error on the
clean test set:

- corruption error ``CE_c = sum_s err_s(model) / sum_s err_s(baseline)``;
- ``mCE`` the mean of ``CE_c`` over the 15 corruptions (:data:`CORRUPTIONS`;
  the 4 extra ones, :data:`EXTRA_CORRUPTIONS`, are the paper's held-out
  validation set and are not averaged);
- relative ``CE_c = sum_s (err_s - err_clean)(model) / sum_s (err_s -
  err_clean)(baseline)`` and relative mCE its mean: how much accuracy a
  model loses under corruption, relative to how much the baseline loses.

Here ``baseline`` is the run of the ``baseline`` mode paired with the run
(same backbone, target and seed), not the AlexNet of the paper's ImageNet
tables; an mCE below 1 means fewer errors under corruption than it.

``tools/analysis_tools/eval_corruptions.py`` writes one predictions file
per corruption and severity in a run's work dir (:func:`predictions_path`)::

    WORK_DIR/corruptions/<corruption>/s<severity>.npz
    WORK_DIR/corruptions/summary.json

:func:`read_corruption_accuracy` reads them back. This module imports only
numpy and the standard library at the top.
"""
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

#: The 15 corruptions of CIFAR-10-C / CIFAR-100-C, in the paper's order.
CORRUPTIONS = ('gaussian_noise', 'shot_noise', 'impulse_noise',
               'defocus_blur', 'glass_blur', 'motion_blur', 'zoom_blur',
               'snow', 'frost', 'fog', 'brightness', 'contrast',
               'elastic_transform', 'pixelate', 'jpeg_compression')
#: The 4 extra corruptions distributed beside them (held out in the paper).
EXTRA_CORRUPTIONS = ('speckle_noise', 'gaussian_blur', 'spatter', 'saturate')
ALL_CORRUPTIONS = CORRUPTIONS + EXTRA_CORRUPTIONS
SEVERITIES = (1, 2, 3, 4, 5)
#: What a corrupted folder is (:func:`emoreg_mm.datasets.cifar_c.
#: provenance`): the distributed files (by their published md5), a
#: re-creation with the builder's ``cifar`` / ``imagenet`` parameters, or
#: neither (files that match no checksum and carry no build record).
KINDS = {'official': 'official',
         'recreated-cifar': 're-created (CIFAR constants)',
         'recreated-imagenet': 're-created (ImageNet-C constants)',
         'unknown': 'unverified'}
#: Folder of a run's corruption predictions, in its work dir.
FOLDER = 'corruptions'
SUMMARY = 'summary.json'
#: A run's clean test predictions (``tools/test.py --out``, as the sweep).
CLEAN_PREDICTIONS = 'predictions.npz'

Accuracy = Dict[str, Dict[int, float]]  # corruption -> severity -> acc


def predictions_path(work_dir: str, corruption: str, severity: int) -> str:
    """``WORK_DIR/corruptions/<corruption>/s<severity>.npz``."""
    return osp.join(work_dir, FOLDER, corruption, f's{int(severity)}.npz')


def accuracy_of(predictions: Mapping[str, np.ndarray]) -> float:
    """Top-1 accuracy (fraction) of a predictions dict (``gt_label``,
    ``pred_label``)."""
    gt, pred = predictions['gt_label'], predictions['pred_label']
    return float(np.mean(np.asarray(gt) == np.asarray(pred)))


def mean_accuracy(accuracy: Accuracy,
                  corruptions: Sequence[str] = CORRUPTIONS) -> float:
    """Mean of the accuracies of ``corruptions`` over their severities
    (every (corruption, severity) cell weighs the same); NaN when none of
    them is in ``accuracy``."""
    cells = [a for c in corruptions for a in accuracy.get(c, {}).values()]
    return float(np.mean(cells)) if cells else float('nan')


def _check_cells(model: Accuracy, baseline: Accuracy, corruptions):
    for c in corruptions:
        if set(model[c]) != set(baseline[c]):
            raise ValueError(
                f'{c}: the model has severities {sorted(model[c])} and the '
                f'baseline {sorted(baseline[c])}; CE compares the same '
                'severities.')


def corruption_errors(model: Accuracy,
                      baseline: Accuracy,
                      corruptions: Optional[Sequence[str]] = None,
                      model_clean: Optional[float] = None,
                      baseline_clean: Optional[float] = None) -> dict:
    """CE per corruption and mCE of ``model`` relative to ``baseline``.

    Args:
        model (dict): Accuracy (fraction) per corruption and severity.
        baseline (dict): The same for the baseline run.
        corruptions (Sequence[str], optional): Which corruptions to average.
            Defaults to those of :data:`CORRUPTIONS` both runs have.
        model_clean (float, optional): The model's clean test accuracy;
            with ``baseline_clean``, the relative CE and mCE are computed.
        baseline_clean (float, optional): The baseline's clean accuracy.

    Returns:
        dict: ``ce`` (corruption -> CE), ``mce``, ``corruptions`` (those
        averaged) and, given both clean accuracies, ``relative_ce`` and
        ``relative_mce``. A CE whose baseline made no error (or, relative,
        lost no accuracy) is ``inf`` / ``nan`` as the division gives.

    Raises:
        ValueError: No corruption in common, or a corruption with other
            severities in one run than in the other.
    """
    if corruptions is None:
        corruptions = [c for c in CORRUPTIONS if c in model and c in baseline]
    missing = [c for c in corruptions if c not in model or c not in baseline]
    if missing or not corruptions:
        raise ValueError(f'corruptions {missing or "(none)"} are not in both '
                         'runs; mCE needs the same corruptions in each.')
    _check_cells(model, baseline, corruptions)

    def ratio(num, den):
        with np.errstate(divide='ignore', invalid='ignore'):
            return float(np.float64(num) / np.float64(den))

    out = dict(corruptions=list(corruptions), ce={})
    for c in corruptions:
        err_m = sum(1. - a for a in model[c].values())
        err_b = sum(1. - a for a in baseline[c].values())
        out['ce'][c] = ratio(err_m, err_b)
    out['mce'] = float(np.mean(list(out['ce'].values())))
    if model_clean is not None and baseline_clean is not None:
        out['relative_ce'] = {}
        for c in corruptions:
            gap_m = sum(model_clean - a for a in model[c].values())
            gap_b = sum(baseline_clean - a for a in baseline[c].values())
            out['relative_ce'][c] = ratio(gap_m, gap_b)
        out['relative_mce'] = float(
            np.mean(list(out['relative_ce'].values())))
    return out


def read_corruption_accuracy(work_dir: str) -> Optional[dict]:
    """Per-corruption / severity accuracy of a run, from its work dir.

    Reads every ``WORK_DIR/corruptions/<corruption>/s<severity>.npz``
    (``eval_corruptions.py``) with
    :func:`emoreg_mm.evaluation.load_predictions` (no unpickling), and the
    clean ``WORK_DIR/predictions.npz`` where there is one.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        dict | None: None when the run has no corruption predictions;
        otherwise ``accuracy`` (corruption -> severity -> accuracy, a
        fraction), ``mean_accuracy`` (mean over the cells of the 15
        :data:`CORRUPTIONS` present), ``mean_accuracy_extra`` (the same
        over the 4 :data:`EXTRA_CORRUPTIONS`, NaN without them),
        ``complete`` (all 15 x 5 cells present), ``missing`` (the absent
        ``(corruption, severity)`` cells of the 15), ``images`` (images per
        file, the smallest), ``checkpoints`` (the SHA-256 of each
        checkpoint whose cells are there, None for cells that record none:
        more than one is a folder of mixed checkpoints), ``source`` (the
        corrupted folder the cells record: ``root``, ``kind`` and
        ``images_per_severity``; None for cells that record none) and
        ``clean_accuracy`` (None without ``predictions.npz``). Symlinks at
        cell paths are not read.

    Raises:
        emoreg_mm.evaluation.PredictionsFileError: A predictions file is
            damaged (the message names it).
        ValueError: The cells record different folders (naming two).
    """
    from emoreg_mm.evaluation.predictions import (load_predictions,
                                                  predictions_meta)
    folder = osp.join(work_dir, FOLDER)
    accuracy: Accuracy = {}
    images, checkpoints, sources = [], set(), {}
    for c in ALL_CORRUPTIONS:
        for s in SEVERITIES:
            path = predictions_path(work_dir, c, s)
            if osp.isfile(path) and not osp.islink(path):
                p = load_predictions(path)
                accuracy.setdefault(c, {})[s] = accuracy_of(p)
                images.append(len(p['gt_label']))
                meta = predictions_meta(p)
                checkpoints.add((meta.get('checkpoint') or {}).get('sha256'))
                source = meta.get('source')
                sources.setdefault(repr(source), (source, path))
    if not accuracy:
        return None
    if len(sources) > 1:
        (a, at), (b, bt) = list(sources.values())[:2]
        raise ValueError(
            f'{folder}: its cells were evaluated on different folders '
            f'({at}: {a}; {bt}: {b}); evaluate the run again on one')
    missing = [(c, s) for c in CORRUPTIONS for s in SEVERITIES
               if s not in accuracy.get(c, {})]
    return dict(
        accuracy=accuracy,
        mean_accuracy=mean_accuracy(accuracy),
        mean_accuracy_extra=mean_accuracy(accuracy, EXTRA_CORRUPTIONS),
        complete=not missing,
        missing=missing,
        images=min(images),
        folder=folder,
        checkpoints=sorted(checkpoints, key=str),
        source=next(iter(sources.values()))[0],
        clean_accuracy=clean_accuracy(work_dir))


def clean_accuracy(work_dir: str) -> Optional[float]:
    """Top-1 accuracy of the run's clean ``predictions.npz``; None
    without one."""
    from emoreg_mm.evaluation.predictions import load_predictions
    clean = osp.join(work_dir, CLEAN_PREDICTIONS)
    return accuracy_of(load_predictions(clean)) if osp.isfile(clean) \
        else None
