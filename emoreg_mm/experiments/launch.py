"""Running a sweep's plan: on Slurm through submitit, or on this machine.

Both run :class:`~.job.SweepJob` for each run to (re)submit
(:func:`to_submit`), and record each submission in the run dir
(``sweep_submit.json``) so that no run is ever submitted twice:

- **Slurm** (:func:`submit_slurm`): one job per run, a stage-2 job
  ``afterok`` on its stage-1 job (``--kill-on-invalid-dep=yes``), each
  job's ``--comment`` naming its run dir; the submission is recorded
  without a job id before ``sbatch`` runs and with it after, and a record
  without an id is reconciled with the queue by the comment. ``max_running``
  spreads the jobs over that many ``singleton`` lanes (job names), so at
  most that many run at once. submitit pickles the job: no script is
  written by hand and no value is quoted here.
- **Here** (:func:`run_local`): ``jobs`` at a time, a run as soon as its
  stage 1 is done, each in a child forked from this process once it has
  imported torch, mmengine, mmpretrain and the tools (the imports are paid
  once, not per run), with ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` = cores /
  running processes. Each run is claimed before it starts (:func:`claim`:
  its state read again and this sweep recorded, under a lock of the run
  dir), so of two sweeps on one work root only one runs it; the other
  waits for it and reports what it ended as. Ctrl-C stops the children
  (SIGTERM: training saves and stops) and raises :class:`Interrupted`.
"""
import hashlib
import os
import os.path as osp
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

from emoreg_mm.processes import process_start
from .job import LOCAL_JOB, SweepJob
from .plan import Run, Sweep
from .status import (ALIVE, SUBMIT, evaluation_failed, sbatch_value,
                     slurm_comment, states, write_state)

#: The guard under which a local sweep claims a run, in the run dir.
CLAIM_GUARD = '.emoreg_mm.sweep.guard'
#: Seconds between looks at the runs another sweep runs.
POLL = 2.


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a local sweep; ``stopped``: the runs it stopped."""

    def __init__(self, stopped: List[str]):
        super().__init__(stopped)
        self.stopped = stopped


def to_evaluate(sweep: Sweep, runs: List[Run], st: Dict) -> set:
    """Names of the runs done whose corruption or shift evaluation failed
    and which this sweep evaluates (``--corruptions`` / ``--shift`` of
    their target): submitted again, they run the evaluations alone."""
    return {run.name for run in runs if st[run.name][0] == 'done' and
            run.stage == 2 and (sweep.corruption_roots.get(run.key[3]) or
                                sweep.shift_of(run)) and
            evaluation_failed(run.work_dir)}


def to_submit(runs: List[Run], st: Dict, max_retries: int,
              evaluate: frozenset = frozenset()):
    """Runs to (re)submit now, and ``(name, reason)`` of those left out;
    a run done is submitted again only where ``evaluate`` names it."""
    go, left = [], []
    for run in runs:
        state, attempts, _ = st[run.name]
        if state == 'done' and run.name in evaluate:
            go.append(run)
            continue
        if state in ('done', ) + ALIVE:
            continue
        if state == 'bad':
            left.append((run.name, 'its state file cannot be read (above)'))
            continue
        if attempts > max_retries:
            left.append((run.name, f'{state} after {attempts} attempts '
                         f'(--max-retries {max_retries})'))
            continue
        dep = run.deps and st[run.deps[0]][0]
        if dep and dep not in ('done', ) + ALIVE \
                and run.deps[0] not in {r.name for r in go}:
            left.append((run.name, f'stage 1 {run.deps[0]} is {dep}'))
            continue
        go.append(run)
    return go, left


def make_job(sweep: Sweep, run: Run, attempt: int, tools_dir: str,
             launcher: str = 'none') -> SweepJob:
    """The job of ``run``: its options, stage 1 and data root."""
    opts, stage1 = list(sweep.cfg_options) + list(
        sweep.stage_options.get(run.stage, ())), []
    if run.stage == 2:
        opts.append(f'randomness.seed={run.seed}')
        if run.grid:  # the point, and which keys make it (results, tracker)
            keys = ','.join(p.partition('=')[0] for p in run.grid)
            opts += [*run.grid, f'emoreg_grid=[{keys}]']
        if run.deps:  # paths as arguments of their own: never split
            stage1 = ['--emotional-checkpoint',
                      osp.abspath(osp.join(sweep.work_root, run.deps[0])),
                      '--emotional-checkpoint-config',
                      sweep.config(1, run.deps[0])]
    if sweep.tracker:  # the tracker's project / experiment
        work_root = osp.basename(osp.abspath(sweep.work_root))
        opts.append(f'emoreg_sweep={work_root}')
    cfg = ['--cfg-options', *opts] if opts else []
    root = sweep.data_root_of(run)
    data = ['--data-root', root] if root else []
    corrupted = sweep.corruption_roots.get(run.key[3]) \
        if run.stage == 2 else None
    tracker = ['--tracker', *sweep.tracker] if sweep.tracker else []
    return SweepJob(run.name, osp.abspath(run.work_dir), run.config,
                    tools_dir, stage1 + data + cfg + tracker,
                    test=run.stage == 2,
                    corruptions=corrupted, corruption_options=stage1 + cfg,
                    attempt=attempt, launcher=launcher,
                    shift=sweep.shift_of(run))


# ------------------------------------------------------------------ Slurm
def partition_gres(partition: str, gpus_per_node: int) -> str:
    """``gpu:GPUS_PER_NODE`` where the partition's nodes list GPUs in
    sinfo's GRES column, '' on a CPU partition (as tools/slurm_gres.sh)."""
    out = subprocess.run(['sinfo', '-h', '-p', partition, '-o', '%G'],
                         capture_output=True, text=True)
    return f'gpu:{gpus_per_node}' if 'gpu' in out.stdout else ''


