"""The results table: paired statistics, refusals, and no code run from a
work dir."""
import csv
import glob
import json
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
from mmengine.config import Config
from scipy import stats

from launch_utils import run_tool
from plain_config import make_plain_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
import results_table as rt  # noqa: E402


def _run(tools, *cmd):
    """``python TOOL ARGS`` (forked from the warm tool server)."""
    code, out, err = tools.run(*cmd)
    assert code == 0, out[-2000:] + err[-2000:]
    return out


# -- statistics ----------------------------------------------------------
def test_paired_interval_matches_scipy():
    diffs = [0.3, -0.1, 0.8, 0.25, 0.4]
    ci = rt.paired_ci(diffs)
    low, high = stats.t.interval(0.95, len(diffs) - 1,
                                 loc=np.mean(diffs), scale=stats.sem(diffs))
    assert (ci['low'], ci['high']) == (pytest.approx(low),
                                       pytest.approx(high))
    assert ci['n'] == 5 and ci['mean'] == pytest.approx(np.mean(diffs))
    assert rt.verdict(ci) == 'no evidence'  # the interval holds zero
    assert rt.verdict(rt.paired_ci([1.0, 1.2, 0.9])) == 'better'
    assert rt.verdict(rt.paired_ci([-1.0, -1.2, -0.9])) == 'worse'
    assert rt.paired_ci([0.5])['low'] is None
    # Identical differences: no interval, no verdict, and a word on seeds.
    same = rt.paired_ci([0.5, 0.5, 0.5])
    assert (same['low'], same['high'], same['n']) == (None, None, 3)
    assert rt.verdict(same) == ('no evidence (n=3: identical differences, '
                                'no interval; did the seeds vary?)')


@pytest.mark.parametrize('b,c', [(0, 0), (3, 9), (12, 5), (40, 61), (1, 0),
                                 (700, 640), (5000, 5200)])
def test_mcnemar_matches_scipy_binomial_test(b, c):
    expected = 1. if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
    assert rt.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


# -- constructed run dirs --------------------------------------------------
def write_run(root, name, mode, seed, value, lr=0.1, val_split='val',
              correct=None, affective='emoset', target='cifar10',
              source='test'):
    """A work dir as training and tools/test.py leave it: the config that
    mmengine dumps (Config.dump), the test result (``source='val'``: only
    the validation log) and, given ``correct``, per-image predictions."""
    work_dir = osp.join(root, name)
    stamp = osp.join(work_dir, '20260101_000000')
    os.makedirs(osp.join(stamp, 'vis_data'))
    data = dict(type='HeldOutCIFAR10', data_root='data/cifar10')
    cfg = dict(
        emoreg_backbone='tiny', emoreg_mode=mode, emoreg_target=target,
        randomness=dict(seed=seed, deterministic=False),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr)),
        val_dataloader=dict(dataset=dict(data, split=val_split)),
        test_dataloader=dict(dataset=dict(data, split='test')),
        model=dict(type='ImageClassifier', head=dict(num_classes=10)),
        work_dir=work_dir)
    if mode != 'baseline':
        cfg.update(emoreg_affective=affective, regulator=dict(type=mode),
                   emotion_classes=['a', 'b'], num_emotions=2)
    Config(cfg).dump(osp.join(work_dir, f'{name}.py'))
    if source == 'test':
        with open(osp.join(stamp, '20260101_000000.json'), 'w') as f:
            json.dump({'accuracy/top1': value}, f)
    else:
        with open(osp.join(stamp, 'vis_data', 'scalars.json'), 'w') as f:
            f.write(json.dumps({'accuracy/top1': value - 5, 'step': 1}) +
                    '\n' + json.dumps({'accuracy/top1': value, 'step': 2}) +
                    '\n')
    if correct is not None:
        from emoreg_mm.evaluation import save_predictions
        gt = np.arange(len(correct)) % 10
        save_predictions(osp.join(work_dir, 'predictions.npz'), [
            dict(sample_idx=i, gt_label=int(g),
                 pred_label=int(g if ok else (g + 1) % 10),
                 pred_score=np.eye(10)[g if ok else (g + 1) % 10])
            for i, (g, ok) in enumerate(zip(gt, correct))])
    return work_dir


