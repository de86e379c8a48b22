"""emoreg_mm.results: the shuffled and untrained controls of each affective
set as references in every table, and which configs pair with them.

A random-projection gate stands in for E on X and on X-shuffled alike, its
branches specialised where the gate sends them: both beat const, so only
the comparison with the shuffled control says that nothing emotional
happened."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from results_fixtures import (write_corruption_preds, write_predictions,
                              write_run)

from emoreg_mm.results import build_report, config_differences, read_config
from emoreg_mm.results.accuracy import accuracy_table
from emoreg_mm.results.pairing import CONTROL_KEYS, control_of

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
IMAGES, CLASSES, FEATURES = 2000, 10, 16
SEEDS = (0, 1, 2)


def branch_scores(rng, right):
    """Class probabilities of a branch: a confident top class, the true one
    where ``right``, the next class elsewhere."""
    gt = np.arange(IMAGES) % CLASSES
    top = np.where(right, gt, (gt + 1) % CLASSES)
    scores = rng.uniform(0, 1, (IMAGES, CLASSES))
    scores[np.arange(IMAGES), top] += rng.uniform(4, 12, IMAGES)
    return scores / scores.sum(1, keepdims=True)


def gated_run(rng, image_features, gate=True):
    """(rho, p_N, p_I) of one run: with ``gate``, rho = sigmoid of a random
    projection of the image and each branch right on 80% of the images
    the gate sends to it, 50% elsewhere; else rho = 0.5 and each branch
    right on 65% of the images (const: nothing to specialise on)."""
    if gate:
        rho = 1 / (1 + np.exp(-image_features @ rng.normal(size=FEATURES)))
        right_i = rng.random(IMAGES) < np.where(rho > .5, .8, .5)
        right_n = rng.random(IMAGES) < np.where(rho > .5, .5, .8)
    else:
        rho = np.full(IMAGES, .5)
        right_i, right_n = (rng.random((2, IMAGES)) < .65)
    return rho, branch_scores(rng, right_n), branch_scores(rng, right_i)


@pytest.fixture(scope='module')
def gated_runs(tmp_path_factory):
    """baseline, const (no specialisation), ereg on emoset and on
    emoset-shuffled (each a random-projection gate), seeds 0-2: run dirs
    whose test top-1 is that of their saved predictions."""
    root = tmp_path_factory.mktemp('gated')
    rng = np.random.default_rng(7)
    features = rng.normal(size=(IMAGES, FEATURES))
    gt = np.arange(IMAGES) % CLASSES
    for seed in SEEDS:
        for name, mode, affective, gate in (
                ('baseline', 'baseline', 'emoset', None),
                ('const', 'const', 'emoset', False),
                ('ereg', 'ereg', 'emoset', True),
                ('ereg_shuffled', 'ereg', 'emoset-shuffled', True)):
            rho, p_n, p_i = gated_run(rng, features, bool(gate))
            score = p_n if gate is None else \
                (1 - rho[:, None]) * p_n + rho[:, None] * p_i
            top1 = 100 * (score.argmax(1) == gt).mean()
            work_dir = write_run(str(root), f'{name}{seed}', mode, seed,
                                 top1, affective=affective, stage1=True)
            write_predictions(work_dir, gt, score, *(
                () if gate is None else (rho, p_n, p_i)))
    return root


def test_only_the_shuffled_control_catches_a_random_gate(gated_runs,
                                                         tmp_path):
    report = build_report([str(gated_runs / '*')],
                          out=str(tmp_path / 'results'))
    rows = {(r[1], r[2]): dict(zip(report['header'], r))
            for r in report['rows']}
    ereg = rows['emoset', 'ereg']
    assert ereg['cifar10 vs const verdict'] == 'better'
    assert float(ereg['cifar10 vs const ci low']) > 2
    assert ereg['cifar10 vs shuffled verdict'] == 'no evidence'
    assert ereg['cifar10 vs shuffled adjusted verdict'] == 'no evidence'
    assert ereg['cifar10 vs shuffled n'] == len(SEEDS)
    # the control's own row: vs baseline and vs const only
    control = rows['emoset-shuffled', 'ereg']
    assert control['cifar10 vs shuffled mean'] == '-'
    assert control['cifar10 vs const mean'] == 'no const runs'
    assert control['cifar10 vs baseline verdict'] == 'better'
    assert 'vs untrained' not in ' '.join(report['header'])  # no such runs

    # Branches: both gates "lean the right way" and beat const fusion; the
    # same columns against the control find nothing
    branches = {(r[1], r[2]): dict(zip(report['analysis_header'], r))
                for r in report['analysis_rows']}
    for affective in ('emoset', 'emoset-shuffled'):
        row = branches[affective, 'ereg']
        assert row['rho only I - only N verdict'] == \
            'rho higher where only I was right', affective
        assert float(row['fused - const fusion ci low']) > 0, affective
        assert row['fused - const fusion verdict'] == ''  # described only
    row = branches['emoset', 'ereg']
    for column in ('fused - const fusion vs shuffled',
                   'rho only I - only N vs shuffled'):
        assert row[f'{column} verdict'] == 'no evidence', column
        assert row[f'{column} n'] == len(SEEDS), column
    text = report['markdown']
    branch_part = text.split('## Branches')[1].split('## Calibration')[0]
    assert 'leans' not in branch_part
    assert 'any input-dependent gate' in branch_part
    # Calibration and the forest plot have the control too
    assert 'ECE vs shuffled control' in text
    assert row['ECE % vs shuffled n'] == len(SEEDS)
    forest = []
    accuracy_table(report['runs'], forest)
    assert {(e['label'], e['ref']) for e in forest} == {
        ('tiny emoset ereg on cifar10', ref)
        for ref in ('baseline', 'const', 'shuffled')} | {
        ('tiny emoset const on cifar10', 'baseline'),
        ('tiny emoset-shuffled ereg on cifar10', 'baseline')}
    png = open(report['forest'], 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000


def test_captured_is_a_spread_and_a_pooled_ratio(gated_runs):
    """captured: mean ± std of the per-seed shares (k of m seeds) and
    sum(fused − const) / sum(oracle − const), by hand from each run's
    analysis."""
    report = build_report([str(gated_runs / '*')])
    row = {(r[1], r[2]): dict(zip(report['analysis_header'], r))
           for r in report['analysis_rows']}['emoset', 'ereg']
    runs = [r for r in report['runs']
            if (r['affective'], r['mode']) == ('emoset', 'ereg')]
    branch = [r['analysis']['branches'] for r in runs]
    shares = [(b['fused'] - b['const']) / (b['oracle'] - b['const'])
              for b in branch]
    assert float(row['captured share mean']) == pytest.approx(
        np.mean(shares), abs=1e-4)
    assert float(row['captured share std']) == pytest.approx(
        np.std(shares, ddof=1), abs=1e-4)
    assert (row['captured share n'], row['captured seeds']) == (3, 3)
    pooled = sum(b['fused'] - b['const'] for b in branch) / sum(
        b['oracle'] - b['const'] for b in branch)
    assert float(row['captured pooled']) == pytest.approx(pooled, abs=1e-4)
    assert (f'{np.mean(shares):.2f} ± {np.std(shares, ddof=1):.2f} (3 of 3 '
            f'seeds); pooled {pooled:.2f}') in report['markdown']


def test_a_missing_control_is_said_and_untrained_runs_add_a_column(
        tmp_path):
    root = str(tmp_path)
    for seed in SEEDS:
        write_run(root, f'base{seed}', 'baseline', seed, 90 + seed)
        for affective, bump in (('emoset', .5), ('fi', .3),
                                ('emoset-untrained', .4)):
            write_run(root, f'const_{affective}{seed}', 'const', seed,
                      90.2 + seed, affective=affective, stage1=True)
            write_run(root, f'ereg_{affective}{seed}', 'ereg', seed,
                      90 + seed + bump + .1 * seed, affective=affective,
                      stage1=True)
        for affective in ('emoset', 'fi'):
            write_corruption_preds(
                write_run(root, f'learn_{affective}{seed}', 'learn-ereg',
                          seed, 91, affective=affective, stage1=True),
                {'fog': {1: .5 + .25 * (affective == 'fi')}})
    report = build_report([osp.join(root, '*')])
    rows = {(r[1], r[2]): dict(zip(report['header'], r))
            for r in report['rows']}
    assert rows['fi', 'ereg']['cifar10 vs shuffled mean'] == \
        'no fi-shuffled runs'
    assert rows['fi', 'ereg']['cifar10 vs untrained mean'] == \
        'no fi-untrained runs'
    ereg = rows['emoset', 'ereg']
    diffs = [.5 - .4] * 3  # identical up to float rounding
    assert float(ereg['cifar10 vs untrained mean']) == pytest.approx(
        np.mean(diffs), abs=1e-4)
    assert ereg['cifar10 vs untrained n'] == 3
    assert rows['emoset-untrained', 'ereg'][
        'cifar10 vs untrained mean'] == '-'
    assert '| no fi-shuffled runs |' in report['markdown']
    assert 'cifar10 vs untrained control' in report['markdown']
    # Robustness: the control column, said missing where it is
    robustness = {r[1]: dict(zip(report['robustness_header'], r))
                  for r in report['robustness_rows']}
    assert robustness['fi']['vs shuffled mean'] == \
        'no fi-shuffled runs with corruption predictions'
    assert 'vs shuffled control' in report['markdown'].split(
        '## Robustness')[1]


def test_control_names():
    assert control_of('emoset-shuffled') == 'shuffled'
    assert control_of('diffused-emod-untrained') == 'untrained'
    assert control_of('diffused-emod') is None
    assert control_of('-shuffled') is None


def _dumped(tmp_path, leaf):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'emoreg', f'{leaf}.py'))
    cfg.dump(str(tmp_path / f'{leaf}.py'))
    return read_config(str(tmp_path / f'{leaf}.py'))


@pytest.mark.parametrize('backbone,affective', [('resnet18-cifar', ''),
                                                ('resnet50', 'fi')])
def test_the_control_leaves_pair_with_their_sets(tmp_path, backbone,
                                                 affective):
    """A control leaf differs from its set's leaf only by the control; any
    other change, another set's control or another vocabulary is refused
    by name."""
    x = affective or 'emoset'
    infix = f'_{affective}' if affective else ''
    own = _dumped(tmp_path, f'{backbone}_learn-ereg{infix}_cifar100')
    base = _dumped(tmp_path, f'{backbone}_baseline_cifar100')
    for control in ('shuffled', 'untrained'):
        cfg = _dumped(tmp_path, f'{backbone}_learn-ereg_{x}-{control}'
                      '_cifar100')
        assert config_differences(cfg, own) == [], control
        assert config_differences(cfg, base) == [], control
        changed = Config(cfg)
        changed.merge_from_dict({'optim_wrapper.optimizer.lr': 0.5})
        assert config_differences(changed.to_dict(), own) == [
            'optim_wrapper.optimizer.lr'], control
    untrained = _dumped(tmp_path, f'{backbone}_learn-ereg_{x}-untrained'
                        '_cifar100')
    other = dict(untrained, emoreg_affective='abstract-untrained')
    assert 'emoreg_affective' in config_differences(other, own)
    renamed = Config(untrained)
    renamed.merge_from_dict({'model.head.emotion_classes': ['a', 'b']})
    assert config_differences(renamed.to_dict(), own) == [
        'model/head.emotion_classes']
    # the control pieces' own options are not a difference the regulated
    # runs of one set may have
    assert set(CONTROL_KEYS) & set(untrained)
    plain = {k: v for k, v in untrained.items() if k not in CONTROL_KEYS}
    assert config_differences(plain, untrained) == sorted(
        f'{k}.{o}' for k in CONTROL_KEYS if k in untrained
        for o in untrained[k])
