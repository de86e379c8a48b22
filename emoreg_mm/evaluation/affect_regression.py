"""Stage-1 quality where the target is dimensional: per dimension, on the
held-out images, Pearson's and Spearman's correlation between the
predicted and the rated values, and the RMSE (in the normalised [-1, 1]
units and in the set's own scale)."""
from typing import Dict, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

from ..models.heads.affect_regression_head import GT_FIELD, PRED_FIELD


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties sharing their average rank."""
    order = np.argsort(x, kind='mergesort')
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True,
                                   return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r; NaN where either side is constant."""
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float('nan')


def regression_scores(pred: np.ndarray, gt: np.ndarray,
                      dimensions: Sequence[str],
                      scales: Dict[str, Sequence[float]] = None
                      ) -> Dict[str, float]:
    """``{dim}/pearson``, ``{dim}/spearman``, ``{dim}/rmse`` (normalised
    units), ``{dim}/rmse_scale`` (the set's scale, where ``scales`` gives
    it) for each dimension, and ``mean/pearson`` over them.

    Args:
        pred (numpy.ndarray): ``(N, D)`` predictions in [-1, 1].
        gt (numpy.ndarray): ``(N, D)`` normalised ratings.
        dimensions (Sequence[str]): The D names.
        scales (dict, optional): ``{name: (low, high)}`` as published.
    """
    out = {}
    for i, name in enumerate(dimensions):
        p, g = pred[:, i].astype(np.float64), gt[:, i].astype(np.float64)
        rmse = float(np.sqrt(np.mean((p - g) ** 2)))
        out[f'{name}/pearson'] = pearson(p, g)
        out[f'{name}/spearman'] = pearson(average_ranks(p), average_ranks(g))
        out[f'{name}/rmse'] = rmse
        if scales and name in scales:
            low, high = scales[name]
            out[f'{name}/rmse_scale'] = rmse * (high - low) / 2
    out['mean/pearson'] = float(np.mean(
        [out[f'{n}/pearson'] for n in dimensions]))
    return out


@METRICS.register_module()
class AffectRegressionMetric(BaseMetric):
    """Per-dimension Pearson, Spearman and RMSE of ``pred_va`` against
    ``gt_va`` (:func:`regression_scores`); the dimension names and scales
    from the dataset's metainfo (``dimensions``, ``scales``). For
    ``save_best``: ``'mean/pearson'``.

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the keys. Defaults to None.
    """
    default_prefix = None

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((np.asarray(sample[PRED_FIELD].cpu()),
                                 np.asarray(sample[GT_FIELD])))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        pred = np.stack([p for p, _ in results])
        gt = np.stack([g for _, g in results]).astype(np.float64)
        meta = self.dataset_meta or {}
        dims = tuple(meta.get('dimensions') or
                     (f'dim{i}' for i in range(pred.shape[1])))
        return regression_scores(pred, gt, dims, meta.get('scales'))
