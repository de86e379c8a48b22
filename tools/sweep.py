"""Run a whole results table: every stage-1 run and the stage-2 runs on it.

Usage::

    python tools/sweep.py [--preset paper|demo] [--backbones ...]
        [--affective ...] [--modes ...] [--targets ...] [--seeds ...]
        [--work-root DIR] [--dry-run | --status]
        [--slurm PARTITION | --jobs N] [--gpus G] [--wait]

From a selection of the matrix (default: the paper's table) it plans one
stage-1 run per (backbone, affective set) and the stage-2 runs reading it
(``baseline`` needs no stage 1 and is run once per backbone, target and
seed). ``--dry-run`` prints the plan, the run counts, the problems found
(missing configs or datasets) and, given ``--throughput``, the GPU-hours.
Without it, the runs are submitted to Slurm (``--slurm PARTITION``: one
``sbatch`` job per run, stage 2 ``--dependency=afterok`` on its stage 1) or
run here, ``--jobs`` at a time. Each run's work dir holds the job script
(``sweep_job.sh``), what the sweep submitted (``sweep_submit.json``) and
what the job reports (``sweep_status.json``), so state is read from the run
dirs, not the scheduler's history. Re-running the same command is safe:
finished runs are skipped, killed or pre-empted ones resume from their last
checkpoint, failed ones are resubmitted up to ``--max-retries`` times. A
pre-empted Slurm job (SIGTERM, exit 143) requeues itself and resumes.
``--status`` shows each run's state and last epoch; once every run is done,
the results table is written to ``WORK_ROOT/results.{md,csv}``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, namedtuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
from results_table import PREDICTIONS, plugin_module  # noqa: E402
#: Where a preset's configs live and which names its matrix has
#: (emoreg_mm/matrix.py). The affective segment of a stage-2 config name is
#: left out for ``default_affective`` (docs/training.md: "Leaves are named as a
#: spec").
PRESETS = plugin_module('matrix').PRESETS
STATUS, SUBMIT, SCRIPT = ('sweep_status.json', 'sweep_submit.json',
                          'sweep_job.sh')
PLAN = 'sweep_plan.json'  # in the work root

Run = namedtuple('Run', 'name stage config work_dir seed deps key')


# ---------------------------------------------------------------- planning
def named_paths(parser, option: str, items, what: str, kind: str, valid,
                preset: str) -> dict:
    """``NAME=PATH`` values of ``option`` as ``{name: absolute path}``; a
    parser error names the value and, for an unknown name, the valid ones
    of the preset."""
    paths = {}
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or not path:
            parser.error(f'{option} {item!r}: expected {what}=PATH')
        if name not in valid:
            parser.error(f'{option} {item!r}: unknown {kind} {name} '
                         f'for preset {preset}; valid: {", ".join(valid)}')
        paths[name] = osp.abspath(path)
    return paths


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plan, run and follow a whole results table.')
    parser.add_argument('--preset', choices=sorted(PRESETS), default=None,
                        help='the config tree and its names (default: '
                        'paper, configs/emoreg*; demo: configs/demo)')
    parser.add_argument('--config-root', metavar='DIR',
                        help='your own config tree instead of a preset: '
                        'DIR/emoreg_pretrain/<backbone>_<affective>.py and '
                        'DIR/emoreg/<backbone>_<mode>[_<affective>]_<target>'
                        '.py (the affective part left out for emoset), as '
                        'configs/ is laid out; its backbones, sets and '
                        'targets are read from the file names')
    for axis, help_ in (('backbones', 'backbones'),
                        ('affective', 'affective sets'),
                        ('modes', 'regulation modes'),
                        ('targets', 'targets')):
        parser.add_argument(f'--{axis}', nargs='+', metavar='NAME',
                            help=f'{help_} (default: the preset\'s table)')
    parser.add_argument('--seeds', nargs='+', type=int,
                        help='stage-2 seeds (default: the preset\'s)')
    parser.add_argument('--work-root', default='work_dirs/sweep',
                        help='one work dir per run under it, and the '
                        'results table (default: work_dirs/sweep)')
    what = parser.add_mutually_exclusive_group()
    what.add_argument('--dry-run', action='store_true',
                      help='print the plan, counts, problems and GPU-hours')
    what.add_argument('--status', action='store_true',
                      help='print each run\'s state; write the results '
                      'table when all are done')
    parser.add_argument('--slurm', metavar='PARTITION',
                        help='submit one sbatch job per run to PARTITION')
    parser.add_argument('--jobs', type=int, default=1,
                        help='without --slurm: runs at once here, each on '
                        'its own --gpus GPUs (default 1)')
    parser.add_argument('--gpus', type=int, default=1,
                        help='GPUs (tasks) per run (default 1)')
    parser.add_argument('--gpus-per-node', type=int, default=None,
                        help='with --slurm (default: --gpus)')
    parser.add_argument('--cpus-per-task', type=int, default=5,
                        help='with --slurm (default 5)')
    parser.add_argument('--gres', default=None,
                        help='with --slurm: the --gres request (default: '
                        'gpu:GPUS_PER_NODE where the partition has GPUs; '
                        '"" for none), as tools/slurm_train.sh')
    parser.add_argument('--sbatch-args', default='',
                        help='extra sbatch options, e.g. "--time=24:00:00 '
                        '--account=X"')
    parser.add_argument('--max-retries', type=int, default=2,
                        help='resubmit a failed or killed run at most this '
                        'often (default 2)')
    parser.add_argument('--wait', action='store_true',
                        help='with --slurm: follow the runs until all end, '
                        'then write the results table')
    parser.add_argument('--throughput', nargs='+', default=[],
                        metavar='NAME=IMG_PER_S',
                        help='training images per second on one GPU, per '
                        'backbone (vit-b16=400), or per backbone and stage '
                        '/ mode (vit-b16:stage1=900, vit-b16:const=250); '
                        'for the GPU-hours of --dry-run')
    parser.add_argument('--data-root', nargs='+', default=[],
                        metavar='NAME=PATH',
                        help='where an affective set (its stage-1 runs) or '
                        'a target (its stage-2 runs) is, instead of the '
                        'configs\' data/ folders, e.g. fi=/data/FI '
                        'cifar10=/data/cifar10 (checked by --dry-run)')
    parser.add_argument('--corruptions', nargs='+', default=[],
                        metavar='TARGET=PATH',
                        help='also evaluate the stage-2 runs of TARGET on '
                        'the CIFAR-C folder PATH after their test '
                        '(tools/analysis_tools/eval_corruptions.py), e.g. '
                        'cifar10=data/CIFAR-10-C (checked by --dry-run)')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        metavar='KEY=VALUE',
                        help='passed to every run (e.g. '
                        'train_cfg.max_epochs=1)')
    args = parser.parse_args(argv)
    args.recorded = None
    if not args.dry_run and not any(getattr(args, k) for k in SELECTION):
        # no selection given: the one recorded in the work root, if any
        args.recorded = read_plan(args.work_root, parser)
        for key, value in (args.recorded or {}).items():
            setattr(args, key, value)
    if args.config_root:
        if args.preset:
            parser.error('give --preset or --config-root, not both')
        args.config_root = osp.abspath(args.config_root)
        args.preset_spec = preset_of_tree(args.config_root, parser)
        args.preset = args.config_root
    else:
        args.preset = args.preset or 'paper'
        args.preset_spec = PRESETS[args.preset]
    preset = args.preset_spec
    choices = dict(backbones=preset.backbones, affective=preset.affective,
                   modes=preset.modes, targets=preset.targets)
    defaults = dict(backbones=preset.default_backbones,
                    affective=preset.default_affective_sets,
                    modes=preset.modes, targets=preset.targets)
    for axis, valid in choices.items():
        given = getattr(args, axis)
        unknown = [n for n in given or () if n not in valid]
        if unknown:
            parser.error(f'unknown {axis} {", ".join(unknown)} for preset '
                         f'{args.preset}; valid: {", ".join(valid)}')
        setattr(args, axis, tuple(dict.fromkeys(given or defaults[axis])))
    args.seeds = tuple(dict.fromkeys(args.seeds or preset.seeds))
    args.data_roots = named_paths(
        parser, '--data-root', args.data_root, 'NAME', 'set',
        preset.affective + preset.targets, args.preset)
    args.corruption_roots = named_paths(
        parser, '--corruptions', args.corruptions, 'TARGET', 'target',
        preset.targets, args.preset)
    for item in args.throughput:
        name, _, value = item.partition('=')
        if not re.fullmatch(r'[\d.]+', value) or float(value) <= 0:
            parser.error(f'--throughput {item!r}: expected NAME=IMAGES_PER_'
                         'SECOND with a positive number')
    args.gpus_per_node = args.gpus_per_node or args.gpus
    # Every value ends up in a job script: no line breaks or NULs, which
    # would put a command of their own into it.
    values = [('--slurm', args.slurm), ('--work-root', args.work_root),
              ('--gres', args.gres), ('--sbatch-args', args.sbatch_args),
              ('the checkout', REPO), ('the working directory', os.getcwd()),
              *(('--cfg-options', o) for o in args.cfg_options),
              *(('--data-root', r) for r in args.data_roots.values()),
              *(('--corruptions', r)
                for r in args.corruption_roots.values())]
    for what, value in values:
        if value is not None and any(c in value for c in '\n\r\0'):
            parser.error(f'{what} {value!r} holds a line break or NUL '
                         'character, which a job script cannot carry safely; '
                         'give it without.')
    return args


#: What the plan recorded in a work root holds (PLAN): the selection and
#: what every job of it is given.
SELECTION = ('preset', 'config_root', 'backbones', 'affective', 'modes',
             'targets', 'seeds')
RECORDED = SELECTION + ('cfg_options', 'data_root', 'corruptions')
NAMES = ('preset', 'config_root')  # a string each; the rest lists


def read_plan(work_root: str, parser):
    """The selection recorded in ``work_root`` by the sweep that started
    it (None where there is none); a damaged record is a parser error
    naming the file."""
    path = osp.join(work_root, PLAN)
    if not osp.lexists(path):
        return None
    fileio = plugin_module('fileio')
    try:
        plan = fileio.read_json(path, MAX_STATE_BYTES)
    except (fileio.UnreadableFileError, ValueError) as err:
        parser.error(f'{path}: the plan recorded for this work root cannot '
                     f'be read ({err}); give the selection (--preset, '
                     '--backbones, ...) or delete the file.')
    ok = isinstance(plan, dict) and set(plan) <= set(RECORDED) and all(
        isinstance(v, str) if k in NAMES else isinstance(v, list) and
        all(isinstance(x, int if k == 'seeds' else str) for x in v)
        for k, v in plan.items()) and plan.get('preset', 'paper') in PRESETS
    if not ok:
        parser.error(f'{path}: not a plan this sweep recorded (expected '
                     f'lists of names under {", ".join(RECORDED[2:])}); give '
                     'the selection or delete the file.')
    return plan


def record_plan(args) -> None:
    """Record the selection in the work root: ``--status`` and re-runs
    without a selection follow it."""
    plan = {k: list(getattr(args, k)) for k in SELECTION[2:]}
    plan.update(cfg_options=list(args.cfg_options),
                data_root=list(args.data_root),
                corruptions=list(args.corruptions))
    if args.config_root:
        plan['config_root'] = args.config_root
    else:
        plan['preset'] = args.preset
    os.makedirs(args.work_root, exist_ok=True)
    plugin_module('fileio').atomic_write_text(
        osp.join(args.work_root, PLAN), json.dumps(plan, indent=1) + '\n')


def preset_of_tree(root: str, parser):
    """A preset for a config tree laid out as ``configs/``: the backbones,
    affective sets, modes and targets its leaf names hold."""
    matrix = plugin_module('matrix')
    paper = PRESETS['paper']
    backbones, affective, modes, targets = {}, {}, {}, {}
    for name in _leaf_stems(osp.join(root, 'emoreg_pretrain')):
        backbone, _, aff = name.partition('_')
        if aff:
            backbones[backbone] = affective[aff] = None
    for name in _leaf_stems(osp.join(root, 'emoreg')):
        parts = name.split('_')
        if len(parts) not in (3, 4) or parts[1] not in matrix.MODES:
            continue  # not <backbone>_<mode>[_<affective>]_<target>
        backbones[parts[0]] = modes[parts[1]] = targets[parts[-1]] = None
        if len(parts) == 4:
            affective[parts[2]] = None
    if not backbones or not targets:
        parser.error(f'--config-root {root}: no leaf named as configs/ names '
                     'them (emoreg/<backbone>_<mode>[_<affective>]_<target>'
                     '.py, emoreg_pretrain/<backbone>_<affective>.py)')
    return paper._replace(
        config_root=root, backbones=tuple(backbones),
        default_backbones=tuple(backbones), affective=tuple(affective),
        default_affective_sets=tuple(affective), targets=tuple(targets),
        modes=tuple(m for m in matrix.MODES if m in modes), titles={})


def _leaf_stems(folder: str) -> list:
    return sorted(osp.splitext(f)[0] for f in (
        os.listdir(folder) if osp.isdir(folder) else ())
        if f.endswith('.py') and not f.startswith(('_', '.')))


def config_path(preset: dict, template: str, **names) -> str:
    aff = names.get('affective')
    names['affective_part'] = ('' if aff in (None, preset.default_affective)
                               else f'_{aff}')
    return osp.join(REPO, preset.config_root, template.format(**names))


def plan(args) -> list:
    """The runs of the selection, stage 1 first; each stage-2 run names
    the stage-1 run it waits for in ``deps``."""
    preset = args.preset_spec
    runs, stage1 = {}, {}
    for backbone in args.backbones:
        for target in args.targets:
            for mode in args.modes:
                for aff in (args.affective if mode != 'baseline' else
                            (None, )):
                    deps = ()
                    if aff is not None:
                        s1 = config_path(preset, preset.stage1,
                                         backbone=backbone, affective=aff)
                        name1 = osp.splitext(osp.basename(s1))[0]
                        stage1.setdefault(name1, Run(
                            name1, 1, s1, osp.join(args.work_root, name1),
                            None, (), (backbone, 'stage1', aff, None)))
                        deps = (name1, )
                    cfg = config_path(preset, preset.stage2,
                                      backbone=backbone, mode=mode,
                                      affective=aff, target=target)
                    for seed in args.seeds:
                        name = f'{osp.splitext(osp.basename(cfg))[0]}_s{seed}'
                        runs[name] = Run(name, 2, cfg,
                                         osp.join(args.work_root, name),
                                         seed, deps,
                                         (backbone, mode, aff, target))
    return list(stage1.values()) + list(runs.values())


def _data_roots(cfg) -> list:
    """The data folders a config's training and validation sets read."""
    datasets = plugin_module('engine.runner.preflight').dataset_dicts(
        cfg, ('train', 'val'))
    return list(dict.fromkeys(d['data_root'] for d in datasets
                              if d.get('data_root')))


