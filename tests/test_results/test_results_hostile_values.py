"""tools/analysis_tools/results_table.py (and tools/sweep.py --status,
which builds the same table) over run dirs holding values no table can
use: an infinite CE, non-finite or overflowing test records, corruption
cells without images or of the extra corruptions only, predictions files
that load_predictions refuses, predictions of another test, cells whose
every run is left out. Each is named in the notes with the reason, left
out of the statistics, and the rest of every table is written."""
import csv
import json
import os
import os.path as osp

import numpy as np
import pytest
from launch_utils import run_cli
from results_fixtures import (RHO, write_branch_preds,
                              write_corruption_preds, write_run)

from emoreg_mm.evaluation.robustness import (CORRUPTIONS, EXTRA_CORRUPTIONS,
                                             predictions_path)

TOOL = 'analysis_tools/results_table.py'
RECORD = osp.join('20260101_000000', '20260101_000000.json')


def table(root, out):
    """The tool over every run dir of ``root``: (markdown written, the
    report's CSV rows of ``OUT_<which>.csv`` as dicts by mode)."""
    code, printed = run_cli(TOOL, osp.join(root, '*'), '--out', out)
    assert code == 0, printed
    text = open(f'{out}.md').read()
    assert printed.startswith(text)
    return text


def csv_rows(path, column='mode'):
    """A CSV as dicts by ``column``."""
    with open(path) as f:
        return {r[column]: r for r in csv.DictReader(f)}


def every_corruption(accuracy, **other):
    """Severity 1 of the 15 corruptions at ``accuracy``, ``other`` apart."""
    return {c: {1: other.get(c, accuracy)} for c in CORRUPTIONS}


def test_an_undefined_ce_leaves_its_seed_out_of_the_mce(tmp_path):
    """A baseline without error on fog (CE = x / 0) and one that loses no
    accuracy there (relative CE = x / 0) used to stop the whole table with
    AttributeError from statistics.stdev; each seed is now left out of
    the measure it cannot enter, named."""
    root, out = str(tmp_path / 'runs'), str(tmp_path / 'results')
    base = {0: every_corruption(.5, fog=1.), 1: every_corruption(.5),
            2: every_corruption(.5, fog=.75)}
    for seed in (0, 1, 2):  # clean accuracy .75 for all
        write_corruption_preds(write_run(root, f'base{seed}', 'baseline',
                                         seed, 90 + seed,
                                         correct=[1, 1, 1, 0]), base[seed])
        write_corruption_preds(write_run(root, f'ereg{seed}', 'ereg', seed,
                                         91 + seed, correct=[1, 1, 1, 0]),
                               every_corruption(.75))
    text = table(root, out)
    row = csv_rows(f'{out}_robustness.csv')['ereg']
    # CE .25 / .5 on every corruption; seed 2's fog .25 / .25
    assert row['mCE n'] == '2'
    assert float(row['mCE mean']) == pytest.approx(
        (50 + (14 * 50 + 100) / 15) / 2, abs=1e-4)
    assert row['mCE - 100 ci low'] and row['mCE - 100 ci high']
    # relative, seeds 0 and 1: (.75 - .75) / (.75 - .5), fog of seed 0
    # (.75 - .75) / (.75 - 1) = 0
    assert float(row['relative mCE mean']) == pytest.approx(0., abs=1e-4)
    assert (f'tiny emoset ereg on cifar10 mCE, seed 0: {root}/base0 '
            '(baseline) made no error on fog: its CE is undefined (a '
            'division by zero); left out of the mCE.') in text
    assert (f'tiny emoset ereg on cifar10 mCE, seed 2: {root}/base2 '
            '(baseline) lost no accuracy on fog: its relative CE is '
            'undefined (a division by zero); left out of the relative '
            'mCE.') in text
    assert 'nan' not in text.lower() and 'inf ' not in text


@pytest.mark.parametrize('record,reason', [
    ('NaN', 'nan, not a finite number'),
    ('Infinity', 'inf, not a finite number'),
    ('-1e999', '-inf, not a finite number'),
    ('-1.7e308', '-1.7e+308, beyond +-1e+300 (sums and differences of such '
     'values overflow)')])
