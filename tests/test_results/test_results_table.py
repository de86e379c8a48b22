"""tools/analysis_tools/results_table.py: the command line over
emoreg_mm.results.build_report, on constructed run dirs and on real ones
(trained, tested with --out predictions.npz), and without torch."""
import glob
import os.path as osp
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from launch_utils import run_tool
from plain_config import make_plain_config
from results_fixtures import rows_by, write_branch_preds, write_run
from scipy import stats

from emoreg_mm.results import build_report

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = 'analysis_tools/results_table.py'
#: A fresh interpreter in which ``import torch`` fails (a finder placed
#: before any import), running the tool's main(argv) as its command line.
TORCH_BLOCKED = '''
import importlib.abc, runpy, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == 'torch' or name.startswith('torch.'):
            raise ImportError('torch is blocked in this test')
sys.meta_path.insert(0, NoTorch())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
assert 'torch' not in sys.modules and 'mmengine' not in sys.modules
'''


def test_the_command_prints_and_writes_the_report(tmp_path, capsys):
    root = str(tmp_path / 'runs')
    for seed in (0, 1):
        for mode, rho in (('baseline', None), ('const', np.full(8, .5)),
                          ('ereg', np.full(8, .3 + .2 * seed))):
            write_branch_preds(write_run(root, f'{mode}{seed}', mode, seed,
                                         90. + seed + (mode == 'ereg')), rho)
    out = str(tmp_path / 'table' / 'results')
    run_tool(TOOL, osp.join(root, '*'), '--out', out, '--max-file-mb', '1')
    printed = capsys.readouterr().out
    text = open(out + '.md').read()
    assert printed == text + '\n' + (
        f'Wrote {out}.md and {out}.csv, {out}_analysis.csv, '
        f'{out}_forest.png from 6 run(s).\n')
    assert '| tiny | emoset | ereg | 91.50 ± 0.71 (n=2) | +1.00' in text
    assert '## Branches' in text and '## Calibration' in text
    assert open(out + '_forest.png', 'rb').read(4) == b'\x89PNG'
    assert open(out + '.csv').readline().startswith(
        'backbone,affective,mode,cifar10 mean,')


def test_the_command_without_runs_exits_naming_each_dir(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit) as exit_:
        run_tool(TOOL, str(tmp_path / '*'), '--out', str(tmp_path / 't'))
    assert str(exit_.value.code) == (
        f"No evaluated runs found in [{str(tmp_path / '*')!r}]\n"
        f"  {tmp_path / 'empty'}: no readable config.")
    assert not (tmp_path / 't.md').exists()


def test_the_python_api_of_the_docs_runs(tmp_path, monkeypatch, capsys):
    """docs/results.md's Python block, as shown, over constructed runs."""
    text = open(osp.join(REPO, 'docs', 'results.md')).read()
    code, = re.findall(r'## Python API.*?```python\n(.*?)```', text, re.S)
    for seed in (0, 1):
        write_run(str(tmp_path / 'work_dirs'), f'const_{seed}', 'const',
                  seed, 90. + seed)
    write_run(str(tmp_path / 'work_dirs'),
              'resnet18-cifar_ereg_cifar10', 'ereg', 0, 91.5)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, 'docs/results.md', 'exec'), {})
    lines = capsys.readouterr().out.splitlines()
    assert (tmp_path / 'results.md').is_file()
    assert "'mode': 'ereg'" in lines[1] and "'cifar10 vs const mean': " \
        "'1.5000'" in lines[1]
    assert lines[2] == ('tiny emoset ereg on cifar10 vs const: seeds without '
                        'a partner, not paired: 1 (only work_dirs/const_1)')
    assert 'ereg 0 91.5 test []' in lines
    assert '0 0.0 0' in lines  # one pair, no verdict: an empty family
    assert lines[-2:] == ['+0.50 [-0.40, +1.40] no evidence', '5']