def run_data_root(run: Run, data_roots: dict):
    """The ``--data-root`` of a run: its affective set's (stage 1) or its
    target's (stage 2); None for the config's own."""
    return data_roots.get(run.key[2] if run.stage == 1 else run.key[3])


#: Where the data of a missing dataset folder comes from, per preset.
DATA_HINT = {'demo': 'the sweep writes the demo data when it runs, as '
             'tools/run_demo.py does'}


def write_demo_data() -> None:
    """The demo preset's data where its configs look (``work_dirs/demo/
    data`` under the current directory), as ``tools/run_demo.py`` writes
    it; folders already there are left as they are."""
    data = osp.join('work_dirs', 'demo', 'data')
    demo = plugin_module('demo.data')
    for folder, make in (('testImages_abstract', demo.make_stimuli),
                         ('digits', demo.make_digits)):
        if not osp.isdir(osp.join(data, folder)):
            print(f'writing the demo data: {osp.join(data, folder)}')
            make(osp.join(data, folder))


def check(runs: list, cfg_options: list, data_roots: dict = None,
          hint: str = 'docs/datasets.md') -> tuple:
    """Problems found before anything runs, and per run what the GPU-hours
    need (epochs, training images) where the config could be read.

    One config per stage-1 run and one per (backbone, target) of stage 2 is
    read (the matrix shares datasets and schedules across modes); every
    stage-2 config file must exist.
    """
    from mmengine.config import Config, DictAction
    problems, facts, loaded = [], {}, {}
    opts = {}
    if cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        opts = parser.parse_args(['--o', *cfg_options]).o
    for run in runs:
        if not osp.isfile(run.config):
            what = 'stage-1 config' if run.stage == 1 else 'config'
            problems.append(f'{run.name}: {what} {run.config} does not exist')
            continue
        group = run.name if run.stage == 1 else (run.key[0], run.key[3])
        if group not in loaded:
            try:
                # the file only: its custom_imports (emoreg_mm, torch,
                # mmpretrain: seconds) are not needed to read paths and
                # epochs; the dataset is built (imports) only for
                # --throughput (train_images)
                cfg = Config.fromfile(run.config,
                                      import_custom_modules=False)
            except Exception as err:  # a broken file is a problem to list
                problems.append(f'{run.name}: {run.config} cannot be read: '
                                f'{type(err).__name__}: {err}')
                loaded[group] = (None, None, True)
                facts[run.name] = loaded[group]
                continue
            cfg.merge_from_dict({k: v for k, v in opts.items()
                                 if not k.startswith('model.')})
            where = f'from {osp.relpath(run.config, REPO)}'
            given = run_data_root(run, data_roots or {})
            if given:
                plugin_module('engine.runner.preflight').set_data_root(
                    cfg, given)
                where = '--data-root'
            missing = [r for r in _data_roots(cfg) if not osp.isdir(r)]
            for root in missing:
                problems.append(f'{run.name}: dataset folder {root} '
                                f'({where}) does not exist ({hint})')
            loaded[group] = (cfg.train_cfg.get('max_epochs'), cfg,
                             bool(missing))
        facts[run.name] = loaded[group]
    return problems, facts


