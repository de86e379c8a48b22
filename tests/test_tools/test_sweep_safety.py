"""tools/sweep.py with hostile names in a config tree, two identical sweeps
started together, and a hand-edited plan: no name reaches a shell, no run
is reported failed for what another sweep runs, no bad plan is guessed
around."""
import json
import os
import stat
import subprocess
import sys

import pytest

from test_sweep import REPO, demo_data, sweep, sweep_here

#: Config names a user's tree may hold: command substitutions, backticks,
#: quotes and a line break.
HOSTILE = ('r18$(touch X1)`touch X2`"q\'', 'r18\n$(touch X3)')


def _tree(root, backbones, epochs=1):
    """A config tree of baseline leaves on the demo's digits."""
    base = os.path.join(REPO, 'configs', 'demo',
                        'tiny-resnet_baseline_digits.py')
    folder = root / 'tree' / 'emoreg'
    folder.mkdir(parents=True)
    for backbone in backbones:
        (folder / f'{backbone}_baseline_digits.py').write_text(
            f'_base_ = [{base!r}]\ntrain_cfg = dict(max_epochs={epochs})\n')
    return str(root / 'tree')


def _no_command_ran(root):
    assert not [p for p in root.rglob('X*') if p.name in ('X1', 'X2', 'X3')]


@pytest.mark.slow
def test_hostile_names_reach_no_shell(tmp_path, monkeypatch):
    """Dry run and local runs (a real sweep process) train and report
    both runs under their names; the Slurm job scripts the sweep submits
    (sbatch and srun stand-ins: no cluster here) run no part of a name as
    a command."""
    demo_data(tmp_path)
    tree = _tree(tmp_path, HOSTILE)
    args = ('--config-root', tree, '--seeds', '0')
    out = sweep_here(*args, '--dry-run', cwd=tmp_path, check=0)
    assert all(f'{b}_baseline_digits_s0' in out.stdout for b in HOSTILE)
    out = sweep(*args, cwd=tmp_path, check=0)
    assert 'done: 2' in out.stdout and 'FAILED' not in out.stdout
    for backbone in HOSTILE:
        assert (tmp_path / 'work_dirs' / 'sweep' /
                f'{backbone}_baseline_digits_s0' / 'epoch_1.pth').is_file()
    _no_command_ran(tmp_path)
    # the Slurm path: the scripts sbatch would be given, run by bash
    bin_dir, scripts = tmp_path / 'bin', tmp_path / 'scripts'
    bin_dir.mkdir()
    scripts.mkdir()
    for name, body in (('sbatch', f'cp "$1" {scripts}/$$.sh\n'
                        'echo "Submitted batch job $$"\n'),
                       ('srun', 'exit 0\n')):
        (bin_dir / name).write_text(f'#!/bin/sh\n{body}')
        (bin_dir / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    sweep_here(*args, '--work-root', 'slurm_root', '--slurm', 'part',
               '--gres', '', cwd=tmp_path, check=0)
    run_dir = tmp_path / 'in_the_job'
    run_dir.mkdir()
    jobs = sorted(scripts.iterdir())
    assert len(jobs) == 2
    for script in jobs:
        subprocess.run(['bash', str(script)], cwd=run_dir, check=True,
                       env=dict(os.environ), capture_output=True)
    _no_command_ran(tmp_path)


@pytest.mark.slow
def test_two_identical_sweeps_started_together(tmp_path):
    """Each run trains once, in one of them; the other waits for it and
    reports how it ended: neither prints a failure, both end with 0."""
    demo_data(tmp_path)
    tree = _tree(tmp_path, ['r18'])
    argv = [sys.executable, os.path.join(REPO, 'tools', 'sweep.py'),
            '--config-root', tree, '--seeds', '0', '1']
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               PYTHONWARNINGS='ignore')
    procs = [subprocess.Popen(argv, cwd=tmp_path, env=env, text=True,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for proc, out in zip(procs, outs):
        assert proc.returncode == 0, out[-3000:]
        assert 'FAILED' not in out and 'done: 2' in out
    for seed in (0, 1):
        name = f'r18_baseline_digits_s{seed}'
        log = (tmp_path / 'work_dirs' / 'sweep' / name / 'sweep-local.log'
               ).read_text()
        assert log.count(f'sweep: {name} attempt') == 1, log[-3000:]


@pytest.mark.parametrize('edit,problem', [
    (dict(seeds=[True]), 'seeds holds True, not a seed'),
    (dict(seeds=[10**30]), f'seeds holds {10**30}, not a seed'),
    (dict(seeds=[-1]), 'seeds holds -1, not a seed'),
    (dict(modes=['no-such-mode']), 'unknown modes no-such-mode for preset '
     'demo; valid: baseline'),
])
def test_a_hand_edited_plan_is_refused_naming_file_and_key(tmp_path, edit,
                                                           problem):
    root = tmp_path / 'work_dirs' / 'sweep'
    root.mkdir(parents=True)
    plan = dict(dict(preset='demo', modes=['baseline'], seeds=[0]), **edit)
    (root / 'sweep_plan.json').write_text(json.dumps(plan))
    out = sweep_here('--status', cwd=tmp_path, check=2)
    assert f'{os.path.join("work_dirs", "sweep", "sweep_plan.json")}: ' \
        f'{problem}' in out.stderr
