"""One run per work dir, and a full disk never costs the last checkpoint."""
import errno
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from emoreg_mm.compat.checkpoint import safe_load
from emoreg_mm.engine.hooks import NonFiniteError
from emoreg_mm.engine.runner.work_dir_lock import (LOCK_NAME, WorkDirLock,
                                                   WorkDirLockedError)
from plain_config import make_plain_config
from runs import REPO, env
from test_faults import _BreakWeights, _run_main


def _atomic_runner(config, work_dir, keep=1, changes=None, **hook):
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(changes or {})
    cfg.work_dir = str(work_dir)
    cfg.default_hooks.checkpoint = dict(type='AtomicCheckpointHook',
                                        interval=1, max_keep_ckpts=keep,
                                        **hook)
    cfg.experiment_name = f'run_{osp.basename(str(work_dir))}'
    return Runner.from_cfg(cfg)


def test_second_run_on_a_work_dir_fails_at_once(tmp_path, monkeypatch):
    config = make_plain_config(tmp_path, max_epochs=500)
    work_dir = str(tmp_path / 'work')
    first = subprocess.Popen(
        [sys.executable, 'tools/train.py', config, '--work-dir', work_dir],
        cwd=REPO, env=env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        lock = osp.join(work_dir, LOCK_NAME)
        deadline = time.time() + 300
        while not osp.isfile(lock) or not open(lock).read():
            assert first.poll() is None, 'the first run ended early'
            assert time.time() < deadline, 'the first run never locked'
            time.sleep(0.1)
        record = json.load(open(lock))
        msg = _run_main(monkeypatch, config, '--work-dir', work_dir)
        assert f'PID {first.pid} on host {socket.gethostname()}' in msg
        assert f'started {record["start"]}' in msg and lock in msg
    finally:
        first.kill()
        first.wait()
    # The dead run's lock is taken over with a warning.
    with pytest.warns(UserWarning, match=f'from PID {first.pid}.*no longer '
                      'running'):
        WorkDirLock(work_dir).acquire().release()
    assert not osp.exists(lock)


def _foreign_lock(work_dir, age, job=None):
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_NAME)
    with open(path, 'w') as f:
        json.dump(dict(pid=1234, host='node-elsewhere',
                       start='2026-01-01T00:00:00+00:00', slurm_job_id=job),
                  f)
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_lock_of_another_host(tmp_path, monkeypatch):
    monkeypatch.delenv('SLURM_JOB_ID', raising=False)
    work_dir = str(tmp_path / 'work')
    # Its heartbeat is fresh: that run may be alive, so refuse.
    _foreign_lock(work_dir, age=10)
    with pytest.raises(WorkDirLockedError, match='PID 1234 on host '
                       'node-elsewhere, started 2026-01-01'):
        WorkDirLock(work_dir).acquire()
    # No heartbeat for longer than stale_after: taken over.
    _foreign_lock(work_dir, age=400)
    with pytest.warns(UserWarning, match='heartbeat stopped'):
        WorkDirLock(work_dir, stale_after=300).acquire().release()
    # The same Slurm job, requeued on another node: taken over at once.
    monkeypatch.setenv('SLURM_JOB_ID', '42')
    _foreign_lock(work_dir, age=0, job='42')
    with pytest.warns(UserWarning, match='Slurm job 42'):
        lock = WorkDirLock(work_dir).acquire()
    assert json.load(open(lock.path))['pid'] == os.getpid()
    lock.release()


