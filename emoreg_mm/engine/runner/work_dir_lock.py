"""One training run per work directory.

Two runs on one work dir interleave checkpoints and share ``last_checkpoint``
and the log folder. :class:`WorkDirLock` makes the second one fail at once,
naming the first (PID, host, start time). The lock is the file
``WORK_DIR/.emoreg_mm.lock`` (JSON). Reading a lock, deciding whether it is
stale, taking it over, creating it and removing it all happen under an OS
lock (``flock`` on ``WORK_DIR/.emoreg_mm.lock.guard``), so of several
racers exactly one holds the work dir, no racer sees a lock half written,
and a holder that ends never removes the lock of a run that took over
meanwhile. The lock is created with ``O_CREAT | O_EXCL`` (fails if the name
exists, a symlink included) and its record written after, which works on
file systems without hard links (FAT, exFAT, SMB, many FUSE mounts). The
guard is opened without following a symlink and must be a regular file: a
directory or a link planted there is an error naming it, never followed out
of the work dir; a file system without ``flock`` is an error naming it. The
holder refreshes the lock's modification time every ``heartbeat`` seconds
and removes it on exit. A lock whose holder is gone is taken over with a
warning, since requeued Slurm jobs reuse their work dir:

- same host: the holder is gone when its PID is not running or now belongs
  to a process started at another time (PID reuse);
- another host (its processes cannot be checked from here): the holder is
  gone when the lock belongs to the same Slurm job (``SLURM_JOB_ID``: a
  requeued job restarts on whichever node), or when its heartbeat is older
  than ``stale_after`` seconds; otherwise the run fails, naming the host,
  and the user may delete the lock file once that run is known to be gone.

A lock file that cannot be parsed, or holds values no run writes (a PID
that is not a positive machine integer, a host that is not a name), is an
error naming the file: it is never taken over silently.

In distributed runs only rank 0 takes the lock (the ranks of one job share
the work dir by design).
"""
import atexit
import contextlib
import datetime
import errno
import fcntl
import json
import os
import os.path as osp
import socket
import stat
import threading
import time
import warnings
from typing import Optional

from ...cli import WorkDirError
from ...fileio import UnreadableFileError, read_json
from ...processes import process_running, process_start

LOCK_NAME = '.emoreg_mm.lock'
#: Largest lock file read (bytes); a lock is about 200.
MAX_LOCK_BYTES = 1 << 16
#: PIDs are positive C ints (Linux: at most 2**22).
MAX_PID = 2**31 - 1


class WorkDirLockedError(WorkDirError):
    """Another run holds the work directory."""


def launcher_rank() -> int:
    """This process's global rank from the launcher's environment (torchrun,
    Slurm, MPI), before any process group exists; 0 when not launched."""
    for name in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'):
        if os.environ.get(name, '').isdigit():
            return int(os.environ[name])
    return 0


