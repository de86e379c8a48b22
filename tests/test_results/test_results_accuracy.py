"""emoreg_mm.results: the main table's paired differences, refusals and
McNemar's test on constructed run dirs."""
import os.path as osp

import numpy as np
import pytest
from results_fixtures import assert_paired, rows_by, write_run
from scipy import stats

from emoreg_mm import matrix
from emoreg_mm.results import build_report, detectable_difference
from emoreg_mm.results.accuracy import row_order


def test_paired_differences_and_refusals(tmp_path):
    root = str(tmp_path)
    base = {0: 90.0, 1: 91.0, 2: 90.5}
    const = {0: 91.0, 1: 91.5, 2: 91.2}
    ereg = {0: 91.4, 1: 91.2, 3: 99.0}
    for s, v in base.items():
        write_run(root, f'base{s}', 'baseline', s, v)
    for s, v in const.items():
        write_run(root, f'const{s}', 'const', s, v)
    for s, v in ereg.items():
        write_run(root, f'ereg{s}', 'ereg', s, v)
    write_run(root, 'learn0', 'learn-ereg', 0, 95.0, lr=0.2)
    report = build_report([osp.join(root, '*')])
    rows = rows_by(report)

    row = rows['ereg']
    diffs = [ereg[s] - const[s] for s in (0, 1)]
    assert_paired(row, 'cifar10 vs const', diffs, 'no evidence')
    # the detectable difference at the spread pooled over the table's
    # three comparisons with a verdict (ereg vs baseline and vs const,
    # const vs baseline), with their pooled degrees of freedom
    pooled = [np.array(d) for d in (
        diffs, [ereg[s] - base[s] for s in (0, 1)],
        [const[s] - base[s] for s in (0, 1, 2)])]
    spread = np.sqrt(sum((len(d) - 1) * d.var(ddof=1) for d in pooled) /
                     sum(len(d) - 1 for d in pooled))
    detectable = detectable_difference(spread, 2)
    assert float(row['cifar10 vs const detectable']) == pytest.approx(
        detectable, abs=1e-4)
    assert f'detects >= {detectable:.2f} |' in report['markdown']
    assert (f'cifar10 {spread:.3g} (3 comparisons, 4 df)'
            in report['markdown'])
    assert row['cifar10 n'] == 3  # seed 3 counts in the mean, not paired
    notes = '\n'.join(report['notes'])
    assert 'ereg on cifar10 vs const: seeds without a partner' in notes
    assert f'3 (only {osp.join(root, "ereg3")})' in notes
    assert f'2 (only {osp.join(root, "const2")})' in notes

    row = rows['const']
    diffs = [const[s] - base[s] for s in (0, 1, 2)]
    assert float(row['cifar10 vs baseline mean']) == pytest.approx(
        np.mean(diffs), abs=1e-4)
    assert row['cifar10 vs baseline verdict'] == 'better'
    assert row['cifar10 vs const mean'] == '-'

    # A changed lr is refused for pairing, the key named.
    row = rows['learn-ereg']
    assert row['cifar10 vs const verdict'] == 'not paired'
    assert 'differ in optim_wrapper.optimizer.lr; not paired' in notes
    assert row['cifar10 selected on eval data'] == 'no'
    # rows: baseline, const, then the matrix's order of the modes
    assert [r[2] for r in report['rows']] == ['baseline', 'const', 'ereg',
                                              'learn-ereg']


def test_rows_follow_the_matrix():
    """Modes in the matrix's order after baseline and const; a mode the
    matrix does not know last."""
    combos = [('tiny', 'emoset', m) for m in reversed(matrix.MODES)] + [
        ('tiny', 'emoset', 'aa-new')]
    ordered = [c[2] for c in sorted(combos, key=row_order)]
    regulated = [m for m in matrix.MODES if m not in ('baseline', 'const')]
    assert ordered == ['baseline', 'const'] + regulated + ['aa-new']


def test_validating_on_test_is_marked(tmp_path):
    write_run(str(tmp_path), 'leaky', 'baseline', 0, 93.0, val_split='test')
    write_run(str(tmp_path), 'clean', 'const', 0, 92.0)
    write_run(str(tmp_path), 'other', 'ereg', 0, 60.0, target='cifar100')
    report = build_report([str(tmp_path / '*')])
    assert all(len(r) == len(report['header']) for r in report['rows'])
    rows = rows_by(report)
    assert rows['ereg']['cifar10 mean'] == ''
    assert rows['ereg']['cifar100 mean'] == '60.0000'
    assert rows['baseline']['cifar10 selected on eval data'] == 'yes'
    assert rows['const']['cifar10 selected on eval data'] == 'no'
    assert '93.00 ± 0.00† (n=1)' in report['markdown']


