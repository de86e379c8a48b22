"""Launching the tools as users do: in this process through their
``main(argv)`` where the process boundary is not under test, and the shell
scripts and README commands as written."""
import os
import shlex
import socket
import sys
import time


def free_ports(count: int) -> list:
    """``count`` distinct free TCP ports on loopback: each is held until
    all are chosen (ports taken one at a time can repeat)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(('127.0.0.1', 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port() -> int:
    """A free TCP port on loopback for torchrun's rendezvous."""
    return free_ports(1)[0]


def dist_env(**extra) -> dict:
    """Environment of a CPU-only tools/dist_train.sh run: this Python, a
    free port, one thread per process, no GPU; ``extra`` on top."""
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()),
               OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    env.update({k: str(v) for k, v in extra.items()})
    return env


def repo_sandbox(tmp_path, own=('configs', 'data', 'work_dirs')):
    """A directory laid out like the repository, for running README
    commands as written: every top-level entry of the repository is linked
    except ``own`` (left for the test to fill) and build outputs; the
    commands' ``python`` is this interpreter. Returns ``(path, env)``."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    skip = set(own) | {'.git', 'build', 'dist', 'outputs'}
    box = tmp_path / 'repo'
    box.mkdir()
    for name in os.listdir(repo):
        if name not in skip:
            os.symlink(os.path.join(repo, name), box / name)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    shim = bin_dir / 'python'  # a link would lose the venv
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    shim.chmod(0o755)
    env = dist_env()
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    env.pop('PYTHONPATH', None)
    env.pop('PYTHON')  # as in a user's shell: the scripts' `python`
    return box, env


_TOOLS = {}


def load_tool(path: str):
    """``tools/<path>`` imported as a module (once per test process)."""
    import importlib.util
    if path not in _TOOLS:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        name = 'emoreg_tool_' + path[:-3].replace('/', '_')
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(repo, 'tools', path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TOOLS[path] = module
    return _TOOLS[path]


def run_tool(path: str, *argv: str):
    """``tools/<path>``'s ``main(argv)`` in this process, for tests where
    the process boundary is not what is tested (an interpreter start with
    torch and mmpretrain costs seconds). Returns what ``main`` returns;
    raises what the tool raises, ``SystemExit`` included."""
    tool = load_tool(path)
    # mmengine names a run (its logger, its log folder) by the second it
    # starts: a run in the second of an earlier run of this process (a
    # tool's, or a Runner a test built) would share its logger.
    from mmengine.logging import MMLogger
    while any(name.endswith(time.strftime('%Y%m%d_%H%M%S'))
              for name in MMLogger._instance_dict):
        time.sleep(1 - time.time() % 1)
    return tool.main(list(argv))


def run_cli(path: str, *argv: str) -> tuple:
    """``tools/<path>``'s ``main(argv)`` in this process, as a user's
    command line would end: ``(exit status, stdout and stderr)`` (a
    ``sys.exit(message)`` prints the message and gives 1; an exception, its
    traceback and 1). Output is captured at the file descriptors, so the
    loggers' handlers are caught too."""
    import tempfile
    import traceback
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds, saved_files = [os.dup(1), os.dup(2)], (sys.stdout, sys.stderr)
    with tempfile.TemporaryFile(mode='w+', buffering=1) as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        sys.stdout = sys.stderr = out
        code = 0
        try:
            code = run_tool(path, *argv) or 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=out)
                code = 1
        except Exception:  # what the interpreter prints, then status 1
            traceback.print_exc(file=out)
            code = 1
        finally:
            out.flush()
            sys.stdout, sys.stderr = saved_files
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            for fd in saved_fds:
                os.close(fd)
        out.seek(0)
        return code, out.read()


def check_stages(stage1_path: str, stage2_path: str, input_size: list):
    """What stage 2 takes from stage 1, checked on their checkpoints:
    stage 1 recorded its classes and preprocessing (what stage 2 is checked
    against before its first step), and stage 2's frozen emotional encoder
    and emotion head are stage 1's backbone and head, exactly."""
    import torch
    stage1 = torch.load(stage1_path, weights_only=True)
    assert stage1['meta']['dataset_meta']['classes'][0] == 'amusement'
    assert stage1['meta']['preprocess']['channel_order'] == 'rgb'
    assert stage1['meta']['preprocess']['input_size'] == input_size
    stage2 = torch.load(stage2_path, weights_only=True)['state_dict']
    backbone = {k: v for k, v in stage1['state_dict'].items()
                if k.startswith('backbone.')}
    assert backbone
    for key, value in backbone.items():
        assert torch.equal(stage2['backbone.encoder_e.' + key], value), key
    assert torch.equal(stage2['backbone.emotion_head.weight'],
                       stage1['state_dict']['head.fc.weight'])
