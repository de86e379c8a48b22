"""The results table reports exactly what the runs' own logs say."""
import glob
import os.path as osp
import re
import statistics
import subprocess
import sys

import pytest

from plain_config import make_plain_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _run(*cmd):
    out = subprocess.run([sys.executable, *cmd], capture_output=True,
                         text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def _logged_top1(work_dir):
    """The last validation top-1 as the text log prints it."""
    log = open(glob.glob(osp.join(work_dir, '2*', '2*.log'))[0]).read()
    return float(re.findall(r'accuracy/top1: ([\d.]+)', log)[-1])


@pytest.mark.slow
def test_table_matches_logs(tmp_path):
    plain = open(make_plain_config(tmp_path, max_epochs=1)).read()
    runs = {('baseline', 0): None, ('const', 0): None, ('const', 1): None}
    for mode, seed in runs:
        # The tags the configs/_base_ pieces set, here written by hand.
        config = tmp_path / f'{mode}_{seed}.py'
        config.write_text(plain + (
            f"emoreg_backbone = 'tiny'\nemoreg_mode = {mode!r}\n"
            "emoreg_target = 'digits'\nemoreg_affective = "
            f"{'-' if mode == 'baseline' else 'emoset'!r}\n"))
        work_dir = str(tmp_path / 'runs' / f'{mode}_{seed}')
        _run('tools/train.py', str(config), '--work-dir', work_dir,
             '--cfg-options', f'randomness.seed={seed}')
        runs[(mode, seed)] = _logged_top1(work_dir)

    out = str(tmp_path / 'table')
    printed = _run('tools/analysis_tools/results_table.py',
                   str(tmp_path / 'runs' / '*'), '--out', out)
    csv_rows = [line.split(',') for line in open(out + '.csv').read()
                .splitlines()]
    header, rows = csv_rows[0], {tuple(r[:3]): r for r in csv_rows[1:]}
    assert header[:5] == ['backbone', 'affective', 'mode', 'digits top-1',
                          'digits n']
    base = rows[('tiny', '-', 'baseline')]
    assert base[3] == f'{runs[("baseline", 0)]:.2f} ± 0.00' and base[4] == '1'
    const = rows[('tiny', 'emoset', 'const')]
    values = [runs[('const', 0)], runs[('const', 1)]]
    mean, std = statistics.fmean(values), statistics.stdev(values)
    assert const[3] == f'{mean:.2f} ± {std:.2f}' and const[4] == '2'
    assert const[5] == f'{mean - runs[("baseline", 0)]:+.2f}'
    assert const[6] == '-'  # const is its own reference
    assert '| tiny | emoset | const |' in printed
    assert osp.isfile(out + '.md')
