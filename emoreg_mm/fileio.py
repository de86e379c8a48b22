"""Files: atomic writes, and reading small files that someone else wrote.

Every writer of the project (checkpoints, ``last_checkpoint``, predictions,
the affect cache) goes through :func:`atomic_write`: a kill leaves the old
file or the new one, and a full disk is an error naming the file.

Tools that read many run dirs (the results table, the sweep's status) meet
whatever a killed job, a full disk or a co-worker left there: a symlink to
``/dev/zero``, a FIFO, a log whose last line was cut off. The readers here
open without blocking, accept only regular files, read at most a stated
number of bytes and say what was wrong in an :class:`UnreadableFileError`
that names the file. :func:`process_start` / :func:`process_running` tell
whether a PID recorded in a run dir (a lock, a local sweep job) is still
that process. Only the standard library is used, so light tools can load
this module without torch.
"""
import errno
import hashlib
import json
import os
import os.path as osp
import shutil
import socket
import stat
import tempfile
from typing import Any, Callable, List, Optional, Tuple

from .processes import pid_alive

#: Default cap for a config, a pointer file or a JSON record (bytes).
MAX_SMALL_FILE = 16 << 20
#: How many times a compressed member of a zip archive (a checkpoint, an
#: ``.npz``) may inflate; torch and numpy write theirs uncompressed.
MAX_INFLATION = 100


class UnreadableFileError(ValueError):
    """A file is missing, not a regular file, too large, or not text."""


