"""tools/sweep.py and emoreg_mm.experiments: the plan, its checks, the
status, and running a plan here.

The library and the CLI's ``main(argv)`` are called in this process; the
sweeps that train run ``tools/sweep.py`` in a process of its own (its local
backend forks one child per run from it), as do README's commands. The
Slurm demonstration is in test_slurm.py.
"""
import contextlib
import importlib.util
import io
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

import pytest

from emoreg_mm import experiments as ex
from emoreg_mm.experiments.launch import make_job
from emoreg_mm.experiments.plan import write_demo_data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SWEEP = osp.join(REPO, 'tools', 'sweep.py')
ENV = dict(OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
           PYTHONWARNINGS='ignore')


def sweep(*args, cwd, check=None, script=SWEEP, env=None):
    """Run tools/sweep.py (or ``script``) as a user does, from ``cwd``."""
    env = dict(os.environ, **ENV, **(env or {}))
    out = subprocess.run([sys.executable, script, *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=900)
    if check is not None:
        assert out.returncode == check, out.stdout[-4000:] + out.stderr[-4000:]
    return out


def sweep_here(*args, cwd, check=None):
    """tools/sweep.py's ``main(args)`` in this process, from ``cwd``: for
    the sweeps that start no job."""
    spec = importlib.util.spec_from_file_location('emoreg_tool_sweep', SWEEP)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    saved = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = tool.main(list(args))
            except SystemExit as exit_:  # argparse, or sys.exit(message)
                code = exit_.code
                if not isinstance(code, (int, type(None))):
                    print(code, file=sys.stderr)
                    code = 1
    finally:
        os.chdir(saved)
    result = subprocess.CompletedProcess(args, code or 0, out.getvalue(),
                                         err.getvalue())
    if check is not None:
        assert result.returncode == check, \
            result.stdout[-4000:] + result.stderr[-4000:]
    return result


def demo_data(root, per_emotion=6, limit=20):
    """The demo's data where its configs look: ``work_dirs/demo/data``."""
    pytest.importorskip('sklearn')
    from emoreg_mm.demo import make_digits, make_stimuli
    data = osp.join(str(root), 'work_dirs', 'demo', 'data')
    make_stimuli(osp.join(data, 'testImages_abstract'),
                 per_emotion=per_emotion)
    return make_digits(osp.join(data, 'digits'), limit=limit)


def test_plan_of_the_paper_table():
    runs = ex.Sweep(root=REPO).runs()
    stage1 = [r for r in runs if r.stage == 1]
    stage2 = [r for r in runs if r.stage == 2]
    # 2 backbones x 4 sets; baseline once per backbone x target x seed
    assert len(stage1) == 8
    assert len(stage2) == 2 * 2 * 3 * (1 + 5 * 4) == 252
    assert len({r.work_dir for r in runs}) == len(runs)
    by_name = {r.name: r for r in runs}
    run = by_name['vit-b16_learn-ereg_abstract_cifar100_s2']
    assert run.deps == ('vit-b16_abstract', ) and run.seed == 2
    assert run.config == osp.join(
        REPO, 'configs/emoreg/vit-b16_learn-ereg_abstract_cifar100.py')
    assert by_name['resnet50_const_cifar10_s0'].deps == ('resnet50_emoset', )
    assert by_name['resnet50_baseline_cifar10_s1'].deps == ()
    assert all(r.deps[0] in by_name for r in stage2 if r.deps)


def test_unknown_names_list_the_valid_ones(tmp_path):
    out = sweep_here('--dry-run', '--backbones', 'vit-b17', cwd=tmp_path,
                     check=2)
    assert 'unknown backbones vit-b17' in out.stderr
    assert 'valid: resnet50, vit-b16, resnet18-cifar' in out.stderr
    out = sweep_here('--dry-run', '--modes', 'ereg', 'learnereg',
                     cwd=tmp_path, check=2)
    assert 'unknown modes learnereg' in out.stderr
    assert 'rand-learn-ereg' in out.stderr


def test_dry_run_reports_missing_data_and_stage1_config(tmp_path):
    out = sweep_here('--dry-run', '--backbones', 'resnet18-cifar',
                     '--affective', 'abstract', '--modes', 'baseline',
                     'ereg', '--targets', 'cifar10', '--seeds', '0',
                     cwd=tmp_path, check=2)
    assert 'Plan (paper): 3 runs = 1 stage-1 + 2 stage-2' in out.stdout
    assert ('resnet18-cifar_abstract: stage-1 config '
            f'{REPO}/configs/emoreg_pretrain/resnet18-cifar_abstract.py '
            'does not exist') in out.stderr
    assert ('resnet18-cifar_baseline_cifar10_s0: dataset folder data/cifar10'
            in out.stderr)
    assert 'nothing would run' in out.stderr
    # nothing was written or submitted
    assert not osp.exists(tmp_path / 'work_dirs')


def test_dry_run_gpu_hours_and_demo_plan(tmp_path):
    counts = demo_data(tmp_path)
    n_train = sum(counts['train'].values())
    # baseline: its epochs on the digits' training split; 2.0 h by design
    from mmengine.config import Config
    epochs = Config.fromfile(osp.join(
        REPO, 'configs/demo/tiny-resnet_baseline_digits.py')
    ).train_cfg.max_epochs
    tput = epochs * n_train / 3600 / 2.0
    out = sweep_here('--preset', 'demo', '--dry-run', '--modes', 'baseline',
                     '--seeds', '0', '--throughput', f'tiny-resnet={tput}',
                     cwd=tmp_path, check=0)
    assert 'GPU-hours: 2.00 for 1 runs' in out.stdout
    out = sweep_here('--preset', 'demo', '--dry-run', '--modes', 'ereg',
                     'const', cwd=tmp_path, check=0)
    assert 'Plan (demo): 5 runs = 1 stage-1 + 4 stage-2' in out.stdout
    assert 'tiny-resnet_ereg_digits_s1' in out.stdout
    assert 'after tiny-resnet_synth-abstract' in out.stdout
    assert 'No problems found.' in out.stdout


@pytest.mark.slow
def test_local_sweep_runs_resumes_skips_and_writes_the_table(tmp_path):
    """Two runs at once, one thread each; Ctrl-C stops them with one line
    (no traceback) and the same command resumes; the digits' corrupted
    folder passes the checks, and a failed corruption evaluation (a link
    planted at its folder) leaves its run done, the reason in --status,
    and the same command, the link gone, evaluates it again without
    training or testing it; links planted where the sweep and its jobs
    write are never followed."""
    from cifar_c_fixtures import make_cifar_c
    demo_data(tmp_path)
    cifar_c = make_cifar_c(str(tmp_path / 'digits-c'), per_severity=20)
    args = ('--preset', 'demo', '--modes', 'baseline', 'ereg', '--seeds',
            '0', '--jobs', '2', '--corruptions', f'digits={cifar_c}',
            '--cfg-options', 'train_cfg.max_epochs=2')
    target = tmp_path / 'not_yours.txt'
    target.write_text('intact')
    planted = tmp_path / 'work_dirs/sweep/tiny-resnet_ereg_digits_s0'
    planted.mkdir(parents=True)
    for name in ('sweep_status.json.tmp', 'sweep_submit.json.tmp'):
        os.symlink(target, planted / name)
    os.symlink(tmp_path, planted / 'corruptions')
    root = tmp_path / 'work_dirs' / 'sweep'
    # as from an interactive shell, where Ctrl-C reaches the command: a
    # suite started in the background by a non-interactive shell ignores
    # SIGINT, and its children would inherit that
    proc = subprocess.Popen(
        [sys.executable, SWEEP, *args], cwd=tmp_path,
        env=dict(os.environ, **ENV), text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    # stage 1 has saved its first epoch: its log says so (epoch_1.pth
    # itself can be gone by the next poll, replaced by epoch_2.pth)
    log1 = root / 'tiny-resnet_synth-abstract' / 'sweep-local.log'
    while not (log1.exists() and
               'Saving checkpoint at 1 epochs' in log1.read_text()):
        assert proc.poll() is None and time.time() < deadline, \
            proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the sweep
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stdout + stderr
    # stage 1 and the baseline (which needs no stage 1) were running
    assert stderr.strip().splitlines() == [
        'tools/sweep.py: interrupted; 2 run(s) stopped (training saved '
        'where it had started); run the same command again to resume.']

    out = sweep(*args, cwd=tmp_path, check=0)
    assert target.read_text() == 'intact'
    assert 'started tiny-resnet_synth-abstract (attempt 2)' in out.stdout
    assert 'done: 3' in out.stdout
    log = (root / 'tiny-resnet_synth-abstract' / 'sweep-local.log'
           ).read_text()
    assert 'Resum' in log and 'threads 1' in log
    run = root / 'tiny-resnet_ereg_digits_s0'
    assert (run / 'predictions.npz').is_file()
    status = json.loads((run / 'sweep_status.json').read_text())
    assert status['state'] == 'done'
    assert status['corruptions'].startswith('failed: eval_corruptions.py: '
                                            'error: ') and \
        'corruptions: a symlink, which no' in status['corruptions']
    assert (root / 'tiny-resnet_baseline_digits_s0' / 'corruptions' /
            'gaussian_noise' / 's5.npz').is_file()
    assert (root / 'results.md').is_file()
    table = (root / 'results.md').read_text()
    assert '| ereg |' in table and '| baseline |' in table
    out = sweep_here(*args[:7], '--status', cwd=tmp_path, check=0)
    assert "corruptions: failed: " in out.stdout and ': a symlink, which' \
        in out.stdout
    assert 'Results table:' in out.stdout
    # the link gone, the same command evaluates that run again, alone
    # (trained and tested: its checkpoint and predictions stay as they are)
    os.unlink(run / 'corruptions')
    kept = {f: (run / f).stat().st_mtime_ns
            for f in ('predictions.npz', 'epoch_2.pth')}
    out = sweep(*args, cwd=tmp_path, check=0)
    assert 'started tiny-resnet_ereg_digits_s0 (attempt 2): its corruption ' \
        'evaluation again' in out.stdout
    assert out.stdout.count('started') == 1 and 'done: 3' in out.stdout
    assert {f: (run / f).stat().st_mtime_ns for f in kept} == kept
    status = json.loads((run / 'sweep_status.json').read_text())
    assert status['state'] == 'done' and status['corruptions'] == 'done'
    assert (run / 'corruptions' / 'gaussian_noise' / 's5.npz').is_file()
    # again: everything is finished, nothing runs
    out = sweep(*args, cwd=tmp_path, check=0)
    assert 'started' not in out.stdout and 'done: 3' in out.stdout


@pytest.mark.slow
def test_failed_runs_are_retried_up_to_the_limit(tmp_path):
    demo_data(tmp_path)
    args = ('--preset', 'demo', '--modes', 'baseline', '--seeds', '0',
            '--max-retries', '1', '--cfg-options', 'train_cfg.no_such_key=1')
    name = 'tiny-resnet_baseline_digits_s0'
    for attempt in (1, 2):  # train.py refuses the unknown key: exit 1
        out = sweep(*args, cwd=tmp_path, check=1)
        assert f'started {name} (attempt {attempt})' in out.stdout
        assert 'failed: 1' in out.stdout
    out = sweep_here(*args, cwd=tmp_path, check=1)
    assert 'started' not in out.stdout
    assert (f'not run {name}: failed after 2 attempts (--max-retries 1)'
            in out.stdout)
    log = tmp_path / 'work_dirs' / 'sweep' / name / 'sweep-local.log'
    assert log.read_text().count('no_such_key') >= 2
    # --status without a selection follows the plan the sweep recorded:
    # this one run, not the paper's 260
    out = sweep_here('--status', cwd=tmp_path, check=0)
    assert 'Plan recorded in' in out.stdout and '(1 runs;' in out.stdout
    rows = [line for line in out.stdout.splitlines()
            if line.startswith('tiny-resnet')]
    assert [r.split()[0] for r in rows] == [name]
    assert 'failed' in rows[0]
    # a damaged record is named, not guessed around
    (tmp_path / 'work_dirs' / 'sweep' / 'sweep_plan.json').write_text('[1]')
    out = sweep_here('--status', cwd=tmp_path, check=2)
    assert 'sweep_plan.json: not a plan this sweep recorded' in out.stderr


def run_readme(command, cwd):
    """A README command exactly, with this Python for ``python``."""
    argv = command.split()
    assert argv[:2] == ['python', 'tools/sweep.py']
    return sweep(*argv[2:], cwd=cwd)


@pytest.mark.readme('python tools/sweep.py --dry-run --throughput '
                    'vit-b16=400 resnet50=1200')
def test_readme_dry_run(tmp_path):
    out = run_readme('python tools/sweep.py --dry-run --throughput '
                     'vit-b16=400 resnet50=1200', tmp_path)
    assert out.returncode == 2  # no data here: reported, nothing runs
    assert 'Plan (paper): 260 runs = 8 stage-1 + 252 stage-2' in out.stdout
    # CIFAR's size is known without the data: 45,000 training images
    from mmengine.config import Config
    hours = sum(
        63 * Config.fromfile(osp.join(
            REPO, f'configs/emoreg/{b}_baseline_{t}.py')).train_cfg.max_epochs
        * 45_000 / tput / 3600
        for b, tput in (('vit-b16', 400), ('resnet50', 1200))
        for t in ('cifar10', 'cifar100'))
    assert f'GPU-hours: {hours:.2f} for 252 runs' in out.stdout
    assert 'not counted: 8 (data not here and its size not known): ' \
        'resnet50_emoset' in out.stdout
    assert 'dataset folder data/EmoSet-118K' in out.stderr


DOCS_DRY_RUN = ('python tools/sweep.py --dry-run --backbones vit-b16 '
                '--targets cifar100 --modes const ereg learn-ereg --seeds 0 1 '
                '2 --throughput vit-b16=400')


@pytest.mark.readme('python tools/sweep.py --dry-run')
@pytest.mark.readme(DOCS_DRY_RUN)
def test_docs_dry_runs(tmp_path):
    """docs/sweep.md's plans: the paper's table, then a part of it."""
    out = run_readme('python tools/sweep.py --dry-run', tmp_path)
    assert out.returncode == 2, out.stderr  # no data here
    assert 'Plan (paper): 260 runs = 8 stage-1 + 252 stage-2' in out.stdout
    assert 'GPU-hours' not in out.stdout  # no --throughput: no hours
    out = run_readme(DOCS_DRY_RUN, tmp_path)
    assert out.returncode == 2, out.stderr
    assert ('Plan (paper): 40 runs = 4 stage-1 + 36 stage-2 | backbones '
            'vit-b16 | affective emoset, abstract, emod, diffused-emod | '
            'modes const, ereg, learn-ereg | targets cifar100 | seeds 0, 1, '
            '2') in out.stdout
    from mmengine.config import Config
    epochs = Config.fromfile(osp.join(
        REPO, 'configs/emoreg/vit-b16_baseline_cifar100.py')
    ).train_cfg.max_epochs
    hours = 36 * epochs * 45_000 / 400 / 3600
    assert f'GPU-hours: {hours:.2f} for 36 runs' in out.stdout
    assert not osp.exists(tmp_path / 'work_dirs')


@pytest.mark.readme('python tools/sweep.py --slurm PARTITION --gpus 8 '
                    '--cpus-per-task 5')
@pytest.mark.readme('python tools/sweep.py --jobs 2 --gpus 1')
@pytest.mark.readme('python tools/sweep.py --slurm PARTITION --gpus 16 '
                    '--gpus-per-node 8 --backbones vit-b16 --affective '
                    'emoset --modes learn-ereg --targets cifar100 --seeds 0')
@pytest.mark.readme('python tools/sweep.py --slurm PARTITION --gpus 8')
@pytest.mark.readme('python tools/sweep.py --jobs 1 --gpus 8')
@pytest.mark.parametrize('command', [
    'python tools/sweep.py --slurm PARTITION --gpus 16 --gpus-per-node 8 '
    '--backbones vit-b16 --affective emoset --modes learn-ereg --targets '
    'cifar100 --seeds 0',
    'python tools/sweep.py --slurm PARTITION --gpus 8',
    'python tools/sweep.py --jobs 1 --gpus 8',
    'python tools/sweep.py --slurm PARTITION --gpus 8 --backbones vit-b16 '
    '--targets cifar100',
    'python tools/sweep.py --slurm PARTITION --gpus 8 --cpus-per-task 5',
    'python tools/sweep.py --jobs 2 --gpus 1',
])
def test_readme_runs_check_before_submitting(tmp_path, command):
    """Without the datasets, every documented sweep stops before submitting
    or starting anything, naming what is missing."""
    out = run_readme(command, tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert 'nothing submitted' in out.stderr
    assert 'dataset folder data/cifar100' in out.stderr
    assert not osp.exists(tmp_path / 'work_dirs')


@pytest.mark.readme('python tools/sweep.py --status')
def test_readme_status(tmp_path):
    out = run_readme('python tools/sweep.py --status', tmp_path)
    assert out.returncode == 0, out.stderr
    assert 'todo: 260' in out.stdout
    assert 'vit-b16_learn-ereg_emod_cifar100_s2' in out.stdout
    assert 'Results table' not in out.stdout


@pytest.mark.parametrize('option', ['--slurm', '--gres', '--sbatch-args'])
def test_line_breaks_in_sbatch_values_are_refused(tmp_path, option):
    """What goes into an #SBATCH line; paths reach the jobs pickled, so a
    work root with a line break is planned like any other."""
    out = sweep_here('--dry-run', option, 'debug\ntouch pwned', cwd=tmp_path)
    assert out.returncode == 2
    assert (f"{option} 'debug\\ntouch pwned' holds a line break or NUL"
            in out.stderr)
    assert not (tmp_path / 'pwned').exists()
    out = sweep_here('--dry-run', '--work-root', 'a\nb $(touch pwned)',
                     '--preset', 'demo', cwd=tmp_path)
    assert 'Plan (demo)' in out.stdout and not (tmp_path / 'pwned').exists()


def test_status_reads_what_killed_jobs_and_co_workers_leave(tmp_path,
                                                            monkeypatch):
    """Each run dir's bad state file is named with the reason while the
    status of the others is still shown; nothing hangs; a PID that is not
    the recorded job is not trusted."""
    args = ('--preset', 'demo', '--modes', 'baseline', 'ereg', 'const',
            '--seeds', '0')
    root = tmp_path / 'work_dirs' / 'sweep'
    runs = {n: root / n for n in (
        'tiny-resnet_synth-abstract', 'tiny-resnet_baseline_digits_s0',
        'tiny-resnet_ereg_digits_s0', 'tiny-resnet_const_digits_s0')}
    for run in runs.values():
        run.mkdir(parents=True)
    # a submit file holding [1]; a local job recorded as PID 1 (running,
    # but not this job); last_checkpoint a device; a FIFO state file
    (runs['tiny-resnet_synth-abstract'] / 'sweep_submit.json').write_text(
        '[1]')
    (runs['tiny-resnet_baseline_digits_s0'] / 'sweep_submit.json').write_text(
        json.dumps(dict(job=1, attempt=1, scheduler='local',
                        host=socket.gethostname())))
    os.symlink('/dev/zero',
               runs['tiny-resnet_baseline_digits_s0'] / 'last_checkpoint')
    os.mkfifo(runs['tiny-resnet_ereg_digits_s0'] / 'sweep_submit.json')
    os.mkfifo(runs['tiny-resnet_const_digits_s0'] / 'last_checkpoint')
    out = sweep_here(*args, '--status', cwd=tmp_path, check=0)
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()
            if line.startswith('tiny-resnet')}
    assert rows['tiny-resnet_synth-abstract'][2] == 'bad'
    assert rows['tiny-resnet_baseline_digits_s0'][2:4] == ['killed', '?']
    assert rows['tiny-resnet_ereg_digits_s0'][2] == 'bad'
    assert rows['tiny-resnet_const_digits_s0'][2:4] == ['todo', '?']
    assert ('tiny-resnet_synth-abstract: work_dirs/sweep/tiny-resnet_synth-'
            'abstract/sweep_submit.json: a JSON list, not a submission '
            'record. Not resubmitted') in out.stdout
    assert ('tiny-resnet_ereg_digits_s0: work_dirs/sweep/tiny-resnet_ereg_'
            'digits_s0/sweep_submit.json: not a regular file') in out.stdout
    # a re-run starts the run of PID 1, never the unreadable ones
    monkeypatch.chdir(tmp_path)
    plan = ex.Sweep('demo', modes=args[3:6], seeds=[0], root=REPO).runs()
    go, left = ex.to_submit(plan, ex.states(plan), max_retries=2)
    assert 'tiny-resnet_baseline_digits_s0' in [r.name for r in go]
    assert ('tiny-resnet_synth-abstract', 'its state file cannot be read '
            '(above)') in left

    # a run recorded as a Slurm job where squeue is not on the PATH
    (runs['tiny-resnet_synth-abstract'] / 'sweep_submit.json').write_text(
        json.dumps(dict(job='42', attempt=1, scheduler='slurm')))
    monkeypatch.setenv('PATH', str(tmp_path / 'no-slurm-here'))
    out = sweep_here(*args, '--status', cwd=tmp_path)
    assert out.returncode == 1
    assert 'submitted to Slurm, but squeue is not on the PATH' in out.stderr


def test_every_shipped_set_and_per_set_data_roots(tmp_path):
    """Every affective set with leaves is a choice; --data-root NAME=PATH
    moves one set's (or target's) data, checked by --dry-run and handed to
    that set's jobs."""
    fi = tmp_path / 'FI'
    args = ('--dry-run', '--affective', 'fi', 'artphoto', 'emotion6',
            '--backbones', 'vit-b16', '--modes', 'ereg', '--targets',
            'cifar10', '--seeds', '0', '--data-root', f'fi={fi}')
    out = sweep_here(*args, cwd=tmp_path, check=2)
    assert 'Plan (paper): 6 runs = 3 stage-1 + 3 stage-2' in out.stdout
    assert f'vit-b16_fi: dataset folder {fi} (--data-root) does not exist' \
        in out.stderr
    assert 'vit-b16_artphoto: dataset folder data/testImages_artphoto' \
        in out.stderr
    fi.mkdir()
    out = sweep_here(*args, cwd=tmp_path, check=2)
    assert 'vit-b16_fi:' not in out.stderr  # found where it was said to be
    out = sweep_here(*args[:-1], 'nope=/x', cwd=tmp_path, check=2)
    assert "--data-root 'nope=/x': unknown set nope" in out.stderr
    assert ('fi, artphoto, emotion6, oasis, gaped, emotion6-va, findingemo, '
            'cifar10, cifar100') in out.stderr

    sweep_ = ex.Sweep(affective=['fi', 'emotion6'], backbones=['vit-b16'],
                      modes=['ereg'], targets=['cifar10'], seeds=[0],
                      data_root=[f'fi={fi}'], root=REPO)
    runs = {r.name: r for r in sweep_.runs()}
    job = make_job(sweep_, runs['vit-b16_fi'], 1, 'tools')
    assert job.options[job.options.index('--data-root') + 1] == str(fi)
    assert '--data-root' not in make_job(
        sweep_, runs['vit-b16_emotion6'], 1, 'tools').options
    stage2 = make_job(sweep_, runs['vit-b16_ereg_fi_cifar10_s0'], 1, 'x')
    assert stage2.test and stage2.options[:2] == [
        '--emotional-checkpoint', osp.abspath('work_dirs/sweep/vit-b16_fi')]


RATED = ('oasis', 'gaped', 'emotion6-va', 'findingemo')
DOCS_RATED = ('python tools/sweep.py --dry-run --affective oasis gaped '
              '--modes const arousal-reg learn-va-reg --controls shuffled')


@pytest.mark.readme(DOCS_RATED)
def test_sets_rated_on_valence_and_arousal_take_their_modes(tmp_path):
    """The sets rated on valence and arousal are offered with the modes of
    a dimensional state (docs/sweep.md's plan; every run's config shipped,
    their controls' too); without --modes, the modes that regulate every
    set chosen; a mode of the other space is refused, naming the mode and
    the set."""
    out = run_readme(DOCS_RATED, tmp_path)
    assert out.returncode == 2, out.stderr  # no data here
    # 2 backbones x 2 sets x (the set, its shuffled control): 8 stage-1
    # runs; x 2 targets x 3 seeds x 3 modes: 144 stage-2 runs
    assert ('Plan (paper): 152 runs = 8 stage-1 + 144 stage-2 | backbones '
            'resnet50, vit-b16 | affective oasis, gaped | modes const, '
            'arousal-reg, learn-va-reg') in out.stdout
    assert 'configs/emoreg/vit-b16_learn-va-reg_gaped-shuffled_cifar100.py' \
        in out.stdout
    problems = [line for line in out.stderr.splitlines()
                if 'does not exist' in line]
    assert problems and all('dataset folder data/' in p for p in problems)
    assert 'data/OASIS_database_2016' in out.stderr
    assert not osp.exists(tmp_path / 'work_dirs')

    full = ex.Sweep(affective=RATED, controls=['shuffled', 'untrained'],
                    root=REPO)
    assert full.modes == ('baseline', 'e-infl', 'const', 'arousal-reg',
                          'learn-va-reg')
    assert all(osp.isfile(r.config) for r in full.runs())
    assert ex.Sweep(root=REPO).modes == (
        'baseline', 'e-infl', 'const', 'ereg', 'learn-ereg',
        'rand-learn-ereg')  # the paper's table: emotion-labelled sets
    assert ex.Sweep(affective=['emoset', 'gaped'], root=REPO).modes == (
        'baseline', 'e-infl', 'const')

    out = sweep_here('--dry-run', '--affective', 'oasis', '--modes', 'ereg',
                     cwd=tmp_path, check=2)
    assert ('--modes ereg and --affective oasis do not go together: ereg '
            'regulates a categorical affective state, oasis gives a '
            'dimensional (valence, arousal) one; the modes for oasis: '
            'baseline, e-infl, const, arousal-reg, learn-va-reg') \
        in out.stderr
    with pytest.raises(ex.PlanError, match='--modes learn-va-reg and '
                       '--affective emoset do not go together: learn-va-reg '
                       'regulates a dimensional affective state, emoset '
                       r'gives a categorical \(8 emotions\) one'):
        ex.Sweep(modes=['const', 'learn-va-reg'], root=REPO)
    with pytest.raises(ex.PlanError, match='arousal-reg and --affective fi'):
        ex.Sweep(affective=['gaped', 'fi'], modes=['arousal-reg'], root=REPO)


def test_the_demo_preset_makes_its_own_data(tmp_path, monkeypatch):
    """Without tools/run_demo.py first: the dry run says the sweep writes
    the data, and the sweep writes it (where the demo's configs look)
    before checking; a set given by --data-root is not written."""
    pytest.importorskip('sklearn')
    args = ('--preset', 'demo', '--modes', 'baseline', '--seeds', '0')
    out = sweep_here(*args, '--dry-run', cwd=tmp_path, check=2)
    assert 'the sweep writes the demo data when it runs' in out.stderr
    monkeypatch.chdir(tmp_path)
    data = tmp_path / 'work_dirs' / 'demo' / 'data'
    paths = write_demo_data(skip={'digits': '/elsewhere'}, out=lambda _: 0)
    assert list(paths) == ['synth-abstract'] and not (data / 'digits').exists()
    write_demo_data(out=lambda _: 0)
    assert (data / 'testImages_abstract' / 'ABSTRACT_groundTruth.csv'
            ).is_file()
    assert len(list((data / 'digits' / 'train').glob('*/*.png'))) > 1000
    out = sweep_here(*args, '--dry-run', cwd=tmp_path, check=0)
    assert 'No problems found.' in out.stdout


def test_a_config_tree_of_ones_own(tmp_path):
    """--config-root: a user's tree laid out as configs/, with their own
    backbone, affective set and target (names read from the files), its
    configs inheriting the installed ones by path or through
    ``emoreg_mm::``. The dry run also in a fresh interpreter without torch,
    where nothing but the sweep has told mmengine where emoreg_mm:: is."""
    tree = tmp_path / 'mine'
    demo = osp.join(REPO, 'configs', 'demo')
    for rel, base in (
            ('emoreg_pretrain/mynet_myset.py',
             'emoreg_mm::demo/tiny-resnet_synth-abstract'),
            ('emoreg/mynet_baseline_mytarget.py',
             'emoreg_mm::demo/tiny-resnet_baseline_digits'),
            ('emoreg/mynet_ereg_myset_mytarget.py',
             f'{demo}/tiny-resnet_ereg_digits')):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(f"_base_ = ['{base}.py']\n")
    (tree / 'emoreg' / 'notes_about_this.py').write_text('x = 1\n')
    counts = demo_data(tmp_path)
    fresh = subprocess.run(
        [sys.executable, '-c', 'import runpy, sys\n'
         'sys.modules["torch"] = None\n'
         f'sys.argv = [{SWEEP!r}, "--config-root", {str(tree)!r}, '
         '"--dry-run"]\n'
         f'runpy.run_path({SWEEP!r}, run_name="__main__")'],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stdout[-2000:] + fresh.stderr[-2000:]
    assert 'No problems found.' in fresh.stdout
    out = sweep_here('--config-root', str(tree), '--dry-run', '--throughput',
                     'mynet=100', cwd=tmp_path, check=0)
    # the paper's three seeds: 1 stage-1 + 2 modes x 3 seeds
    assert f'Plan ({tree}): 7 runs = 1 stage-1 + 6 stage-2' in out.stdout
    assert 'backbones mynet | affective myset | modes baseline, ereg | ' \
        'targets mytarget' in out.stdout
    assert 'mynet_ereg_myset_mytarget_s2' in out.stdout
    assert 'after mynet_myset' in out.stdout
    assert 'No problems found.' in out.stdout
    assert 'GPU-hours' in out.stdout and 'for 7 runs' in out.stdout
    assert sum(counts['train'].values()) > 0
    out = sweep_here('--config-root', str(tree), '--dry-run', '--affective',
                     'emoset', cwd=tmp_path, check=2)
    assert 'unknown affective emoset' in out.stderr and 'valid: myset' \
        in out.stderr


# ------------------------------------------------------------- controls
DOCS_CONTROLS = 'python tools/sweep.py --preset demo --controls shuffled ' \
    '--dry-run'


@pytest.mark.readme(DOCS_CONTROLS)
def test_docs_controls_dry_run_lists_the_control_runs(tmp_path):
    """docs/sweep.md's --controls: X-shuffled's stage 1 and, for every mode
    but baseline, its stage-2 runs after it, beside X's."""
    out = run_readme(DOCS_CONTROLS, tmp_path)
    assert out.returncode == 2, out.stderr  # the demo data is not here
    assert ('Plan (demo): 24 runs = 2 stage-1 + 22 stage-2 | backbones '
            'tiny-resnet | affective synth-abstract | modes baseline, '
            'e-infl, const, ereg, learn-ereg, rand-learn-ereg | targets '
            'digits | seeds 0, 1 | controls shuffled') in out.stdout
    lines = out.stdout.splitlines()
    assert lines[2].split() == [
        'stage', '1', 'tiny-resnet_synth-abstract-shuffled',
        'configs/demo/tiny-resnet_synth-abstract-shuffled.py']
    for mode in ('e-infl', 'const', 'ereg', 'learn-ereg', 'rand-learn-ereg'):
        name = f'tiny-resnet_{mode}_synth-abstract-shuffled_digits'
        for seed in (0, 1):
            row, = [line for line in lines if f' {name}_s{seed} ' in line]
            assert row.split()[3:] == [
                f'configs/demo/{name}.py', 'after',
                'tiny-resnet_synth-abstract-shuffled']
    assert 'baseline_synth' not in out.stdout
    assert not osp.exists(tmp_path / 'work_dirs')


def test_plan_of_the_paper_table_with_its_controls(tmp_path):
    """Every set chosen gets its controls in every mode but baseline, with
    the same backbones, targets and seeds; X-shuffled waits for its own
    stage 1 (on X's data), X-untrained for none."""
    swept = ex.Sweep(root=REPO, controls=['shuffled', 'untrained'],
                     data_root=['abstract=/data/abstract'],
                     work_root=str(tmp_path / 'sweep'))
    runs = swept.runs()
    by_name = {r.name: r for r in runs}
    stage1 = [r for r in runs if r.stage == 1]
    # 2 backbones x 4 sets, each with its shuffled stage 1; per backbone,
    # target and seed: baseline and 5 modes x 4 sets x (set + 2 controls)
    assert len(stage1) == 16
    assert len(runs) - len(stage1) == 2 * 2 * 3 * (1 + 5 * 4 * 3) == 732
    assert all(osp.isfile(r.config) for r in runs)
    shuffled = by_name['vit-b16_const_abstract-shuffled_cifar100_s2']
    assert shuffled.deps == ('vit-b16_abstract-shuffled', )
    assert shuffled.key == ('vit-b16', 'const', 'abstract-shuffled',
                            'cifar100')
    assert by_name['resnet50_ereg_emoset-untrained_cifar10_s0'].deps == ()
    assert swept.data_root_of(by_name['vit-b16_abstract-shuffled']) == \
        '/data/abstract'
    assert not any('baseline_' in r.name and '-' in r.key[2] for r in runs
                   if r.key[2])
    # the recorded plan keeps them: --status without a selection lists them
    swept.record()
    assert ex.read_plan(swept.work_root)['controls'] == [
        'shuffled', 'untrained']
    out = sweep_here('--status', '--work-root', swept.work_root,
                     cwd=tmp_path, check=0)
    assert 'todo: 748' in out.stdout
    assert 'vit-b16_rand-learn-ereg_diffused-emod-untrained_cifar100_s2' \
        in out.stdout


def test_controls_take_names_apart_or_a_comma_list(tmp_path):
    for given in (['shuffled,untrained'], ['untrained', 'shuffled']):
        out = sweep_here('--dry-run', '--backbones', 'resnet18-cifar',
                         '--affective', 'emoset', '--modes', 'ereg',
                         '--targets', 'cifar10',
                         '--seeds', '0', '--controls', *given,
                         cwd=tmp_path, check=2)  # no data here
        assert 'Plan (paper): 5 runs = 2 stage-1 + 3 stage-2' in out.stdout
    out = sweep_here('--dry-run', '--controls', 'shuffle', cwd=tmp_path,
                     check=2)
    assert 'unknown controls shuffle for preset paper; valid: shuffled, ' \
        'untrained' in out.stderr


def test_a_config_tree_of_ones_own_offers_the_controls_it_holds(tmp_path):
    """--config-root: the leaves named X-shuffled are X's control, not a
    set of their own."""
    for rel in ('emoreg_pretrain/resnet50_abstract.py',
                'emoreg_pretrain/resnet50_abstract-shuffled.py',
                'emoreg/resnet50_ereg_abstract_cifar10.py',
                'emoreg/resnet50_ereg_abstract-shuffled_cifar10.py'):
        path = tmp_path / 'mine' / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(osp.join(REPO, 'configs', rel)) as f:
            path.write_text(f.read())
    swept = ex.Sweep(config_root=str(tmp_path / 'mine'),
                     controls=['shuffled'], seeds=[0])
    assert (swept.affective, swept.spec.controls) == (('abstract', ),
                                                      ('shuffled', ))
    assert [r.name for r in swept.runs()] == [
        'resnet50_abstract', 'resnet50_abstract-shuffled',
        'resnet50_ereg_abstract_cifar10_s0',
        'resnet50_ereg_abstract-shuffled_cifar10_s0']
    with pytest.raises(ex.PlanError, match='unknown controls untrained'):
        ex.Sweep(config_root=str(tmp_path / 'mine'), controls=['untrained'])


@pytest.mark.slow
def test_local_sweep_trains_the_controls(tmp_path):
    """The demo's ereg with both controls, one epoch each: the shuffled
    stage 1 trains on the permuted labels, its stage 2 reads it, the
    untrained stage 2 trains and tests with no stage 1."""
    demo_data(tmp_path)
    out = sweep('--preset', 'demo', '--modes', 'ereg', '--seeds', '0',
                '--controls', 'shuffled,untrained', '--jobs', '2',
                '--cfg-options', 'train_cfg.max_epochs=1', cwd=tmp_path,
                check=0)
    assert 'done: 5' in out.stdout, out.stdout
    root = tmp_path / 'work_dirs' / 'sweep'
    log = (root / 'tiny-resnet_synth-abstract-shuffled' /
           'sweep-local.log').read_text()
    assert 'shuffle_labels=True, seed 0: the labels of' in log
    untrained = root / 'tiny-resnet_ereg_synth-abstract-untrained_digits_s0'
    assert (untrained / 'predictions.npz').is_file()
    assert 'emotional-checkpoint' not in (untrained /
                                          'sweep-local.log').read_text()
