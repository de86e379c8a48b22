"""The work-dir lock where hard links fail and where its guard path was
planted, its release against a take-over, and atomic saves beside another
host's save in progress."""
import errno
import fcntl
import json
import os
import os.path as osp
import subprocess

import pytest

from emoreg_mm.engine.runner.work_dir_lock import LOCK_NAME, WorkDirLock
from emoreg_mm.fileio import atomic_write, atomic_write_text
from launch_utils import run_cli
from plain_config import make_plain_config


def test_the_lock_needs_no_hard_links(tmp_path, monkeypatch):
    """FAT, exFAT, SMB and many FUSE mounts refuse hard links (EPERM /
    EOPNOTSUPP). No such file system can be mounted here without root and
    a kernel module, so os.link is made to fail as they make it: the
    narrowest stand-in. tools/train.py trains and leaves no lock."""
    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, 'Operation not permitted')

    monkeypatch.setattr(os, 'link', no_links)
    config = make_plain_config(tmp_path, max_epochs=1)
    work_dir = str(tmp_path / 'work')
    code, out = run_cli('train.py', config, '--work-dir', work_dir)
    assert code == 0, out[-3000:]
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert not osp.lexists(osp.join(work_dir, LOCK_NAME))


@pytest.mark.parametrize('plant', ['directory', 'dangling symlink',
                                   'symlink to a file'])
def test_a_planted_guard_is_refused_and_never_followed(tmp_path, plant):
    config = make_plain_config(tmp_path, max_epochs=1)
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    guard_path = work_dir / f'{LOCK_NAME}.guard'
    outside = tmp_path / 'outside'
    if plant == 'directory':
        guard_path.mkdir()
    else:
        if plant == 'symlink to a file':
            outside.write_text('kept')
        guard_path.symlink_to(outside)
    code, out = run_cli('train.py', config, '--work-dir', str(work_dir))
    assert code == 1
    kind = 'directory' if plant == 'directory' else 'symlink'
    assert f'{guard_path}: a {kind}, not the guard file' in out
    assert 'Traceback' not in out
    assert not list(work_dir.glob('*.pth'))  # nothing trained
    assert outside.read_text() == 'kept' if plant == 'symlink to a file' \
        else not osp.lexists(outside)
    assert not osp.lexists(work_dir / LOCK_NAME)


def test_release_never_removes_a_lock_taken_over_meanwhile(tmp_path,
                                                           monkeypatch):
    """A run that judges the lock stale and takes it over does so under the
    guard. Right after the holder's release has found its own record there,
    such a racer tries to take over: either it cannot (the release holds
    the guard) or its new lock survives the release."""
    work_dir = str(tmp_path / 'work')
    lock = WorkDirLock(work_dir).acquire()
    racer = dict(pid=1, host='racer', start='then')
    holds = WorkDirLock._holds
    took_over = []

    def holds_then_a_racer_tries(self):
        mine = holds(self)
        # the racer, as another process takes the guard: its own open file
        fd = os.open(f'{self.path}.guard', os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.remove(self.path)
            with open(self.path, 'w') as f:
                json.dump(racer, f)
            took_over.append(True)
        except BlockingIOError:
            pass  # the release holds the guard: no take-over can happen
        finally:
            os.close(fd)
        return mine

    monkeypatch.setattr(WorkDirLock, '_holds', holds_then_a_racer_tries)
    lock.release()
    path = osp.join(work_dir, LOCK_NAME)
    if took_over:
        assert json.load(open(path)) == racer
    else:
        assert not osp.lexists(path)
    assert not lock.held


def _dead_pid() -> int:
    child = subprocess.Popen(['true'])
    child.wait()
    return child.pid


def _killed_save(path: str) -> None:
    """A save of ``path`` on this host killed while writing."""
    pid = os.fork()
    if pid == 0:
        try:
            atomic_write(path, lambda f: os._exit(9))
        finally:
            os._exit(1)
    os.waitpid(pid, 0)


def test_saves_leave_another_hosts_temporaries_alone(tmp_path):
    """On a folder two hosts share, the temporary file of another host's
    save in progress carries a PID that means nothing here: it is left
    alone (in the format of this version, and in the older one without the
    host); the temporary of a killed save of this host is removed."""
    path = str(tmp_path / 'last_checkpoint')
    pid = _dead_pid()
    other = tmp_path / f'.last_checkpoint.{pid}@0123456789ab-x1.tmp'
    older = tmp_path / f'.last_checkpoint.{pid}-x2.tmp'
    for planted in (other, older):
        planted.write_text('in progress')
    _killed_save(path)
    killed = set(os.listdir(tmp_path)) - {other.name, older.name}
    assert len(killed) == 1  # the killed save's temporary
    atomic_write_text(path, 'epoch_1.pth')
    assert (tmp_path / 'last_checkpoint').read_text() == 'epoch_1.pth'
    assert other.read_text() == older.read_text() == 'in progress'
    assert not (tmp_path / killed.pop()).exists()
    # a symlink at the saved name is replaced, its target kept
    target = tmp_path / 'target'
    target.write_text('kept')
    os.remove(path)
    os.symlink(target, path)
    atomic_write_text(path, 'epoch_2.pth')
    assert target.read_text() == 'kept'
    assert not osp.islink(path)