def test_racing_runs_never_both_hold_the_lock(tmp_path):
    """Hundreds of racing process pairs on a fresh work dir and on one whose
    lock belongs to a run that is gone: always exactly one holder."""
    out = subprocess.run(
        [sys.executable, osp.join(osp.dirname(__file__), 'lock_race.py'),
         str(tmp_path), '300'], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    holders = json.loads(out.stdout)
    assert holders == [1] * 300, holders


@pytest.mark.parametrize('content,problem', [
    ('', 'not JSON'),
    ('{"pid": 12', 'not JSON'),
    ('[1]', 'a JSON list, not a lock record'),
    ('{"pid": 100000000000000000000, "host": "h"}',
     "pid is '100000000000000000000', not a process id"),
    ('{"pid": -5, "host": "h"}', "pid is '-5', not a process id"),
    ('{"pid": 7, "host": ["h"]}', "host is \"['h']\", not a host name"),
])
def test_a_lock_no_run_wrote_is_an_error_not_a_takeover(tmp_path, monkeypatch,
                                                        content, problem):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    lock = work_dir / LOCK_NAME
    lock.write_text(content)
    with pytest.raises(WorkDirLockedError) as err:
        WorkDirLock(str(work_dir)).acquire()
    assert str(lock) in str(err.value) and problem in str(err.value)
    assert 'delete the lock file' in str(err.value)
    assert lock.read_text() == content  # not taken over
    # through tools/train.py: the same message, before anything is built
    msg = _run_main(monkeypatch, make_plain_config(tmp_path), '--work-dir',
                    str(work_dir))
    assert str(lock) in msg and problem in msg
    assert lock.read_text() == content


def test_a_planted_temporary_name_breaks_no_save(tmp_path):
    """Names in the form of a killed save's temporary file, but with PIDs no
    process can have, are left alone; the save works."""
    from emoreg_mm.fileio import atomic_write_text
    planted = [tmp_path / f'.last_checkpoint.{pid}-x.tmp'
               for pid in ('99999999999999999999', '0', '4294967296')]
    for path in planted:
        path.write_text('planted')
    for text in ('epoch_1.pth', 'epoch_2.pth'):
        atomic_write_text(str(tmp_path / 'last_checkpoint'), text)
        assert (tmp_path / 'last_checkpoint').read_text() == text
    assert all(p.read_text() == 'planted' for p in planted)


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    config = make_plain_config(tmp_path)
    disk = tmp_path / 'disk'
    disk.mkdir()
    _atomic_runner(config, tmp_path / 'probe',
                   changes={'train_cfg.max_epochs': 1}).train()
    size = osp.getsize(tmp_path / 'probe' / 'epoch_1.pth')
    # Room for one checkpoint, not for the next beside it.
    room = (size * 3 // 2 // 4096 + 1) * 4096
    mounted = subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', f'size={room}', 'tmpfs', str(disk)],
        capture_output=True).returncode == 0
    if not mounted:  # not root: inject the error the full disk gives
        from emoreg_mm.compat import checkpoint as ck
        write = ck.atomic_write

        def full_after_first(path, fill):
            if osp.basename(path) == 'epoch_2.pth':
                def fill_then_fail(f):
                    f.write(b'x' * 1024)
                    raise OSError(errno.ENOSPC, 'No space left on device')
                return write(path, fill_then_fail)
            return write(path, fill)

        monkeypatch.setattr(ck, 'atomic_write', full_after_first)
    try:
        runner = _atomic_runner(config, tmp_path / 'work', out_dir=str(disk))
        with pytest.raises(OSError) as err:
            runner.train()
        out = osp.join(str(disk), 'work')
        assert err.value.errno == errno.ENOSPC
        assert 'No space left' in str(err.value)
        assert osp.join(out, 'epoch_2.pth') in str(err.value)
        assert 'the last good one) is intact' in str(err.value)
        assert sorted(os.listdir(out)) == ['epoch_1.pth']  # no partial file
        assert safe_load(osp.join(out, 'epoch_1.pth'))['meta']['epoch'] == 1
        assert open(osp.join(runner.work_dir, 'last_checkpoint')).read() \
            == osp.join(out, 'epoch_1.pth')
    finally:
        if mounted:
            subprocess.run(['umount', str(disk)], check=True)


def test_non_finite_weights_name_a_checkpoint_that_exists(tmp_path):
    runner = _atomic_runner(make_plain_config(tmp_path), tmp_path / 'work')
    runner.register_custom_hooks([dict(type='FiniteLossHook')])
    # Broken after epoch 2's last loss: its checkpoint is refused, and
    # with max_keep_ckpts=1 epoch_1.pth must still be there.
    runner.register_hook(_BreakWeights(3, 'after', 'LOWEST'))
    with pytest.raises(NonFiniteError) as exc:
        runner.train()
    good = osp.join(runner.work_dir, 'epoch_1.pth')
    assert f'last good checkpoint is {good}' in str(exc.value)
    assert osp.isfile(good) and safe_load(good)['meta']['epoch'] == 1
    assert not osp.exists(osp.join(runner.work_dir, 'epoch_2.pth'))


def test_failed_best_save_keeps_the_previous_best(tmp_path, monkeypatch):
    from mmengine.evaluator import BaseMetric
    from mmpretrain.registry import METRICS

    from emoreg_mm.compat import checkpoint as ck

    @METRICS.register_module(name='_RisingScore', force=True)
    class _RisingScore(BaseMetric):
        """Better at every validation, so every epoch saves a best."""
        calls = 0

        def __init__(self, topk=None, **kwargs):  # topk: the base config's
            super().__init__(**kwargs)

        def process(self, data_batch, data_samples):
            self.results.append(0)

        def compute_metrics(self, results):
            type(self).calls += 1
            return dict(score=float(type(self).calls))

    write = ck.atomic_write

    def full_at_second_best(path, fill):
        if osp.basename(path).startswith('best_') and 'epoch_2' in path:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return write(path, fill)

    monkeypatch.setattr(ck, 'atomic_write', full_at_second_best)
    runner = _atomic_runner(
        make_plain_config(tmp_path), tmp_path / 'work',
        changes={'val_evaluator': dict(type='_RisingScore')},
        save_best='score', rule='greater')
    with pytest.raises(OSError):
        runner.train()
    best = [f for f in os.listdir(runner.work_dir) if f.startswith('best_')]
    assert best == ['best_score_epoch_1.pth']
    assert safe_load(osp.join(runner.work_dir, best[0]))['meta']['epoch'] == 1
