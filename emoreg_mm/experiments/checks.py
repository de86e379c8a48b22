"""What a sweep checks before anything runs, and its GPU-hours.

Configs are read with ``mmengine.config.Config`` (imported here, not at
import time), which needs no torch: the dry run works without it. Only
counting training images of data on this machine (``--throughput``) builds
datasets and imports torch; without torch those runs are listed as not
counted.
"""
import argparse
import os.path as osp
from collections import Counter
from typing import Dict, List, Tuple

from emoreg_mm import matrix
from emoreg_mm.cli import (ConfigKeyError, check_cfg_options, dataset_dicts,
                           set_data_root)
from .plan import Run, Sweep

#: Where the data of a missing dataset folder comes from, per preset.
DATA_HINT = {'demo': 'the sweep writes the demo data when it runs, as '
             'tools/run_demo.py does'}


def parse_cfg_options(options) -> dict:
    """``KEY=VALUE`` strings as mmengine's ``--cfg-options`` reads them."""
    if not options:
        return {}
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    return parser.parse_args(['--o', *options]).o


def check(sweep: Sweep, runs: List[Run]) -> Tuple[List[str], Dict]:
    """Problems found before anything runs, and per run ``(epochs, cfg,
    data missing)`` where its config could be read.

    One config per stage-1 run and one per (backbone, target) of stage 2
    is read (the matrix shares datasets and schedules across modes); every
    stage-2 config file must exist. A ``--corruptions`` folder is checked
    against each config of its target (:func:`corruption_problems`), a
    ``--shift`` folder likewise (:func:`shift_problems`).
    """
    from mmengine.config import Config

    from ..config_names import allow_package_bases
    allow_package_bases()  # a user's tree may inherit emoreg_mm::
    hint = DATA_HINT.get(sweep.preset, 'docs/datasets.md')
    opts = {k: v for k, v in parse_cfg_options(sweep.cfg_options).items()
            if not k.startswith('model.')}
    problems, facts, loaded = [], {}, {}
    for run in runs:
        if not osp.isfile(run.config):
            what = 'stage-1 config' if run.stage == 1 else 'config'
            problems.append(f'{run.name}: {what} {run.config} does not exist')
            continue
        group = run.name if run.stage == 1 else (run.key[0], run.key[3])
        if group not in loaded:
            try:  # the file only: no custom_imports (torch) to read paths
                cfg = Config.fromfile(run.config,
                                      import_custom_modules=False)
            except Exception as err:  # a broken file is a problem to list
                problems.append(f'{run.name}: {run.config} cannot be read: '
                                f'{type(err).__name__}: {err}')
                facts[run.name] = loaded[group] = (None, None, True)
                continue
            cfg.merge_from_dict(opts)
            if run.grid:  # each key of the grid must be the config's
                try:
                    check_cfg_options(cfg, [p.partition('=')[0]
                                            for p in run.grid], '--grid')
                except ConfigKeyError as err:
                    problems.append(f'{run.name}: {err}')
            where = f'from {osp.relpath(run.config, sweep.root)}'
            given = sweep.data_root_of(run)
            if given:
                set_data_root(cfg, given)
                where = '--data-root'
            roots = dict.fromkeys(d['data_root'] for d in dataset_dicts(
                cfg, ('train', 'val')) if d.get('data_root'))
            missing = [r for r in roots if not osp.isdir(r)]
            problems += [f'{run.name}: dataset folder {r} ({where}) does '
                         f'not exist ({hint})' for r in missing]
            loaded[group] = (cfg.train_cfg.get('max_epochs'), cfg,
                             bool(missing))
        facts[run.name] = loaded[group]
    problems += corruption_problems(sweep, loaded)
    problems += shift_problems(sweep, loaded)
    return problems, facts


def corruption_problems(sweep: Sweep, loaded: Dict) -> List[str]:
    """``--corruptions``: each stage-2 config read of a target given a
    folder, checked as its evaluation will check it
    (:func:`emoreg_mm.evaluation.corruptions.check_target`)."""
    if not sweep.corruption_roots:
        return []
    from emoreg_mm.evaluation.corruptions import (CorruptionEvalError,
                                                  check_target)
    problems = []
    for group, (_, cfg, _) in loaded.items():
        root = sweep.corruption_roots.get(group[1]) \
            if isinstance(group, tuple) else None
        if root is None or cfg is None:
            continue
        try:
            check_target(cfg, root)
        except CorruptionEvalError as err:
            problems.append(f'--corruptions {group[1]}={root}: the '
                            f'{group[0]} runs cannot be evaluated: {err} '
                            '(docs/robustness.md)')
    return problems


def shift_problems(sweep: Sweep, loaded: Dict) -> List[str]:
    """``--shift``: each folder's files checked (layout, shapes, labels),
    and each stage-2 config read of its set's target checked as its
    evaluation will check it (:func:`emoreg_mm.evaluation.shift.
    check_set`); a set none of whose runs the sweep plans is named."""
    if not sweep.shift_roots:
        return []
    from emoreg_mm.evaluation.shift import (ShiftEvalError, check_config,
                                            read_set)
    problems = []
    for name, root in sweep.shift_roots.items():
        where = f'--shift {name}={root}'
        try:
            read_set(name, root)
        except ShiftEvalError as err:
            problems.append(f'{where}: {err} (docs/shift.md)')
            continue
        target = matrix.SHIFTED_SETS[name].target
        groups = [(g, cfg) for g, (_, cfg, _) in loaded.items()
                  if isinstance(g, tuple) and g[1] == target and cfg]
        if target not in sweep.targets:
            problems.append(f'{where}: the sweep plans no {target} runs '
                            f'(--targets {" ".join(sweep.targets)})')
        for group, cfg in groups:
            try:
                check_config(cfg, name, f'the {group[0]} {target} config')
            except ShiftEvalError as err:
                problems.append(f'{where}: the {group[0]} runs cannot be '
                                f'evaluated: {err}')
    return problems


