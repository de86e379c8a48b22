"""A dimensional affective state from stage 2 to the results: tiny runs of
baseline, const and arousal-reg through tools/train.py and tools/test.py
on a stage 1 of valence and arousal (``naps``) and on its shuffled control
(``naps-shuffled``), two seeds each; then results_table.py, plot_analysis.py
and plot_regulation.py on their work dirs."""
import csv
import glob
import os.path as osp

import pytest
from engine_configs import write_regulated_config
from launch_utils import run_cli, run_tool

VA = ('valence', 'arousal')
#: mode -> the regulator the head is given.
REGULATORS = {'baseline': 'baseline', 'const': 'const',
              'arousal-reg': 'ArousalRegulator'}
SEEDS = (0, 1)


def stage2(tmp_path, config, mode, affective, seed):
    """Train one epoch and test on the held-out images with predictions
    saved; the run's tags as a leaf sets them. Returns its work dir."""
    work = str(tmp_path / 'work_dirs' / f'{mode}_{affective}_s{seed}')
    run_tool('train.py', config, '--work-dir', work, '--cfg-options',
             f'model.head.regulator={REGULATORS[mode]}',
             f'randomness.seed={seed}', '--cfg-add',
             'model.head.affect_space=dimensional', f'emoreg_mode={mode}',
             f'emoreg_affective={affective}', 'emoreg_backbone=tiny-resnet',
             'emoreg_target=digits')
    # the dumped config holds the run's tags, seed and affect space
    dumped = osp.join(work, osp.basename(config))
    run_tool('test.py', dumped, osp.join(work, 'epoch_1.pth'), '--work-dir',
             work, '--out', osp.join(work, 'predictions.npz'))
    return work


@pytest.fixture(scope='module')
def dimensional_runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('dimensional')
    configs = {}
    # the control's stage 1: other weights, the same two dimensions
    for affective, seed in (('naps', 7), ('naps-shuffled', 8)):
        config = write_regulated_config(
            tmp_path, max_epochs=1, emotions=VA, name=f'{affective}.py',
            stage1_seed=seed)
        with open(config, 'a') as f:  # tested on the held-out images
            f.write('test_dataloader = val_dataloader\n'
                    'test_evaluator = val_evaluator\ntest_cfg = dict()\n')
        configs[affective] = config
    for seed in SEEDS:
        for mode in REGULATORS:
            stage2(tmp_path, configs['naps'], mode, 'naps', seed)
        stage2(tmp_path, configs['naps-shuffled'], 'arousal-reg',
               'naps-shuffled', seed)
    return tmp_path


@pytest.mark.slow
def test_results_table_of_a_dimensional_state(dimensional_runs):
    root = dimensional_runs
    out = str(root / 'results')
    code, printed = run_cli('analysis_tools/results_table.py',
                            str(root / 'work_dirs' / '*'), '--out', out)
    assert code == 0, printed
    with open(f'{out}.csv') as f:
        rows = list(csv.DictReader(f))
    order = [(r['affective'], r['mode']) for r in rows]
    # baseline, const, then the new mode on the set and on its control
    assert order == [('naps', 'baseline'), ('naps', 'const'),
                     ('naps', 'arousal-reg'), ('naps-shuffled', 'arousal-reg')]
    by = {(r['affective'], r['mode']): r for r in rows}
    mode_row = by['naps', 'arousal-reg']
    assert mode_row['digits n'] == '2'
    # the mode against its shuffled control, paired over both seeds
    assert mode_row['digits vs shuffled n'] == '2', printed
    assert mode_row['digits vs const n'] == '2'
    # a control's own row is compared with baseline and const only
    assert by['naps-shuffled', 'arousal-reg']['digits vs shuffled mean'] == \
        '-'
    markdown = open(f'{out}.md').read()
    assert 'naps (valence, arousal), naps-shuffled (valence, arousal)' in \
        markdown
    line = next(x for x in markdown.splitlines()
                if x.startswith('| tiny-resnet | naps | arousal-reg |'))
    assert 'no naps-shuffled runs' not in line
    # the Affective state table names the dimensions, not emotions
    with open(f'{out}_affect.csv') as f:
        affect = {(r['affective'], r['mode']): r for r in csv.DictReader(f)}
    # const builds no E: no affective state to table
    assert set(affect) == {('naps', 'arousal-reg'),
                           ('naps-shuffled', 'arousal-reg')}
    reg = affect['naps', 'arousal-reg']
    assert reg['seeds with predictions'] == '2'
    # rho = (arousal + 1) / 2: a perfect correlation, where arousal varies
    assert float(reg['r(rho, arousal) mean']) == pytest.approx(1, abs=1e-3)
    assert '## Affective state (dimensional)' in markdown
    assert 'r(rho, arousal)' in markdown and 'amusement' not in markdown


@pytest.mark.slow
def test_plots_and_explanations_name_valence_and_arousal(dimensional_runs):
    work = str(dimensional_runs / 'work_dirs' / 'arousal-reg_naps_s0')
    preds = osp.join(work, 'predictions.npz')
    code, printed = run_cli('analysis_tools/plot_regulation.py', '--preds',
                            preds, '--out-dir', osp.join(work, 'plots'))
    assert code == 0, printed
    names = sorted(osp.basename(p) for p in glob.glob(
        osp.join(work, 'plots', '*')))
    assert names == ['affect_per_class.png', 'explanations.csv',
                     'rho_hist.png', 'rho_per_class.png',
                     'rho_vs_arousal.png']
    with open(osp.join(work, 'plots', 'explanations.csv')) as f:
        table = list(csv.DictReader(f))
    assert list(table[0])[-2:] == ['valence', 'arousal']
    assert 'affect_class' not in table[0]
    for row in table:
        assert float(row['rho']) == pytest.approx(
            (float(row['arousal']) + 1) / 2, abs=1e-3)
    code, printed = run_cli('analysis_tools/plot_analysis.py', preds)
    assert code == 0, printed
    assert f'wrote {osp.join(work, "rho_vs_arousal.png")}' in printed
    assert 'read as (valence, arousal)' not in printed  # the run's config