def test_a_test_record_that_is_not_a_number_is_named(tmp_path, record,
                                                     reason):
    """Not read, named; a finite result so large that a difference of two
    overflows (which stopped the table in statistics.stdev) too."""
    root, out = str(tmp_path / 'runs'), str(tmp_path / 'results')
    for seed in (0, 1):
        write_run(root, f'base{seed}', 'baseline', seed, 90 + seed)
        write_run(root, f'ereg{seed}', 'ereg', seed, 91 + seed)
    bad = write_run(root, 'ereg2', 'ereg', 2, 0)
    huge = 'e308' in record
    if huge:  # a difference with ereg2's overflows
        write_run(root, 'base2', 'baseline', 2, 1.7e308)
    with open(osp.join(bad, RECORD), 'w') as f:
        f.write('{"accuracy/top1": %s}' % record)
    text = table(root, out)
    assert f'{bad}/{RECORD}: \'accuracy/top1\' is {reason}; not read.' \
        in text
    assert f'{bad}: no \'accuracy/top1\' evaluation.' in text
    assert huge == (f"{root}/base2/{RECORD}: 'accuracy/top1' is 1.7e+308, "
                    'beyond' in text)
    assert '| tiny | - | baseline | 90.50 ± 0.71 (n=2) |' in text
    assert '| tiny | emoset | ereg | 91.50 ± 0.71 (n=2) | +1.00' in text


def test_corruption_cells_without_images_or_of_extra_corruptions(tmp_path):
    """A cell of 0 images is refused by name and its run left out of the
    Robustness table; a run evaluated on the extra corruptions alone (a
    mean over none of the 15, NaN, which used to stop the table) too."""
    root, out = str(tmp_path / 'runs'), str(tmp_path / 'results')
    for seed in (0, 1, 2):
        write_corruption_preds(write_run(root, f'base{seed}', 'baseline',
                                         seed, 90 + seed),
                               every_corruption(.5))
        write_corruption_preds(write_run(root, f'ereg{seed}', 'ereg', seed,
                                         91 + seed), every_corruption(.75))
    write_corruption_preds(write_run(root, 'const0', 'const', 0, 90),
                           {c: {1: .5} for c in EXTRA_CORRUPTIONS})
    empty = predictions_path(osp.join(root, 'ereg2'), 'fog', 1)
    np.savez(empty, sample_idx=np.zeros(0, int), gt_label=np.zeros(0, int),
             pred_label=np.zeros(0, int),
             pred_score=np.zeros((0, 10), np.float32))
    text = table(root, out)
    rows = csv_rows(f'{out}_robustness.csv')
    assert set(rows) == {'baseline', 'ereg'}
    assert rows['ereg']['seeds'] == '2' and rows['ereg']['mCE n'] == '2'
    assert (f'{empty}: pred_score has shape (0, 10); expected at least one '
            'image and one class; not in the robustness table.') in text
    assert (f'{root}/const0: no cell of the 15 corruptions (only the extra '
            'ones); not in the robustness table.') in text
    assert '| tiny | emoset | const | 90.00 ± 0.00 (n=1) |' in text


def rewrite(path, **arrays):
    """``path`` (a predictions file) with ``arrays`` replaced."""
    with np.load(path) as npz:
        found = dict(npz)
    np.savez(path, **dict(found, **arrays))
    return path


def branch_runs(root, seeds=(0, 1)):
    """baseline, const and ereg runs with predictions of N, I and rho."""
    for seed in seeds:
        for mode, rho in (('baseline', None), ('const', np.full(8, .5)),
                          ('ereg', RHO)):
            write_branch_preds(write_run(root, f'{mode}{seed}', mode, seed,
                                         90. + seed + (mode == 'ereg')),
                               rho)


