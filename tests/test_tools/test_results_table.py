"""The results table: paired statistics, refusals, and no code run from a
work dir."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config
from scipy import special, stats

from launch_utils import run_tool
from plain_config import make_plain_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
import results_table as rt  # noqa: E402


def _run(*cmd):
    out = subprocess.run([sys.executable, *cmd], capture_output=True,
                         text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


# -- statistics against scipy ---------------------------------------------
@pytest.mark.parametrize('df', [1, 2, 4, 9, 30])
def test_t_distribution_matches_scipy(df):
    for p in (0.6, 0.9, 0.975, 0.995, 0.025):
        assert rt.t_quantile(p, df) == pytest.approx(
            stats.t.ppf(p, df), rel=1e-9)
    for x in (0.05, 0.3, 0.7, 0.99):
        assert rt.betainc(df / 2, 0.5, x) == pytest.approx(
            special.betainc(df / 2, 0.5, x), rel=1e-10)


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


@pytest.mark.parametrize('b,c', [(0, 0), (3, 9), (12, 5), (40, 61), (1, 0)])
def test_mcnemar_matches_scipy_binomial_test(b, c):
    expected = 1. if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
    assert rt.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


# -- constructed run dirs --------------------------------------------------
def write_run(root, name, mode, seed, value, lr=0.1, val_split='val',
              correct=None, affective='emoset', target='cifar10'):
    """A work dir as training and tools/test.py leave it: the config that
    mmengine dumps (Config.dump), the test result and, given ``correct``,
    per-image predictions."""
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
    with open(osp.join(stamp, '20260101_000000.json'), 'w') as f:
        json.dump({'accuracy/top1': value}, f)
    if correct is not None:
        from emoreg_mm.evaluation import save_predictions
        gt = np.arange(len(correct)) % 10
        save_predictions(osp.join(work_dir, 'predictions.npz'), [
            dict(sample_idx=i, gt_label=int(g),
                 pred_label=int(g if ok else (g + 1) % 10),
                 pred_score=np.eye(10)[g if ok else (g + 1) % 10])
            for i, (g, ok) in enumerate(zip(gt, correct))])
    return work_dir


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
    low, high = stats.t.interval(0.95, 1, loc=np.mean(diffs),
                                 scale=stats.sem(diffs))
    assert float(row['cifar10 vs const mean']) == pytest.approx(
        np.mean(diffs), abs=1e-4)
    assert float(row['cifar10 vs const ci low']) == pytest.approx(
        low, abs=1e-4)
    assert float(row['cifar10 vs const ci high']) == pytest.approx(
        high, abs=1e-4)
    assert row['cifar10 vs const n'] == 2
    assert row['cifar10 vs const verdict'] == 'no evidence'
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


def test_no_file_in_a_work_dir_is_executed(tmp_path):
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
    out = _run('tools/analysis_tools/results_table.py',
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
def test_table_matches_logs(tmp_path):
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
    printed = _run('tools/analysis_tools/results_table.py',
                   str(tmp_path / 'runs' / '*'), '--out', out)
    table = rt.results_table([str(tmp_path / 'runs' / '*')])
    rows = {r[2]: dict(zip(table['header'], r)) for r in table['rows']}
    const = rows['const']
    assert float(const['digits mean']) == pytest.approx(
        (runs[('const', 0)] + runs[('const', 1)]) / 2, abs=1e-4)
    assert const['digits source'] == 'val'  # no tools/test.py result
    diffs = [runs[('const', s)] - runs[('baseline', s)] for s in (0, 1)]
    low, high = (stats.t.interval(0.95, 1, loc=np.mean(diffs),
                                  scale=stats.sem(diffs))
                 if np.std(diffs) > 0 else (np.mean(diffs),) * 2)
    assert float(const['digits vs baseline mean']) == pytest.approx(
        np.mean(diffs), abs=1e-4)
    assert float(const['digits vs baseline ci low']) == pytest.approx(
        low, abs=1e-4)
    assert float(const['digits vs baseline ci high']) == pytest.approx(
        high, abs=1e-4)
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
