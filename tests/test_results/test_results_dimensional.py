"""A dimensional affective state (valence, arousal) in the analyses, the
results tables, the per-image explanations and the plots: what the run's
config says decides, and no emotion is named where there is none."""
import csv
import os.path as osp

import numpy as np
import pytest
import torch
from results_fixtures import GT, P_I, P_N, RHO, write_branch_preds, write_run
from scipy import stats

from emoreg_mm import matrix
from emoreg_mm.engine.hooks.regulation_monitor_hook import regulation_stats
from emoreg_mm.evaluation import load_predictions
from emoreg_mm.evaluation.analysis import (affect_analysis, affect_of_config,
                                           infer_affect)
from emoreg_mm.models.dimensional_regulators import DIMENSIONAL_MODES
from emoreg_mm.results import build_report
from emoreg_mm.results.accuracy import row_order
from emoreg_mm.visualization import regulation
from emoreg_mm.visualization.analysis import rho_vs_arousal_figure
from launch_utils import run_cli

VA = ['valence', 'arousal']
DIMENSIONAL = dict(affect_space='dimensional', emotion_classes=VA)
# rho = (arousal + 1) / 2 on the fixtures' eight images: only I was right
# on images 2 and 3 (counted from 0), only N on 1 and 6
AROUSAL = 2 * RHO - 1
VALENCE = np.array([.1, -.5, .3, .9, -.9, 0., .2, .4])
AFFECT = np.stack([VALENCE, AROUSAL], 1).astype(np.float32)


def dimensional_preds(work_dir):
    """The fixtures' branch predictions of an arousal-reg run."""
    return write_branch_preds(work_dir, RHO, extra=dict(affect_score=AFFECT))


def test_the_config_says_what_the_state_is():
    assert affect_of_config(dict(model=dict(head=DIMENSIONAL))) == dict(
        space='dimensional', names=VA)
    assert affect_of_config(dict(model=dict(head=dict()),
                                 emotion_classes=('a', 'b'))) == dict(
        space='categorical', names=['a', 'b'])
    assert affect_of_config({})['space'] == 'categorical'
    # without a config: the predictions' own word
    softmax = np.full((2, 3), 1 / 3)
    assert infer_affect(dict(affect_score=AFFECT))['space'] == 'dimensional'
    assert infer_affect(dict(affect_score=softmax))['space'] == 'categorical'
    assert infer_affect(dict(affect_score=AFFECT,
                             affect_class=np.array(['a'] * 8))
                        )['space'] == 'categorical'
    assert infer_affect(dict(rho=RHO)) is None


def test_affect_analysis_by_dimension_and_arousal(tmp_path):
    preds = load_predictions(dimensional_preds(str(tmp_path)))
    result, why = affect_analysis(preds, dict(space='dimensional',
                                              names=VA))
    assert why == '' and result['names'] == VA and result['images'] == 8
    assert result['mean']['arousal'] == pytest.approx(AROUSAL.mean())
    assert result['rho_r']['arousal'] == pytest.approx(1)
    assert result['rho_r']['valence'] == pytest.approx(
        stats.pearsonr(RHO, VALENCE)[0])
    assert result['only_i']['arousal'] == pytest.approx(.6)  # .4, .8
    assert result['only_n']['arousal'] == pytest.approx(0.)  # -.6, .6
    assert result['only_i']['valence'] == pytest.approx(.6)  # .3, .9
    low, middle, high = result['bins']
    assert [b['images'] for b in result['bins']] == [1, 3, 4]
    assert low['rho'] == pytest.approx(.2)
    assert high['rho'] == pytest.approx((.7 + .9 + .9 + .8) / 4)
    # image 1: N right, I wrong, the fused model (rho .2) right
    assert (low['fused'], low['n'], low['i']) == (1., 1., 0.)
    assert middle['n'] == pytest.approx(
        np.mean(P_N[[0, 5, 7]].argmax(1) == GT[[0, 5, 7]]))
    # a categorical state, or none: nothing by dimension
    assert affect_analysis(preds, dict(space='categorical'))[0] is None
    no_affect = {k: v for k, v in preds.items() if k != 'affect_score'}
    assert affect_analysis(no_affect, dict(space='dimensional'))[0] is None


def test_dimensional_modes_follow_the_matrix_modes():
    modes = matrix.ALL_MODES
    assert modes[:len(matrix.MODES)] == tuple(matrix.MODES)
    assert set(modes) >= set(DIMENSIONAL_MODES)
    rows = [('r', 'x', m) for m in ('my-own', 'learn-va-reg', 'ereg',
                                    'arousal-reg', 'const', 'baseline')]
    dimensional = sorted(DIMENSIONAL_MODES, key=modes.index)
    assert [m for _, _, m in sorted(rows, key=row_order)] == [
        'baseline', 'const', 'ereg'] + dimensional + ['my-own']


@pytest.fixture
def dimensional_runs(tmp_path):
    """arousal-reg on naps and on naps-shuffled and const on naps (no
    E, no affective state), two seeds, beside a categorical ereg run."""
    root = str(tmp_path / 'runs')
    for seed in (0, 1):
        for mode, affective in (('arousal-reg', 'naps'),
                                ('arousal-reg', 'naps-shuffled'),
                                ('const', 'naps')):
            work = write_run(root, f'{mode}_{affective}{seed}', mode, seed,
                             60. + seed, affective=affective, stage1=True,
                             head=DIMENSIONAL)
            if mode == 'const':
                write_branch_preds(work, np.full(8, .5))
            else:
                dimensional_preds(work)
        write_branch_preds(write_run(root, f'ereg{seed}', 'ereg', seed, 61.,
                                     stage1=True), RHO,
                           extra=dict(affect_score=np.full(
                               (8, 2), .5, dtype=np.float32)))
    return root


