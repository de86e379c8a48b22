"""The whole method on a CPU in about 1.5 minutes, on embedded data.

Usage: ``python tools/run_demo.py [--quick] [--modes ...] [--work-root DIR]``

1. writes the demo data (``emoreg_mm.demo``): scikit-learn's digits as a
   class-folder image set and synthetic affective stimuli in the Abstract
   set's native layout, under ``WORK_ROOT/data``;
2. runs the sweep's ``demo`` preset here (:mod:`emoreg_mm.experiments`):
   stage 1 on the stimuli, then stage 2 per mode (default: baseline,
   const, ereg, learn-ereg) on the digits, each run trained and tested by
   ``tools/train.py`` and ``tools/test.py`` in a process forked from this
   one, ``--jobs`` at a time;
3. plots rho and the affective state (``<run>/plots/*.png``) and writes the
   results table (``WORK_ROOT/results.md``).

See docs/demo.md. ``--quick`` (tests) uses less data and fewer epochs and
writes to ``work_dirs/demo_quick``. ``WORK_ROOT`` is relative to the
current directory, wherever this script lives: run from an installed
package (``emoreg_mm/.mim/tools/run_demo.py``) it writes nothing inside
the package.
"""
import argparse
import os
import os.path as osp
import sys
import time
import warnings

from emoreg_mm import experiments as ex
from emoreg_mm.experiments.plan import write_demo_data
from emoreg_mm.matrix import PRESETS

TOOLS = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(TOOLS)  # configs/ beside tools/ (checkout or .mim)
DEFAULT_MODES = ('baseline', 'const', 'ereg', 'learn-ereg')
PLOTTED = ('ereg', 'learn-ereg', 'rand-learn-ereg')  # modes with rho


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--modes', nargs='+', default=None,
                        choices=PRESETS['demo'].modes,
                        help=f'stage-2 modes (default: {DEFAULT_MODES})')
    parser.add_argument('--quick', action='store_true',
                        help='smoke test: less data, fewer epochs, baseline '
                        'and learn-ereg unless --modes')
    parser.add_argument('--work-root', default=None,
                        help='where data, runs and the table go (default: '
                        'work_dirs/demo, --quick: work_dirs/demo_quick)')
    parser.add_argument('--jobs', type=int, default=None,
                        help='runs at once (default: the usable cores, at '
                        'most 4)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads per run (default: cores / jobs)')
    parser.add_argument('--tracker', nargs='+', default=[], metavar='NAME',
                        help='log every run to these trackers too: '
                        'tensorboard, wandb, mlflow (docs/sweep.md)')
    return parser.parse_args(argv)


def plot(sweep, run, say) -> None:
    """rho and the affective state of a regulated run, in its plots/."""
    from mmengine.config import Config

    from emoreg_mm.visualization.regulation import (load_predictions,
                                                    plot_regulation)
    # the stimuli's classes, which stage 1 recorded and stage 2 took over
    emotions = Config.fromfile(run.config).emotion_classes
    paths = plot_regulation(
        load_predictions(osp.join(run.work_dir, 'predictions.npz')),
        osp.join(run.work_dir, 'plots'), emotion_names=emotions,
        title=run.name)
    say(f'      {run.key[1]}: ' + ', '.join(paths))


def main(argv=None) -> int:
    warnings.filterwarnings('ignore', message='Fail to import')  # mmcv-lite
    args = parse_args(argv)
    root = osp.abspath(args.work_root or (
        'work_dirs/demo_quick' if args.quick else 'work_dirs/demo'))
    modes = args.modes or (('baseline', 'learn-ereg') if args.quick
                           else DEFAULT_MODES)
    jobs = max(1, args.jobs or min(len(os.sched_getaffinity(0)), 4))
    t0 = time.time()

    def say(msg: str) -> None:
        print(f'[demo {time.time() - t0:6.1f}s] {msg}', flush=True)

    say(f'Emotional Regulation demo: stage 1 on synthetic stimuli, stage 2 '
        f'({", ".join(modes)}) on scikit-learn digits; {jobs} job(s) at '
        f'once; outputs in {root}/')
    say('[1/3] writing the demo data')
    data = write_demo_data(osp.join(root, 'data'), quick=args.quick, out=say)
    quick = {1: ['train_cfg.max_epochs=2'], 2: ['train_cfg.max_epochs=1']}
    sweep = ex.Sweep('demo', modes=modes, seeds=[0], work_root=root,
                     data_root=[f'{k}={v}' for k, v in data.items()],
                     root=ROOT, stage_options=quick if args.quick else {},
                     tracker=args.tracker)
    runs = sweep.runs()
    say(f'[2/3] stage 1, then stage 2; each run {TOOLS}/train.py then (stage'
        f' 2) {TOOLS}/test.py, output in <run>/sweep-local.log')
    try:
        ex.run_local(sweep, runs, ex.states(runs), TOOLS, jobs=jobs,
                     threads=args.threads, out=say)
    except ex.Interrupted:
        return 'tools/run_demo.py: interrupted; run it again to resume.'
    st = ex.states(runs)
    failed = [r for r in runs if st[r.name][0] != 'done']
    if failed:
        return (f'[demo] {failed[0].name} did not finish '
                f'({st[failed[0].name][0]}); its output: '
                f'{failed[0].work_dir}/sweep-local.log')
    say('[3/3] plots and the results table')
    for run in runs:
        if run.stage == 2 and run.key[1] in PLOTTED:
            plot(sweep, run, say)
    print()
    ex.write_results(sweep, runs)
    say(f'main job finished in {time.time() - t0:.1f}s. Table: '
        f'{root}/results.md (.csv); runs, checkpoints and logs: '
        f'{root}/<run>/; plots: {root}/<run>/plots/. The stimuli are '
        'synthetic: this shows the pipeline, not the paper\'s gains '
        '(docs/demo.md).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