@pytest.mark.parametrize('key,value,reason', [
    ('gt_label', 3, "'gt_label' is 3 (outside the classes 0..2 of "
     'pred_score) in 1 of 8 rows (first: row 5)'),
    ('gt_label', np.nan, "'gt_label' is NaN or infinite, not a class index, "
     'in 1 of 8 rows (first: row 5)'),
    ('pred_label', -1, "'pred_label' is -1 (outside the classes 0..2 of "
     'pred_score) in 1 of 8 rows (first: row 5)'),
    ('pred_score', np.nan, "'pred_score' has NaN or infinite values "
     '(diverged outputs?) in 1 of 8 rows (first: row 5)'),
])
def test_a_refused_predictions_file_is_named_per_run(tmp_path, key, value,
                                                     reason):
    """One run's file that load_predictions refuses (a label out of range
    used to be an IndexError): named with the reason where each table
    would have read it; that run's seed is left out of those tables."""
    root, out = str(tmp_path / 'runs'), str(tmp_path / 'results')
    branch_runs(root)
    path = osp.join(root, 'ereg1', 'predictions.npz')
    with np.load(path) as npz:
        bad = npz[key].astype(float if np.isnan(value) else npz[key].dtype)
    bad[5] = value
    rewrite(path, **{key: bad})
    text = table(root, out)
    assert f'- {path}: {reason}; no McNemar test.' in text
    assert f'- {path}: {reason}; no branch analysis or calibration.' in text
    rows = csv_rows(f'{out}_analysis.csv')
    assert rows['ereg']['seeds with predictions'] == '1'
    assert rows['const']['seeds with predictions'] == '2'
    assert '| tiny | emoset | ereg | 91.50 ± 0.71 (n=2) | +1.00' in text


@pytest.mark.parametrize('hours', [-1, 1])
def test_predictions_of_another_test_are_not_tabled(tmp_path, hours):
    """A predictions.npz written an hour before (or after) the test record
    whose value is tabled came from another test: named, and left out of
    the McNemar test, the Branches / Calibration tables and the relative
    mCE. The others' files, written with their records, are used."""
    root, out = str(tmp_path / 'runs'), str(tmp_path / 'results')
    branch_runs(root)
    # clean accuracy: baseline 4/8, ereg 5/8 (results_fixtures)
    for name, accuracy in (('baseline0', .25), ('baseline1', .25),
                           ('ereg0', .5), ('ereg1', .75)):
        write_corruption_preds(osp.join(root, name),
                               every_corruption(accuracy))
    path = osp.join(root, 'ereg1', 'predictions.npz')
    record = osp.join(root, 'ereg1', RECORD)
    when = os.stat(record).st_mtime + 3600 * hours
    os.utime(path, (when, when))
    text = table(root, out)
    assert (f'- {path}: written 3600 s {"before" if hours < 0 else "after"} '
            f'the test record {record}, so not by that test (another '
            "checkpoint's predictions?); not used: no branch analysis, "
            'calibration, McNemar test or relative mCE for this run.') in text
    main = csv_rows(f'{out}.csv')
    assert main['ereg']['cifar10 McNemar vs const b/c'] == 'seed 0: 2/1'
    rows = csv_rows(f'{out}_analysis.csv')
    assert rows['ereg']['seeds with predictions'] == '1'
    assert rows['const']['seeds with predictions'] == '2'
    robust = csv_rows(f'{out}_robustness.csv')['ereg']
    assert robust['mCE n'] == '2'
    # relative CE of seed 0 alone: (.625 - .5) / (.5 - .25); seed 1's
    # would be (.625 - .75) / .25
    assert robust['relative mCE mean'] == '50.0000'
    assert text.count('not by that test') == 1


def test_predictions_written_with_their_record_are_used(tmp_path):
    """The test writes its predictions as its evaluation ends and the
    record right after: a few seconds apart either way is the same
    test."""
    root, out = str(tmp_path / 'runs'), str(tmp_path / 'results')
    branch_runs(root)
    for name in ('ereg0', 'ereg1'):
        record = osp.join(root, name, RECORD)
        when = os.stat(record).st_mtime - 30
        os.utime(osp.join(root, name, 'predictions.npz'), (when, when))
    text = table(root, out)
    assert 'not by that test' not in text
    assert csv_rows(f'{out}_analysis.csv')['ereg'][
        'seeds with predictions'] == '2'


