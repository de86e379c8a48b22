"""The whole method on a CPU in a few minutes, on embedded data.

Usage: ``python tools/run_demo.py [--quick] [--modes ...] [--work-root DIR]``

1. writes the demo data (``emoreg_mm.demo``): scikit-learn's digits as a
   class-folder image set and synthetic affective stimuli in the Abstract
   set's native layout, under ``WORK_ROOT/data``;
2. stage 1: ``tools/train.py configs/demo/tiny-resnet_synth-abstract.py``;
3. stage 2: ``tools/train.py configs/demo/tiny-resnet_<mode>_digits.py`` for
   each mode (default: baseline, const, ereg, learn-ereg);
4. evaluation: ``tools/test.py`` of each run's last checkpoint on the test
   split, predictions to ``<run>/predictions.npz`` (where the results
   table looks for them);
5. plots of rho and the affective state (``<run>/plots/*.png``) and the
   results table (``tools/analysis_tools/results_table.py`` ->
   ``WORK_ROOT/results.md``).

Every step runs the tools a user runs, on the config files under
``configs/demo/``; the full output of each is kept in ``WORK_ROOT/logs``.
See docs/demo.md. ``--quick`` (tests) uses less data and 1 epoch per stage
and writes to ``work_dirs/demo_quick``.

``WORK_ROOT`` is relative to the current directory, wherever this script
lives: run from an installed package (``emoreg_mm/.mim/tools/run_demo.py``)
it writes nothing inside the package.
"""
import argparse
import os
import os.path as osp
import re
import select
import sys
import time
import warnings

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
# where the results table looks for a run's predictions
from results_table import PREDICTIONS, plugin_module  # noqa: E402
STAGE1 = 'tiny-resnet_synth-abstract'
ALL_MODES = plugin_module('matrix').PRESETS['demo'].modes  # configs/demo
DEFAULT_MODES = ('baseline', 'const', 'ereg', 'learn-ereg')


def tool(*path: str) -> str:
    """A tool next to this script (absolute: runs from any directory)."""
    return osp.join(REPO, 'tools', *path)


def demo_config(stem: str) -> str:
    return osp.join(REPO, 'configs', 'demo', f'{stem}.py')


# what a progress line keeps of mmengine's log line
KEEP = re.compile(r'\b(lr|loss|rho|accuracy/top1|val_rho/mean|val_rho/std|'
                  r'test_rho/mean|test_rho/std): (\S+)')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--modes', nargs='+', default=None,
                        choices=ALL_MODES,
                        help=f'stage-2 modes (default: {DEFAULT_MODES})')
    parser.add_argument('--quick', action='store_true',
                        help='smoke test: less data, 1 epoch per stage, '
                        'baseline and learn-ereg unless --modes')
    parser.add_argument('--work-root', default=None,
                        help='where data, runs, logs and the table go '
                        '(default: work_dirs/demo, --quick: '
                        'work_dirs/demo_quick, under the current '
                        'directory)')
    parser.add_argument('--jobs', type=int, default=None,
                        help='stage-2 runs and evaluations at once (default: '
                        'the usable cores, at most 4)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads per process (default: cores / '
                        'jobs; 1 thread per process avoids OpenMP '
                        'slowdowns when processes share cores)')
    parser.add_argument('--verbose', action='store_true',
                        help='print the tools\' full output')
    return parser.parse_args()


