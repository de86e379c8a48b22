"""One run of a sweep as a callable: train, then test (stage 2), then the
corruption and shift evaluations (where asked), each tool's ``main(argv)``
called in this process. A run done whose evaluation failed runs the
evaluations alone when the sweep submits it again (each skips what it
already did).

The same :class:`SweepJob` runs on Slurm (submitit pickles it; each task of
a multi-GPU job calls it) and on this machine (:mod:`.launch`). It records
its state in the run dir (``sweep_status.json``) for ``--status``, resumes
from the run dir's last checkpoint, and on Slurm requeues itself when it
was asked to stop: pre-emption or ``scancel`` sends SIGTERM, and the
time-limit warning (submitit's ``--signal=USR2@90``) is turned into the
same request, so ``PreemptionHook`` saves after the current iteration and
the training exits 143; the job then goes through submitit's checkpoint
handler (:meth:`SweepJob.checkpoint`), which requeues it with the same
arguments. Imports torch only through the tools.
"""
import importlib.util
import os
import os.path as osp
import signal
import sys
import traceback
from typing import List, Optional, Sequence

from .status import STATUS, evaluation_failed, write_state

PREEMPTED = 143  #: PreemptionHook's exit status: saved, not finished
LOCAL_JOB = 'EMOREG_SWEEP_JOB'  #: a local job's id, for its rank processes
_TOOLS = {}


def load_tool(tools_dir: str, path: str):
    """``tools_dir/path`` as a module (once per process): a tool is a
    file, never imported by another tool."""
    file = osp.join(tools_dir, path)
    if file not in _TOOLS:
        name = 'emoreg_tool_' + osp.splitext(path)[0].replace('/', '_')
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TOOLS[file] = module
    return _TOOLS[file]