def test_a_cell_whose_every_run_is_left_out_prints_as_such(tmp_path):
    """Two runs at one seed are neither paired: a Robustness cell with no
    run left (which stopped the table with StatisticsError) and a
    Branches cell print that, with the reason in the notes."""
    root, out = str(tmp_path / 'runs'), str(tmp_path / 'results')
    write_corruption_preds(write_run(root, 'base0', 'baseline', 0, 90),
                           every_corruption(.5))
    write_branch_preds(osp.join(root, 'base0'))
    for name in ('ereg0', 'ereg0-again'):
        work_dir = write_run(root, name, 'ereg', 0, 91)
        write_corruption_preds(work_dir, every_corruption(.75))
        write_branch_preds(work_dir, RHO)
    text = table(root, out)
    assert (f'tiny emoset ereg on cifar10: 2 runs at seed 0 ({root}/ereg0, '
            f'{root}/ereg0-again); not paired.') in text
    assert ('| tiny | emoset | ereg | cifar10 | 0 | - | no run left, see the '
            'notes | not paired |') in text
    assert ('tiny emoset ereg on cifar10: no branch analysis (no run left, '
            'see the notes).') in text
    assert ('tiny emoset ereg on cifar10: no calibration (no run left, see '
            'the notes).') in text
    robust = csv_rows(f'{out}_robustness.csv')['ereg']
    assert robust['seeds'] == '0' and robust['mean corruption accuracy mean'] \
        == '' and robust['vs baseline mean'] == ''
    assert 'nan' not in open(f'{out}_robustness.csv').read()


def sweep_done(tmp_path, values):
    """A demo sweep of baseline and ereg at seed 0 whose runs all report
    done, each stage-2 run dir as tools/test.py leaves it (``values``: its
    test result by mode, a string written as it is)."""
    from emoreg_mm import experiments as ex
    runs = ex.Sweep('demo', modes=['baseline', 'ereg'], seeds=[0],
                    work_root=str(tmp_path / 'work_dirs' / 'sweep')).runs()
    for run in runs:
        if run.stage == 2:
            mode = run.key[1]
            write_run(osp.dirname(run.work_dir), run.name, mode, 0, 0)
            with open(osp.join(run.work_dir, RECORD), 'w') as f:
                f.write('{"accuracy/top1": %s}' % values[mode])
        os.makedirs(run.work_dir, exist_ok=True)
        for name, state in (('sweep_submit.json', dict(
                job=1, attempt=1, scheduler='local')),
                ('sweep_status.json', dict(state='done', job=1))):
            with open(osp.join(run.work_dir, name), 'w') as f:
                json.dump(state, f)
    return [r for r in runs if r.stage == 2]


def test_the_sweep_status_survives_runs_without_a_usable_result(
        tmp_path, monkeypatch):
    """tools/sweep.py --status over a sweep that is done builds the table:
    a run with a NaN record is named; where no run is left, that is said
    (it was a NoRunsError traceback) and the status still shown."""
    monkeypatch.chdir(tmp_path)
    args = ('--preset', 'demo', '--modes', 'baseline', 'ereg', '--seeds',
            '0', '--status')
    runs = sweep_done(tmp_path, dict(baseline='90.5', ereg='NaN'))
    code, out = run_cli('sweep.py', *args)
    assert code == 0, out
    ereg, base = (osp.relpath(r.work_dir, tmp_path) for r in runs[::-1])
    assert f"{ereg}/{RECORD}: 'accuracy/top1' is nan" in out
    assert '| tiny | - | baseline | 90.50 ± 0.00 (n=1) |' in out
    assert 'Results table: ' in out
    with open(osp.join(base, RECORD), 'w') as f:
        f.write('{"accuracy/top1": Infinity}')
    code, out = run_cli('sweep.py', *args)
    assert code == 0, out
    assert 'done: 3' in out
    assert "No results table: No evaluated runs found in [" in out
    assert f"{base}/{RECORD}: 'accuracy/top1' is inf" in out
