"""emoreg_mm.results: the Robustness table (mean corruption accuracy, mCE,
relative mCE) by hand on constructed corruption predictions."""
import csv
import os.path as osp

import numpy as np
import pytest
from results_fixtures import write_corruption_preds, write_run
from scipy import stats

from emoreg_mm.results import build_report


def test_robustness_table(tmp_path):
    """Mean corruption accuracy paired like accuracy; mCE and relative mCE
    against the baseline run of each seed, by hand."""
    root = str(tmp_path)
    base = {'gaussian_noise': {1: .5, 2: .25}, 'fog': {1: .75, 2: .5}}
    ereg = {0: {'gaussian_noise': {1: .75, 2: .5}, 'fog': {1: .75, 2: .75}},
            1: {'gaussian_noise': {1: .5, 2: .5}, 'fog': {1: 1., 2: .5}}}
    const = {'gaussian_noise': {1: .5, 2: .5}, 'fog': {1: .5, 2: .5}}
    for seed in (0, 1):
        write_corruption_preds(write_run(root, f'base{seed}', 'baseline',
                                         seed, 90, correct=[1, 1, 1, 0]),
                               base)
        write_corruption_preds(write_run(root, f'const{seed}', 'const', seed,
                                         90), const)
        write_corruption_preds(write_run(root, f'ereg{seed}', 'ereg', seed,
                                         91, correct=[1, 1, 1, 1]),
                               ereg[seed])
    # other cells than its baseline's: no mCE, said
    write_corruption_preds(write_run(root, 'learn0', 'learn-ereg', 0, 91),
                           {'gaussian_noise': {1: .5, 2: .5}})
    table = build_report([osp.join(root, '*')],
                         out=osp.join(root, 'results'))
    header = table['robustness_header']
    rows = {r[2]: dict(zip(header, r)) for r in table['robustness_rows']}
    assert float(rows['baseline']['mean corruption accuracy mean']) == 50.
    row = rows['ereg']
    # mean accuracy: (75 + 50 + 75 + 75) / 4 and (50 + 50 + 100 + 50) / 4
    assert float(row['mean corruption accuracy mean']) == pytest.approx(
        (68.75 + 62.5) / 2, abs=1e-4)
    diffs = [68.75 - 50, 62.5 - 50]
    assert float(row['vs baseline mean']) == pytest.approx(np.mean(diffs),
                                                           abs=1e-4)
    low, _ = stats.t.interval(0.95, 1, loc=np.mean(diffs),
                              scale=stats.sem(diffs))
    assert float(row['vs baseline ci low']) == pytest.approx(low, abs=1e-4)
    assert row['vs const n'] == 2 and row['vs const verdict']
    # CE = summed errors / the baseline's (gaussian_noise 1.25, fog 0.75)
    mce = [(0.75 / 1.25 + 0.5 / 0.75) / 2 * 100,
           (1.0 / 1.25 + 0.5 / 0.75) / 2 * 100]
    assert float(row['mCE mean']) == pytest.approx(np.mean(mce), abs=1e-4)
    assert row['mCE n'] == 2
    low, high = stats.t.interval(0.95, 1, loc=np.mean(mce) - 100,
                                 scale=stats.sem(mce))
    assert float(row['mCE - 100 ci low']) == pytest.approx(low, abs=1e-4)
    assert float(row['mCE - 100 ci high']) == pytest.approx(high, abs=1e-4)
    # relative: accuracy lost from clean (1.0; baseline 0.75), relative
    relative = [((.25 + .5) / (.25 + .5) + (.25 + .25) / (0 + .25)) / 2,
                ((.5 + .5) / (.25 + .5) + (0 + .5) / (0 + .25)) / 2]
    assert float(row['relative mCE mean']) == pytest.approx(
        100 * np.mean(relative), abs=1e-4)
    # a mean over other cells is neither paired nor given an mCE
    assert rows['learn-ereg']['mCE n'] == 0
    assert rows['learn-ereg']['vs baseline verdict'] == 'not paired'
    assert rows['learn-ereg']['vs baseline n'] == 0
    notes = '\n'.join(table['analysis_notes'])
    assert 'evaluated on different corruption x severity cells' in notes
    assert f'{osp.join(root, "base0")}: 71 of the 75' in notes
    assert '## Robustness' in table['markdown']
    with open(osp.join(root, 'results_robustness.csv')) as f:
        assert len(list(csv.reader(f))) == 1 + 4
