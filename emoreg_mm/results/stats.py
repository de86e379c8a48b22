"""The statistics of the tables: paired t intervals, power and McNemar.

All of scipy's (``scipy.stats.t``, ``nct``, ``binomtest``), imported when a
function is called, so that reading runs does not load scipy.
"""
import math
import statistics
from typing import Optional, Sequence, Tuple


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.
    return statistics.fmean(values), std


#: A spread of paired differences below this (in the metric's unit) counts
#: as zero: float rounding, not seed noise (:func:`paired_ci`).
RESOLUTION = 1e-4
#: The verdict words of a positive and a negative difference.
WORDS = ('better', 'worse')


def summary(values: Sequence[Optional[float]]
            ) -> Tuple[Optional[float], Optional[float], int]:
    """(mean, std, n) of the values that are not None; (None, None, 0)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    return (*mean_std(values), len(values))


def paired_ci(diffs: Sequence[float], level: float = 0.95,
              resolution: float = RESOLUTION) -> dict:
    """Mean, t confidence interval, p-value and count of paired differences.

    The interval and p are None for fewer than two pairs, and for
    differences that are all the same: a spread below ``resolution`` (the
    metric's resolution; float rounding gives spreads of 1e-15, float32
    metrics of 1e-6) counts as zero, and zero spread gives no interval
    (identical differences at several seeds usually mean the seeds did not
    vary).

    Args:
        diffs (Sequence[float]): One difference per pair (seed).
        level (float): Confidence level. Defaults to 0.95.
        resolution (float): The smallest spread that counts, in the unit
            of the differences. Defaults to :data:`RESOLUTION`.

    Returns:
        dict: ``mean`` (NaN without pairs), ``low`` and ``high`` (None
        without an interval), ``p`` (the two-sided paired t test's p-value;
        None without an interval), ``n`` and ``spread`` (the standard
        deviation of the differences, 0 below ``resolution``; None for
        fewer than two).
    """
    from scipy import stats
    n = len(diffs)
    mean = statistics.fmean(diffs) if n else float('nan')
    out = dict(mean=mean, low=None, high=None, p=None, n=n, spread=None)
    if n < 2:
        return out
    spread = statistics.stdev(diffs)
    out['spread'] = spread if spread >= resolution else 0.
    if not out['spread']:
        return out
    sem = spread / math.sqrt(n)
    half = stats.t.ppf(0.5 + level / 2., n - 1) * sem
    out.update(low=mean - half, high=mean + half,
               p=float(2 * stats.t.sf(abs(mean) / sem, n - 1)))
    return out


def pooled_spread(cis: Sequence[dict]) -> Tuple[Optional[float], int]:
    """The standard deviation of paired differences pooled over comparisons
    (:func:`paired_ci` results with a spread):
    sqrt(sum (n_i - 1) s_i^2 / sum (n_i - 1)), and its degrees of freedom
    sum (n_i - 1); (None, 0) without a spread to pool."""
    used = [(ci['n'] - 1, ci['spread']) for ci in cis if ci.get('spread')]
    df = sum(d for d, _ in used)
    if not df:
        return None, 0
    return math.sqrt(sum(d * s * s for d, s in used) / df), df


def detectable_difference(spread: float, n: int, power: float = 0.8,
                          alpha: float = 0.05) -> Optional[float]:
    """The smallest true mean difference that a two-sided paired t test at
    level ``alpha`` finds with probability ``power``, for ``n`` pairs whose
    differences have standard deviation ``spread`` (noncentral t); None
    for fewer than two pairs or zero spread."""
    from scipy import optimize, stats
    if n < 2 or not spread or not math.isfinite(spread):
        return None
    df, spread = n - 1, abs(spread)
    crit = stats.t.ppf(1. - alpha / 2., df)

    def power_at(d):
        nc = d * math.sqrt(n) / spread
        lower = stats.nct.cdf(-crit, df, nc)  # NaN far in the tail: ~0
        return stats.nct.sf(crit, df, nc) + (0. if math.isnan(lower)
                                             else lower)

    high = spread
    while power_at(high) < power:
        high *= 2.
    return float(optimize.brentq(lambda d: power_at(d) - power, 0., high))


def seeds_needed(effect: float, spread: float, power: float = 0.8,
                 alpha: float = 0.05, most: int = 10000) -> Optional[int]:
    """How many seeds (pairs) a paired t test needs to find a true mean
    difference ``effect`` with probability ``power`` when the differences
    spread by ``spread`` (their standard deviation); None beyond
    ``most``.

    Raises:
        ValueError: ``spread`` is not a positive finite number.
    """
    if not (isinstance(spread, (int, float)) and 0 < spread < math.inf):
        raise ValueError(f'spread is {spread!r}; expected the positive '
                         'standard deviation of the differences.')
    for n in range(2, most + 1):
        if detectable_difference(spread, n, power, alpha) <= effect:
            return n
    return None


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b``
    (only the first model right) and ``c`` (only the second right): the
    exact binomial test of ``b`` in ``b + c`` at 1/2."""
    from scipy import stats
    if b + c == 0:
        return 1.
    return float(stats.binomtest(b, b + c, 0.5).pvalue)


def verdict(ci: dict) -> str:
    """``ci['words']`` (default :data:`WORDS`: 'better' / 'worse') for a
    positive / negative difference when the interval of :func:`paired_ci`
    excludes zero, else no evidence (with the reason where there is no
    interval)."""
    if ci['low'] is None:
        if ci.get('spread') == 0:
            return (f'no evidence (n={ci["n"]}: identical differences, no '
                    'interval; did the seeds vary?)')
        return f'no evidence (n={ci["n"]}: no interval)'
    positive, negative = ci.get('words') or WORDS
    if ci['low'] > 0:
        return positive
    if ci['high'] < 0:
        return negative
    return 'no evidence'
