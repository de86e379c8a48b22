"""One training run per work directory.

Two runs on one work dir interleave checkpoints and share ``last_checkpoint``
and the log folder. :class:`WorkDirLock` makes the second one fail at once,
naming the first (PID, host, start time). The lock is the file
``WORK_DIR/.emoreg_mm.lock`` (JSON), created atomically (``O_EXCL``); its
holder refreshes its modification time every ``heartbeat`` seconds and
removes it on exit. A lock whose holder is gone is taken over with a
warning, since requeued Slurm jobs reuse their work dir:

- same host: the holder is gone when its PID is not running or now belongs
  to a process started at another time (PID reuse);
- another host (its processes cannot be checked from here): the holder is
  gone when the lock belongs to the same Slurm job (``SLURM_JOB_ID``: a
  requeued job restarts on whichever node), or when its heartbeat is older
  than ``stale_after`` seconds; otherwise the run fails, naming the host,
  and the user may delete the lock file once that run is known to be gone.

In distributed runs only rank 0 takes the lock (the ranks of one job share
the work dir by design).
"""
import atexit
import datetime
import json
import os
import os.path as osp
import socket
import threading
import time
import warnings
from typing import Optional

from .preflight import WorkDirError

LOCK_NAME = '.emoreg_mm.lock'


class WorkDirLockedError(WorkDirError):
    """Another run holds the work directory."""


def launcher_rank() -> int:
    """This process's global rank from the launcher's environment (torchrun,
    Slurm, MPI), before any process group exists; 0 when not launched."""
    for name in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'):
        if os.environ.get(name, '').isdigit():
            return int(os.environ[name])
    return 0


def _process_start(pid: int) -> Optional[str]:
    """The start time of ``pid`` in clock ticks since boot (Linux), or
    None where it cannot be read."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _running(pid: int, started: Optional[str]) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _process_start(pid)
    return started is None or now is None or now == started


class WorkDirLock:
    """Hold ``work_dir`` for this process (see the module docstring).

    Args:
        work_dir (str): The work directory (created if missing).
        heartbeat (float): Seconds between refreshes of the lock's
            modification time. Defaults to 30.
        stale_after (float): Age in seconds after which another host's lock
            counts as abandoned. Defaults to 300.
    """

    def __init__(self, work_dir: str, heartbeat: float = 30.,
                 stale_after: float = 300.):
        self.path = osp.join(work_dir, LOCK_NAME)
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.held = False
        self._stop = threading.Event()
        self.record = dict(
            pid=os.getpid(), host=socket.gethostname(),
            start=datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec='seconds'),
            process_start=_process_start(os.getpid()),
            slurm_job_id=os.environ.get('SLURM_JOB_ID'))

    def _read(self) -> Optional[dict]:
        try:
            with open(self.path) as f:
                record = json.load(f)
            return record if isinstance(record, dict) else {}
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: written by a process killed mid-write

    def _stale_reason(self, record: dict) -> Optional[str]:
        if not record.get('pid'):
            return 'its content is unreadable'
        if record.get('host') == self.record['host']:
            if not isinstance(record['pid'], int) or not _running(
                    record['pid'], record.get('process_start')):
                return 'that process is no longer running'
            return None
        job = self.record['slurm_job_id']
        if job and record.get('slurm_job_id') == job:
            return f'it belongs to this Slurm job {job} (requeued)'
        try:
            age = time.time() - osp.getmtime(self.path)
        except OSError:
            return None
        if age > self.stale_after:
            return (f'its heartbeat stopped {age:.0f} s ago (more than '
                    f'{self.stale_after:.0f} s)')
        return None

    def acquire(self) -> 'WorkDirLock':
        """Take the lock or raise :class:`WorkDirLockedError`."""
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                             0o644)
            except FileExistsError:
                record = self._read()
                if record is None:
                    continue  # released meanwhile
                why = self._stale_reason(record)
                if why is None:
                    raise WorkDirLockedError(
                        f'Work dir {osp.dirname(self.path)} is in use by '
                        f'another run: PID {record.get("pid")} on host '
                        f'{record.get("host")}, started '
                        f'{record.get("start")} (lock file {self.path}). '
                        'Use another --work-dir, or wait for that run to '
                        'end. If it is gone (e.g. its node died), delete '
                        'the lock file.')
                stale = f'{self.path}.stale-{os.getpid()}'
                try:
                    os.rename(self.path, stale)  # one taker wins
                except FileNotFoundError:
                    continue
                os.remove(stale)
                warnings.warn(
                    f'Took over the lock of work dir '
                    f'{osp.dirname(self.path)} from PID {record.get("pid")} '
                    f'on host {record.get("host")} (started '
                    f'{record.get("start")}): {why}.', stacklevel=2)
                continue
            with os.fdopen(fd, 'w') as f:
                json.dump(self.record, f)
                f.flush()
                os.fsync(f.fileno())
            self.held = True
            atexit.register(self.release)
            threading.Thread(target=self._beat, daemon=True,
                             name='work-dir-lock').start()
            return self
        raise WorkDirLockedError(
            f'Could not lock work dir {osp.dirname(self.path)}: the lock '
            f'file {self.path} keeps changing (other runs starting?).')

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            if self._read() == self.record:
                try:
                    os.utime(self.path)
                except OSError:
                    pass

    def release(self) -> None:
        """Remove the lock if this process still holds it."""
        self._stop.set()
        if self.held and self._read() == self.record:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        self.held = False
