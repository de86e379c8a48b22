"""A sweep's state, read from its run dirs and one ``squeue`` call.

Each run dir holds what the sweep submitted (``sweep_submit.json``: job id,
attempt, scheduler) and what the job reports (``sweep_status.json``:
running, done, failed, pre-empted). Nothing here asks ``sacct``: state works
on clusters without accounting and after finished jobs have left the
controller's memory. Standard library only: works without torch.
"""
import hashlib
import json
import os.path as osp
import re
import socket
import subprocess
from collections import Counter
from typing import Dict, List, Optional, Tuple

from emoreg_mm.fileio import (UnreadableFileError, atomic_write_text,
                              read_json, read_text)
from emoreg_mm.processes import process_running, process_start
from .plan import MAX_STATE_BYTES, Run

STATUS, SUBMIT = 'sweep_status.json', 'sweep_submit.json'
#: States of a run whose job is alive or coming: never submitted again.
ALIVE = ('queued', 'running', 'requeued')
#: The evaluations after a stage-2 run's test, as its status records them.
EVALUATIONS = ('corruptions', 'shift')


def read_state(path: str):
    """A state file's JSON; None when there is none.

    Raises:
        UnreadableFileError: naming the file, when it is not a regular
            file, too large or not JSON.
    """
    return read_json(path, MAX_STATE_BYTES) if osp.lexists(path) else None


def write_state(path: str, data: dict) -> None:
    """Atomically, never through a link planted at a temporary name."""
    atomic_write_text(path, json.dumps(data))


def sbatch_value(text: str) -> str:
    """``text`` as an ``#SBATCH`` line can carry it: itself, or its digest
    where it holds a line break (which would end the line and leave the
    rest to the job's shell), another unprintable character, ``%`` or
    ``\\``."""
    if text.isprintable() and not set('%\\') & set(text):
        return text
    return 'sha256:' + hashlib.sha256(text.encode()).hexdigest()[:32]


def slurm_comment(work_dir: str) -> str:
    """The ``--comment`` of a run's Slurm job, by which a submission whose
    job id was never recorded is found in the queue: the work dir, or its
    digest (:func:`sbatch_value`)."""
    return sbatch_value(osp.abspath(work_dir))


def _submit_problem(sub) -> str:
    """Why a ``sweep_submit.json`` record is not one the sweep writes."""
    if not isinstance(sub, dict):
        return f'a JSON {type(sub).__name__}, not a submission record'
    if sub.get('scheduler') not in ('slurm', 'local'):
        return f'scheduler {str(sub.get("scheduler"))[:30]!r} is unknown'
    if type(sub.get('attempt')) is not int or sub['attempt'] < 1:
        return f'attempt {str(sub.get("attempt"))[:30]!r} is not a count'
    job = sub.get('job')
    if not (job is None and sub['scheduler'] == 'slurm') and not (
            isinstance(job, (int, str)) and str(job).isdigit()):
        return f'job {str(job)[:30]!r} is not a job id'
    return ''