def sbatch_options(text: str) -> Dict[str, object]:
    """``--sbatch-args`` as submitit's additional parameters.

    Raises:
        ValueError: an option that is not ``--name[=value]``.
    """
    options = {}
    for word in shlex.split(text):
        name, sep, value = word.partition('=')
        if not re.fullmatch(r'--[a-z][a-z0-9-]*', name) or \
                not value.isprintable():
            raise ValueError(f'--sbatch-args {word!r}: expected sbatch '
                             'options as --name=value or --flag')
        options[name[2:]] = value if sep else True
    return options


def minutes(limit: str) -> int:
    """A Slurm time limit (``MM``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``) in
    minutes; 0 where it is not one."""
    days, _, rest = limit.rpartition('-')
    parts = [int(p) for p in rest.split(':') if p.isdigit()]
    if not parts or len(parts) != len(rest.split(':')) or (
            days and not days.isdigit()):
        return 0
    if days:
        h, m, s = (parts + [0, 0])[:3]
    else:
        h, m, s = ([0] * (3 - len(parts)) + parts) if len(parts) > 1 \
            else (0, parts[0], 0)
    return int(days or 0) * 1440 + h * 60 + m + (s > 0)


def submitit_folder(work_dir: str) -> str:
    """Where submitit keeps a run's job files and logs: ``<run>/submitit``,
    or, where the run dir's path holds a character an ``#SBATCH`` line
    cannot carry (a line break, ``%``, ``\\``), a link to it under
    ``~/.cache/emoreg_mm/submitit`` (the home folder every node sees)."""
    folder = osp.join(osp.abspath(work_dir), 'submitit')
    os.makedirs(folder, exist_ok=True)
    if slurm_comment(work_dir) == osp.abspath(work_dir):
        return folder
    links = osp.join(osp.expanduser('~'), '.cache', 'emoreg_mm', 'submitit')
    os.makedirs(links, exist_ok=True)
    link = osp.join(links, hashlib.sha256(folder.encode()).hexdigest()[:32])
    if osp.realpath(link) != osp.realpath(folder):
        tmp = f'{link}.{os.getpid()}'
        os.symlink(folder, tmp)
        os.replace(tmp, link)
    return link