def _record_problem(record) -> Optional[str]:
    """Why ``record`` is not a lock this module writes; None if it is."""
    if not isinstance(record, dict):
        return f'a JSON {type(record).__name__}, not a lock record.'
    pid, host = record.get('pid'), record.get('host')
    if type(pid) is not int or not 0 < pid <= MAX_PID:
        return (f'pid is {str(pid)[:30]!r}, not a process id (an integer '
                f'from 1 to {MAX_PID}).')
    if not isinstance(host, str) or not host:
        return f'host is {str(host)[:30]!r}, not a host name.'
    started = record.get('process_start')
    if started is not None and not isinstance(started, str):
        return f'process_start is {str(started)[:30]!r}, not a string.'
    return None


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
            process_start=process_start(os.getpid()),
            slurm_job_id=os.environ.get('SLURM_JOB_ID'))

    def _read(self) -> Optional[dict]:
        """The lock's record; None when there is no lock file.

        Raises:
            WorkDirLockedError: The file is not a regular file, too large,
                not JSON, or holds impossible values.
        """
        if not osp.lexists(self.path):
            return None
        if osp.islink(self.path):
            raise self._bad_lock(f'{self.path}: a symlink.')
        try:
            record = read_json(self.path, MAX_LOCK_BYTES)
        except UnreadableFileError as err:
            if not osp.lexists(self.path):
                return None  # released meanwhile
            raise self._bad_lock(str(err)) from None
        problem = _record_problem(record)
        if problem:
            raise self._bad_lock(f'{self.path}: {problem}')
        return record

    def _bad_lock(self, what: str) -> WorkDirLockedError:
        return WorkDirLockedError(
            f'{what} This is not a lock that emoreg_mm writes, so the work '
            f'dir {osp.dirname(self.path)} is not taken over. If no run '
            'uses this work dir, delete the lock file and start again.')

    def _stale_reason(self, record: dict) -> Optional[str]:
        if record['host'] == self.record['host']:
            if not process_running(record['pid'], record.get('process_start')):
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

    def _guard(self):
        return guard(f'{self.path}.guard', osp.dirname(self.path))

    def _create(self) -> bool:
        """Create the lock file with this run's record (under the guard,
        so no racer reads it half written); False when a lock file (or
        anything else of that name) exists."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL |
                         os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return False
        except OSError as err:
            raise WorkDirLockedError(
                f'Could not create the lock file {self.path} '
                f'({err.strerror}) on {filesystem_of(self.path)}. Use a '
                'work dir on a file system where files can be created.'
            ) from None
        try:
            with os.fdopen(fd, 'w') as f:
                json.dump(self.record, f)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            os.remove(self.path)
            raise
        return True

    def acquire(self) -> 'WorkDirLock':
        """Take the lock or raise :class:`WorkDirLockedError`."""
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        with self._guard():
            record = self._read()
            if record is not None:
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
                os.remove(self.path)
                warnings.warn(
                    f'Took over the lock of work dir '
                    f'{osp.dirname(self.path)} from PID {record.get("pid")} '
                    f'on host {record.get("host")} (started '
                    f'{record.get("start")}): {why}.', stacklevel=2)
            if not self._create():
                # Created after we read it by a run that did not take the
                # guard (it holds the work dir now).
                raise WorkDirLockedError(
                    f'Work dir {osp.dirname(self.path)} was locked by '
                    f'another run while this one started (lock file '
                    f'{self.path}). Use another --work-dir.')
        self.held = True
        atexit.register(self.release)
        threading.Thread(target=self._beat, daemon=True,
                         name='work-dir-lock').start()
        return self

    def _holds(self) -> bool:
        try:
            return self._read() == self.record
        except WorkDirLockedError:
            return False

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            if self._holds():
                try:
                    os.utime(self.path)
                except OSError:
                    pass

    def release(self) -> None:
        """Remove the lock if this process still holds it (judged and
        removed under the guard: a run that took the lock over meanwhile
        keeps it). Where the guard cannot be taken the lock is left, to be
        judged stale by the next run."""
        self._stop.set()
        if self.held:
            try:
                with self._guard():
                    if self._holds():
                        os.remove(self.path)
            except (WorkDirLockedError, OSError):
                pass
        self.held = False


def filesystem_of(path: str) -> str:
    """``'<type> file system at <mount point>'`` of ``path`` (from
    ``/proc/self/mounts``), for error messages; ``'its file system'`` where
    that cannot be read."""
    real = osp.realpath(path)
    best = ('', '')
    try:
        with open('/proc/self/mounts') as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                point = parts[1].replace('\\040', ' ')
                inside = real == point or real.startswith(
                    point.rstrip('/') + '/')
                if inside and len(point) >= len(best[0]):
                    best = (point, parts[2])
    except OSError:
        pass
    return f'the {best[1]} file system at {best[0]}' if best[0] else \
        'its file system'


@contextlib.contextmanager
def guard(path: str, owner: str, timeout: float = 60.):
    """Hold an exclusive ``flock`` on the regular file ``path`` (created if
    missing, never through a symlink), the OS lock under which a work dir's
    lock is judged, taken over and released.

    Args:
        path (str): The guard file.
        owner (str): The folder it guards, for messages.
        timeout (float): Seconds to wait for another holder.

    Raises:
        WorkDirLockedError: ``path`` is a directory, a symlink or not a
            regular file; the file system has no ``flock``; or another
            process held it for ``timeout`` seconds. The message names it.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW |
                     os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as err:
        what = {errno.ELOOP: 'a symlink', errno.EISDIR: 'a directory'}.get(
            err.errno)
        if what is None:
            raise WorkDirLockedError(
                f'{path}: cannot be created or opened ({err.strerror}) on '
                f'{filesystem_of(path)}; the lock of {owner} needs it.'
            ) from None
        raise WorkDirLockedError(
            f'{path}: {what}, not the guard file emoreg_mm creates for the '
            f'lock of {owner}; it is not followed. Delete it if no run uses '
            'this work dir, and start again.') from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WorkDirLockedError(
                f'{path}: not a regular file (a FIFO, socket or device), '
                f'not the guard file emoreg_mm creates for the lock of '
                f'{owner}. Delete it if no run uses this work dir.')
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise WorkDirLockedError(
                        f'Could not lock {path} ({err.strerror}): '
                        f'{filesystem_of(path)} does not support flock, '
                        f'which the lock of {owner} needs. Use a work dir '
                        'on a local disk or a file system with locks.'
                    ) from None
                if time.monotonic() > deadline:
                    raise WorkDirLockedError(
                        f'Could not lock work dir {owner}: another process '
                        f'held {path} for {timeout:.0f} s.') from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # releases the flock
