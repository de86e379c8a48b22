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
