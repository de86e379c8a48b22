"""Run a whole results table: every stage-1 run and the stage-2 runs on it.

Usage::

    python tools/sweep.py [--preset paper|demo | --config-root DIR]
        [--backbones ...] [--affective ...] [--modes ...] [--targets ...]
        [--seeds ...] [--controls shuffled,untrained] [--work-root DIR]
        [--grid KEY=V1,V2 ...] [--tracker tensorboard|wandb|mlflow]
        [--dry-run | --status]
        [--slurm PARTITION | --jobs N] [--gpus G] [--wait]

Plans one stage-1 run per (backbone, affective set) and the stage-2 runs
reading it, and with ``--controls`` the controls of each set (docs/method.md,
"Controls"); ``--dry-run`` prints the plan, its problems and GPU-hours;
otherwise the runs go to Slurm (submitit: one job per run, stage 2
``afterok`` on its stage 1, requeued and resumed when pre-empted or near
its time limit) or run here, ``--jobs`` at a time. Re-running is safe:
state is read from the run dirs. The library: :mod:`emoreg_mm.experiments`;
docs/sweep.md.
"""
import argparse
import os.path as osp
import sys
import time

from emoreg_mm import experiments as ex
from emoreg_mm.matrix import PRESETS

TOOLS = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(TOOLS)  # configs/ beside tools/ (checkout or .mim)
SELECTION = ex.plan.SELECTION


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Plan, run and follow a whole results table.')
    p.add_argument('--preset', choices=sorted(PRESETS), default=None,
                   help='the config tree and its names (default: paper, '
                   'configs/emoreg*; demo: configs/demo)')
    p.add_argument('--config-root', metavar='DIR',
                   help='your own config tree laid out as configs/ '
                   '(emoreg_pretrain/<backbone>_<affective>.py, emoreg/'
                   '<backbone>_<mode>[_<affective>]_<target>.py)')
    for axis in ('backbones', 'affective', 'modes', 'targets'):
        p.add_argument(f'--{axis}', nargs='+', metavar='NAME',
                       help='part of the matrix (default: the preset\'s' +
                       (' that regulate every set chosen; a mode of '
                        'another affect space is refused)' if axis == 'modes'
                        else ')'))
    p.add_argument('--seeds', nargs='+', type=int, help='stage-2 seeds')
    p.add_argument('--controls', nargs='+', metavar='NAME[,NAME]',
                   help='also these controls of every affective set chosen '
                   '(shuffled, untrained; docs/method.md, "Controls"), in '
                   'every mode chosen but baseline, with the same backbones, '
                   'targets and seeds')
    p.add_argument('--work-root', default='work_dirs/sweep',
                   help='one work dir per run, and the results table')
    what = p.add_mutually_exclusive_group()
    what.add_argument('--dry-run', action='store_true',
                      help='print the plan, counts, problems and GPU-hours')
    what.add_argument('--status', action='store_true',
                      help='print each run\'s state; write the results '
                      'table when all are done')
    p.add_argument('--slurm', metavar='PARTITION',
                   help='submit one Slurm job per run to PARTITION')
    p.add_argument('--jobs', type=int, default=1,
                   help='without --slurm: runs at once here (default 1)')
    p.add_argument('--gpus', type=int, default=1, help='GPUs per run')
    p.add_argument('--gpus-per-node', type=int, default=None,
                   help='with --slurm (default: --gpus)')
    p.add_argument('--cpus-per-task', type=int, default=5,
                   help='with --slurm (default 5)')
    p.add_argument('--gres', default=None,
                   help='with --slurm (default: gpu:GPUS_PER_NODE where '
                   'the partition has GPUs; "" for none)')
    p.add_argument('--sbatch-args', default='',
                   help='extra sbatch options, e.g. "--time=24:00:00 '
                   '--account=X"')
    p.add_argument('--max-running', type=int, default=0, metavar='K',
                   help='with --slurm: at most K of these jobs run at once')
    p.add_argument('--max-retries', type=int, default=2,
                   help='resubmit a failed or killed run at most this often')
    p.add_argument('--wait', action='store_true',
                   help='with --slurm: follow the runs until all end')
    p.add_argument('--throughput', nargs='+', default=[],
                   metavar='NAME=IMG_PER_S', help='training images per '
                   'second on one GPU per backbone (vit-b16=400) or '
                   'backbone and stage / mode (vit-b16:stage1=900)')
    p.add_argument('--data-root', nargs='+', default=[], metavar='NAME=PATH',
                   help='where an affective set or target is, e.g. '
                   'fi=/data/FI cifar10=/data/cifar10')
    p.add_argument('--corruptions', nargs='+', default=[],
                   metavar='TARGET=PATH', help='also evaluate TARGET\'s '
                   'stage-2 runs on this CIFAR-C folder after their test')
    p.add_argument('--shift', action='append', default=[],
                   metavar='NAME=DIR', help='also evaluate the stage-2 '
                   'runs of its target on this shifted test set '
                   '(cifar10.1-v6, cifar10.1-v4, cifar10.2; repeatable)')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   metavar='KEY=VALUE', help='passed to every run')
    p.add_argument('--grid', action='append', default=[],
                   metavar='KEY=V1,V2', help='every stage-2 run at each '
                   'value of this config key (repeatable: the product); '
                   'the point is in the run names and a row key of the '
                   'results table')
    p.add_argument('--tracker', nargs='+', default=[], metavar='NAME',
                   help='log every run to these trackers too: tensorboard, '
                   'wandb, mlflow, or a registered visualization backend')
    args = p.parse_args(argv)
    if args.controls:  # a comma list, or names apart
        args.controls = [c for item in args.controls
                         for c in item.split(',') if c]
    for option in ('slurm', 'gres', 'sbatch_args'):
        value = getattr(args, option)
        if value and not value.isprintable():
            p.error(f'--{option.replace("_", "-")} {value!r} holds a line '
                    'break or NUL character, which an #SBATCH line cannot '
                    'carry; give it without.')
    args.recorded = None
    try:
        if not args.dry_run and not any(getattr(args, k) for k in SELECTION):
            args.recorded = ex.read_plan(args.work_root)  # follow it
        given = args.recorded or {k: getattr(args, k) for k in SELECTION}
        given = dict(dict(cfg_options=args.cfg_options,
                          data_root=args.data_root,
                          corruptions=args.corruptions, grid=args.grid,
                          tracker=args.tracker, shift=args.shift), **given)
        args.sweep = ex.Sweep(**given, work_root=args.work_root, root=ROOT)
        args.throughput = ex.parse_throughput(args.throughput)
    except ValueError as err:  # PlanError, a bad --throughput
        p.error(str(err))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sweep = args.sweep
    runs = sweep.runs()
    err = lambda line: print(line, file=sys.stderr)  # noqa: E731
    if args.recorded:
        print(f'Plan recorded in {osp.join(args.work_root, "sweep_plan.json")}'
              f' ({len(runs)} runs; give a selection to change it)')
    if args.dry_run:
        return ex.dry_run(sweep, runs, args.throughput, err=err)
    if args.status:
        problems = []
        st = ex.states(runs, problems)
        print(ex.status_table(runs, st))
        for problem in problems:
            print(f'  {problem}')
        if all(s[0] == 'done' for s in st.values()):
            ex.write_results(sweep, runs)
        return 0
    if sweep.preset == 'demo':
        ex.plan.write_demo_data(skip=sweep.data_roots)
    problems, _ = ex.check(sweep, runs)
    if problems:
        err(f'{len(problems)} problem(s); nothing submitted:')
        for problem in problems:
            err(f'  {problem}')
        return 2
    sweep.record()
    problems = []
    st = ex.states(runs, problems)
    for problem in problems:
        err(f'  {problem}')
    if args.slurm:
        ex.submit_slurm(sweep, runs, st, TOOLS, args.slurm, args.gpus,
                        args.gpus_per_node, args.cpus_per_task, args.gres,
                        args.sbatch_args, args.max_retries, args.max_running)
        while args.wait and any(s[0] in ex.status.ALIVE
                                for s in ex.states(runs).values()):
            time.sleep(5)
        if not args.wait:
            return 0
    else:
        try:
            ex.run_local(sweep, runs, st, TOOLS, args.jobs, args.gpus,
                         args.max_retries)
        except ex.Interrupted as stop:
            err(f'tools/sweep.py: interrupted; {len(stop.stopped)} run(s) '
                'stopped (training saved where it had started); run the '
                'same command again to resume.')
            return 130
    st = ex.states(runs)
    print(ex.status_table(runs, st))
    if all(s[0] == 'done' for s in st.values()):
        ex.write_results(sweep, runs)
        return 0
    return 1


if __name__ == '__main__':
    sys.exit(main())
