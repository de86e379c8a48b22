"""Why and how well, from one run's predictions: branches and calibration.

Reads the arrays of :mod:`emoreg_mm.evaluation.predictions` (what
``load_predictions`` returns) and computes, per run:

* branch analysis (a regulated head with both N and I, i.e. files holding
  ``pred_score_n``, ``pred_score_i`` and ``rho``): top-1 of N alone, I alone,
  the fused model, ``const``'s fusion of the same two branches
  (0.5 p_N + 0.5 p_I), "either branch" (right when N or I is right) and the
  oracle gate (right when some rho in [0, 1], chosen per image knowing the
  label, puts the true class on top of (1 - rho) p_N + rho p_I: the ceiling
  of any regulator on these two branches); the share of the oracle's gain
  over ``const`` that the regulator captured, (fused - const) /
  (oracle - const), undefined (None) when the oracle gains nothing; mean rho
  on the images only I got right and on those only N got right;
* calibration of the fused prediction ``pred_score``: the expected
  calibration error over ``ECE_BINS`` = 15 equal-width bins of the top-1
  confidence, and the negative log-likelihood of the true class;
* where the affective state is dimensional (:func:`affect_of_config`:
  the run's ``model.head.affect_space``), the state by dimension
  (:func:`affect_analysis`): mean valence and arousal, rho's correlation
  with each, their means on the images only I / only N got right, and
  rho and each branch's top-1 by arousal (:data:`AROUSAL_BINS`).

Every run also gets its ``top1``, the fraction of images whose
``pred_label`` is right (for a baseline: its one branch N alone), which the
results table pairs with the N alone of regulated runs.

Accuracies and ECE are fractions in [0, 1] here (the results table prints
percent). Only NumPy and the standard library are imported, so the results
table reads runs without loading torch.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

#: Equal-width bins of the top-1 confidence over [0, 1] for the ECE.
ECE_BINS = 15
#: Probabilities of the true class below this count as this in the NLL.
NLL_FLOOR = 1e-12
#: How far a row of ``pred_score`` may sum from 1 and still be calibrated.
SUM_TOLERANCE = 1e-3
#: The dimensions of a dimensional state, in the order of the sets' default
#: (``AffectiveRatings``: valence, arousal), where a run names none.
DIMENSIONS = ('valence', 'arousal', 'dominance')
#: Arousal's bins over its range [-1, 1]: (name, low, high); low <=
#: arousal < high, the last bin closed.
AROUSAL_BINS = (('low', -1., -1 / 3), ('middle', -1 / 3, 1 / 3),
                ('high', 1 / 3, 1.))


def affect_of_config(cfg: Mapping) -> dict:
    """What a run's affective state is, from its config (a dict as
    :func:`emoreg_mm.results.read_config` reads a dumped one, or an
    mmengine ``Config``): ``model.head.affect_space``, which decides how the
    head reads stage 1's outputs (tanh of the regression for
    ``'dimensional'``, a softmax otherwise).

    Returns:
        dict: ``space`` (``'dimensional'`` or ``'categorical'``) and
        ``names``: the head's ``emotion_classes`` (set from the stage-1
        checkpoint's classes by tools/train.py and tools/test.py, so a run
        dir's config holds them), else the config's ``emotion_classes``,
        else None (for a dimensional state: :data:`DIMENSIONS` where the
        predictions are read).
    """
    model = cfg.get('model') if isinstance(cfg, Mapping) else None
    head = model.get('head') if isinstance(model, Mapping) else None
    head = head if isinstance(head, Mapping) else {}
    space = 'dimensional' if head.get('affect_space') == 'dimensional' \
        else 'categorical'
    names = head.get('emotion_classes') or cfg.get('emotion_classes')
    names = [str(n) for n in names] if isinstance(names, (list, tuple)) \
        and names else None
    return dict(space=space, names=names)


def infer_affect(preds: Mapping[str, np.ndarray]) -> Optional[dict]:
    """:func:`affect_of_config`'s dict from the predictions alone, where no
    config says: None without ``affect_score``; categorical where the file
    names each image's top emotion (``affect_class``, which a categorical
    head always gives) or the scores are distributions; else dimensional
    (tanh outputs in [-1, 1], which a softmax never gives), its names
    assumed to be :data:`DIMENSIONS` (``assumed`` True)."""
    if 'affect_score' not in preds:
        return None
    affect = np.asarray(preds['affect_score'], dtype=np.float64)
    distributions = affect.size and affect.min() >= 0 and np.abs(
        affect.sum(1) - 1).max() <= SUM_TOLERANCE
    if 'affect_class' in preds or distributions:
        return dict(space='categorical', names=None)
    return dict(space='dimensional', names=None, assumed=True)


def dimension_names(affect: dict, count: int) -> List[str]:
    """The names of a dimensional state's ``count`` dimensions: the run's
    (where it names ``count``), else :data:`DIMENSIONS`' first, else
    ``dimension k``."""
    names = affect.get('names')
    if names and len(names) == count:
        return list(names)
    return list(DIMENSIONS[:count]) if count <= len(DIMENSIONS) else [
        f'dimension {k}' for k in range(count)]


def dimension_index(names: Sequence[str], name: str) -> Optional[int]:
    """Where ``name`` (``'arousal'``, ``'valence'``) is among ``names``;
    for arousal, absent by name, the second dimension
    (``ArousalRegulator``'s default ``index``); else None."""
    if name in names:
        return list(names).index(name)
    return 1 if name == 'arousal' and len(names) > 1 else None


def branch_right(preds: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Which images each branch alone predicts right (argmax of
    ``pred_score_n`` / ``pred_score_i``), by branch (``'n'``, ``'i'``): the
    branches whose scores the file holds."""
    gt = preds['gt_label'].astype(np.int64)
    return {name: preds[f'pred_score_{name}'].argmax(1) == gt
            for name in ('n', 'i') if f'pred_score_{name}' in preds}


def _corr(x: np.ndarray, y: np.ndarray) -> Optional[float]:
    """Pearson's r; None where either does not vary."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def affect_analysis(preds: Mapping[str, np.ndarray],
                    affect: Optional[dict]) -> Tuple[Optional[dict], str]:
    """The dimensional affective state of a run's images and how rho and
    the branches went with it.

    Args:
        preds (dict): Arrays of a predictions file.
        affect (dict, optional): :func:`affect_of_config`'s (or
            :func:`infer_affect`'s) description of the run's state.

    Returns:
        tuple: (result, reason). ``result`` is None (``reason`` says why)
        unless the state is dimensional and the file holds
        ``affect_score``; else a dict with ``names`` (the dimensions),
        ``images``, per dimension name ``mean`` (over the images),
        ``rho_r`` (Pearson's r of rho with it; None where either is
        constant or the model has no rho), ``only_i`` / ``only_n`` (its
        mean on the images only I / only N got right; None without
        such images or branches); ``bins``: per :data:`AROUSAL_BINS` bin
        its ``name``, ``low``, ``high``, ``images`` and the means ``rho``,
        ``fused``, ``n``, ``i`` (top-1 fractions; None where empty or
        absent); ``arousal`` (the arousal dimension's name, or None).
    """
    if not affect or affect.get('space') != 'dimensional':
        return None, 'not a dimensional affective state'
    if 'affect_score' not in preds:
        return None, 'no affect_score (no emotional encoder)'
    values = np.asarray(preds['affect_score'], dtype=np.float64)
    names = dimension_names(affect, values.shape[1])
    gt = preds['gt_label'].astype(np.int64)
    rho = preds['rho'].astype(np.float64) if 'rho' in preds else None
    right = dict(fused=preds['pred_label'].astype(np.int64) == gt,
                 **branch_right(preds))
    both = 'n' in right and 'i' in right
    only_i = right['i'] & ~right['n'] if both else None
    only_n = right['n'] & ~right['i'] if both else None

    def mean_on(column, mask):
        return float(column[mask].mean()) if mask is not None and \
            mask.any() else None

    out = dict(names=names, images=len(gt), mean={}, rho_r={}, only_i={},
               only_n={}, bins=[])
    for k, name in enumerate(names):
        column = values[:, k]
        out['mean'][name] = float(column.mean())
        out['rho_r'][name] = None if rho is None else _corr(rho, column)
        out['only_i'][name] = mean_on(column, only_i)
        out['only_n'][name] = mean_on(column, only_n)
    index = dimension_index(names, 'arousal')
    out['arousal'] = None if index is None else names[index]
    if index is not None:
        arousal = values[:, index]
        for b, (name, low, high) in enumerate(AROUSAL_BINS):
            inside = (arousal >= low) & (
                (arousal <= high) if b == len(AROUSAL_BINS) - 1 else
                (arousal < high))
            count = int(inside.sum())
            cell = dict(name=name, low=low, high=high, images=count,
                        rho=mean_on(rho, inside) if rho is not None
                        else None)
            for key in ('fused', 'n', 'i'):
                cell[key] = mean_on(right[key].astype(np.float64),
                                    inside) if key in right else None
            out['bins'].append(cell)
    return out, ''


def captured_share(fused: float, const: float,
                   oracle: float) -> Optional[float]:
    """(fused - const) / (oracle - const): the part of the oracle's gain over
    ``const`` that the regulator captured; None when the oracle gains
    nothing over ``const`` (a zero denominator)."""
    headroom = oracle - const
    return None if headroom <= 0 else (fused - const) / headroom


def some_rho_right(p_n: np.ndarray, p_i: np.ndarray,
                   gt: np.ndarray) -> np.ndarray:
    """Per image, whether some rho in [0, 1] makes the true class the strict
    top class of (1 - rho) p_N + rho p_I.

    For every other class c the margin m_c(rho) = a_c + rho b_c of the true
    class y is linear in rho (a_c = p_N,y - p_N,c, b_c = p_I,y - p_I,c -
    a_c); the rho with all margins positive form one interval, and the
    image counts when it meets [0, 1].

    Args:
        p_n (numpy.ndarray): N's class probabilities, ``(M, C)``.
        p_i (numpy.ndarray): I's class probabilities, ``(M, C)``.
        gt (numpy.ndarray): True classes, ``(M,)``.

    Returns:
        numpy.ndarray: ``(M,)`` booleans.
    """
    p_n, p_i = p_n.astype(np.float64), p_i.astype(np.float64)
    rows = np.arange(len(gt))
    a = p_n[rows, gt][:, None] - p_n
    b = p_i[rows, gt][:, None] - p_i - a
    other = np.ones_like(a, dtype=bool)
    other[rows, gt] = False
    with np.errstate(divide='ignore', invalid='ignore'):
        root = -a / b  # where the margin crosses zero
    low = np.where(other & (b > 0), root, -np.inf).max(1, initial=-np.inf)
    high = np.where(other & (b < 0), root, np.inf).min(1, initial=np.inf)
    flat_ok = ~(other & (b == 0) & (a <= 0)).any(1)
    return flat_ok & (np.maximum(low, 0.) < np.minimum(high, 1.))


def branch_analysis(preds: Dict[str, np.ndarray]) -> Tuple[Optional[dict],
                                                           str]:
    """What each branch said and how the regulator used it.

    Args:
        preds (dict): Arrays of a predictions file.

    Returns:
        tuple: (result, reason). ``result`` is None (``reason`` says why)
        unless the file holds ``pred_score_n``, ``pred_score_i`` and
        ``rho``; else a dict with the top-1 fractions ``n``, ``i``,
        ``fused``, ``const``, ``either``, ``oracle``; ``captured`` (None when
        undefined); ``rho_only_i`` / ``rho_only_n`` (mean rho on the images
        only I / only N got right, None when there are none) and their
        counts ``count_only_i`` / ``count_only_n``; ``images``.
    """
    if 'rho' not in preds:
        return None, 'no rho: not a regulated model'
    have = [k for k in ('pred_score_n', 'pred_score_i') if k in preds]
    if len(have) == 1:
        return None, f'only {have[0]}: a one-branch model'
    if not have:
        return None, ('no branch scores (pred_score_n, pred_score_i): saved '
                      'before predictions carried them (rerun tools/test.py '
                      '--out), or a one-branch model')
    gt = preds['gt_label'].astype(np.int64)
    p_n, p_i = preds['pred_score_n'], preds['pred_score_i']
    rho = preds['rho'].astype(np.float64)
    right = branch_right(preds)
    right_n, right_i = right['n'], right['i']
    right_fused = preds['pred_label'] == gt
    right_const = (0.5 * p_n.astype(np.float64) +
                   0.5 * p_i.astype(np.float64)).argmax(1) == gt
    # the oracle also counts what argmax's tie-breaking gave N, I, const
    # or the model at their own rho
    right_oracle = some_rho_right(p_n, p_i, gt) | right_n | right_i | \
        right_const | right_fused
    only_i, only_n = right_i & ~right_n, right_n & ~right_i
    out = dict(n=right_n.mean(), i=right_i.mean(), fused=right_fused.mean(),
               const=right_const.mean(), either=(right_n | right_i).mean(),
               oracle=right_oracle.mean(), images=len(gt),
               count_only_i=int(only_i.sum()), count_only_n=int(only_n.sum()),
               rho_only_i=rho[only_i].mean() if only_i.any() else None,
               rho_only_n=rho[only_n].mean() if only_n.any() else None)
    out = {k: float(v) if isinstance(v, np.floating) else v
           for k, v in out.items()}
    out['captured'] = captured_share(out['fused'], out['const'],
                                     out['oracle'])
    return out, ''


def reliability_bins(confidence: np.ndarray, right: np.ndarray,
                     bins: int = ECE_BINS) -> List[dict]:
    """Equal-width bins of the confidence over [0, 1]: bin k holds
    k / bins < confidence <= (k + 1) / bins (the first also 0).

    Returns:
        list[dict]: Per bin ``low``, ``high``, ``count``, ``accuracy`` and
        ``confidence`` (means over its images; None when empty).
    """
    edges = np.linspace(0., 1., bins + 1)
    index = np.searchsorted(edges[1:-1], confidence, side='left')
    out = []
    for k in range(bins):
        inside = index == k
        count = int(inside.sum())
        out.append(dict(
            low=float(edges[k]), high=float(edges[k + 1]), count=count,
            accuracy=float(right[inside].mean()) if count else None,
            confidence=float(confidence[inside].mean()) if count else None))
    return out


def calibration(preds: Dict[str, np.ndarray],
                bins: int = ECE_BINS) -> Tuple[Optional[dict], str]:
    """ECE and NLL of the fused prediction ``pred_score``.

    ECE = sum_k (n_k / n) |accuracy_k - confidence_k| over ``bins``
    equal-width bins of the top-1 confidence (the score of ``pred_label``);
    NLL = -mean log p(true class), p below ``NLL_FLOOR`` counted as it.

    Returns:
        tuple: (result, reason). ``result`` is None when the scores are not
        probabilities (rows not summing to 1 within ``SUM_TOLERANCE``),
        else a dict with ``ece`` (a fraction), ``nll`` (nats per image),
        ``accuracy``, ``bins`` (:func:`reliability_bins`) and ``images``.
    """
    scores = preds['pred_score'].astype(np.float64)
    sums = scores.sum(1)
    if scores.size == 0 or np.any(scores < 0) or \
            np.abs(sums - 1).max() > SUM_TOLERANCE:
        return None, ('pred_score rows are not probabilities (they sum to '
                      f'{sums.min():.4g}..{sums.max():.4g}); no ECE or NLL')
    rows = np.arange(len(scores))
    gt = preds['gt_label'].astype(np.int64)
    pred = preds['pred_label'].astype(np.int64)
    right = pred == gt
    table = reliability_bins(scores[rows, pred], right, bins)
    ece = sum(b['count'] * abs(b['accuracy'] - b['confidence'])
              for b in table if b['count']) / len(scores)
    nll = float(-np.log(np.maximum(scores[rows, gt], NLL_FLOOR)).mean())
    return dict(ece=float(ece), nll=nll, accuracy=float(right.mean()),
                bins=table, images=len(scores)), ''


def run_analysis(preds: Dict[str, np.ndarray],
                 affect: Optional[dict] = None) -> dict:
    """The analyses of one predictions file.

    Args:
        preds (dict): Arrays of a predictions file.
        affect (dict, optional): The run's affective state
            (:func:`affect_of_config`); defaults to :func:`infer_affect`.

    Returns:
        dict: ``top1`` (fraction of right ``pred_label``), ``branches``,
        ``calibration`` and ``affect`` (:func:`affect_analysis`, for a
        dimensional state) (each a dict or None) and ``reasons`` (why one
        is None, by name).
    """
    top1 = float((preds['pred_label'].astype(np.int64) ==
                  preds['gt_label'].astype(np.int64)).mean())
    branches, why_b = branch_analysis(preds)
    calib, why_c = calibration(preds)
    state, why_a = affect_analysis(
        preds, affect if affect is not None else infer_affect(preds))
    reasons = {k: v for k, v in (('branches', why_b),
                                 ('calibration', why_c),
                                 ('affect', why_a)) if v}
    return dict(top1=top1, branches=branches, calibration=calib,
                affect=state, reasons=reasons)
