"""emoreg_mm.results: the Branches and Calibration tables from saved
predictions, by hand on eight images (results_fixtures.P_N, P_I)."""
import csv
import os.path as osp

import numpy as np
import pytest
from results_fixtures import (GT, P_I, P_N, RHO, assert_paired,
                              write_branch_preds, write_run)
from scipy import stats

from emoreg_mm.evaluation import load_predictions, save_predictions
from emoreg_mm.evaluation.analysis import calibration
from emoreg_mm.results import build_report


def test_branches_and_calibration_table(tmp_path):
    root = str(tmp_path / 'runs')
    half = np.full(8, .5)
    ece = {}
    for seed, rho in ((0, RHO), (1, half)):
        for mode, r in (('baseline', None), ('const', half), ('ereg', rho)):
            work_dir = write_run(root, f'{mode}{seed}', mode, seed, 90.)
            path = write_branch_preds(work_dir, r)
            ece[mode, seed] = 100 * calibration(load_predictions(path))[0][
                'ece']
    old = write_run(root, 'old0', 'learn-ereg', 0, 90.)
    write_branch_preds(old, RHO, branches=False)  # saved before the keys
    bad = write_run(root, 'bad0', 'rand-learn-ereg', 0, 90.)
    write_branch_preds(bad, RHO, extra=dict(pred_score_i=np.zeros((8, 2))))
    out = str(tmp_path / 'results')
    table = build_report([osp.join(root, '*')], out=out)
    rows = {r[2]: dict(zip(table['analysis_header'], r))
            for r in table['analysis_rows']}

    ereg = rows['ereg']
    for key, value in (('N', 50.), ('I', 50.), ('const fusion', 50.),
                       ('either branch', 75.), ('oracle', 87.5)):
        assert float(ereg[f'top1 {key} mean']) == value, key
    assert float(ereg['top1 fused mean']) == (62.5 + 50.) / 2
    diffs = [12.5, 0.]  # fused - const fusion at seeds 0 and 1
    low, high = stats.t.interval(0.95, 1, loc=np.mean(diffs),
                                 scale=stats.sem(diffs))
    assert float(ereg['fused - const fusion mean']) == 6.25
    assert float(ereg['fused - const fusion ci low']) == pytest.approx(
        low, abs=1e-4)
    assert float(ereg['fused - const fusion ci high']) == pytest.approx(
        high, abs=1e-4)
    assert float(ereg['captured share mean']) == pytest.approx(
        (1 / 3 + 0) / 2, abs=1e-4)
    assert float(ereg['rho only I right mean']) == pytest.approx(
        (.8 + .5) / 2, abs=1e-4)
    assert float(ereg['rho only N right mean']) == pytest.approx(.5,
                                                                 abs=1e-4)
    assert float(ereg['rho only I - only N mean']) == pytest.approx(
        .15, abs=1e-4)
    d = [ece['ereg', s] - ece['const', s] for s in (0, 1)]
    assert float(ereg['ECE % vs const mean']) == pytest.approx(
        np.mean(d), abs=1e-4)
    assert ereg['ECE % vs const n'] == 2
    nll = -np.mean(np.log([.75, .52, .72, .46, .40, .10, .18, .72]))
    nll_half = -np.mean(np.log(
        (.5 * P_N + .5 * P_I)[np.arange(8), GT]))
    assert float(ereg['NLL mean']) == pytest.approx(
        (nll + nll_half) / 2, abs=1e-4)
    # const's fused model is const fusion: no share, blank here, - in md
    assert rows['const']['captured share mean'] == ''
    assert rows['const']['captured share n'] == ''
    assert rows['const']['ECE % vs const mean'] == '-'
    # the baseline has calibration, no branches
    assert rows['baseline']['top1 N mean'] == ''
    assert 'not a regulated model' in rows['baseline']['branches note']
    # an old file: blank branch columns and a note, calibration as usual
    old_row = rows['learn-ereg']
    assert old_row['top1 fused mean'] == '' and old_row['ECE % mean'] != ''
    assert 'saved before predictions carried them' in \
        old_row['branches note']
    notes = '\n'.join(table['analysis_notes'])
    assert 'tiny emoset learn-ereg on cifar10: no branch analysis' in notes
    # a malformed branch key: named with its file, the run left out here
    assert (f"{bad}/predictions.npz: 'pred_score_i' has shape (8, 2); "
            'expected (8, 3) like pred_score') in notes
    assert 'rand-learn-ereg' not in rows

    text = open(out + '.md').read()
    assert '## Branches' in text and '## Calibration' in text
    assert '15 equal-width bins' in text
    assert '| tiny | emoset | ereg | cifar10 | 2 | 50.00 ± 0.00 |' in text
    branches = text.split('## Branches')[1].split('## Calibration')[0]
    header, = [line for line in branches.splitlines()
               if line.startswith('| backbone |')]
    const_line, = [line for line in branches.splitlines()
                   if line.startswith('| tiny | emoset | const |')]
    const_cells = dict(zip(header.split(' | '), const_line.split(' | ')))
    assert const_cells['fused − const fusion'] == '-'
    assert const_cells['captured'] == '-'
    assert const_cells['fused − const fusion vs shuffled control'] == '-'
    assert 'ECE vs shuffled control' in text
    assert rows['ereg']['ECE % vs shuffled mean'] == \
        'no emoset-shuffled runs with predictions'
    assert '"-" for const, whose fused model is that fusion' in text
    header = next(csv.reader(open(out + '_analysis.csv')))
    assert header == table['analysis_header']
    png = open(out + '_forest.png', 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    assert table['forest'] == out + '_forest.png'


def test_n_alone_is_paired_with_the_baseline(tmp_path):
    """Each regulated run's N alone (P_N: 4 of 8 right) against the
    baseline's top-1 of the same seed: 3, 2, 5 of 8 right."""
    root = str(tmp_path)
    base_right = {0: 3, 1: 2, 2: 5}
    for seed, right in base_right.items():
        work_dir = write_run(root, f'base{seed}', 'baseline', seed, 90.)
        label = np.where(np.arange(8) < right, GT, (GT + 1) % 3)
        save_predictions(osp.join(work_dir, 'predictions.npz'), [
            dict(sample_idx=k, gt_label=int(GT[k]), pred_label=int(label[k]),
                 pred_score=np.eye(3)[label[k]]) for k in range(8)])
        write_branch_preds(write_run(root, f'ereg{seed}', 'ereg', seed, 90.),
                           RHO)
    write_branch_preds(write_run(root, 'const5', 'const', 5, 90.),
                       np.full(8, .5))  # no baseline at its seed
    table = build_report([osp.join(root, '*')])
    rows = {r[2]: dict(zip(table['analysis_header'], r))
            for r in table['analysis_rows']}
    ereg = rows['ereg']
    diffs = [50 - 12.5 * base_right[s] for s in (0, 1, 2)]  # 12.5, 25, -12.5
    assert float(ereg['N alone - baseline top1 mean']) == pytest.approx(
        25 / 3, abs=1e-4)
    low, high = assert_paired(ereg, 'N alone - baseline top1', diffs,
                              'no evidence')
    assert rows['const']['N alone - baseline top1 mean'] == 'not paired'
    assert 'N alone vs baseline top-1: seeds without a partner' in \
        '\n'.join(table['analysis_notes'])
    assert '| N − baseline |' in table['markdown']
    assert f'+8.33 [{low:+.2f}, {high:+.2f}] (n=3): no evidence' in \
        table['markdown']


def test_a_table_without_predictions_says_so(tmp_path):
    write_run(str(tmp_path), 'base0', 'baseline', 0, 90.)
    write_run(str(tmp_path), 'const0', 'const', 0, 91.)
    table = build_report([str(tmp_path / '*')],
                         out=str(tmp_path / 'results'))
    assert table['analysis_header'] is None
    assert 'no run dir holds a readable predictions.npz' in table['markdown']
    assert '## Branches' not in table['markdown']
    assert (tmp_path / 'results_forest.png').is_file()  # one pair, no CI
