"""A ``python`` for the processes a test starts, its tools forked from one
warm interpreter.

:class:`WarmPython` starts a server (this file, ``--serve``) that imports
what the tools import (:func:`emoreg_mm.forking.warm_up`) and listens on
a UNIX socket, and writes a ``python`` script, the shim. ``SHIM TOOL
ARGS`` hands its arguments, working directory, environment and standard
output and error to the server, which runs ``python TOOL ARGS`` in a
forked child (:func:`emoreg_mm.forking.fork_tool`, stdin ``/dev/null``);
the shim leaves with the child's status. ``SHIM -m MODULE ARGS`` runs a
module the same way (torchrun: ``python -m torch.distributed.run``), and
``-u`` is accepted before either (torchrun starts its ranks as ``python -u
TOOL``; output is flushed when the tool ends). In a forked tool
``sys.executable`` is the shim, so the processes it starts with it (the
ranks) are forked from the server too. Anything else (``SHIM -c CODE``)
runs the real interpreter.

A tool then costs a fork instead of an interpreter start with torch and
mmpretrain (about 5 s of CPU). For processes a test starts where their
interpreter start is not what is tested (a local sweep's jobs: the job
scripts run as written, ``"$PYTHON" tools/train.py ...``). The shim does
not forward signals: a test that kills a job does not use it. The tool
gets the shim's environment as ``os.environ``, and its ``PYTHONPATH`` on
``sys.path``; what else an interpreter reads only when it starts
(``PYTHONWARNINGS``) is the server's.

Only the standard library is imported at the top: the shim runs this
file with ``python -S`` (no site-packages), in about 30 ms.
"""
import json
import os
import os.path as osp
import selectors
import shlex
import socket
import subprocess
import sys
import tempfile


class WarmPython:
    """The server and its shim (``path``); ``close()`` ends the server.

    Use as a context manager, or call ``close()``.
    """

    def __init__(self):
        # a short folder of its own: a socket's path is at most 107 bytes
        self.folder = tempfile.mkdtemp(prefix='warm-python-')
        self.socket = osp.join(self.folder, 'sock')
        self.path = osp.join(self.folder, 'python')
        with open(self.path, 'w') as f:
            f.write(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -S '
                    f'{shlex.quote(osp.abspath(__file__))} --client '
                    f'{shlex.quote(self.socket)} "$@"\n')
        os.chmod(self.path, 0o755)
        self.proc = subprocess.Popen(
            [sys.executable, osp.abspath(__file__), '--serve', self.socket,
             self.path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, OMP_NUM_THREADS='1'))
        ready = self.proc.stdout.readline()  # once it listens
        assert ready == 'ready\n', \
            f'the warm python server did not start ({self.proc.poll()})'

    def close(self):
        """End the server (its EOF on stdin) once its tools have ended."""
        self.proc.stdin.close()
        try:
            self.proc.wait(600)  # a tool still running: its run's limit
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for name in (self.socket, self.path):
            if osp.exists(name):
                os.remove(name)
        os.rmdir(self.folder)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _handle(conn, listener, shim):
    """In a child of the server: run the request on ``conn`` and answer
    with the tool's status (the tool's ``sys.executable``: ``shim``)."""
    from emoreg_mm.forking import exit_status, fork_tool
    listener.close()
    try:
        _, fds, _, _ = socket.recv_fds(conn, 1, 3)
        data = b''
        while True:
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            data += chunk
        request = json.loads(data)
        sys.executable = shim
        # the request's PYTHONPATH, where a new interpreter puts it
        sys.path[:0] = [p for p in request['env'].get(
            'PYTHONPATH', '').split(os.pathsep) if p]
        pid = fork_tool(request['argv'][0], request['argv'][1:], fds[1],
                        fds[2], cwd=request['cwd'], env=request['env'],
                        module=request['module'])
        for fd in fds:
            os.close(fd)
        conn.sendall(b'%d\n' % exit_status(os.waitpid(pid, 0)[1]))
    finally:
        os._exit(0)


def serve(path, shim):
    """Warm up, listen on ``path``; serve until stdin ends, then wait for
    the requests being served (their tools' ``sys.executable``: ``shim``,
    so that what they start with it comes back here)."""
    from emoreg_mm.forking import warm_up
    warm_up()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    print('ready', flush=True)
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    events.register(sys.stdin, selectors.EVENT_READ)
    handlers = set()
    while True:
        for key, _ in events.select(timeout=1):
            if key.fileobj is sys.stdin:  # the test is done with us
                for pid in handlers:
                    os.waitpid(pid, 0)
                return
            conn, _ = listener.accept()
            pid = os.fork()
            if pid == 0:
                _handle(conn, listener, shim)
            conn.close()
            handlers.add(pid)
        for pid in list(handlers):  # reap the requests served
            if os.waitpid(pid, os.WNOHANG)[0]:
                handlers.discard(pid)


def client(path, argv):
    """The shim: ``python ARGV`` through the server at ``path``."""
    tool = argv[1:] if argv[:1] == ['-u'] else argv
    module = tool[:1] == ['-m'] and len(tool) > 1
    if module:
        tool = tool[1:]
    elif not tool or tool[0].startswith('-') or not osp.isfile(tool[0]):
        os.execv(sys.executable, [sys.executable, *argv])
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    socket.send_fds(conn, [b'\0'], [0, 1, 2])
    conn.sendall(json.dumps(dict(
        argv=[tool[0] if module else osp.abspath(tool[0]), *tool[1:]],
        module=module, cwd=os.getcwd(), env=dict(os.environ))).encode())
    conn.shutdown(socket.SHUT_WR)
    reply = b''
    while True:
        chunk = conn.recv(64)
        if not chunk:
            break
        reply += chunk
    if not reply.strip():
        sys.exit(f'warm python: no status from the server for {tool[0]}')
    status = int(reply)
    sys.exit(128 - status if status < 0 else status)  # a signal: as sh


if __name__ == '__main__':
    if sys.argv[1] == '--serve':
        serve(sys.argv[2], sys.argv[3])
    else:
        client(sys.argv[2], sys.argv[3:])