def corruption_problems(args) -> list:
    """``--corruptions`` folders that are not CIFAR-C folders."""
    return [f'--corruptions {name}: {root} holds no labels.npy (a CIFAR-C '
            'folder; docs/robustness.md)'
            for name, root in args.corruption_roots.items()
            if not osp.isfile(osp.join(root, 'labels.npy'))]


def known_train_images(run: Run, cfg):
    """Training images of a stage-2 run whose data is not on this machine,
    where the matrix knows them (CIFAR: its training files less the
    held-out validation images); None otherwise."""
    total = plugin_module('matrix').TARGET_TRAIN_IMAGES.get(run.key[3])
    dataset = cfg.train_dataloader.dataset
    if run.stage != 2 or total is None or \
            not str(dataset.get('type', '')).startswith('HeldOutCIFAR'):
        return None
    split = dataset.get('split', 'train')
    return total if split == 'trainval' else \
        total - dataset.get('val_size', 5000) if split == 'train' else None


def train_images(cfg, cache: dict):
    """Training images per epoch (the dataset is built once per dict)."""
    key = repr(cfg.train_dataloader.dataset)
    if key not in cache:
        import emoreg_mm  # noqa: F401
        from mmengine.registry import init_default_scope
        from mmpretrain.registry import DATASETS
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        cache[key] = len(DATASETS.build(cfg.train_dataloader.dataset))
    return cache[key]


