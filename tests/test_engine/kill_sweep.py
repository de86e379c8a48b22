"""Kill a short run at many points and resume it, in one process tree.

``python kill_sweep.py ROOT PLAN.json`` imports ``tools/train.py`` once,
then runs each step of the plan in a forked child (``main()`` of the real
tool), so a step costs no interpreter start. A step is
``[config, work_dir_name, kill]`` (the run gets ``--resume``) or
``[config, work_dir_name, kill, args]`` (the run gets ``args``), with
``kill`` one of

- ``null``: run to the end;
- ``["iter", N]``: SIGKILL after the N-th iteration;
- ``["write", NAME]``: SIGKILL in the middle of writing checkpoint NAME;
- ``["written", NAME]``: SIGKILL right after NAME is complete (before
  ``last_checkpoint`` points at it);
- ``["pointer", NAME]``: SIGKILL in the middle of rewriting
  ``last_checkpoint`` to NAME;
- ``["remove", NAME]``: SIGKILL just before an outdated NAME is removed;
- ``["slow", NAME]``: NAME is written slowly and this driver sends SIGKILL
  from outside once part of it is on disk;
- ``["truncate", NAME]``: no run; cut NAME to half its size;
- ``["signal", SIG, "EPOCH:BATCH"]``: the run stalls after that batch
  (``EngineTestStallHook``, in the config); once its log shows the batch,
  this driver sends signal SIG (``"SIGKILL"``, ``"SIGTERM"``) from
  outside, then releases the stall, as a scheduler would.

Prints one JSON line: per step the exit status (negative: signal), the
checkpoint a resume would pick afterwards with its iteration and epoch,
what it skipped, the ``*.pth`` files and ``last_checkpoint``'s text. Child output goes to ``ROOT/<work_dir_name>.step<i>.log``.
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import re
import signal
import sys
import time

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))


def exit_like_python(run):
    """In a forked child: call ``run()``, then leave with the status the
    interpreter would give (a traceback and 1 for an exception), output
    flushed. Never returns."""
    code = 1
    try:
        run()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else \
            0 if exc.code is None else 1
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _train_tool():
    spec = importlib.util.spec_from_file_location(
        'emoreg_train_tool', osp.join(REPO, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _KillingFile:
    """File proxy that SIGKILLs the process after ``limit`` bytes (or, with
    ``delay``, writes in 512-byte pieces, sleeping between them)."""

    def __init__(self, f, limit=None, delay=0.):
        self.f, self.limit, self.delay, self.written = f, limit, delay, 0

    def write(self, data):
        data = bytes(data)
        step = 512 if self.delay else len(data) or 1
        for i in range(0, len(data), step):
            piece = data[i:i + step]
            if self.limit is not None and self.written + len(
                    piece) >= self.limit:
                self.f.write(piece[:max(0, self.limit - self.written)])
                self.f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            self.f.write(piece)
            self.written += len(piece)
            if self.delay:
                self.f.flush()
                time.sleep(self.delay)
        return len(data)

    def __getattr__(self, name):
        return getattr(self.f, name)


def _arm(kill):
    """Install the kill point ``kill`` in this (child) process."""
    from mmengine.runner import EpochBasedTrainLoop

    from emoreg_mm import fileio
    from emoreg_mm.compat import checkpoint as ck
    from emoreg_mm.engine.hooks import checkpoint_hook as hk
    what, arg = kill
    if what == 'iter':
        run_iter = EpochBasedTrainLoop.run_iter

        def killing_run_iter(self, *a, **k):
            run_iter(self, *a, **k)
            if self._iter == arg:
                os.kill(os.getpid(), signal.SIGKILL)

        EpochBasedTrainLoop.run_iter = killing_run_iter
    elif what in ('write', 'written', 'pointer', 'slow'):
        atomic_write = ck.atomic_write

        def killing_write(path, write):
            name = osp.basename(path)
            if what == 'pointer' and name == 'last_checkpoint':
                text = []
                write(type('T', (), {'write': lambda s, b: text.append(b)})())
                if osp.basename(b''.join(text).decode()) == arg:
                    return atomic_write(path, lambda f: write(
                        _KillingFile(f, limit=len(b''.join(text)) // 2)))
            elif name == arg and what == 'write':
                return atomic_write(
                    path, lambda f: write(_KillingFile(f, limit=8192)))
            elif name == arg and what == 'slow':
                return atomic_write(
                    path, lambda f: write(_KillingFile(f, delay=0.05)))
            out = atomic_write(path, write)
            if name == arg and what == 'written':
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        # checkpoints (compat.checkpoint's name) and last_checkpoint
        # (emoreg_mm.fileio's, through atomic_write_text)
        ck.atomic_write = fileio.atomic_write = killing_write
    elif what == 'remove':
        remove = hk.remove_checkpoint

        def killing_remove(path):
            if osp.basename(path) == arg:
                os.kill(os.getpid(), signal.SIGKILL)
            remove(path)

        hk.remove_checkpoint = killing_remove


def _log_text(work_dir):
    return ''.join(open(p).read() for p in sorted(
        glob.glob(osp.join(work_dir, '2*', '2*.log'))))


def _signal_at(pid, work_dir, kill):
    """Send ``kill``'s signal once the run's log shows its batch, then
    release the stall; None, or why the signal was not sent."""
    _, sig, at = kill
    epoch, batch = at.split(':')
    pattern = re.compile(rf'Epoch\(train\)\s*\[{epoch}\]\[\s*{batch}/')
    deadline = time.time() + 300
    while not pattern.search(_log_text(work_dir)):
        if os.waitpid(pid, os.WNOHANG)[0]:
            return f'ended before epoch {epoch}, batch {batch}'
        if time.time() > deadline:
            return f'never reached epoch {epoch}, batch {batch}'
        time.sleep(0.05)
    os.kill(pid, getattr(signal, sig))
    time.sleep(0.2)
    open(work_dir + '.release', 'w').close()


def run_step(tool, config, work_dir, kill, log, args=('--resume', )):
    pid = os.fork()
    if pid == 0:  # child: the real tools/train.py main(), then leave

        def run():
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            if kill and kill[0] == 'signal':
                os.environ['ENGINE_TEST_STALL'] = \
                    f'{kill[2]}:{work_dir}.release'
            elif kill:
                _arm(kill)
            tool.main([config, '--work-dir', work_dir, *args])

        exit_like_python(run)
    if kill and kill[0] == 'slow':
        deadline = time.time() + 120
        pattern = osp.join(work_dir, f'.{kill[1]}.*.tmp')
        while time.time() < deadline:
            tmp = glob.glob(pattern)
            if tmp and osp.getsize(tmp[0]) > 2048:
                os.kill(pid, signal.SIGKILL)
                break
            if os.waitpid(pid, os.WNOHANG)[0]:
                return 'never reached the slow write'
            time.sleep(0.005)
    elif kill and kill[0] == 'signal':
        problem = _signal_at(pid, work_dir, kill)
        if problem:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return problem
    status = os.waitpid(pid, 0)[1]
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else \
        os.WEXITSTATUS(status)


def main():
    root, plan = sys.argv[1], json.load(open(sys.argv[2]))
    tool = _train_tool()
    # Import what the Runner would import lazily, once, before forking.
    from emoreg_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    from emoreg_mm.compat.checkpoint import safe_load
    from emoreg_mm.engine.runner.resume import find_resumable_checkpoint
    results = []
    for i, (config, name, kill, *args) in enumerate(plan):
        start = time.time()
        work_dir = osp.join(root, name)
        log = osp.join(root, f'{name}.step{i}.log')
        if kill and kill[0] == 'truncate':
            path = osp.join(work_dir, kill[1])
            os.truncate(path, osp.getsize(path) // 2)
            status = None
        else:
            status = run_step(tool, config, work_dir, kill, log, *args)
        chosen, skipped = find_resumable_checkpoint(work_dir)
        meta = safe_load(chosen)['meta'] if chosen else {}
        pointer = osp.join(work_dir, 'last_checkpoint')
        results.append(dict(
            step=i, work_dir=name, kill=kill, status=status, log=log,
            seconds=round(time.time() - start, 1),
            chosen=chosen and osp.basename(chosen),
            iter=meta.get('iter'), epoch=meta.get('epoch'),
            skipped=[osp.basename(p) for p, _ in skipped],
            checkpoints=sorted(osp.basename(p) for p in glob.glob(
                osp.join(work_dir, '*.pth'))),
            pointer=open(pointer).read() if osp.isfile(pointer) else None))
    print(json.dumps(results))


if __name__ == '__main__':
    main()
