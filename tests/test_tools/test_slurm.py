"""Slurm: tools/slurm_train.sh, tools/slurm_test.sh and tools/sweep.py on
a real one-node Slurm cluster (``tests/slurm_cluster.py``), in one file so
that one worker of a parallel run starts the cluster once.

- The demo's stage 2 trained and both stages tested with 2 tasks each:
  the GPU request path (``--gres=gpu:2`` on the stand-in GRES; no CUDA
  here, so the tasks use gloo) and the CPU-partition path (``GRES=``: no
  GPU arguments at all).
- The sweep on the demo configs (submitit), from a checkout and into a
  work root whose paths hold spaces, commas, quotes, ``$(...)`` and a line
  break: stage 1 and 3 modes x 1 seed, one task per job: stage-2 jobs wait
  for stage 1 (afterok); one stage-2 job is killed mid-run (SIGKILL) and
  resumed by re-running the sweep, ending with the weights of an
  uninterrupted run; another is pre-empted (SIGTERM: checkpoint, exit 143)
  and a third gets the time-limit warning (USR2): both requeue themselves
  and resume.
- ``--max-running``: at most that many of the sweep's jobs run at once.
"""
import json
import os
import os.path as osp
import pickle
import shlex
import shutil
import subprocess
import sys
import time

import pytest
import torch

from emoreg_mm.experiments.submitit_compat import import_submitit
from launch_utils import dist_env, free_port, run_tool
from slurm_cluster import slurm_cluster  # noqa: F401  (fixture)
from test_sweep import demo_data as write_demo_data
from test_sweep import sweep

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1 = 'configs/demo/tiny-resnet_synth-abstract.py'
STAGE2 = 'configs/demo/tiny-resnet_ereg_digits.py'