class Demo:

    def __init__(self, args):
        self.args = args
        self.root = osp.abspath(args.work_root or (
            'work_dirs/demo_quick' if args.quick else 'work_dirs/demo'))
        self.data = osp.join(self.root, 'data')
        self.logs = osp.join(self.root, 'logs')
        self.t0 = time.time()
        os.makedirs(self.logs, exist_ok=True)
        self.env = dict(os.environ)
        cores = len(os.sched_getaffinity(0))
        self.jobs = max(1, args.jobs or min(cores, 4))
        threads = args.threads or max(1, cores // self.jobs)
        for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
            self.env[var] = str(threads)
        self.env.setdefault('PYTHONWARNINGS', 'ignore')
        self.threads = threads

    def say(self, msg: str) -> None:
        print(f'[demo {time.time() - self.t0:6.1f}s] {msg}', flush=True)

    def run_all(self, tasks: list) -> None:
        """Run ``[(name, cmd)]``, ``self.jobs`` at a time, each tool in a
        child forked from this interpreter (emoreg_mm.forking: the imports
        are paid once); their output is read here, in the main thread."""
        from emoreg_mm.forking import exit_status, fork_tool
        pending, running, failed = list(tasks), {}, None
        while pending or running:
            while pending and len(running) < self.jobs and failed is None:
                name, cmd = pending.pop(0)
                self.say(f'$ {" ".join(cmd)}')
                read, write = os.pipe()
                pid = fork_tool(cmd[0], cmd[1:], write, env=self.env)
                os.close(write)
                log = open(osp.join(self.logs, f'{name}.log'), 'w')
                running[read] = dict(name=name, pid=pid, log=log, tail=[],
                                     buf=b'', start=time.time())
            if not running:
                break
            ready, _, _ = select.select(list(running), [], [])
            for fd in ready:
                job = running[fd]
                chunk = os.read(fd, 1 << 16)
                lines = (job['buf'] + chunk).split(b'\n')
                job['buf'] = lines.pop() if chunk else b''
                for line in lines + ([job['buf']] if not chunk and
                                     job['buf'] else []):
                    self.show(job, line.decode(errors='replace') + '\n')
                if chunk:
                    continue
                os.close(fd)
                del running[fd]
                job['log'].close()
                code = exit_status(os.waitpid(job['pid'], 0)[1])
                if code != 0:
                    print(''.join(job['tail']), file=sys.stderr)
                    failed = failed or (
                        f'[demo] {job["name"]} failed (exit {code}); full '
                        f'output: {self.logs}/{job["name"]}.log')
                else:
                    self.say(f'{job["name"]} done in '
                             f'{time.time() - job["start"]:.1f}s')
        if failed:
            sys.exit(failed)

    def run(self, name: str, cmd: list) -> None:
        """Run one tool, echoing its progress lines; fail loudly."""
        self.run_all([(name, cmd)])

    def show(self, job: dict, line: str) -> None:
        """Log a line of a tool's output; print its progress lines."""
        job['log'].write(line)
        job['tail'] = (job['tail'] + [line])[-60:]
        name = job['name']
        if self.args.verbose:
            print(f'{name}| {line}', end='', flush=True)
        elif 'Epoch(' in line:
            where = re.search(r'Epoch\((\w+)\)\s*\[([^\]]+)\]'
                              r'(?:\[([^\]]+)\])?', line)
            kept = '  '.join(f'{k}: {v}' for k, v in KEEP.findall(line))
            if where:
                step = '/'.join(p for p in where.groups()[1:] if p)
                print(f'    {name:<15} {where.group(1):<5} [{step}]  {kept}',
                      flush=True)

    def work_dir(self, stem: str) -> str:
        return osp.join(self.root, stem)

    def overrides(self, stem: str, stage2: bool, epochs: int) -> list:
        """Point a demo config at this work root (the configs' own paths
        are those of the default root, work_dirs/demo)."""
        if stage2:
            data = osp.join(self.data, 'digits')
        else:
            data = osp.join(self.data, 'testImages_abstract')
        opts = [f'{dl}.dataset.data_root={data}'
                for dl in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')]
        if epochs:
            opts.append(f'train_cfg.max_epochs={epochs}')
        if stage2 and stem.split('_')[1] != 'baseline':
            # the path as an argument of its own: --cfg-options would split
            # it at a comma
            opts = ['--emotional-checkpoint', self.work_dir(STAGE1),
                    '--cfg-options'] + opts
        else:
            opts = ['--cfg-options'] + opts
        return opts

    # ------------------------------------------------------------------
    def main(self) -> None:
        args = self.args
        modes = args.modes or (('baseline', 'learn-ereg') if args.quick
                               else DEFAULT_MODES)
        self.say(f'Emotional Regulation demo: stage 1 on synthetic stimuli, '
                 f'stage 2 ({", ".join(modes)}) on scikit-learn digits; '
                 f'{self.jobs} job(s) x {self.threads} thread(s); outputs in {self.root}/')

        from emoreg_mm.forking import warm_up
        warm_up()  # imported once; every tool runs in a fork of this
        self.say('[1/5] writing the demo data')
        from emoreg_mm.demo import make_digits, make_stimuli
        digits = make_digits(osp.join(self.data, 'digits'),
                             limit=40 if args.quick else None)
        stimuli = make_stimuli(osp.join(self.data, 'testImages_abstract'),
                               per_emotion=12 if args.quick else 50)
        self.say('      digits (CustomDataset layout): ' + ', '.join(
            f'{sp} {sum(c.values())}' for sp, c in digits.items()) +
                 f'; synthetic stimuli (Abstract layout): '
                 f'{sum(stimuli.values())}')

        self.say('[2/5] stage 1: emotional pre-training')
        self.run('stage1', [
            tool('train.py'), demo_config(STAGE1), '--work-dir',
            self.work_dir(STAGE1)
        ] + self.overrides(STAGE1, False, 2 if args.quick else 0))

        self.say(f'[3/5] stage 2: {", ".join(modes)}')
        stems = [f'tiny-resnet_{m}_digits' for m in modes]
        self.run_all([(mode, [
            tool('train.py'), demo_config(stem), '--work-dir',
            self.work_dir(stem)
        ] + self.overrides(stem, True, 1 if args.quick else 0))
                      for mode, stem in zip(modes, stems)])

        self.say('[4/5] evaluation on the test split')
        tests = []
        for mode, stem in zip(modes, stems):
            wd = self.work_dir(stem)
            with open(osp.join(wd, 'last_checkpoint')) as f:
                ckpt = f.read().strip()
            tests.append((f'test-{mode}', [
                tool('test.py'), demo_config(stem), '--checkpoint',
                ckpt, '--work-dir', wd, '--out',
                osp.join(wd, PREDICTIONS)
            ] + self.overrides(stem, True, 0)))
        self.run_all(tests)

        self.say('[5/5] plots and the results table')
        from mmengine.config import Config
        from plot_regulation import load_predictions, plot_regulation
        for mode, stem in zip(modes, stems):
            if mode not in ('ereg', 'learn-ereg', 'rand-learn-ereg'):
                continue
            wd = self.work_dir(stem)
            # the synthetic stimuli's classes, which stage 1 recorded and
            # stage 2 took from its checkpoint
            emotions = Config.fromfile(demo_config(stem)).emotion_classes
            paths = plot_regulation(
                load_predictions(osp.join(wd, PREDICTIONS)),
                osp.join(wd, 'plots'), emotion_names=emotions, title=stem)
            self.say(f'      {mode}: ' + ', '.join(paths))
        self.run('results_table', [
            tool('analysis_tools', 'results_table.py'),
            *[self.work_dir(s) for s in stems], '--out',
            osp.join(self.root, 'results')
        ])
        with open(osp.join(self.root, 'results.md')) as f:
            table = f.read()
        print('\n' + table, flush=True)
        self.say(f'main job finished in {time.time() - self.t0:.1f}s. '
                 f'Table: {self.root}/results.md (.csv); runs, checkpoints '
                 f'and logs: {self.root}/<config name>/; plots: '
                 f'{self.root}/<config name>/plots/. The stimuli are '
                 'synthetic: this shows the pipeline, not the paper\'s '
                 'gains (docs/demo.md).')


def main():
    warnings.filterwarnings('ignore', message='Fail to import')  # mmcv-lite
    args = parse_args()
    Demo(args).main()


if __name__ == '__main__':
    main()