def slurm_executor(folder: str, params: dict):
    """A submitit ``SlurmExecutor`` with ``params``; without a ``time``
    in them, the job asks for none (the partition's default applies)."""
    from .submitit_compat import import_submitit
    submitit = import_submitit()

    class Executor(submitit.SlurmExecutor):

        def _make_submission_file_text(self, command, uid):
            text = super()._make_submission_file_text(command, uid)
            if 'time' in params.get('additional_parameters', {}):
                return text
            return '\n'.join(line for line in text.split('\n')
                             if not line.startswith('#SBATCH --time='))

    executor = Executor(folder=folder, max_num_timeout=10_000)
    executor.update_parameters(**params)
    return executor


def submit_slurm(sweep: Sweep, runs: List[Run], st: Dict, tools_dir: str,
                 partition: str, gpus: int = 1,
                 gpus_per_node: Optional[int] = None, cpus_per_task: int = 5,
                 gres: Optional[str] = None, sbatch_args: str = '',
                 max_retries: int = 2, max_running: int = 0,
                 out: Callable = print) -> int:
    """Submit the runs to (re)submit to ``partition``; the number
    submitted. See the module's docstring."""
    gpn = min(gpus, gpus_per_node or gpus)
    extra = sbatch_options(sbatch_args)
    gres = partition_gres(partition, gpn) if gres is None else gres
    go, left = to_submit(runs, st, max_retries, to_evaluate(sweep, runs, st))
    jobs = {name: job for name, (state, _, job) in st.items()
            if state in ALIVE}
    lane = 'emoreg-' + hashlib.sha256(osp.abspath(
        sweep.work_root).encode()).hexdigest()[:8]
    for i, run in enumerate(go):
        attempt = st[run.name][1] + 1
        after = jobs.get(run.deps[0]) if run.deps else None
        deps = ([f'afterok:{after}'] if after else []) + (
            ['singleton'] if max_running else [])
        params = dict(
            partition=partition, nodes=-(-gpus // gpn),
            ntasks_per_node=gpn, cpus_per_task=cpus_per_task,
            # submitit's count of time-outs (none without a limit)
            time=minutes(str(extra.get('time', ''))) or 10 * 525_600,
            job_name=f'{lane}-{i % max_running}' if max_running else
            sbatch_value(run.name), comment=slurm_comment(run.work_dir),
            stderr_to_stdout=True, additional_parameters=dict(
                requeue=True, **({'gres': gres} if gres else {}),
                **({'dependency': ','.join(deps)} if deps else {}),
                **({'kill-on-invalid-dep': 'yes'} if after else {}),
                **extra))
        executor = slurm_executor(submitit_folder(run.work_dir), params)
        job = make_job(sweep, run, attempt, tools_dir,
                       launcher='slurm')  # as tools/slurm_train.sh
        # Recorded before sbatch: a sweep ended before sbatch answers leaves
        # a record without a job id, which the next one reconciles with the
        # queue (status.states) instead of submitting the run again.
        record = dict(job=None, attempt=attempt, scheduler='slurm')
        write_state(osp.join(run.work_dir, SUBMIT), record)
        jobs[run.name] = executor.submit(job).job_id
        write_state(osp.join(run.work_dir, SUBMIT),
                    dict(record, job=jobs[run.name]))
        out(f'submitted {run.name}: job {jobs[run.name]}' +
            (f' after {run.deps[0]}' if after else '') +
            f' (attempt {attempt})')
    for name, why in left:
        out(f'not submitted {name}: {why}')
    out(f'{len(go)} job(s) submitted, {len(left)} left out; follow with '
        '--status')
    return len(go)


# ------------------------------------------------------------------- here
def warm_up(tools_dir: str) -> None:
    """Import what every job imports (the forked children inherit it)."""
    from emoreg_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    from .job import load_tool
    for tool in ('train.py', 'test.py'):
        load_tool(tools_dir, tool)


def _child(job: SweepJob, log: str, env: Dict[str, str], ranks: int) -> None:
    """In a forked child: run ``job`` (``ranks`` processes where it has
    more than one GPU), output to ``log``; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ.update(env, **{LOCAL_JOB: str(os.getpid())})
        if 'torch' in sys.modules:  # read OMP_NUM_THREADS when imported
            sys.modules['torch'].set_num_threads(
                int(env['OMP_NUM_THREADS']))
        if ranks > 1:
            code = _ranks(job, ranks)
        else:
            job()
            code = 0
    except BaseException as err:  # RunFailed, a tool's own failure
        print(f'sweep: {err}', file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _ranks(job: SweepJob, ranks: int) -> int:
    """The job in ``ranks`` forked processes (torch.distributed's
    environment set as torchrun sets it); the first non-zero status."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    pids = []
    for rank in range(ranks):
        pid = os.fork()
        if pid == 0:
            os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank),
                              WORLD_SIZE=str(ranks), MASTER_PORT=str(port),
                              MASTER_ADDR='127.0.0.1')
            code = 1
            try:
                job()
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    return next((c for c in codes if c), 0)