def last_epoch(work_dir: str) -> str:
    """The last checkpoint's epoch (``3``) or iteration (``iter 120``);
    ``-`` without one, ``?`` when ``last_checkpoint`` cannot be read."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.lexists(path):
        return '-'
    try:
        name = osp.basename(read_text(path, 4096).strip())
    except UnreadableFileError:
        return '?'
    m = re.match(r'(epoch|iter)_(\d+)\.pth$', name)
    if not m:
        return name[:40]
    return m.group(2) if m.group(1) == 'epoch' else f'iter {m.group(2)}'


def squeue_jobs() -> Dict[str, Tuple[str, str]]:
    """``job id -> (job name, comment)`` of this user's queued and running
    Slurm jobs (one squeue call).

    Raises:
        SystemExit: squeue is not on the PATH or fails.
    """
    try:
        out = subprocess.run(['squeue', '-h', '--me', '-o', '%i|%j|%k'],
                             capture_output=True, text=True)
    except FileNotFoundError:
        raise SystemExit(
            'tools/sweep.py: runs of this work root were submitted to Slurm, '
            'but squeue is not on the PATH here, so their state cannot be '
            'read; run this where Slurm\'s commands are.') from None
    if out.returncode:
        raise SystemExit(f'tools/sweep.py: squeue failed: '
                         f'{out.stderr.strip()}')
    jobs = {}
    for line in out.stdout.splitlines():
        job, _, rest = line.strip().partition('|')
        name, _, comment = rest.partition('|')
        jobs[job] = (name, comment)
    return jobs


def local_alive(sub: dict) -> bool:
    """A local job runs: same host, its PID alive and started when the
    sweep recorded (a PID without a matching start time is not trusted)."""
    pid, started = int(sub['job']), sub.get('process_start')
    if sub.get('host') != socket.gethostname() or not isinstance(
            started, str) or not 0 < pid < 2**31:
        return False
    return process_running(pid, started) and process_start(pid) == started


def states(runs: List[Run], problems: Optional[list] = None) -> Dict:
    """``name -> (state, attempts, job)``: ``todo``, ``queued``,
    ``running``, ``requeued``, ``done``, ``failed``, ``killed`` (the job
    is gone without a result), ``preempted`` (saved and stopped, waiting to
    be requeued), ``unsubmitted``, ``bad`` (a state file that cannot be
    read; named in ``problems``, never resubmitted).

    A Slurm submission recorded without a job id (the sweep ended between
    recording it and the scheduler answering) is reconciled with the queue
    by the job's comment (:func:`slurm_comment`), then with the job's own
    status file, and the id is recorded.
    """
    problems = [] if problems is None else problems
    submits, out = {}, {}
    for run in runs:
        path = osp.join(run.work_dir, SUBMIT)
        try:
            sub = read_state(path)
            why = _submit_problem(sub) if sub is not None else ''
            if why:
                raise UnreadableFileError(f'{path}: {why}.')
            submits[run.name] = sub
        except UnreadableFileError as err:
            problems.append(f'{run.name}: {err} Not resubmitted; delete the '
                            'file to run it again.')
            out[run.name] = ('bad', 0, None)
    queue = squeue_jobs() if any(
        s and s['scheduler'] == 'slurm' for s in submits.values()) else {}
    for run in runs:
        if run.name in out:
            continue
        sub = submits[run.name]
        if not sub:
            out[run.name] = ('todo', 0, None)
            continue
        try:
            status = read_state(osp.join(run.work_dir, STATUS)) or {}
        except UnreadableFileError as err:
            problems.append(f'{run.name}: {err} Its state is taken as '
                            'unknown.')
            status = {}
        if not isinstance(status, dict):
            status = {}
        job = None if sub['job'] is None else str(sub['job'])
        if job is None:  # submitted, answer not recorded
            comment = slurm_comment(run.work_dir)
            found = [j for j, (_, c) in queue.items() if c == comment]
            job = found[0] if found else (
                str(status['job']) if str(status.get('job', '')).isdigit()
                else None)
            if job is None:
                out[run.name] = ('unsubmitted', sub['attempt'] - 1, None)
                continue
            write_state(osp.join(run.work_dir, SUBMIT), dict(sub, job=job))
        live = job in queue if sub['scheduler'] == 'slurm' else \
            local_alive(sub)
        state = status.get('state') if str(status.get('job')) == job \
            else None
        if state in ('done', 'failed'):
            pass
        elif live:
            state = 'queued' if state is None else (
                'running' if state == 'running' else 'requeued')
        elif state != 'preempted':
            state = 'killed'
        out[run.name] = (state, sub['attempt'], job)
    return out


def evaluation_failed(work_dir: str) -> bool:
    """Whether the run in ``work_dir`` is done and its corruption or
    shift evaluation failed (what a sweep run again evaluates again)."""
    try:
        status = read_state(osp.join(work_dir, STATUS))
    except UnreadableFileError:
        return False
    return isinstance(status, dict) and status.get('state') == 'done' and \
        any(str(status.get(step, '')).startswith('failed')
            for step in EVALUATIONS)


def failure_note(run: Run, state: str) -> str:
    """What the run's status says of a failed step, in one line: why the
    run failed, or (a stage-2 run done) its corruption and shift
    evaluations."""
    try:
        status = read_state(osp.join(run.work_dir, STATUS))
    except UnreadableFileError:
        return ''
    if not isinstance(status, dict):
        return ''
    if state == 'failed' and status.get('reason'):
        return f"{status.get('step', 'a step')} failed: {status['reason']}"
    notes = [f'{step}: {status[step]}' for step in EVALUATIONS
             if state == 'done' and status.get(step)]
    return '; '.join(notes)


def status_table(runs: List[Run], st: Dict) -> str:
    """Each run's state, last epoch, attempts and job; then the counts."""
    width = max([48] + [len(r.name) for r in runs])
    lines = [f'{"run":<{width}} {"stage":>5} {"state":<9} {"epoch":>9} '
             f'{"tries":>5}  job']
    for run in runs:
        state, attempts, job = st[run.name]
        note = failure_note(run, state)
        lines.append(f'{run.name:<{width}} {run.stage:>5} {state:<9} '
                     f'{last_epoch(run.work_dir):>9} {attempts:>5}  '
                     f'{job or "-"}' + (f'  {note}' if note else ''))
    counts = Counter(s[0] for s in st.values())
    lines.append('  '.join(f'{k}: {v}' for k, v in sorted(counts.items())))
    return '\n'.join(lines)