def known_train_images(run: Run, cfg):
    """Training images of a stage-2 run whose data is not on this machine,
    where the matrix knows them (CIFAR: its training files less the
    held-out validation images); None otherwise."""
    total = matrix.TARGET_TRAIN_IMAGES.get(run.key[3])
    dataset = cfg.train_dataloader.dataset
    if run.stage != 2 or total is None or \
            not str(dataset.get('type', '')).startswith('HeldOutCIFAR'):
        return None
    split = dataset.get('split', 'train')
    return total if split == 'trainval' else \
        total - dataset.get('val_size', 5000) if split == 'train' else None


def train_images(cfg, cache: dict):
    """Training images per epoch (the dataset is built once per dict;
    this imports torch)."""
    key = repr(cfg.train_dataloader.dataset)
    if key not in cache:
        from mmengine.registry import init_default_scope
        from mmpretrain.registry import DATASETS

        from emoreg_mm.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        cache[key] = len(DATASETS.build(cfg.train_dataloader.dataset))
    return cache[key]


def parse_throughput(items) -> Dict[str, float]:
    """``NAME=IMAGES_PER_SECOND`` values as a dict.

    Raises:
        ValueError: naming the value that is not a positive number.
    """
    table = {}
    for item in items:
        name, _, value = item.partition('=')
        try:
            table[name] = float(value)
        except ValueError:
            table[name] = 0.
        if not table[name] > 0:
            raise ValueError(f'--throughput {item!r}: expected NAME=IMAGES_'
                             'PER_SECOND with a positive number')
    return table


def gpu_hours(runs: List[Run], facts: Dict, throughput: Dict[str, float]):
    """``(hours, runs counted, {reason: [run names not counted]})``:
    ``epochs x training images / throughput`` per run, the throughput of
    ``backbone:mode`` (or ``backbone:stage1``) else of ``backbone``."""
    cache, hours, counted, unknown = {}, 0.0, 0, {}
    for run in runs:
        epochs, cfg, missing = facts.get(run.name, (None, None, True))
        tput = next((throughput[n] for n in (f'{run.key[0]}:{run.key[1]}',
                                             run.key[0]) if n in throughput),
                    None)
        images = None
        if tput is None:
            reason = f'no --throughput for {run.key[0]}'
        elif cfg is None or not epochs:
            reason = 'config not read'
        elif missing:
            images = known_train_images(run, cfg)
            reason = 'data not here and its size not known'
        else:
            try:
                images = train_images(cfg, cache)
            except ImportError as err:
                reason = f'dataset not built ({err})'
        if images is None:
            unknown.setdefault(reason, []).append(run.name)
            continue
        hours += epochs * images / tput / 3600
        counted += 1
    return hours, counted, unknown


def dry_run(sweep: Sweep, runs: List[Run], throughput=None, out=print,
            err=print) -> int:
    """Print the plan, the run counts, the problems and (given
    ``throughput``) the GPU-hours; 2 where there are problems, else 0."""
    problems, facts = check(sweep, runs)
    n1 = sum(r.stage == 1 for r in runs)
    out(f'Plan ({sweep.preset}): {len(runs)} runs = {n1} stage-1 + '
        f'{len(runs) - n1} stage-2 | backbones {", ".join(sweep.backbones)}'
        f' | affective {", ".join(sweep.affective)} | modes '
        f'{", ".join(sweep.modes)} | targets {", ".join(sweep.targets)} | '
        f'seeds {", ".join(map(str, sweep.seeds))}' +
        (f' | controls {", ".join(sweep.controls)}' if sweep.controls
         else '') +
        (f' | grid {" x ".join(sweep.grid)} ({len(sweep.points)} points)'
         if sweep.grid else '') +
        (f' | tracker {", ".join(sweep.tracker)}' if sweep.tracker else '') +
        (f' | shift {", ".join(sweep.shift_roots)}' if sweep.shift_roots
         else ''))
    width = max([48] + [len(r.name) for r in runs])
    for run in runs:
        after = f'  after {run.deps[0]}' if run.deps else ''
        out(f'  stage {run.stage}  {run.name:<{width}} '
            f'{osp.relpath(run.config, sweep.root)}{after}')
    for (stage, backbone), n in sorted(
            Counter((r.stage, r.key[0]) for r in runs).items()):
        out(f'  {n:4d} stage-{stage} runs of {backbone}')
    if throughput:
        hours, counted, unknown = gpu_hours(runs, facts, throughput)
        out(f'GPU-hours: {hours:.2f} for {counted} runs (epochs x training '
            'images / throughput)')
        for reason, names in unknown.items():
            out(f'  not counted: {len(names)} ({reason}): '
                f'{", ".join(names)}')
    if problems:
        err(f'{len(problems)} problem(s); nothing would run:')
        for p in problems:
            err(f'  {p}')
        return 2
    out('No problems found.')
    return 0
