"""Run the project's tools in processes forked from a warm interpreter.

An interpreter that imports torch, mmengine, mmpretrain and emoreg_mm
spends about 5 s of CPU before a tool does anything. A driver that runs
many tools (tools/run_demo.py, the test suite's tool server) imports them
once (:func:`warm_up`) and forks a child per tool (:func:`fork_tool`): the
child runs the tool as ``python TOOL ARGS`` would (the file as
``__main__``, ``sys.argv`` set, the tool's folder first on ``sys.path``,
stdin from ``/dev/null``) and leaves with the status the interpreter would
give (:func:`exit_like_python`).

Fork only from a thread that holds no lock a child could need: the drivers
here fork from their main thread and read their children's output there.
"""
import os
import os.path as osp
import runpy
import sys
import traceback
from typing import Callable, Mapping, Optional, Sequence


def warm_up() -> None:
    """Import what every tool imports, with mmpretrain's and the plugin's
    registries filled (no default scope is set)."""
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    import mmengine.runner  # noqa: F401

    import emoreg_mm  # noqa: F401


def exit_like_python(run: Callable[[], None]) -> None:
    """In a forked child: call ``run()``, then leave with the status the
    interpreter would give (a message from ``sys.exit(message)`` or a
    traceback on stderr and status 1), output flushed. Never returns."""
    code = 0
    try:
        run()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def fork_tool(tool: str,
              argv: Sequence[str],
              stdout: int,
              stderr: Optional[int] = None,
              cwd: Optional[str] = None,
              env: Optional[Mapping[str, str]] = None,
              module: bool = False) -> int:
    """Start ``python TOOL ARGV`` as a forked child; return its PID.

    Args:
        tool (str): The tool's file, or with ``module`` a module's name.
        argv (Sequence[str]): Its arguments.
        stdout (int): File descriptor for the child's stdout.
        stderr (int, optional): For its stderr. Defaults to ``stdout``.
        cwd (str, optional): Its working directory. Defaults to ours.
        env (Mapping, optional): Its whole environment. Defaults to ours.
            ``OMP_NUM_THREADS`` there also sets torch's thread count (torch
            read the variable when this interpreter imported it).
        module (bool): Run ``python -m TOOL ARGV`` instead (the working
            directory first on ``sys.path``). Defaults to False.
    """
    if not module:
        tool = osp.abspath(tool)
    pid = os.fork()
    if pid:
        return pid

    def run():
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(stdout, 1)
        os.dup2(stdout if stderr is None else stderr, 2)
        if cwd is not None:
            os.chdir(cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        threads = os.environ.get('OMP_NUM_THREADS', '')
        if threads.isdigit() and int(threads) > 0 and 'torch' in sys.modules:
            sys.modules['torch'].set_num_threads(int(threads))
        sys.argv = [tool, *argv]
        if module:  # sys.argv[0] becomes the module's file
            sys.path.insert(0, os.getcwd())
            runpy.run_module(tool, run_name='__main__', alter_sys=True)
        else:
            sys.path.insert(0, osp.dirname(tool))
            runpy.run_path(tool, run_name='__main__')

    exit_like_python(run)


def exit_status(raw: int) -> int:
    """A ``waitpid`` status as ``subprocess`` gives it: the exit code, or
    minus the signal that ended the child."""
    return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