def throughput_of(run: Run, table: dict):
    backbone, mode = run.key[0], run.key[1]
    for name in (f'{backbone}:{mode}', backbone):
        if name in table:
            return table[name]
    return None


def dry_run(args, runs: list) -> int:
    problems, facts = check(runs, args.cfg_options, args.data_roots,
                            DATA_HINT.get(args.preset, 'docs/datasets.md'))
    problems += corruption_problems(args)
    n1 = sum(r.stage == 1 for r in runs)
    print(f'Plan ({args.preset}): {len(runs)} runs = {n1} stage-1 + '
          f'{len(runs) - n1} stage-2 | backbones {", ".join(args.backbones)}'
          f' | affective {", ".join(args.affective)} | modes '
          f'{", ".join(args.modes)} | targets {", ".join(args.targets)} | '
          f'seeds {", ".join(map(str, args.seeds))}')
    for run in runs:
        after = f'  after {run.deps[0]}' if run.deps else ''
        print(f'  stage {run.stage}  {run.name:<48} '
              f'{osp.relpath(run.config, REPO)}{after}')
    per_stage = Counter((r.stage, r.key[0]) for r in runs)
    for (stage, backbone), n in sorted(per_stage.items()):
        print(f'  {n:4d} stage-{stage} runs of {backbone}')
    if args.throughput:
        table = {k: float(v) for k, v in
                 (t.split('=', 1) for t in args.throughput)}
        cache, hours, counted = {}, 0.0, 0
        unknown = {}  # reason -> run names
        for run in runs:
            epochs, cfg, missing = facts.get(run.name, (None, None, True))
            tput = throughput_of(run, table)
            images = None
            if tput is None:
                reason = f'no --throughput for {run.key[0]}'
            elif cfg is None or not epochs:
                reason = 'config not read'
            else:
                images = known_train_images(run, cfg) if missing else \
                    train_images(cfg, cache)
                reason = 'data not here and its size not known'
            if images is None:
                unknown.setdefault(reason, []).append(run.name)
                continue
            hours += epochs * images / tput / 3600
            counted += 1
        print(f'GPU-hours: {hours:.2f} for {counted} runs (epochs x '
              'training images / throughput)')
        for reason, names in unknown.items():
            print(f'  not counted: {len(names)} ({reason}): '
                  f'{", ".join(names)}')
    if problems:
        print(f'{len(problems)} problem(s); nothing would run:',
              file=sys.stderr)
        for p in problems:
            print(f'  {p}', file=sys.stderr)
        return 2
    print('No problems found.')
    return 0


