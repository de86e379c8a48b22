"""Run the project's tools in processes forked from one warm interpreter.

:class:`ToolServer` starts ``python tests/tool_server.py`` once: it imports
torch, mmengine, mmpretrain (its registries) and emoreg_mm, then serves
requests read from its stdin. Each request runs one tool as ``python TOOL
ARGS`` would (the file run as ``__main__`` with ``sys.argv`` set and its
folder first on ``sys.path``) in a child forked for it, with the request's
working directory and environment, and answers with the child's exit
status (negative: the signal that ended it) and its stdout and stderr. A
run then costs a fork instead of an interpreter start with those imports
(about 5 s of CPU).

For tests about what a tool does with its input (refusals, messages, exit
codes, a crash shows as a signal); where the interpreter start itself is
under test (README commands, launchers, schedulers), tests start the real
process.
"""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import tempfile
import time

from emoreg_mm.forking import exit_status, fork_tool, warm_up

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


class ToolServer:
    """Client of one server process (``close()`` ends it)."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, osp.abspath(__file__)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, cwd=REPO,
            env=dict(os.environ, OMP_NUM_THREADS='1'))

    def run(self, tool, *argv, cwd=REPO, env=None, timeout=600):
        """Run ``tool`` (relative to ``cwd``) with ``argv``, ``env`` added
        to the environment; return ``(status, stdout, stderr)``."""
        request = dict(tool=tool, argv=[str(a) for a in argv],
                       cwd=str(cwd), env=env or {}, timeout=timeout)
        self.proc.stdin.write(json.dumps(request) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f'the tool server ended (status {self.proc.poll()})'
        reply = json.loads(line)
        assert not reply.get('timed_out'), \
            f'{tool} ran past {timeout} s:\n{reply["stderr"][-3000:]}'
        return reply['status'], reply['stdout'], reply['stderr']

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(60)


def _serve(request, reply):
    out_fd, out = tempfile.mkstemp(prefix='tool-out-')
    err_fd, err = tempfile.mkstemp(prefix='tool-err-')
    os.close(out_fd)
    os.close(err_fd)
    fds = [os.open(path, os.O_WRONLY | os.O_TRUNC) for path in (out, err)]
    pid = fork_tool(osp.join(request['cwd'], request['tool']),
                    request['argv'], fds[0], fds[1], cwd=request['cwd'],
                    env=dict(os.environ, **request['env']))
    for fd in fds:
        os.close(fd)
    deadline = time.time() + request['timeout']
    status = timed_out = None
    while True:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = exit_status(raw)
            break
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            timed_out = True
            break
        time.sleep(0.02)
    texts = []
    for path in (out, err):
        with open(path, errors='replace') as f:
            texts.append(f.read())
        os.remove(path)
    reply.write(json.dumps(dict(
        status=status, stdout=texts[0], stderr=texts[1],
        timed_out=bool(timed_out))) + '\n')
    reply.flush()


def main():
    # replies go to the original stdout; anything else printed goes to
    # stderr
    reply = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)
    warm_up()
    for line in sys.stdin:
        _serve(json.loads(line), reply)


if __name__ == '__main__':
    main()