def demo_options(data: str, stage1_dir: str = None) -> list:
    """--cfg-options pointing a demo config at ``data`` (and, in stage 2,
    at the stage-1 work dir ``stage1_dir``), 1 epoch."""
    root = osp.join(data, 'digits' if stage1_dir else 'testImages_abstract')
    opts = [f'{dl}.dataset.data_root={root}'
            for dl in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')]
    if stage1_dir:
        opts += [f'model.backbone.emotional_checkpoint={stage1_dir}',
                 'model.backbone.emotional_checkpoint_config='
                 f'{osp.join(REPO, STAGE1)}']
    return opts + ['train_cfg.max_epochs=1']


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    """The demo's data, small: stimuli in Abstract's layout, digits."""
    root = tmp_path_factory.mktemp('demo')
    write_demo_data(root)
    return str(root / 'work_dirs' / 'demo' / 'data')


#: docs/sweep.md's lines for the scripts underneath the sweep
SLURM_TRAIN = ('GPUS=2 GPUS_PER_NODE=2 CPUS_PER_TASK=1 bash '
               'tools/slurm_train.sh PARTITION JOB CONFIG WORK_DIR [ARGS]')
SLURM_TEST = ('GPUS=2 GPUS_PER_NODE=2 CPUS_PER_TASK=1 GRES= bash '
              'tools/slurm_test.sh PARTITION JOB CONFIG CKPT [ARGS]')


def slurm(command, python=sys.executable, **values):
    """Run a docs/sweep.md line as shown, in the repository, each
    placeholder replaced by its value (``ARGS``: a list of the tool's
    options), its tasks' ``python`` (``PYTHON``) ``python``."""
    args = values.pop('ARGS', [])
    words = [shlex.quote(str(values.pop(w))) if w in values else
             shlex.join(args) if w == '[ARGS]' else w
             for w in command.split()]
    assert not values, f'not in {command!r}: {values}'
    env = dist_env(MASTER_PORT=free_port(), PYTHON=python)
    out = subprocess.run(['bash', '-c', ' '.join(words)], cwd=REPO,
                         capture_output=True, text=True, env=env,
                         timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    return log


@pytest.fixture(scope='module')
def stage1(demo_data, tmp_path_factory):
    """The demo's stage 1, trained in this process (1 epoch): the
    checkpoint that Slurm's stage-2 job reads. Stage 1 as a Slurm job: the
    sweep below."""
    work_dir = str(tmp_path_factory.mktemp('stage1'))
    run_tool('train.py', osp.join(REPO, STAGE1), '--work-dir', work_dir,
             '--cfg-options', *demo_options(demo_data))
    return work_dir


@pytest.mark.slow
@pytest.mark.readme(SLURM_TRAIN)
@pytest.mark.readme(SLURM_TEST)
def test_slurm_train_and_test_both_stages(slurm_cluster, demo_data, stage1,
                                          tmp_path):
    """Each task's tool in an interpreter of its own, as srun starts it."""
    part = slurm_cluster.partition
    s1, s2 = stage1, str(tmp_path / 'stage2')

    # stage 2 reads stage 1; GPU request path: --gres on the stand-in GPUs,
    # gloo tasks
    log = slurm(SLURM_TRAIN, PARTITION=part, JOB='s2',
                CONFIG=STAGE2, WORK_DIR=s2,
                ARGS=['--cfg-options', *demo_options(demo_data, s1)])
    assert '--gres=gpu:2' in log
    assert 'world size 2, backend gloo' in log
    assert osp.isfile(osp.join(s2, 'epoch_1.pth'))

    # both stages tested; CPU partition path (GRES=): no GPU arguments
    for config, work_dir, opts in ((STAGE1, s1, demo_options(demo_data)),
                                   (STAGE2, s2, demo_options(demo_data, s1))):
        log = slurm(SLURM_TEST, PARTITION=part,
                    JOB='test', CONFIG=config,
                    CKPT=osp.join(work_dir, 'epoch_1.pth'), ARGS=[
                        '--work-dir',
                        str(tmp_path / 'test' / osp.basename(config)),
                        '--cfg-options', *opts[:-1]])
        assert '--gres' not in log
        assert 'world size 2, backend gloo' in log
        assert 'accuracy/top1' in log, log[-3000:]


def test_gres_follows_the_partition(slurm_cluster):
    """Unset GRES asks for gpu:GPUS_PER_NODE where sinfo lists GPUs on
    the partition; an explicit value is kept."""
    def gres(**env):
        cmd = ('PARTITION=$0; source tools/slurm_gres.sh; '
               'echo "[${GRES}]"')
        return subprocess.run(
            ['bash', '-c', cmd, slurm_cluster.partition], cwd=REPO,
            capture_output=True, text=True,
            env=dist_env(GPUS_PER_NODE=2, **env)).stdout.strip()

    assert gres() == '[gpu:2]'  # the test cluster lists gpu:2
    assert gres(GRES='') == '[]'
    assert gres(GRES='gpu:a100:1') == '[gpu:a100:1]'
    env = dist_env(GPUS_PER_NODE=2)
    out = subprocess.run(
        ['bash', '-c', 'PARTITION=nosuch; source tools/slurm_gres.sh; '
         'echo "[${GRES}]"'], cwd=REPO, capture_output=True, text=True,
        env=env).stdout.strip()
    assert out == '[]'  # no such partition: no GPU request


# ------------------------------------------------------------ the sweep --
KILLED = 'tiny-resnet_ereg_digits_s0'
PREEMPTED = 'tiny-resnet_const_digits_s0'
TIMED_OUT = 'tiny-resnet_learn-ereg_digits_s0'
#: a path part no shell, sbatch line or --cfg-options may change
HOSTILE = 'it\'s "q", $(touch pwned)\nnext line'


def job_of(run_dir):
    with open(osp.join(run_dir, 'sweep_submit.json')) as f:
        return json.load(f)['job']


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)[
        'state_dict']


def kill_tasks(job):
    """SIGKILL the job's Python tasks, as the OOM killer would (scancel
    --signal=KILL reaches them through srun, which turns it into a
    SIGTERM first)."""
    out = subprocess.run(['scontrol', 'listpids', str(job)],
                         capture_output=True, text=True).stdout
    for line in out.splitlines()[1:]:
        pid = int(line.split()[0])
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                if b'submitit.core._submit' in f.read():
                    os.kill(pid, 9)
        except OSError:
            continue


def job_log(run_dir):
    """The run's Slurm output (submitit's, in ``<run>/submitit``)."""
    return ''.join(p.read_text() for p in
                   (run_dir / 'submitit').glob('*_log.out'))


def odd_checkout(tmp_path):
    """tools/ and configs/ copied to a path with a space, a comma, quotes,
    a command substitution and a line break: the sweep's paths must reach
    every job intact and run nothing."""
    checkout = tmp_path / f'my repo, {HOSTILE}'
    for folder in ('tools', 'configs'):
        shutil.copytree(osp.join(REPO, folder), checkout / folder,
                        symlinks=True)
    return checkout


@pytest.mark.slow
def test_sweep_on_slurm(slurm_cluster, tmp_path):
    write_demo_data(tmp_path, per_emotion=6, limit=20)
    checkout = odd_checkout(tmp_path)
    script = str(checkout / 'tools' / 'sweep.py')
    root = tmp_path / 'work dirs' / f'sweep, lr=0.1 {HOSTILE}'
    args = ['--preset', 'demo', '--modes', 'ereg', 'const', 'learn-ereg',
            '--seeds', '0', '--slurm', slurm_cluster.partition,
            '--cpus-per-task', '1', '--work-root', str(root),
            '--cfg-options', 'train_cfg.max_epochs=2']
    out = sweep(*args, cwd=tmp_path, check=0, script=script)
    assert '4 job(s) submitted' in out.stdout
    stage1_job = job_of(root / 'tiny-resnet_synth-abstract')
    deps = subprocess.run(['squeue', '-h', '-o', '%j %E'],
                          capture_output=True, text=True).stdout
    stage2_deps = [line.split(' ', 1)[1] for line in deps.splitlines()
                   if '_digits_' in line]
    assert len(stage2_deps) == 3, deps  # all still waiting for stage 1
    assert all(d.startswith(f'afterok:{stage1_job}') for d in stage2_deps)

    # kill one stage-2 run, pre-empt another and warn a third of its time
    # limit, each after its epoch 1
    todo = {KILLED: 'KILL', PREEMPTED: 'TERM', TIMED_OUT: 'USR2'}
    deadline = time.time() + 900
    while todo and time.time() < deadline:
        for name, sig in list(todo.items()):
            if osp.isfile(root / name / 'epoch_1.pth'):
                if sig == 'KILL':
                    kill_tasks(job_of(root / name))
                else:
                    subprocess.run(['scancel', f'--signal={sig}',
                                    str(job_of(root / name))], check=True)
                del todo[name]
        time.sleep(0.2)
    assert not todo, f'never reached epoch 1: {todo}'
    slurm_cluster.wait_idle(timeout=900)

    out = sweep(*args[:-2], '--status', cwd=tmp_path, check=0,
                script=script)
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()
            if line.startswith('tiny-resnet')}
    assert rows[KILLED][2] in ('killed', 'failed'), out.stdout
    assert rows[PREEMPTED][2] == 'done', out.stdout
    assert rows[TIMED_OUT][2] == 'done', out.stdout
    assert sum(r[2] == 'done' for r in rows.values()) == 3, out.stdout
    assert 'Results table' not in out.stdout  # not all done yet
    # the pre-empted and warned jobs requeued themselves and resumed from
    # the checkpoint saved when asked to stop
    for name in (PREEMPTED, TIMED_OUT):
        log = job_log(root / name)
        assert 'restart 0' in log and 'restart 1' in log, log[-3000:]
        assert 'Resum' in log and 'saving' in log, log[-3000:]

    # the same run uninterrupted, through the same launcher and threads,
    # on the cluster's other CPU while the sweep re-runs the killed one
    ref = tmp_path / 'reference'
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               PYTHONWARNINGS='ignore', PYTHON=sys.executable, GPUS='1',
               GPUS_PER_NODE='1', CPUS_PER_TASK='1',
               MASTER_PORT=str(free_port()))
    reference = subprocess.Popen(
        ['bash', osp.join(REPO, 'tools', 'slurm_train.sh'),
         slurm_cluster.partition, 'reference',
         str(checkout / 'configs' / 'demo' / 'tiny-resnet_ereg_digits.py'),
         str(ref), '--emotional-checkpoint',
         str(root / 'tiny-resnet_synth-abstract'),
         '--emotional-checkpoint-config',
         str(checkout / 'configs/demo/tiny-resnet_synth-abstract.py'),
         '--cfg-options', 'train_cfg.max_epochs=2', 'randomness.seed=0'],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        # re-running the sweep resubmits only the killed run, which resumes
        out = sweep(*args, '--wait', cwd=tmp_path, check=0, script=script)
        ref_log = reference.communicate(timeout=900)[0]
    finally:
        if reference.poll() is None:
            reference.kill()
    assert reference.returncode == 0, ref_log[-3000:]
    assert '1 job(s) submitted' in out.stdout
    assert f'submitted {KILLED}' in out.stdout
    assert 'done: 4' in out.stdout
    assert (root / 'results.md').is_file()
    killed_log = job_log(root / KILLED)
    assert 'attempt 2' in killed_log and 'Resum' in killed_log

    resumed, plain = (weights(root / KILLED / 'epoch_2.pth'),
                      weights(ref / 'epoch_2.pth'))
    assert resumed.keys() == plain.keys()
    differ = {k: float((resumed[k].double() - plain[k].double()).abs().max())
              for k in plain if not torch.allclose(
                  resumed[k].double(), plain[k].double())}
    assert not differ, differ
    # every path reached its job whole, and no part of one ran
    assert not list(tmp_path.rglob('pwned'))
    # unpickling imports submitit: first without its log set-up, which
    # would close the log files of later tests in this process
    import_submitit()
    with open(sorted((root / KILLED / 'submitit').glob(
            '*_submitted.pkl'))[-1], 'rb') as f:
        job = pickle.load(f).function
    assert job.options[:2] == ['--emotional-checkpoint',
                               str(root / 'tiny-resnet_synth-abstract')]
    assert job.tools_dir == str(checkout / 'tools')


@pytest.mark.slow
def test_a_sweep_killed_after_sbatch_submits_nothing_twice(slurm_cluster,
                                                           tmp_path):
    """The sweep is SIGKILLed just after sbatch accepted a job, before it
    recorded the job id: re-running it finds the job in the queue (by name
    and work dir) instead of submitting the run again."""
    write_demo_data(tmp_path, per_emotion=2, limit=10)
    wrapper = tmp_path / 'bin'
    wrapper.mkdir()
    real = shutil.which('sbatch')
    # sbatch, then the end of its caller (the sweep), as a kill would do
    (wrapper / 'sbatch').write_text(
        f'#!/usr/bin/env bash\n{shlex.quote(real)} "$@"\nkill -9 $PPID\n')
    (wrapper / 'sbatch').chmod(0o755)
    root = tmp_path / 'held'
    args = ['--preset', 'demo', '--modes', 'baseline', '--seeds', '0',
            '--slurm', slurm_cluster.partition, '--cpus-per-task', '1',
            '--work-root', str(root), '--sbatch-args=--hold']
    name = 'tiny-resnet_baseline_digits_s0'

    def queued():
        out = subprocess.run(['squeue', '-h', '--me', '-n', name, '-o',
                              '%i %k'], capture_output=True, text=True)
        return out.stdout.split('\n')[:-1]

    try:
        out = sweep(*args, cwd=tmp_path, env=dict(
            PATH=f'{wrapper}:{os.environ["PATH"]}'))
        assert out.returncode == -9, out.stdout + out.stderr
        assert json.load(open(root / name / 'sweep_submit.json'))[
            'job'] is None  # recorded before sbatch, no answer
        assert len(queued()) == 1
        out = sweep(*args, cwd=tmp_path, check=0)
        assert '0 job(s) submitted' in out.stdout, out.stdout
        jobs = queued()
        assert len(jobs) == 1, jobs
        job, comment = jobs[0].split(' ', 1)
        assert comment == str(root / name)
        assert str(job_of(root / name)) == job  # reconciled and recorded
        out = sweep(*args, '--status', cwd=tmp_path, check=0)
        assert 'queued' in out.stdout and job in out.stdout
    finally:
        subprocess.run(['scancel', '--me', '-n', name])


@pytest.mark.slow
def test_max_running_lets_that_many_jobs_run_at_once(slurm_cluster,
                                                     tmp_path):
    """Two runs that need no stage 1, on a node with room for both: with
    ``--max-running 1`` one waits (``singleton``) while the other runs, and
    both finish."""
    write_demo_data(tmp_path, per_emotion=2, limit=10)
    root = tmp_path / 'lanes'
    args = ['--preset', 'demo', '--modes', 'baseline', '--seeds', '0', '1',
            '--slurm', slurm_cluster.partition, '--cpus-per-task', '1',
            '--work-root', str(root), '--max-running', '1',
            '--cfg-options', 'train_cfg.max_epochs=1']
    out = sweep(*args, cwd=tmp_path, check=0)
    assert '2 job(s) submitted' in out.stdout, out.stdout
    most, waited, deadline = 0, False, time.time() + 600
    while time.time() < deadline:
        jobs = [line.split(' ', 1) for line in subprocess.run(
            ['squeue', '-h', '--me', '-o', '%T %E'], capture_output=True,
            text=True).stdout.splitlines()]
        if not jobs:
            break
        most = max(most, sum(state == 'RUNNING' for state, _ in jobs))
        waited |= any('singleton' in deps for _, deps in jobs)
        time.sleep(0.2)
    assert most == 1 and waited
    out = sweep(*args[:-2], '--status', cwd=tmp_path, check=0)
    assert 'done: 2' in out.stdout, out.stdout
