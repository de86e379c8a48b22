"""emoreg_mm.results.stats: the paired intervals, power and McNemar's test
against scipy and simulation, and the seeds table of docs/method.md."""
import os.path as osp
import re

import numpy as np
import pytest
from scipy import stats

from emoreg_mm.results import (detectable_difference, mcnemar_exact,
                               paired_ci, pooled_spread, seeds_needed,
                               verdict)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_paired_interval_matches_scipy():
    diffs = [0.3, -0.1, 0.8, 0.25, 0.4]
    ci = paired_ci(diffs)
    low, high = stats.t.interval(0.95, len(diffs) - 1,
                                 loc=np.mean(diffs), scale=stats.sem(diffs))
    assert (ci['low'], ci['high']) == (pytest.approx(low),
                                       pytest.approx(high))
    assert ci['n'] == 5 and ci['mean'] == pytest.approx(np.mean(diffs))
    assert verdict(ci) == 'no evidence'  # the interval holds zero
    assert verdict(paired_ci([1.0, 1.2, 0.9])) == 'better'
    assert verdict(paired_ci([-1.0, -1.2, -0.9])) == 'worse'
    assert paired_ci([0.5])['low'] is None
    # Identical differences: no interval, no verdict, and a word on seeds.
    same = paired_ci([0.5, 0.5, 0.5])
    assert (same['low'], same['high'], same['n']) == (None, None, 3)
    assert verdict(same) == ('no evidence (n=3: identical differences, '
                             'no interval; did the seeds vary?)')


def test_p_is_the_paired_t_tests():
    for diffs in ([0.3, -0.1, 0.8, 0.25, 0.4], [1.0, 1.2, 0.9], [-2., 1.]):
        assert paired_ci(diffs)['p'] == pytest.approx(
            stats.ttest_1samp(diffs, 0.).pvalue, rel=1e-9)
        # the interval's verdict is the test's at 0.05
        assert (verdict(paired_ci(diffs)) != 'no evidence') == (
            stats.ttest_1samp(diffs, 0.).pvalue < 0.05)
    assert paired_ci([0.5])['p'] is None


#: Differences equal but for float rounding: 0.12 from float64 top-1s
#: (a spread of about 1e-15) and from float32 metrics (about 4e-6).
ROUNDED = {
    'float64': [50.12 - 50, 91.12 - 91, 92.12 - 92],
    'float32': [float(np.float32(v + .12)) - float(np.float32(v))
                for v in (90.1, 91.37, 92.93)],
}


@pytest.mark.parametrize('kind', sorted(ROUNDED))
def test_a_spread_below_the_resolution_counts_as_zero(kind):
    diffs = ROUNDED[kind]
    assert 0 < np.std(diffs, ddof=1) < 1e-5  # the case is what it says
    ci = paired_ci(diffs)
    assert (ci['low'], ci['high'], ci['p'], ci['spread']) == (
        None, None, None, 0.)
    assert ci['mean'] == pytest.approx(0.12, abs=1e-5)
    assert verdict(ci) == ('no evidence (n=3: identical differences, no '
                           'interval; did the seeds vary?)')
    # without a resolution: a "better" interval of no width
    raw = paired_ci(diffs, resolution=0.)
    assert verdict(raw) == 'better' and raw['high'] - raw['low'] < 1e-4
    # the resolution is the caller's: a spread of 1e-3 counts by default
    spread = [0.12, 0.121, 0.122]
    assert paired_ci(spread)['low'] is not None
    assert paired_ci(spread, resolution=1e-2)['low'] is None


def test_pooled_spread_by_hand():
    groups = [[0.3, -0.1, 0.8], [1.0, 1.2, 0.9, 1.4], [2., 2.5]]
    cis = [paired_ci(g) for g in groups] + [paired_ci([1.]),
                                            paired_ci([.5, .5])]
    spread, df = pooled_spread(cis)  # one pair and no spread add nothing
    assert df == 2 + 3 + 1
    assert spread == pytest.approx(np.sqrt(sum(
        (len(g) - 1) * np.var(g, ddof=1) for g in groups) / df))
    assert pooled_spread([paired_ci([1.])]) == (None, 0)


@pytest.mark.parametrize('b,c', [(0, 0), (3, 9), (12, 5), (40, 61), (1, 0),
                                 (700, 640), (5000, 5200)])
def test_mcnemar_matches_scipy_binomial_test(b, c):
    expected = 1. if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_detectable_difference_has_the_stated_power():
    """At the returned difference a paired t test rejects in 80% of
    simulated experiments (alpha 0.05)."""
    rng = np.random.default_rng(0)
    for n, spread in ((3, 0.5), (5, 1.0), (10, 2.0)):
        d = detectable_difference(spread, n)
        diffs = rng.normal(d, spread, size=(20000, n))
        p = stats.ttest_1samp(diffs, 0., axis=1).pvalue
        assert (p < 0.05).mean() == pytest.approx(0.8, abs=0.015), (n, spread)
        assert detectable_difference(spread, n + 1) < d
    assert detectable_difference(0., 5) is None
    assert detectable_difference(1., 1) is None


def test_the_seeds_table_of_the_docs_is_computed():
    text = open(osp.join(REPO, 'docs', 'method.md')).read()
    assert 'from emoreg_mm.results import seeds_needed' in text
    rows = re.findall(r'^\| ([\d.]+) \| (\d+) \| (\d+) \| (\d+) \|$', text,
                      re.M)
    assert len(rows) == 4
    for spread, *counts in rows:
        assert [seeds_needed(e, float(spread)) for e in (0.5, 1, 2)] == \
            [int(c) for c in counts], spread


@pytest.mark.parametrize('spread', [0., -1., float('nan'), float('inf')])
def test_seeds_needed_names_a_spread_it_cannot_use(spread):
    with pytest.raises(ValueError, match='expected the positive standard'):
        seeds_needed(1., spread)