def test_mcnemar_on_saved_predictions(tmp_path):
    """Per seed the discordant counts beside p: b images only the mode got
    right, c only const; a mode losing to const shows b < c."""
    rng = np.random.default_rng(0)
    counts = {}
    for seed, (mine, const) in enumerate(((.8, .7), (.6, .8), (.6, .8))):
        a = rng.random(200) < mine
        b = rng.random(200) < const
        write_run(str(tmp_path), f'const{seed}', 'const', seed,
                  100 * b.mean(), correct=b)
        write_run(str(tmp_path), f'ereg{seed}', 'ereg', seed,
                  100 * a.mean(), correct=a)
        counts[seed] = int((a & ~b).sum()), int((~a & b).sum())
    report = build_report([str(tmp_path / '*')])
    row = rows_by(report)['ereg']
    assert row['cifar10 McNemar vs const b/c'] == '; '.join(
        f'seed {s}: {b}/{c}' for s, (b, c) in counts.items())
    pvalues = row['cifar10 McNemar vs const p'].split('; ')
    for seed, (b, c) in counts.items():
        expected = stats.binomtest(b, b + c, 0.5).pvalue
        assert float(pvalues[seed].split(': ')[1]) == pytest.approx(
            expected, rel=1e-3)
    assert counts[1][0] < counts[1][1] and counts[2][0] < counts[2][1]
    main = report['markdown'].split('## ')[0]  # not Calibration's rows
    line, = [line for line in main.splitlines()
             if line.startswith('| tiny | emoset | ereg |')]
    assert line.endswith(' | ' + ', '.join(
        f'{b} / {c}' for b, c in counts.values()) + ' | ' + ', '.join(
        f'{stats.binomtest(b, b + c, 0.5).pvalue:.3g}'
        for b, c in counts.values()) + ' |')
    assert 'McNemar p vs const (test-set noise)' in report['markdown']
    assert 'not a test of the mode' in report['markdown']


def test_rounded_differences_give_no_verdict(tmp_path):
    """Top-1s whose differences are 0.12 but for float rounding (float64,
    and metrics stored as float32) get no interval and no verdict, and
    stay out of the family."""
    for seed, level in enumerate((90.1, 91.37, 92.93)):
        write_run(str(tmp_path), f'base{seed}', 'baseline', seed, level)
        write_run(str(tmp_path), f'const{seed}', 'const', seed,
                  level + .12)
        write_run(str(tmp_path), f'ereg{seed}', 'ereg', seed,
                  float(np.float32(level + .12)))
        write_run(str(tmp_path), f'learn{seed}', 'learn-ereg', seed,
                  float(np.float32(level)))
    report = build_report([str(tmp_path / '*')])
    rows = rows_by(report)
    for mode, ref in (('const', 'baseline'), ('ereg', 'const'),
                      ('learn-ereg', 'const')):
        row = rows[mode]
        assert row[f'cifar10 vs {ref} ci low'] == '', (mode, ref)
        assert row[f'cifar10 vs {ref} p'] == ''
        assert 'identical differences' in row[f'cifar10 vs {ref} verdict']
        assert row[f'cifar10 vs {ref} adjusted verdict'] == ''
    assert '[+0.12, +0.12]' not in report['markdown']
    assert '+0.12 (n=3): no evidence (n=3: identical differences' in \
        report['markdown']


def test_a_detectable_difference_with_nothing_to_pool_is_rough(tmp_path):
    for seed, diff in enumerate((0.3, 1.1, 0.4)):
        write_run(str(tmp_path), f'const{seed}', 'const', seed, 90.)
        write_run(str(tmp_path), f'ereg{seed}', 'ereg', seed, 90. + diff)
    report = build_report([str(tmp_path / '*')])
    row = rows_by(report)['ereg']
    rough = detectable_difference(np.std([0.3, 1.1, 0.4], ddof=1), 3)
    assert float(row['cifar10 vs const detectable']) == pytest.approx(
        rough, abs=1e-4)
    assert f'detects >= {rough:.2f} (rough)' in report['markdown']
    assert 'Spread of the differences pooled' not in report['markdown']


def test_only_like_is_paired_with_like(tmp_path):
    """A test result is never paired with a validation score; identical
    differences give no interval."""
    for seed in (0, 1, 2):
        write_run(str(tmp_path), f'base{seed}', 'baseline', seed, 90. + seed)
        write_run(str(tmp_path), f'const{seed}', 'const', seed, 90.5 + seed)
        write_run(str(tmp_path), f'ereg{seed}', 'ereg', seed, 92. + seed,
                  source='val')
    report = build_report([str(tmp_path / '*')])
    rows = rows_by(report)
    assert rows['ereg']['cifar10 source'] == 'val'
    assert rows['ereg']['cifar10 vs const verdict'] == 'not paired'
    assert rows['ereg']['cifar10 vs baseline n'] == 0
    notes = '\n'.join(report['notes'])
    assert (f'seed 1: {tmp_path / "ereg1"} has a val result, '
            f'{tmp_path / "const1"} a test result; not paired') in notes
    const = rows['const']  # +0.5 at every seed
    assert const['cifar10 vs baseline mean'] == '0.5000'
    assert const['cifar10 vs baseline ci low'] == ''
    assert 'identical differences' in const['cifar10 vs baseline verdict']
    assert 'better' not in const['cifar10 vs baseline verdict']