def claim(run: Run, evaluate: bool = False) -> tuple:
    """Claim ``run`` for this sweep: under a lock of its run dir, read its
    state again and, unless another sweep runs it or it is done (and not
    to ``evaluate`` again), record this process as its submitter (alive
    while it starts the run).

    Returns:
        tuple: ``(claimed, (state, attempts, job))``, the state as read.
    """
    from emoreg_mm.engine.runner.work_dir_lock import guard
    os.makedirs(run.work_dir, exist_ok=True)
    with guard(osp.join(run.work_dir, CLAIM_GUARD), run.work_dir):
        now = states([run])[run.name]
        if now[0] in ALIVE or now[0] == 'done' and not (
                evaluate and evaluation_failed(run.work_dir)):
            return False, now
        write_state(osp.join(run.work_dir, SUBMIT), dict(
            job=os.getpid(), attempt=now[1] + 1, scheduler='local',
            host=socket.gethostname(),
            process_start=process_start(os.getpid())))
    return True, now


def run_local(sweep: Sweep, runs: List[Run], st: Dict, tools_dir: str,
              jobs: int = 1, gpus: int = 1, max_retries: int = 2,
              threads: Optional[int] = None, out: Callable = print) -> None:
    """Run the runs to (re)submit here; see the module's docstring. Each
    run's output goes to ``<run>/sweep-local.log``; ``threads`` per process
    (default: the usable cores / the processes running at once)."""
    evaluate = to_evaluate(sweep, runs, st)
    go, left = to_submit(runs, st, max_retries, evaluate)
    for name, why in left:
        out(f'not run {name}: {why}')
    if not go:
        return
    warm_up(tools_dir)
    cores = len(os.sched_getaffinity(0))
    threads = str(threads or max(1, cores // (max(1, jobs) * gpus)))
    done = {n for n, s in st.items() if s[0] == 'done'}
    pending, running, slots = list(go), {}, list(range(max(1, jobs)))
    # runs another sweep (or job) runs: waited for, never started here
    elsewhere = {r.name: r for r in runs if st[r.name][0] in ALIVE}
    try:
        while pending or running or elsewhere:
            for run in list(pending):
                if not slots:
                    break
                if any(d not in done for d in run.deps):
                    if not any(d in (r.name for r in pending) or
                               d in (r.name for r, _, _ in running.values())
                               or d in elsewhere for d in run.deps):
                        out(f'not run {run.name}: stage 1 {run.deps[0]} '
                            'did not finish')
                        pending.remove(run)
                    continue
                pending.remove(run)
                claimed, (state, attempts, job) = claim(
                    run, run.name in evaluate)
                if not claimed:
                    if state == 'done':
                        done.add(run.name)
                    else:
                        elsewhere[run.name] = run
                    out(f'not started {run.name}: {state} in another sweep '
                        f'(job {job})' +
                        ('' if state == 'done' else '; waiting for it'))
                    continue
                slot, attempt = slots.pop(0), attempts + 1
                env = {'OMP_NUM_THREADS': threads, 'MKL_NUM_THREADS': threads}
                if jobs > 1 and 'CUDA_VISIBLE_DEVICES' not in os.environ:
                    env['CUDA_VISIBLE_DEVICES'] = ','.join(
                        str(slot * gpus + i) for i in range(gpus))
                job = make_job(sweep, run, attempt, tools_dir,
                               'pytorch' if gpus > 1 else 'none')
                os.makedirs(run.work_dir, exist_ok=True)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(job, osp.join(run.work_dir, 'sweep-local.log'),
                           env, gpus)
                # the PID with its start time: a PID reused later is not
                # this job
                write_state(osp.join(run.work_dir, SUBMIT), dict(
                    job=pid, attempt=attempt, scheduler='local',
                    host=socket.gethostname(),
                    process_start=process_start(pid)))
                running[pid] = (run, slot, time.time())
                again = 'evaluations' if job.shift and job.corruptions \
                    else 'shift evaluation' if job.shift \
                    else 'corruption evaluation'
                out(f'started {run.name} (attempt {attempt})' + (
                    f': its {again} again' if run.name in evaluate else ''))
            if elsewhere:
                pid, status = os.waitpid(-1, os.WNOHANG) if running \
                    else (0, 0)
                if pid == 0:
                    time.sleep(POLL)
                    watch(elsewhere, done, out)
                    continue
            elif not running:
                continue
            else:
                pid, status = os.waitpid(-1, 0)
            if pid not in running:
                continue
            run, slot, start = running.pop(pid)
            slots.append(slot)
            code = os.waitstatus_to_exitcode(status)
            if code == 0:
                done.add(run.name)
            out(f'{"finished" if code == 0 else "FAILED (exit %d)" % code} '
                f'{run.name} in {time.time() - start:.0f} s; log: '
                f'{run.work_dir}/sweep-local.log')
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for pid in running:
            os.kill(pid, signal.SIGTERM)  # training saves and stops
        for pid in running:
            os.waitpid(pid, 0)
        raise Interrupted([r.name for r, _, _ in running.values()])


def watch(elsewhere: Dict[str, Run], done: set, out: Callable) -> None:
    """Drop from ``elsewhere`` the runs another sweep ran that have ended
    (into ``done`` where they finished), saying how each ended."""
    for name, run in list(elsewhere.items()):
        state = states([run])[name][0]
        if state in ALIVE:
            continue
        del elsewhere[name]
        if state == 'done':
            done.add(name)
        out(f'{name}: {state} in another sweep')


def write_results(sweep: Sweep, runs: List[Run], out: Callable = print):
    """The results table of the stage-2 runs: ``WORK_ROOT/results.{md,csv}``
    (:func:`emoreg_mm.results.build_report`); None (said, with each run's
    reason) where no run holds a result the table can use."""
    import glob

    from emoreg_mm.results import NoRunsError, build_report
    dirs = [glob.escape(r.work_dir) for r in runs if r.stage == 2]
    try:
        report = build_report(dirs, out=osp.join(sweep.work_root, 'results'))
    except NoRunsError as err:
        out(f'No results table: {err}')
        return None
    out(report.get('markdown', ''))
    out(f'Results table: {sweep.work_root}/results.md (.csv)')
    return report