# ------------------------------------------------------------------- state
#: Largest state file read from a run dir (bytes).
MAX_STATE_BYTES = 1 << 16


def _read_json(path: str):
    """A state file's JSON; None when there is none; ``UnreadableFileError``
    (naming the file) when it is not a regular file, too large or not
    JSON."""
    read_json = plugin_module('fileio').read_json
    if not osp.lexists(path):
        return None
    return read_json(path, MAX_STATE_BYTES)


def _write_json(path: str, data: dict) -> None:
    """Atomically, never through a link planted at a temporary name."""
    atomic_write_text = plugin_module('fileio').atomic_write_text
    atomic_write_text(path, json.dumps(data))


def _submit_problem(sub) -> str:
    """Why a ``sweep_submit.json`` record is not one the sweep writes."""
    if not isinstance(sub, dict):
        return f'a JSON {type(sub).__name__}, not a submission record'
    if sub.get('scheduler') not in ('slurm', 'local'):
        return f'scheduler {str(sub.get("scheduler"))[:30]!r} is unknown'
    if type(sub.get('attempt')) is not int or sub['attempt'] < 1:
        return f'attempt {str(sub.get("attempt"))[:30]!r} is not a count'
    job = sub.get('job')
    if not (job is None and sub['scheduler'] == 'slurm') and not (
            isinstance(job, (int, str)) and str(job).isdigit()):
        return f'job {str(job)[:30]!r} is not a job id'
    return ''


def last_epoch(work_dir: str) -> str:
    """The last checkpoint's epoch (``3``) or iteration (``iter 120``);
    ``-`` without one, ``?`` when ``last_checkpoint`` cannot be read."""
    fileio = plugin_module('fileio')
    UnreadableFileError = fileio.UnreadableFileError
    read_text = fileio.read_text
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.lexists(path):
        return '-'
    try:
        name = osp.basename(read_text(path, 4096).strip())
    except UnreadableFileError:
        return '?'
    m = re.match(r'(epoch|iter)_(\d+)\.pth$', name)
    if not m:
        return name[:40]
    return m.group(2) if m.group(1) == 'epoch' else f'iter {m.group(2)}'


def squeue_jobs() -> dict:
    """``job id -> (job name, comment)`` of this user's queued and running
    Slurm jobs (one squeue call).

    Raises:
        SystemExit: squeue is not on the PATH or fails.
    """
    try:
        out = subprocess.run(
            ['squeue', '-h', '--me', '-o', '%i|%j|%k'], capture_output=True,
            text=True)
    except FileNotFoundError:
        raise SystemExit(
            'tools/sweep.py: runs of this work root were submitted to Slurm, '
            'but squeue is not on the PATH here, so their state cannot be '
            'read; run this where Slurm\'s commands are.') from None
    if out.returncode:
        raise SystemExit(f'tools/sweep.py: squeue failed: '
                         f'{out.stderr.strip()}')
    jobs = {}
    for line in out.stdout.splitlines():
        job, _, rest = line.strip().partition('|')
        name, _, comment = rest.partition('|')
        jobs[job] = (name, comment)
    return jobs


def local_alive(sub: dict) -> bool:
    """A local job runs: same host, its PID alive and started when the
    sweep recorded (a PID without a matching start time is not trusted)."""
    fileio = plugin_module('fileio')
    process_running, process_start = (fileio.process_running,
                                      fileio.process_start)
    pid, started = int(sub['job']), sub.get('process_start')
    if sub.get('host') != socket.gethostname() or not isinstance(
            started, str) or not 0 < pid < 2**31:
        return False
    return process_running(pid, started) and process_start(pid) == started


def states(runs: list, problems: list = None) -> dict:
    """``name -> (state, attempts, job)``: ``todo``, ``queued``,
    ``running``, ``done``, ``failed``, ``killed`` (the job is gone without
    a result), ``preempted`` (exit 143, waiting to be requeued), ``bad``
    (a state file that cannot be read; named in ``problems``, never
    resubmitted).

    A Slurm submission recorded without a job id (the sweep ended between
    recording it and ``sbatch`` answering) is reconciled with the queue by
    job name and work dir, then with the job's own status file.
    """
    UnreadableFileError = plugin_module('fileio').UnreadableFileError
    problems = [] if problems is None else problems
    submits, out = {}, {}
    for run in runs:
        try:
            sub = _read_json(osp.join(run.work_dir, SUBMIT))
            why = _submit_problem(sub) if sub is not None else ''
            if why:
                raise UnreadableFileError(
                    f'{osp.join(run.work_dir, SUBMIT)}: {why}.')
            submits[run.name] = sub
        except UnreadableFileError as err:
            problems.append(f'{run.name}: {err} Not resubmitted; delete the '
                            'file to run it again.')
            out[run.name] = ('bad', 0, None)
    queue = squeue_jobs() if any(
        s and s['scheduler'] == 'slurm' for s in submits.values()) else {}
    for run in runs:
        if run.name in out:
            continue
        sub = submits[run.name]
        if not sub:
            out[run.name] = ('todo', 0, None)
            continue
        try:
            status = _read_json(osp.join(run.work_dir, STATUS)) or {}
        except UnreadableFileError as err:
            problems.append(f'{run.name}: {err} Its state is taken as '
                            'unknown.')
            status = {}
        if not isinstance(status, dict):
            status = {}
        job = None if sub['job'] is None else str(sub['job'])
        if job is None:  # submitted, answer not recorded
            wd = osp.abspath(run.work_dir)
            found = [j for j, (name, comment) in queue.items()
                     if name == run.name and comment == wd]
            job = found[0] if found else (
                str(status['job']) if str(status.get('job', '')).isdigit()
                else None)
            if job is None:
                out[run.name] = ('unsubmitted', sub['attempt'] - 1, None)
                continue
            _write_json(osp.join(run.work_dir, SUBMIT), dict(sub, job=job))
        live = job in queue if sub['scheduler'] == 'slurm' else \
            local_alive(sub)
        ours = str(status.get('job')) == job
        state = status.get('state') if ours else None
        if state in ('done', 'failed'):
            pass
        elif live:
            state = 'queued' if state is None else (
                'running' if state == 'running' else 'requeued')
        elif state != 'preempted':
            state = 'killed'
        out[run.name] = (state, sub['attempt'], job)
    return out


