"""tools/sweep.py through a real Slurm scheduler, on the demo configs.

Stage 1 and 3 modes x 2 seeds, one task per job: stage-2 jobs wait for
stage 1 (afterok); one stage-2 job is killed mid-run (SIGKILL) and resumed
by re-running the sweep, ending with the weights of an uninterrupted run;
another is pre-empted (SIGTERM: checkpoint, exit 143), requeues itself and
resumes.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time

import pytest
import torch

from launch_utils import free_port
from slurm_cluster import slurm_cluster  # noqa: F401  (fixture)
from test_sweep import REPO, demo_data, sweep

KILLED = 'tiny-resnet_ereg_digits_s0'
PREEMPTED = 'tiny-resnet_const_digits_s1'


def job_of(run_dir):
    with open(osp.join(run_dir, 'sweep_submit.json')) as f:
        return json.load(f)['job']


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)[
        'state_dict']


@pytest.mark.slow
def test_sweep_on_slurm(slurm_cluster, tmp_path):
    demo_data(tmp_path, per_emotion=6, limit=20)
    root = tmp_path / 'work_dirs' / 'sweep'
    args = ['--preset', 'demo', '--modes', 'ereg', 'const', 'learn-ereg',
            '--seeds', '0', '1', '--slurm', slurm_cluster.partition,
            '--cpus-per-task', '1', '--cfg-options',
            'train_cfg.max_epochs=2']
    out = sweep(*args, cwd=tmp_path, check=0)
    assert '7 job(s) submitted' in out.stdout
    stage1_job = job_of(root / 'tiny-resnet_synth-abstract')
    deps = subprocess.run(['squeue', '-h', '-o', '%j %E'],
                          capture_output=True, text=True).stdout
    stage2_deps = [line.split(' ', 1)[1] for line in deps.splitlines()
                   if '_digits_' in line]
    assert len(stage2_deps) == 6, deps  # all still waiting for stage 1
    assert all(d.startswith(f'afterok:{stage1_job}') for d in stage2_deps)

    # kill one stage-2 run and pre-empt another, each after its epoch 1
    todo = {KILLED: 'KILL', PREEMPTED: 'TERM'}
    deadline = time.time() + 900
    while todo and time.time() < deadline:
        for name, sig in list(todo.items()):
            if osp.isfile(root / name / 'epoch_1.pth'):
                subprocess.run(['scancel', f'--signal={sig}',
                                str(job_of(root / name))], check=True)
                del todo[name]
        time.sleep(0.2)
    assert not todo, f'never reached epoch 1: {todo}'
    slurm_cluster.wait_idle(timeout=900)

    out = sweep(*args[:-2], '--status', cwd=tmp_path, check=0)
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()
            if line.startswith('tiny-resnet')}
    assert rows[KILLED][2] in ('killed', 'failed'), out.stdout
    assert rows[PREEMPTED][2] == 'done', out.stdout
    assert sum(r[2] == 'done' for r in rows.values()) == 6, out.stdout
    assert 'Results table' not in out.stdout  # not all done yet
    # the pre-empted job requeued itself and resumed from its checkpoint
    log = ''.join(p.read_text() for p in (root / PREEMPTED).glob('slurm-*'))
    assert 'restart 0' in log and 'restart 1' in log, log[-3000:]
    assert 'Resum' in log

    # re-running the sweep resubmits only the killed run, which resumes
    out = sweep(*args, '--wait', cwd=tmp_path, check=0)
    assert '1 job(s) submitted' in out.stdout
    assert f'submitted {KILLED}' in out.stdout
    assert 'done: 7' in out.stdout
    assert (root / 'results.md').is_file()
    killed_log = ''.join(p.read_text()
                         for p in (root / KILLED).glob('slurm-*'))
    assert 'attempt 2' in killed_log and 'Resum' in killed_log

    # the same run uninterrupted, through the same launcher and threads
    ref = tmp_path / 'reference'
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               PYTHONWARNINGS='ignore', PYTHON=sys.executable, GPUS='1',
               GPUS_PER_NODE='1', CPUS_PER_TASK='1',
               MASTER_PORT=str(free_port()))
    subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'slurm_train.sh'),
         slurm_cluster.partition, 'reference',
         osp.join(REPO, 'configs', 'demo', 'tiny-resnet_ereg_digits.py'),
         str(ref), '--cfg-options', 'train_cfg.max_epochs=2',
         'randomness.seed=0',
         f'model.backbone.emotional_checkpoint={root}/'
         'tiny-resnet_synth-abstract',
         'model.backbone.emotional_checkpoint_config='
         f'{REPO}/configs/demo/tiny-resnet_synth-abstract.py'],
        cwd=tmp_path, env=env, check=True, capture_output=True, timeout=900)
    resumed, plain = (weights(root / KILLED / 'epoch_2.pth'),
                      weights(ref / 'epoch_2.pth'))
    assert resumed.keys() == plain.keys()
    differ = {k: float((resumed[k].double() - plain[k].double()).abs().max())
              for k in plain if not torch.allclose(
                  resumed[k].double(), plain[k].double())}
    assert not differ, differ