def test_results_tables_carry_valence_and_arousal(dimensional_runs,
                                                  tmp_path):
    out = str(tmp_path / 'results')
    report = build_report([osp.join(dimensional_runs, '*')], out=out)
    modes = [(r[1], r[2]) for r in report['rows']]
    assert modes.index(('naps', 'arousal-reg')) > modes.index(
        ('emoset', 'ereg'))
    rows = {(r[1], r[2]): dict(zip(report['affect_header'], r))
            for r in report['affect_rows']}
    # the categorical run and const (no E) have no row
    assert set(rows) == {('naps', 'arousal-reg'),
                         ('naps-shuffled', 'arousal-reg')}
    row = rows['naps', 'arousal-reg']
    assert row['seeds with predictions'] == 2
    assert float(row['r(rho, arousal) mean']) == pytest.approx(1)
    assert float(row['arousal only I right']) == pytest.approx(.6)
    assert float(row['arousal high images per seed']) == 4
    assert float(row['arousal low top1 N']) == 100
    with open(f'{out}_affect.csv') as f:
        assert next(csv.reader(f)) == report['affect_header']
    markdown = report['markdown']
    assert 'naps (valence, arousal), naps-shuffled (valence, arousal)' in \
        markdown
    table = markdown.split('## Affective state (dimensional)')[1]
    assert '| r(rho, valence) | r(rho, arousal) |' in table
    assert 'emoset' not in table and 'ereg |' not in table
    assert 'amusement' not in markdown


def test_categorical_runs_have_no_affective_state_table(tmp_path):
    root = str(tmp_path / 'runs')
    for seed in (0, 1):
        write_branch_preds(write_run(root, f'ereg{seed}', 'ereg', seed, 61.,
                                     stage1=True), RHO)
    report = build_report([osp.join(root, '*')], out=str(tmp_path / 'r'))
    assert report['affect_rows'] == []
    assert 'Affective state' not in report['markdown']
    assert 'dimensional state' not in report['markdown']
    assert not osp.exists(str(tmp_path / 'r_affect.csv'))


def test_rho_against_arousal_has_labelled_axes(tmp_path):
    preds = load_predictions(dimensional_preds(str(tmp_path)))
    fig = rho_vs_arousal_figure(preds, dict(space='dimensional', names=VA),
                                'run')
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith('arousal')
    assert ax.get_ylabel().startswith('rho')
    assert ax.get_xlim()[0] < -1 and ax.get_xlim()[1] > 1
    assert 'r(rho, valence) = ' in ax.get_title()
    assert 'r(rho, arousal) = +1.00' in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ['only I right (2)', 'only N right (2)',
                      'both or neither right (4)']


def test_explanations_list_valence_arousal_or_the_emotions(tmp_path):
    preds = load_predictions(dimensional_preds(str(tmp_path)))
    header, rows = regulation.explanations(
        preds, ['x', 'y', 'z'], dict(space='dimensional', names=VA))
    assert header == ['sample_idx', 'gt_class', 'pred_class', 'pred_score',
                      'rho', 'pred_class_n', 'pred_class_i', 'valence',
                      'arousal']
    assert rows[1][:3] == [1, 'x', 'x']
    assert [float(rows[1][k]) for k in (4, -2, -1)] == pytest.approx(
        [RHO[1], VALENCE[1], AROUSAL[1]], abs=1e-4)
    categorical = dict(preds, affect_score=np.eye(3)[GT].astype(np.float32),
                       affect_class=np.array(['calm', 'joy', 'fear'])[GT])
    header, rows = regulation.explanations(categorical, None, None,
                                           ['calm', 'joy', 'fear'])
    assert header[-4:] == ['affect_class', 'affect calm', 'affect joy',
                           'affect fear']
    assert rows[4][-4:] == ['joy', '0.0000', '1.0000', '0.0000']


def test_plot_regulation_without_a_config_reads_the_dimensions(tmp_path):
    """Predictions alone (no run dir config beside them): a state no
    softmax gives is read as valence, arousal, and said so."""
    preds = dimensional_preds(str(tmp_path))
    code, printed = run_cli('analysis_tools/plot_regulation.py', '--preds',
                            preds)
    assert code == 0, printed
    assert 'read as dimensional: valence, arousal' in printed
    assert printed.count('read as dimensional') == 1
    for name in ('affect_per_class.png', 'rho_vs_arousal.png',
                 'explanations.csv'):
        assert osp.isfile(tmp_path / name), name
    with open(tmp_path / 'explanations.csv') as f:
        assert next(csv.reader(f))[-2:] == VA


def test_the_monitor_logs_no_top_emotion_of_a_dimensional_state():
    rho, affect = torch.tensor([.2, .9]), torch.tensor([[.1, -.6],
                                                        [-.3, .8]])
    stats_ = regulation_stats(rho, affect, VA, 'val_', top=False)
    assert stats_['val_affect/arousal'] == pytest.approx(.1)
    assert not any('affect_top' in k for k in stats_)
    assert 'val_affect_top/valence' in regulation_stats(rho, affect, VA,
                                                        'val_')