# -- real runs -------------------------------------------------------------
def _logged_top1(work_dir):
    """The last validation top-1 as the training log prints it."""
    log = sorted(glob.glob(osp.join(work_dir, '2*', '2*.log')))[0]
    return float(re.findall(r'accuracy/top1: ([\d.]+)', open(log).read())[-1])


@pytest.fixture(scope='module')
def real_runs(tmp_path_factory):
    """Four runs of a tiny plain classifier (baseline and const, seeds 0
    and 1; one epoch), trained by tools/train.py; seed 1 of each also
    tested by tools/test.py with ``--out WORK_DIR/predictions.npz``.
    Returns (runs folder, {(mode, seed): logged validation top-1})."""
    tmp = tmp_path_factory.mktemp('real')
    plain = open(make_plain_config(tmp, max_epochs=1)).read()
    logged = {}
    for mode in ('baseline', 'const'):
        # The tags the configs/_base_ pieces set, here written by hand.
        config = tmp / f'{mode}.py'
        config.write_text(plain + (
            f"emoreg_backbone = 'tiny'\nemoreg_mode = {mode!r}\n"
            "emoreg_target = 'digits'\nemoreg_affective = "
            f"{'-' if mode == 'baseline' else 'emoset'!r}\n"))
        for seed in (0, 1):
            work_dir = str(tmp / 'runs' / f'{mode}_{seed}')
            options = ('--cfg-options', f'randomness.seed={seed}')
            run_tool('train.py', str(config), '--work-dir', work_dir,
                     *options)
            logged[mode, seed] = _logged_top1(work_dir)
            if seed == 1:
                run_tool('test.py', str(config), '--checkpoint',
                         osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
                         work_dir, '--out',
                         osp.join(work_dir, 'predictions.npz'), *options)
    return tmp / 'runs', logged


@pytest.mark.slow
def test_table_matches_logs(real_runs):
    runs, logged = real_runs
    report = build_report([str(runs / '*')])
    rows = rows_by(report)
    const = rows['const']
    # seed 0: the last validation; seed 1: tools/test.py (the same data)
    assert float(const['digits mean']) == pytest.approx(
        (logged['const', 0] + logged['const', 1]) / 2, abs=1e-4)
    assert const['digits source'] == 'test+val'
    diffs = [logged['const', s] - logged['baseline', s] for s in (0, 1)]
    assert float(const['digits vs baseline mean']) == pytest.approx(
        np.mean(diffs), abs=1e-4)
    assert const['digits vs baseline n'] == 2
    if np.std(diffs) > 0:
        low, high = stats.t.interval(0.95, 1, loc=np.mean(diffs),
                                     scale=stats.sem(diffs))
        assert float(const['digits vs baseline ci low']) == pytest.approx(
            low, abs=1e-4)
        assert float(const['digits vs baseline ci high']) == pytest.approx(
            high, abs=1e-4)
    else:  # identical differences: no interval
        assert const['digits vs baseline ci low'] == ''
    # seed 1 of each saved predictions: calibration from one seed each
    analysis = rows_by(report, 'analysis_rows', 'analysis_header')
    assert {m: r['seeds with predictions'] for m, r in analysis.items()} \
        == {'baseline': 1, 'const': 1}
    assert '## Calibration' in report['markdown']


@pytest.mark.slow
def test_the_table_needs_no_torch(real_runs, tmp_path):
    """The command over real run dirs with predictions, in a fresh
    interpreter where torch cannot be imported."""
    runs, _ = real_runs
    out = str(tmp_path / 'results')
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, '-c', TORCH_BLOCKED,
         osp.join(REPO, 'tools', TOOL), str(runs / '*'), '--out', out],
        capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = open(out + '.md').read()
    assert '| tiny | - | baseline |' in table
    assert '| tiny | emoset | const |' in table
    assert '## Calibration' in table  # the predictions were read
    print(f'results table without torch: {seconds:.1f} s')
