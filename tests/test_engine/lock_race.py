"""Race pairs of processes for work-dir locks: ``python lock_race.py ROOT
TRIALS`` prints, as JSON, how many processes of each pair held the lock at
the same moment (odd trials start from a stale lock: this PID's, but with
another process start time, i.e. a run that is gone).

emoreg_mm.engine.runner.work_dir_lock and the standard-library modules it
imports are loaded without the package's ``__init__`` (which imports torch),
so that each racer is a fork of a small interpreter (about 1 ms) rather
than of one holding torch (about 100 ms).
"""
import json
import os
import os.path as osp
import socket
import sys
import types
import warnings

PACKAGE = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'emoreg_mm')
for name in ('emoreg_mm', 'emoreg_mm.engine', 'emoreg_mm.engine.runner'):
    stub = types.ModuleType(name)
    stub.__path__ = [osp.join(PACKAGE, *name.split('.')[1:])]
    sys.modules[name] = stub
from emoreg_mm.engine.runner.work_dir_lock import (  # noqa: E402
    LOCK_NAME, WorkDirLock, WorkDirLockedError)


def race(work_dir):
    """Fork two racers at once; neither releases before both answered."""
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    end_r, end_w = os.pipe()
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.read(go_r, 1)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter('ignore')
                        WorkDirLock(work_dir).acquire()
                    os.write(out_w, b'H')
                except WorkDirLockedError:
                    os.write(out_w, b'L')
                os.read(end_r, 1)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    os.write(go_w, b'gg')
    answers = os.read(out_r, 1) + os.read(out_r, 1)
    os.write(end_w, b'ee')
    codes = [os.waitpid(pid, 0)[1] for pid in pids]
    for fd in (go_r, go_w, out_r, out_w, end_r, end_w):
        os.close(fd)
    return answers.count(b'H') if codes == [0, 0] else -1


def main(root, trials):
    holders = []
    for trial in range(trials):
        work_dir = osp.join(root, f'w{trial}')
        if trial % 2:
            os.makedirs(work_dir)
            with open(osp.join(work_dir, LOCK_NAME), 'w') as f:
                json.dump(dict(pid=os.getpid(), host=socket.gethostname(),
                               start='2026-01-01T00:00:00+00:00',
                               process_start='0'), f)
        holders.append(race(work_dir))
    print(json.dumps(holders))


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