def print_status(runs: list, st: dict) -> None:
    print(f'{"run":<48} {"stage":>5} {"state":<9} {"epoch":>9} '
          f'{"tries":>5}  job')
    for run in runs:
        state, attempts, job = st[run.name]
        print(f'{run.name:<48} {run.stage:>5} {state:<9} '
              f'{last_epoch(run.work_dir):>9} {attempts:>5}  {job or "-"}')
    counts = Counter(s[0] for s in st.values())
    print('  '.join(f'{k}: {v}' for k, v in sorted(counts.items())))


def results_table(args, runs: list) -> None:
    # the table takes glob patterns: the dirs as literal ones
    dirs = [glob.escape(r.work_dir) for r in runs if r.stage == 2]
    cmd = [sys.executable, osp.join(REPO, 'tools', 'analysis_tools',
                                    'results_table.py'), *dirs, '--out',
           osp.join(args.work_root, 'results')]
    out = subprocess.run(cmd, capture_output=True, text=True)
    print(out.stdout, end='')
    if out.returncode:
        sys.exit(f'tools/sweep.py: the results table failed: '
                 f'{out.stderr.strip()[-2000:]}')
    print(f'Results table: {args.work_root}/results.md (.csv)')


# -------------------------------------------------------------- execution
def job_script(args, run: Run, attempt: int, port: int) -> str:
    """The bash script of one run, for sbatch or for running here. It
    records its state in the run dir, resumes from the last checkpoint,
    requeues itself when pre-empted, and tests stage-2 runs."""
    wd = osp.abspath(run.work_dir)
    q = shlex.quote
    opts = list(args.cfg_options)
    paths = ''  # paths as arguments of their own: no comma splits them
    if run.stage == 2:
        opts.append(f'randomness.seed={run.seed}')
        if run.deps:
            s1 = osp.abspath(osp.join(args.work_root, run.deps[0]))
            s1_cfg = config_path(args.preset_spec,
                                 args.preset_spec.stage1,
                                 backbone=run.key[0], affective=run.key[2])
            paths = (f' --emotional-checkpoint {q(s1)} '
                     f'--emotional-checkpoint-config {q(s1_cfg)}')
    opt_str = ' '.join(q(o) for o in opts)
    stage1 = paths  # the stage-1 options alone (eval_corruptions.py's)
    tools = osp.join(REPO, 'tools')
    if args.slurm:
        env = (f'GPUS={args.gpus} GPUS_PER_NODE={args.gpus_per_node} '
               f'CPUS_PER_TASK={args.cpus_per_task} GRES={q(args.gres)}')
        train = (f'{env} bash {q(tools + "/slurm_train.sh")} '
                 f'{q(args.slurm)} {q(run.name)} {q(run.config)} "$WD"')
        test = (f'{env} bash {q(tools + "/slurm_test.sh")} {q(args.slurm)} '
                f'{q(run.name)} {q(run.config)} "$CKPT"')
        nodes = -(-args.gpus // args.gpus_per_node)
        sb = _sbatch_quote
        head = [f'#SBATCH --job-name={sb(run.name)}',
                f'#SBATCH --comment={sb(wd)}',  # with the name: the run
                f'#SBATCH --partition={sb(args.slurm)}',
                f'#SBATCH --nodes={nodes}', f'#SBATCH --ntasks={args.gpus}',
                f'#SBATCH --ntasks-per-node={args.gpus_per_node}',
                f'#SBATCH --cpus-per-task={args.cpus_per_task}',
                f'#SBATCH --output={sb(wd + "/slurm-%j.out")}',
                *([f'#SBATCH --gres={sb(args.gres)}'] if args.gres else []),
                '#SBATCH --open-mode=append', '#SBATCH --requeue']
        job_id = '${SLURM_JOB_ID}'
        port_line = ('export MASTER_PORT=${MASTER_PORT:-$((20000 + '
                     'SLURM_JOB_ID % 40000))}')
    else:
        if args.gpus > 1:
            train = (f'PORT={port} bash {q(tools + "/dist_train.sh")} '
                     f'{q(run.config)} {args.gpus} --work-dir "$WD"')
            test = (f'PORT={port} bash {q(tools + "/dist_test.sh")} '
                    f'{q(run.config)} "$CKPT" {args.gpus}')
        else:
            train = (f'"$PYTHON" {q(tools + "/train.py")} {q(run.config)} '
                     '--work-dir "$WD"')
            test = (f'"$PYTHON" {q(tools + "/test.py")} {q(run.config)} '
                    '--checkpoint "$CKPT"')
        head, job_id, port_line = [], '$$', ''
    root = run_data_root(run, args.data_roots)
    if root:
        paths += f' --data-root {q(root)}'
    opt_arg = paths + (f' --cfg-options {opt_str}' if opts else '')
    lines = ['#!/usr/bin/env bash', *head,
             f'# {run.name}, attempt {attempt}; written by tools/sweep.py',
             f'cd {q(os.getcwd())}', port_line, f'WD={q(wd)}',
             # the interpreter of the sweep, unless PYTHON names another
             f'export PYTHON="${{PYTHON:-{q(sys.executable)}}}"',
             # a new temporary file each time (mktemp: never an existing
             # name or link), renamed over the status file
             f'mark() {{ local t; t=$(mktemp "$WD/.{STATUS}.XXXXXX") && '
             f'printf \'{{"state": "%s", "job": "%s", "exit": %s}}\\n\' '
             f'"$1" "{job_id}" "${{2:-null}}" > "$t" && mv -f "$t" '
             f'"$WD/{STATUS}"; }}',
             # SIGTERM to this script: the job itself is ending (scancel,
             # time limit, pre-emption by the scheduler); wait for the
             # training step to save, then leave without requeueing
             "trap 'ENDING=1; echo sweep: SIGTERM received' TERM",
             f'echo "sweep: {run.name} attempt {attempt}, job {job_id}, '
             'restart ${SLURM_RESTART_COUNT:-0}"',
             'mark running',
             'RESUME=; [ -f "$WD/last_checkpoint" ] && RESUME=--resume',
             f'{train} $RESUME{opt_arg}', 'rc=$?',
             'if [ -n "$ENDING" ]; then mark killed $rc; exit $rc; fi',
             # only the training step was signalled: pre-empted, requeue
             'if [ $rc -eq 143 ]; then mark preempted 143; '
             + ('scontrol requeue "$SLURM_JOB_ID"; ' if args.slurm else '')
             + 'exit 143; fi',
             'if [ $rc -ne 0 ]; then mark failed $rc; exit $rc; fi']
    if run.stage == 2:
        lines += ['CKPT=$(cat "$WD/last_checkpoint")',
                  f'{test} --work-dir "$WD" --out "$WD/{PREDICTIONS}"'
                  f'{opt_arg}',
                  'rc=$?',
                  'if [ -n "$ENDING" ]; then mark killed $rc; exit $rc; fi',
                  'if [ $rc -ne 0 ]; then mark failed $rc; exit $rc; fi']
    corrupted = args.corruption_roots.get(run.key[3]) \
        if run.stage == 2 else None
    if corrupted:  # one process; resumes from the files already written
        tool = osp.join(tools, 'analysis_tools', 'eval_corruptions.py')
        lines += [f'"$PYTHON" {q(tool)} {q(run.config)} "$CKPT" '
                  f'--corruption-root {q(corrupted)} --work-dir "$WD"'
                  + stage1 + (f' --cfg-options {opt_str}' if opts else ''),
                  'rc=$?',
                  'if [ -n "$ENDING" ]; then mark killed $rc; exit $rc; fi',
                  'if [ $rc -ne 0 ]; then mark failed $rc; exit $rc; fi']
    lines += ['mark done 0', '']
    return '\n'.join(line for line in lines if line != '')


def _sbatch_quote(value: str) -> str:
    """A value of an ``#SBATCH`` line in double quotes (sbatch reads the
    line's options with quotes and backslash escapes)."""
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'


def to_submit(args, runs: list, st: dict) -> tuple:
    """Runs to (re)submit now, and those left out with the reason."""
    go, left = [], []
    for run in runs:
        state, attempts, _ = st[run.name]
        if state in ('done', 'queued', 'running', 'requeued'):
            continue
        if state == 'bad':
            left.append((run.name, 'its state file cannot be read (above)'))
            continue
        if attempts > args.max_retries:
            left.append((run.name, f'{state} after {attempts} attempts '
                         f'(--max-retries {args.max_retries})'))
            continue
        dep = run.deps and st[run.deps[0]][0]
        if dep and dep not in ('done', 'queued', 'running', 'requeued') \
                and run.deps[0] not in {r.name for r in go}:
            left.append((run.name, f'stage 1 {run.deps[0]} is {dep}'))
            continue
        go.append(run)
    return go, left


def slurm_gres(args) -> str:
    """The --gres request of each job: ``--gres`` as given, else what
    tools/slurm_gres.sh chooses for the partition."""
    if args.gres is not None:
        return args.gres
    return subprocess.run(
        ['bash', '-c', 'PARTITION=$0 GPUS_PER_NODE=$1; source "$2"; '
         'echo "$GRES"', args.slurm, str(args.gpus_per_node),
         osp.join(REPO, 'tools', 'slurm_gres.sh')],
        capture_output=True, text=True).stdout.strip()


def submit_slurm(args, runs: list, st: dict) -> None:
    args.gres = slurm_gres(args)
    go, left = to_submit(args, runs, st)
    jobs = {name: job for name, (state, _, job) in st.items()
            if state in ('queued', 'running', 'requeued')}
    atomic_write_text = plugin_module('fileio').atomic_write_text
    for run in go:
        attempt = st[run.name][1] + 1
        path = osp.join(run.work_dir, SCRIPT)
        atomic_write_text(path, job_script(args, run, attempt, 0))
        cmd = ['sbatch', '--parsable', *shlex.split(args.sbatch_args)]
        if run.deps and run.deps[0] in jobs:
            cmd += [f'--dependency=afterok:{jobs[run.deps[0]]}',
                    '--kill-on-invalid-dep=yes']
        # Recorded before sbatch: a sweep ended before sbatch answers leaves
        # a record without a job id, which the next run reconciles with the
        # queue (states()) instead of submitting the run again.
        record = dict(job=None, attempt=attempt, scheduler='slurm')
        _write_json(osp.join(run.work_dir, SUBMIT), record)
        out = subprocess.run(cmd + [path], capture_output=True, text=True)
        if out.returncode:  # the record stays without a job: not queued
            sys.exit(f'tools/sweep.py: sbatch failed for {run.name}: '
                     f'{out.stderr.strip()}')
        jobs[run.name] = out.stdout.strip().split(';')[0]
        _write_json(osp.join(run.work_dir, SUBMIT),
                    dict(record, job=jobs[run.name]))
        print(f'submitted {run.name}: job {jobs[run.name]}' +
              (f' after {run.deps[0]}' if run.deps and
               run.deps[0] in jobs else '') + f' (attempt {attempt})')
    for name, why in left:
        print(f'not submitted {name}: {why}')
    print(f'{len(go)} job(s) submitted, {len(left)} left out; follow with '
          '--status')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_local(args, runs: list, st: dict) -> None:
    """Run the plan here, ``args.jobs`` at a time: the stage-1 runs, then
    the stage-2 runs whose stage 1 is done; the same job scripts as on
    Slurm, output in ``<run>/sweep-local.log``."""
    fileio = plugin_module('fileio')
    atomic_write_text, process_start = (fileio.atomic_write_text,
                                        fileio.process_start)
    go, left = to_submit(args, runs, st)
    for name, why in left:
        print(f'not run {name}: {why}')
    lock = threading.Lock()

    def one(run, slot):
        attempt = st[run.name][1] + 1
        env = dict(os.environ)
        if args.jobs > 1 and 'CUDA_VISIBLE_DEVICES' not in env:
            # each concurrent run on its own GPUs
            env['CUDA_VISIBLE_DEVICES'] = ','.join(
                str(slot * args.gpus + i) for i in range(args.gpus))
        path = osp.join(run.work_dir, SCRIPT)
        atomic_write_text(path, job_script(args, run, attempt, _free_port()))
        with open(osp.join(run.work_dir, 'sweep-local.log'), 'a') as log:
            proc = subprocess.Popen(['bash', path], stdout=log, env=env,
                                    stderr=subprocess.STDOUT)
            # the PID with its start time: a PID reused later is not this
            # job
            _write_json(osp.join(run.work_dir, SUBMIT), dict(
                job=proc.pid, attempt=attempt, scheduler='local',
                host=socket.gethostname(),
                process_start=process_start(proc.pid)))
            with lock:
                print(f'started {run.name} (attempt {attempt})', flush=True)
            rc = proc.wait()
        with lock:
            print(f'{"finished" if rc == 0 else "FAILED (exit %d)" % rc} '
                  f'{run.name}; log: {run.work_dir}/sweep-local.log',
                  flush=True)

    for stage in (1, 2):
        done = {n for n, s in states(runs).items() if s[0] == 'done'}
        batch = [r for r in go if r.stage == stage
                 and all(d in done for d in r.deps)]
        for r in go:
            if r.stage == stage and r not in batch:
                print(f'not run {r.name}: stage 1 {r.deps[0]} did not finish')
        queue = list(batch)

        def worker(slot):
            while True:
                with lock:
                    if not queue:
                        return
                    run = queue.pop(0)
                one(run, slot)

        threads = [threading.Thread(target=worker, args=(slot, ))
                   for slot in range(max(1, min(args.jobs, len(batch))))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def main(argv=None) -> int:
    args = parse_args(argv)
    runs = plan(args)
    if args.recorded:
        print(f'Plan recorded in {osp.join(args.work_root, PLAN)} '
              f'({len(runs)} runs; give a selection to change it)')
    if args.dry_run:
        return dry_run(args, runs)
    if args.status:
        problems = []
        st = states(runs, problems)
        print_status(runs, st)
        for problem in problems:
            print(f'  {problem}')
        if all(s[0] == 'done' for s in st.values()):
            results_table(args, runs)
        return 0
    if args.preset == 'demo':
        write_demo_data()
    problems, _ = check(runs, args.cfg_options, args.data_roots)
    problems += corruption_problems(args)
    if problems:
        print(f'{len(problems)} problem(s); nothing submitted:',
              file=sys.stderr)
        for p in problems:
            print(f'  {p}', file=sys.stderr)
        return 2
    record_plan(args)
    problems = []
    st = states(runs, problems)
    for problem in problems:
        print(f'  {problem}', file=sys.stderr)
    if args.slurm:
        submit_slurm(args, runs, st)
        if not args.wait:
            return 0
        while True:
            st = states(runs)
            if not any(s[0] in ('queued', 'running', 'requeued')
                       for s in st.values()):
                break
            time.sleep(5)
    else:
        run_local(args, runs, st)
        st = states(runs)
    print_status(runs, st)
    if all(s[0] == 'done' for s in st.values()):
        results_table(args, runs)
        return 0
    return 1


if __name__ == '__main__':
    sys.exit(main())