def read_bytes(path: str, max_bytes: int = MAX_SMALL_FILE) -> bytes:
    """The content of the regular file ``path``, at most ``max_bytes``.

    The file is opened with ``O_NONBLOCK`` (a FIFO cannot hang the caller)
    and checked with ``fstat`` on the open descriptor (a device, a FIFO or
    a socket behind a symlink is refused before anything is read).

    Raises:
        UnreadableFileError: Missing, not a regular file, or larger than
            ``max_bytes``; the message names the file and the limit.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise UnreadableFileError(
            f'{path}: cannot be opened ({err.strerror}).') from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError(
                f'{path}: not a regular file (a device, FIFO, socket or '
                'folder, possibly behind a symlink); not read.')
        if info.st_size > max_bytes:
            raise UnreadableFileError(
                f'{path}: {info.st_size} bytes, over the limit of '
                f'{max_bytes} for this file; not read.')
        chunks, size = [], 0
        while size <= max_bytes:  # st_size may lie for a growing file
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise UnreadableFileError(
                f'{path}: over the limit of {max_bytes} bytes for this '
                'file (it grew while read); not read.')
        return b''.join(chunks)
    finally:
        os.close(fd)


def read_text(path: str, max_bytes: int = MAX_SMALL_FILE) -> str:
    """:func:`read_bytes` decoded as UTF-8.

    Raises:
        UnreadableFileError: As :func:`read_bytes`, or not UTF-8 text.
    """
    data = read_bytes(path, max_bytes)
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as err:
        raise UnreadableFileError(
            f'{path}: not UTF-8 text (byte {err.start}).') from None


def read_json(path: str, max_bytes: int = MAX_SMALL_FILE) -> Any:
    """One JSON document from ``path``.

    Raises:
        UnreadableFileError: As :func:`read_text`, or not JSON (the
            message gives the parser's reason and position).
    """
    try:
        return json.loads(read_text(path, max_bytes))
    except (ValueError, RecursionError) as err:
        if isinstance(err, UnreadableFileError):
            raise
        raise UnreadableFileError(f'{path}: not JSON ({err}).') from None


def read_json_lines(path: str,
                    max_bytes: int = MAX_SMALL_FILE) -> Tuple[List[Any],
                                                              List[str]]:
    """The records of a JSON-lines log (one JSON document per line).

    A last line that does not parse is what a killed writer leaves: it is
    left out and reported. A bad line before the last is an error.

    Returns:
        tuple: (records, problems); ``problems`` names the file and the
        line that was left out.

    Raises:
        UnreadableFileError: As :func:`read_text`, or a bad line before
            the last.
    """
    lines = read_text(path, max_bytes).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    records, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except (ValueError, RecursionError) as err:
            if number < len(lines):
                raise UnreadableFileError(
                    f'{path}, line {number}: not JSON ({err}).') from None
            problems.append(
                f'{path}, line {number} (the last): not JSON ({err}); left '
                'out (a run killed while writing its log leaves this).')
    return records, problems


def file_identity(path: str, algorithm: str = 'sha256') -> dict:
    """``{'size', algorithm}`` of the file at ``path`` (read in 1 MiB
    blocks): what a result records of the file it came from (a checkpoint
    replaced under the same name has another). ``algorithm`` is a
    :mod:`hashlib` name (``'md5'`` where published checksums are md5)."""
    digest, size = hashlib.new(algorithm), 0
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
            size += len(block)
    return {'size': size, algorithm: digest.hexdigest()}


def over_inflated(info) -> bool:
    """Whether the ``zipfile.ZipInfo`` of a member declares more than
    :data:`MAX_INFLATION` times its compressed size (at least 1 KiB), read
    before anything is inflated."""
    return info.file_size > MAX_INFLATION * max(info.compress_size, 1 << 10)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. not supported on this platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _disk_full_error(path: str, err: BaseException,
                     free: Optional[int]) -> Optional[OSError]:
    chain, seen = [], err
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    full = any(isinstance(e, OSError) and e.errno == errno.ENOSPC
               for e in chain) or any('No space left' in str(e)
                                      for e in chain)
    if not full and (free is None or free > 1 << 20):
        return None
    return OSError(
        errno.ENOSPC,
        f'No space left on the device of {osp.dirname(path)} while saving '
        f'{path} ({free if free is not None else "?"} bytes free). Nothing '
        'was written under that name; the previous file of that name (a '
        'checkpoint: the last good one) is intact. Free some space and '
        'resume.')


def atomic_write(path: str, write: Callable[[Any], None]) -> str:
    """Write ``path`` atomically: ``write(file)`` fills a temporary file in
    the same folder, which is flushed, fsynced and renamed over ``path``.

    A kill leaves either the old file or the new one, never a partial one
    (and at most a hidden ``.NAME.<pid>@<host>-*.tmp`` file, which the next
    save of that name on the same host removes once that PID is gone). A
    full disk raises ``OSError(ENOSPC)`` naming ``path``. A symlink at
    ``path`` is replaced, never followed.

    Args:
        path (str): The file to write (its folder is created if missing).
        write (Callable): Called with the open binary file.

    Returns:
        str: ``path``.
    """
    folder = osp.dirname(osp.abspath(path))
    name = osp.basename(path)
    os.makedirs(folder, exist_ok=True)
    host = _host_tag()
    for stale in os.listdir(folder):  # left by a killed save of this name
        if stale.startswith(f'.{name}.') and stale.endswith('.tmp'):
            pid, at, owner = stale[len(name) + 2:-4].split('-')[0].partition(
                '@')
            # Only names this function wrote on this host, with a PID a
            # process can have: another host's save in progress on a shared
            # folder (its PID means nothing here) and anything else planted
            # there are left alone.
            if at and owner == host and pid.isdigit() and len(
                    pid) <= 10 and 0 < int(pid) < 2**31 and not pid_alive(
                        int(pid)):
                _remove(osp.join(folder, stale))
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{name}.{os.getpid()}@{host}-', suffix='.tmp', dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            free = None
        _remove(tmp)
        full = _disk_full_error(path, err, free) if isinstance(
            err, Exception) else None
        if full is not None:
            raise full from err
        raise
    _fsync_dir(folder)
    return path


def atomic_write_bytes(path: str, data: bytes) -> str:
    """:func:`atomic_write` of ``data``."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str, text: str) -> str:
    """:func:`atomic_write` of a text file (e.g. ``last_checkpoint``)."""
    return atomic_write_bytes(path, text.encode())


def _host_tag() -> str:
    """This host, as the temporary files of :func:`atomic_write` name it
    (a digest of the host name: only letters and digits)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
