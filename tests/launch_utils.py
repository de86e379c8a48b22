"""Launching the tools as users do, for tests of distributed runs."""
import os
import socket
import sys


def free_port() -> int:
    """A free TCP port on loopback for torchrun's rendezvous."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


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
    python = bin_dir / 'python'  # a link would lose the venv
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    env = dist_env()
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    env.pop('PYTHONPATH', None)
    return box, env