def assert_paired(row, prefix, diffs, verdict):
    """``row``'s paired columns under ``prefix`` (mean, 95 % interval, n,
    verdict) against the mean and scipy's t interval of ``diffs``; returns
    the interval."""
    low, high = stats.t.interval(0.95, len(diffs) - 1, loc=np.mean(diffs),
                                 scale=stats.sem(diffs))
    for column, value in (('mean', np.mean(diffs)), ('ci low', low),
                          ('ci high', high)):
        assert float(row[f'{prefix} {column}']) == pytest.approx(
            value, abs=1e-4), (prefix, column)
    assert row[f'{prefix} n'] == len(diffs)
    assert row[f'{prefix} verdict'] == verdict
    return low, high


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
    table = rt.results_table([osp.join(root, '*')])
    rows = {tuple(r[:3]): dict(zip(table['header'], r))
            for r in table['rows']}

    row = rows[('tiny', 'emoset', 'ereg')]
    diffs = [ereg[s] - const[s] for s in (0, 1)]
    assert_paired(row, 'cifar10 vs const', diffs, 'no evidence')
    detectable = rt.detectable_difference(np.std(diffs, ddof=1), 2)
    assert float(row['cifar10 vs const detectable']) == pytest.approx(
        detectable, abs=1e-4)
    assert f'detects >= {detectable:.2f}' in table['markdown']
    assert row['cifar10 n'] == 3  # seed 3 counts in the mean, not paired
    notes = '\n'.join(table['notes'])
    assert 'ereg on cifar10 vs const: seeds without a partner' in notes
    assert f'3 (only {osp.join(root, "ereg3")})' in notes
    assert f'2 (only {osp.join(root, "const2")})' in notes

    row = rows[('tiny', 'emoset', 'const')]
    diffs = [const[s] - base[s] for s in (0, 1, 2)]
    assert float(row['cifar10 vs baseline mean']) == pytest.approx(
        np.mean(diffs), abs=1e-4)
    assert row['cifar10 vs baseline verdict'] == 'better'
    assert row['cifar10 vs const mean'] == '-'

    # A changed lr is refused for pairing, the key named.
    row = rows[('tiny', 'emoset', 'learn-ereg')]
    assert row['cifar10 vs const verdict'] == 'not paired'
    assert 'differ in optim_wrapper.optimizer.lr; not paired' in notes
    assert row['cifar10 selected on eval data'] == 'no'


def test_validating_on_test_is_marked(tmp_path):
    write_run(str(tmp_path), 'leaky', 'baseline', 0, 93.0, val_split='test')
    write_run(str(tmp_path), 'clean', 'const', 0, 92.0)
    write_run(str(tmp_path), 'other', 'ereg', 0, 60.0, target='cifar100')
    table = rt.results_table([str(tmp_path / '*')])
    assert all(len(r) == len(table['header']) for r in table['rows'])
    rows = {r[2]: dict(zip(table['header'], r)) for r in table['rows']}
    assert rows['ereg']['cifar10 mean'] == ''
    assert rows['ereg']['cifar100 mean'] == '60.0000'
    assert rows['baseline']['cifar10 selected on eval data'] == 'yes'
    assert rows['const']['cifar10 selected on eval data'] == 'no'
    assert '93.00 ± 0.00† (n=1)' in table['markdown']


def test_stage1_runs_are_not_rows(tmp_path):
    """A sweep's work root holds its stage-1 runs too: left out of the
    stage-2 table, each named in a note."""
    root = str(tmp_path)
    write_run(root, 'base0', 'baseline', 0, 90.0)
    stage1 = write_run(root, 'tiny_emoset', 'const', 0, 55.0)
    cfg = Config.fromfile(osp.join(stage1, 'tiny_emoset.py'))
    for key in ('emoreg_mode', 'emoreg_target', 'regulator'):
        cfg.pop(key)
    cfg.dump(osp.join(stage1, 'tiny_emoset.py'))
    table = rt.results_table([osp.join(root, '*')])
    assert [r[2] for r in table['rows']] == ['baseline']
    assert rt.STAGE1_LEFT_OUT.format(stage1) in table['notes']
    assert 'tiny_emoset' not in table['markdown'].split('Notes:')[0]


