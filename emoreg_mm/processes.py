"""Processes recorded in run dirs (work-dir locks, local sweep jobs, the
owners of temporary files): whether they still run."""
import os
from typing import Optional


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start(pid: int) -> Optional[str]:
    """The start time of ``pid`` in clock ticks since boot (Linux), or
    None where it cannot be read."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_running(pid: int, started: Optional[str]) -> bool:
    """Whether ``pid`` runs and, where both are known, started at
    ``started`` (a PID reused by another process is not running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = process_start(pid)
    return started is None or now is None or now == started