def one_line(text: str, limit: int = 200) -> str:
    """The last non-empty line of ``text``, at most ``limit`` characters:
    what a status shows of a failure."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[-1] if lines else ''
    return line if len(line) <= limit else line[:limit - 3] + '...'


def call_main(main, argv: Sequence[str]) -> tuple:
    """``(status, reason)``: ``main(argv)``'s exit status as an interpreter
    would give it (a message of ``sys.exit(message)`` or a traceback on
    stderr and 1), and where it failed, why in one line (the message, the
    exception, or the status)."""
    reason = ''
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
            reason = one_line(code)
            code = 1
    except Exception as exc:  # the tool failed: its traceback, for the log
        traceback.print_exc()
        reason = one_line(f'{type(exc).__name__}: {exc}'.splitlines()[0])
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    code = code if isinstance(code, int) else 0
    return code, (reason or f'exit {code}; see the log') if code else ''


class RunFailed(RuntimeError):
    """A step of the run exited with a non-zero status: the job fails
    (on Slurm, a failed job releases no ``afterok`` dependency)."""


class SweepJob:
    """The job of one run.

    Args:
        name (str): The run's name.
        work_dir (str): Its work dir (absolute).
        config (str): Its config file.
        tools_dir (str): Where ``train.py``, ``test.py``,
            ``analysis_tools/eval_corruptions.py`` and
            ``analysis_tools/eval_shift.py`` are.
        options (Sequence[str]): Options of every tool (stage-1
            checkpoint, ``--data-root``, ``--cfg-options ...``).
        test (bool): Test the last checkpoint after training (stage 2),
            predictions to ``predictions.npz``.
        corruptions (str, optional): A CIFAR-C folder to evaluate on after
            the test.
        corruption_options (Sequence[str]): eval_corruptions.py's and
            eval_shift.py's options (the same as ``options`` less
            ``--data-root``).
        shift (Sequence[str]): ``NAME=DIR``: shifted test sets to evaluate
            on after the test (``eval_shift.py --shift``).
        attempt (int): Which submission of the run this is.
        launcher (str): ``none``, ``slurm`` (one task per GPU under srun)
            or ``pytorch`` (ranks set in the environment).
    """

    def __init__(self, name: str, work_dir: str, config: str,
                 tools_dir: str, options: Sequence[str] = (),
                 test: bool = False, corruptions: Optional[str] = None,
                 corruption_options: Sequence[str] = (), attempt: int = 1,
                 launcher: str = 'none', shift: Sequence[str] = ()):
        self.name, self.work_dir, self.config = name, work_dir, config
        self.tools_dir, self.options = tools_dir, list(options)
        self.test, self.corruptions = test, corruptions
        self.corruption_options = list(corruption_options)
        self.shift = list(shift)
        self.attempt, self.launcher = attempt, launcher

    # ------------------------------------------------------------ state
    @staticmethod
    def job_id() -> str:
        """Slurm's job id, or the local job's process id."""
        return os.environ.get('SLURM_JOB_ID') or os.environ.get(
            LOCAL_JOB, str(os.getpid()))

    @staticmethod
    def first_task() -> bool:
        """Whether this is the task that speaks for the job."""
        return os.environ.get('SLURM_PROCID', '0') == '0' and \
            os.environ.get('RANK', '0') == '0'

    def mark(self, state: str, code: Optional[int] = None, **extra) -> None:
        if not self.first_task():
            return
        write_state(osp.join(self.work_dir, STATUS),
                    dict(state=state, job=self.job_id(), exit=code, **extra))

    def checkpoint(self, *args, **kwargs):
        """submitit's hook before a requeue: the same job again; it resumes
        from the run dir's last checkpoint."""
        from .submitit_compat import import_submitit
        DelayedSubmission = import_submitit().helpers.DelayedSubmission
        return DelayedSubmission(self, *args, **kwargs)

    # ------------------------------------------------------------- steps
    def argv(self, step: str) -> List[str]:
        wd = self.work_dir
        launch = [] if self.launcher == 'none' else [
            '--launcher', self.launcher]
        if step == 'train':
            resume = ['--resume'] if osp.lexists(
                osp.join(wd, 'last_checkpoint')) else []
            return [self.config, '--work-dir', wd, *resume, *launch,
                    *self.options]
        with open(osp.join(wd, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        if step == 'test':
            return [self.config, '--checkpoint', ckpt, '--work-dir', wd,
                    '--out', osp.join(wd, 'predictions.npz'), *launch,
                    *self.options]
        if step == 'shift':
            return [self.config, ckpt, *[a for item in self.shift
                                         for a in ('--shift', item)],
                    '--work-dir', wd, *self.corruption_options]
        return [self.config, ckpt, '--corruption-root', self.corruptions,
                '--work-dir', wd, *self.corruption_options]

    def __call__(self) -> int:
        """Run the steps; 0, or :class:`RunFailed`."""
        ask_stop = signal.getsignal(signal.SIGUSR2)
        if os.environ.get('SLURM_JOB_ID'):
            os.environ.setdefault('MASTER_PORT', str(
                20000 + int(os.environ['SLURM_JOB_ID']) % 40000))
            # the time-limit warning: save as on SIGTERM (PreemptionHook)
            signal.signal(signal.SIGUSR2, lambda *_: os.kill(
                os.getpid(), signal.SIGTERM))
        print(f'sweep: {self.name} attempt {self.attempt}, job '
              f'{self.job_id()}, restart '
              f'{os.environ.get("SLURM_RESTART_COUNT", 0)}, threads '
              f'{os.environ.get("OMP_NUM_THREADS", "-")}', flush=True)
        # done, its evaluation failed: trained and tested, evaluate again
        evaluate_only = bool(self.corruptions or self.shift) and \
            evaluation_failed(self.work_dir)
        self.mark('running')
        steps = [('train', 'train.py')]
        if self.test:
            steps.append(('test', 'test.py'))
        if evaluate_only:
            steps = []
        for step, tool in steps:
            code, reason = call_main(load_tool(self.tools_dir, tool).main,
                                     self.argv(step))
            if code == PREEMPTED and step == 'train':
                self.mark('preempted', code)
                if callable(ask_stop):  # submitit's: checkpoint, requeue
                    signal.signal(signal.SIGUSR2, ask_stop)
                    ask_stop(signal.SIGUSR2, None)
                raise RunFailed(f'{self.name}: stopped and saved (exit '
                                f'{code}); run the sweep again to resume')
            if code:
                self.mark('failed', code, step=step, reason=reason)
                raise RunFailed(f'{self.name}: {tool} exited with {code}')
        note = {}
        for step, asked in (('corruptions', self.corruptions),
                            ('shift', self.shift)):
            if not asked or not self.first_task():  # a failure: run done
                continue
            code, reason = call_main(load_tool(
                self.tools_dir, f'analysis_tools/eval_{step}.py').main,
                self.argv(step))
            note[step] = 'done' if code == 0 else f'failed: {reason}'
        self.mark('done', 0, **note)
        return 0