def test_mcnemar_on_saved_predictions(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.random(200) < 0.8
    b = rng.random(200) < 0.7
    write_run(str(tmp_path), 'const0', 'const', 0, 70.0, correct=b)
    write_run(str(tmp_path), 'ereg0', 'ereg', 0, 80.0, correct=a)
    table = rt.results_table([str(tmp_path / '*')])
    row = next(dict(zip(table['header'], r)) for r in table['rows']
               if r[2] == 'ereg')
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    expected = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
    got = float(row['cifar10 McNemar vs const p'].split(': ')[1])
    assert got == pytest.approx(expected, rel=1e-3)


def test_only_like_is_paired_with_like(tmp_path):
    """A test result is never paired with a validation score; identical
    differences give no interval."""
    for seed in (0, 1, 2):
        write_run(str(tmp_path), f'base{seed}', 'baseline', seed, 90. + seed)
        write_run(str(tmp_path), f'const{seed}', 'const', seed, 90.5 + seed)
        write_run(str(tmp_path), f'ereg{seed}', 'ereg', seed, 92. + seed,
                  source='val')
    table = rt.results_table([str(tmp_path / '*')])
    rows = {r[2]: dict(zip(table['header'], r)) for r in table['rows']}
    assert rows['ereg']['cifar10 source'] == 'val'
    assert rows['ereg']['cifar10 vs const verdict'] == 'not paired'
    assert rows['ereg']['cifar10 vs baseline n'] == 0
    notes = '\n'.join(table['notes'])
    assert (f'seed 1: {tmp_path / "ereg1"} has a val result, '
            f'{tmp_path / "const1"} a test result; not paired') in notes
    const = rows['const']  # +0.5 at every seed
    assert const['cifar10 vs baseline mean'] == '0.5000'
    assert const['cifar10 vs baseline ci low'] == ''
    assert 'identical differences' in const['cifar10 vs baseline verdict']
    assert 'better' not in const['cifar10 vs baseline verdict']


def test_bad_run_dirs_are_named_and_the_rest_tabled(tmp_path, tools):
    """What killed jobs and co-workers leave: each bad dir is reported by
    name with the reason, the table of the good runs is still written, no
    hang, no crash (through the CLI)."""
    runs = tmp_path / 'runs'
    for seed in (0, 1):
        write_run(str(runs), f'base{seed}', 'baseline', seed, 90. + seed)
        write_run(str(runs), f'const{seed}', 'const', seed, 91. + seed)

    def bad_config(name, text):
        os.makedirs(runs / name)
        (runs / name / f'{name}.py').write_text(text)

    bad_config('unhashable_key', 'x = {[1]: 2}\n')
    bad_config('unhashable_set', 'x = {[1]}\n')
    bad_config('long_int', 'x = ' + '7' * 5000 + '\n')
    bad_config('deep', 'x = ' + '[' * 100000 + ']' * 100000 + '\n')
    bad_config('long_sum', 'x = ' + '+'.join(['1'] * 300000) + '\n')
    seed_list = write_run(str(runs), 'seed_list', 'ereg', 0, 50.)
    with open(osp.join(seed_list, 'seed_list.py'), 'a') as f:
        f.write('randomness = dict(seed=[1])\n')
    for name, text in (('json_int', '5'),
                       ('json_dict', '{"accuracy/top1": {"a": 1}}'),
                       ('json_cut', '{"accuracy/top1": 9')):
        work_dir = write_run(str(runs), name, 'ereg', 0, 50.)
        with open(osp.join(work_dir, '20260101_000000',
                           '20260101_000000.json'), 'w') as f:
            f.write(text)
    # Two ranks of a distributed test wrote one file at once.
    ranks = write_run(str(runs), 'ranks', 'ereg', 1, 93.)
    with open(osp.join(ranks, '20260101_000000', '20260101_000000.json'),
              'w') as f:
        f.write('{"accuracy/top1": 93.0, "time": 0.1}0.0012}')
    # A killed run: its log's last line cut off; the earlier line counts.
    killed = write_run(str(runs), 'killed', 'ereg', 0, 92., source='val')
    scalars = osp.join(killed, '20260101_000000', 'vis_data', 'scalars.json')
    with open(scalars, 'a') as f:
        f.write('{"accuracy/top1": 99.0, "st')
    for name, make in (('zero', lambda p: os.symlink('/dev/zero', p)),
                       ('fifo', os.mkfifo)):
        os.makedirs(runs / name)
        make(str(runs / name / f'{name}.py'))
    big = write_run(str(runs), 'big', 'ereg', 1, 50.)
    with open(osp.join(big, 'big.py'), 'a') as f:
        f.write('# ' + 'x' * (2 << 20) + '\n')

    status, out, err = tools.run(
        'tools/analysis_tools/results_table.py', str(runs / '*'),
        '--out', tmp_path / 'new' / 'table', '--max-file-mb', '1',
        timeout=300)
    assert status == 0, err[-3000:]
    assert 'Traceback' not in err, err[-3000:]
    table = (tmp_path / 'new' / 'table.md').read_text()
    assert '| tiny | - | baseline | 90.50 ± 0.71 (n=2) |' in table
    assert '| tiny | emoset | const | 91.50 ± 0.71 (n=2) | +1.00' in table
    for name, reason in (
            ('unhashable_key', "unhashable type: 'list'"),
            ('unhashable_set', "unhashable type: 'list'"),
            ('long_int', 'Exceeds the limit (4300 digits)'),
            ('deep', 'too many nested parentheses'),
            ('long_sum', 'RecursionError'),
            ('seed_list', "randomness.seed is '[1]', not an integer"),
            ('json_int', 'a JSON int, not an object of metrics'),
            ('json_dict', "'accuracy/top1' is \"{'a': 1}\", not a number"),
            ('json_cut', 'not JSON'),
            ('zero', 'not a regular file'),
            ('fifo', 'not a regular file'),
            ('big', 'over the limit of 1048576')):
        lines = [line for line in table.splitlines()
                 if str(runs / name) in line]
        assert any(reason in line for line in lines), (name, lines)
    for name in ('unhashable_key', 'unhashable_set', 'long_int', 'deep',
                 'long_sum', 'zero', 'fifo', 'big'):
        assert f'{runs / name}: no readable config.' in table, name
    for name in ('json_int', 'json_dict', 'json_cut'):
        assert f"{runs / name}: no 'accuracy/top1' evaluation." in table
    # The garbled distributed record and the killed log are read, and say so.
    assert 'text after its first JSON document' in table
    assert 'line 3 (the last): not JSON' in table and 'left out' in table
    rows = {r[2]: r for r in csv.reader(
        open(tmp_path / 'new' / 'table.csv'))}
    header = next(csv.reader(open(tmp_path / 'new' / 'table.csv')))
    ereg = dict(zip(header, rows['ereg']))
    # killed (seed 0, val 92.0: the cut line's 99 left out) and ranks
    # (seed 1, test 93.0).
    assert ereg['cifar10 mean'] == '92.5000', ereg
    assert ereg['cifar10 source'] == 'test+val'


def test_no_file_in_a_work_dir_is_executed(tmp_path, tools):
    marker = tmp_path / 'executed'
    work_dir = write_run(str(tmp_path / 'runs'), 'run0', 'baseline', 0, 90.)
    payload = (f'import pathlib\npathlib.Path({str(marker)!r}).write_text('
               "'ran')\n")
    for name in ('0.py', 'zz.py'):  # sorted before and after the dump
        with open(osp.join(work_dir, name), 'w') as f:
            f.write(payload)
    lone = osp.join(str(tmp_path / 'runs'), 'lone')
    os.makedirs(lone)
    with open(osp.join(lone, 'cfg.py'), 'w') as f:
        f.write(f"x = dict(a=__import__('os').system('touch {marker}'))\n")
    out = _run(tools, 'tools/analysis_tools/results_table.py',
               str(tmp_path / 'runs' / '*'), '--out', str(tmp_path / 't'))
    assert not marker.exists()
    assert '0.py, line 1: a Import statement' in out
    assert 'cfg.py, line 1' in out and f'{lone}: no readable config' in out
    assert '| tiny | - | baseline | 90.00 ± 0.00 (n=1) |' in out


# -- real runs -------------------------------------------------------------
def _logged_top1(work_dir):
    """The last validation top-1 as the text log prints it."""
    log = open(glob.glob(osp.join(work_dir, '2*', '2*.log'))[0]).read()
    return float(re.findall(r'accuracy/top1: ([\d.]+)', log)[-1])


@pytest.mark.slow
def test_table_matches_logs(tmp_path, tools):
    plain = open(make_plain_config(tmp_path, max_epochs=1)).read()
    runs = {('baseline', 0): None, ('baseline', 1): None,
            ('const', 0): None, ('const', 1): None}
    for mode, seed in runs:
        # The tags the configs/_base_ pieces set, here written by hand.
        config = tmp_path / f'{mode}_{seed}.py'
        config.write_text(plain + (
            f"emoreg_backbone = 'tiny'\nemoreg_mode = {mode!r}\n"
            "emoreg_target = 'digits'\nemoreg_affective = "
            f"{'-' if mode == 'baseline' else 'emoset'!r}\n"))
        work_dir = str(tmp_path / 'runs' / f'{mode}_{seed}')
        run_tool('train.py', str(config), '--work-dir', work_dir,
                 '--cfg-options', f'randomness.seed={seed}')
        runs[(mode, seed)] = _logged_top1(work_dir)

    out = str(tmp_path / 'table')
    printed = _run(tools, 'tools/analysis_tools/results_table.py',
                   str(tmp_path / 'runs' / '*'), '--out', out)
    table = rt.results_table([str(tmp_path / 'runs' / '*')])
    rows = {r[2]: dict(zip(table['header'], r)) for r in table['rows']}
    const = rows['const']
    assert float(const['digits mean']) == pytest.approx(
        (runs[('const', 0)] + runs[('const', 1)]) / 2, abs=1e-4)
    assert const['digits source'] == 'val'  # no tools/test.py result
    diffs = [runs[('const', s)] - runs[('baseline', s)] for s in (0, 1)]
    assert float(const['digits vs baseline mean']) == pytest.approx(
        np.mean(diffs), abs=1e-4)
    if np.std(diffs) > 0:
        low, high = stats.t.interval(0.95, 1, loc=np.mean(diffs),
                                     scale=stats.sem(diffs))
        assert float(const['digits vs baseline ci low']) == pytest.approx(
            low, abs=1e-4)
        assert float(const['digits vs baseline ci high']) == pytest.approx(
            high, abs=1e-4)
    else:  # identical differences: no interval
        assert const['digits vs baseline ci low'] == ''
    assert '| tiny | emoset | const |' in printed
    assert open(out + '.csv').read().splitlines()[0].split(',')[:4] == [
        'backbone', 'affective', 'mode', 'digits mean']


def test_the_real_leaves_of_one_combination_pair(tmp_path):
    """The shipped leaves of every mode differ only by the mode; a changed
    lr, data root or split is refused by name."""
    cfgs = {}
    for mode in ('baseline', 'const', 'ereg', 'learn-ereg'):
        cfg = Config.fromfile(osp.join(
            REPO, f'configs/emoreg/resnet18-cifar_{mode}_cifar10.py'))
        cfg.dump(str(tmp_path / f'{mode}.py'))
        cfgs[mode] = rt.read_config(str(tmp_path / f'{mode}.py'))
    for mode in ('const', 'ereg', 'learn-ereg'):
        assert rt.config_differences(cfgs[mode], cfgs['baseline']) == []
        assert rt.config_differences(cfgs[mode], cfgs['const']) == []
    changed = Config(cfgs['ereg'])
    changed.merge_from_dict({
        'optim_wrapper.optimizer.lr': 0.2,
        'train_dataloader.dataset.data_root': 'elsewhere',
        'val_dataloader.dataset.split': 'test'})
    assert rt.config_differences(changed.to_dict(), cfgs['const']) == [
        'optim_wrapper.optimizer.lr', 'train_dataloader.dataset.data_root',
        'val_dataloader.dataset.split']


@pytest.mark.parametrize('backbone', ['resnet18-cifar', 'vit-b16'])
def test_the_documented_validation_on_test_is_marked(tmp_path, backbone):
    """Configs dumped by mmengine from the real leaves: validating on the
    held-out split is not marked; the documented option
    ``val_dataloader.dataset.split=test`` is (what is read decides)."""
    leaf = osp.join(REPO, f'configs/emoreg/{backbone}_ereg_cifar10.py')
    for name, options, marked in (
            ('held_out', {}, False),
            ('on_test', {'val_dataloader.dataset.split': 'test'}, True)):
        cfg = Config.fromfile(leaf)
        cfg.merge_from_dict(options)
        work_dir = tmp_path / name
        stamp = work_dir / '20260101_000000'
        stamp.mkdir(parents=True)
        cfg.dump(str(work_dir / f'{backbone}_ereg_cifar10.py'))
        (stamp / '20260101_000000.json').write_text(
            json.dumps({'accuracy/top1': 90.0}))
        run, problems = rt.read_run(str(work_dir), 'accuracy/top1')
        assert run is not None, problems
        assert run['selected_on_eval'] is marked, name


def test_detectable_difference_has_the_stated_power():
    """At the returned difference a paired t test rejects in 80% of
    simulated experiments (alpha 0.05)."""
    rng = np.random.default_rng(0)
    for n, spread in ((3, 0.5), (5, 1.0), (10, 2.0)):
        d = rt.detectable_difference(spread, n)
        diffs = rng.normal(d, spread, size=(20000, n))
        p = stats.ttest_1samp(diffs, 0., axis=1).pvalue
        assert (p < 0.05).mean() == pytest.approx(0.8, abs=0.015), (n, spread)
        assert rt.detectable_difference(spread, n + 1) < d
    assert rt.detectable_difference(0., 5) is None
    assert rt.detectable_difference(1., 1) is None


def test_the_seeds_table_of_the_docs_is_computed():
    text = open(osp.join(REPO, 'docs', 'method.md')).read()
    rows = re.findall(r'^\| ([\d.]+) \| (\d+) \| (\d+) \| (\d+) \|$', text,
                      re.M)
    assert len(rows) == 4
    for spread, *counts in rows:
        assert [rt.seeds_needed(e, float(spread)) for e in (0.5, 1, 2)] == \
            [int(c) for c in counts], spread


# -- branches and calibration (emoreg_mm.evaluation.analysis) -------------
# Eight images of three classes, as in tests/test_evaluation/
# test_analysis.py: with RHO, N 4/8, I 4/8, fused 5/8, const fusion 4/8,
# oracle 7/8; only I right on images 3, 4 (rho .7, .9), only N on 2, 7
# (rho .2, .8).
P_N = np.array([(.8, .1, .1), (.6, .3, .1), (.3, .6, .1), (.1, .8, .1),
                (.5, .4, .1), (.7, .2, .1), (.5, .1, .4), (.1, .1, .8)])
P_I = np.array([(.7, .2, .1), (.2, .7, .1), (.9, .05, .05), (.5, .4, .1),
                (.1, .4, .5), (.2, .7, .1), (.1, .1, .8), (.2, .2, .6)])
RHO = np.array([.5, .2, .7, .9, .9, .4, .8, .4])
GT = np.array([0, 0, 0, 0, 1, 2, 0, 2])


def write_branch_preds(work_dir, rho=None, branches=True, extra=None):
    """``predictions.npz`` as save_predictions writes it: the fused score of
    P_N and P_I at ``rho`` (None: N alone, a baseline)."""
    from emoreg_mm.evaluation import save_predictions
    score = P_N if rho is None else (1 - rho[:, None]) * P_N + \
        rho[:, None] * P_I
    samples = []
    for k in range(len(GT)):
        s = dict(sample_idx=k, gt_label=int(GT[k]),
                 pred_label=int(score[k].argmax()), pred_score=score[k])
        if rho is not None:
            s['rho'] = rho[k]
            if branches:
                s.update(pred_score_n=P_N[k], pred_score_i=P_I[k])
        samples.append(s)
    path = save_predictions(osp.join(work_dir, 'predictions.npz'), samples)
    if extra:  # rewrite with extra (malformed) keys
        with np.load(path) as npz:
            arrays = dict(npz)
        np.savez(path, **dict(arrays, **extra))
    return path


def test_branches_and_calibration_table(tmp_path):
    from emoreg_mm.evaluation.analysis import calibration
    root = str(tmp_path / 'runs')
    half = np.full(8, .5)
    ece = {}
    for seed, rho in ((0, RHO), (1, half)):
        for mode, r in (('baseline', None), ('const', half), ('ereg', rho)):
            work_dir = write_run(root, f'{mode}{seed}', mode, seed, 90.)
            path = write_branch_preds(work_dir, r)
            from emoreg_mm.evaluation import load_predictions
            ece[mode, seed] = 100 * calibration(load_predictions(path))[0][
                'ece']
    old = write_run(root, 'old0', 'learn-ereg', 0, 90.)
    write_branch_preds(old, RHO, branches=False)  # saved before the keys
    bad = write_run(root, 'bad0', 'rand-learn-ereg', 0, 90.)
    write_branch_preds(bad, RHO, extra=dict(pred_score_i=np.zeros((8, 2))))
    out = str(tmp_path / 'results')
    table = rt.results_table([osp.join(root, '*')], out=out)
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
    const_line, = [line for line in branches.splitlines()
                   if line.startswith('| tiny | emoset | const |')]
    assert const_line.split(' | ')[11:13] == ['-', '-']  # gain, captured
    assert '"-" for const, whose fused model is that fusion' in text
    header = next(csv.reader(open(out + '_analysis.csv')))
    assert header == table['analysis_header']
    png = open(out + '_forest.png', 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    assert table['forest'] == out + '_forest.png'


def test_n_alone_is_paired_with_the_baseline(tmp_path):
    """Each regulated run's N alone (P_N: 4 of 8 right) against the
    baseline's top-1 of the same seed: 3, 2, 5 of 8 right."""
    from emoreg_mm.evaluation import save_predictions
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
    table = rt.results_table([osp.join(root, '*')])
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
    table = rt.results_table([str(tmp_path / '*')],
                             out=str(tmp_path / 'results'))
    assert table['analysis_header'] is None
    assert 'no run dir holds a readable predictions.npz' in table['markdown']
    assert '## Branches' not in table['markdown']
    assert (tmp_path / 'results_forest.png').is_file()  # one pair, no CI


def write_corruption_preds(work_dir, accuracy, n=4):
    """``eval_corruptions.py``'s files: per corruption and severity, ``n``
    images of which ``accuracy * n`` are right."""
    from emoreg_mm.evaluation import save_predictions
    from emoreg_mm.evaluation.robustness import predictions_path
    for c, by_severity in accuracy.items():
        for s, acc in by_severity.items():
            right = round(acc * n)
            path = predictions_path(work_dir, c, s)
            os.makedirs(osp.dirname(path), exist_ok=True)
            save_predictions(path, [
                dict(sample_idx=i, gt_label=0, pred_label=int(i >= right),
                     pred_score=np.eye(10)[int(i >= right)])
                for i in range(n)])


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
    table = rt.results_table([osp.join(root, '*')],
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
