"""Reading small files that someone else wrote (run dirs, pointers, logs).

Tools that read many run dirs (the results table, the sweep's status) meet
whatever a killed job, a full disk or a co-worker left there: a symlink to
``/dev/zero``, a FIFO, a log whose last line was cut off. The readers here
open without blocking, accept only regular files, read at most a stated
number of bytes and say what was wrong in an :class:`UnreadableFileError`
that names the file. Only the standard library is used, so light tools can
import this module without torch.
"""
import json
import os
import stat
from typing import Any, List, Tuple

#: Default cap for a config, a pointer file or a JSON record (bytes).
MAX_SMALL_FILE = 16 << 20


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
