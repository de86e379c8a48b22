"""What a sweep runs: the runs of a preset (or of a config tree laid out as
``configs/``), their work dirs, and the selection recorded in a work root.

Names come from :mod:`emoreg_mm.matrix` only (:func:`~emoreg_mm.matrix.
stage1_name`, :func:`~emoreg_mm.matrix.stage2_name`, :func:`~emoreg_mm.
matrix.parse_name`). Standard library only: importable without torch.
"""
import itertools
import json
import os
import os.path as osp
import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from emoreg_mm import matrix
from emoreg_mm.fileio import (UnreadableFileError, atomic_write_text,
                              read_json)

PLAN = 'sweep_plan.json'  #: the recorded selection, in the work root
#: Largest state file read from a work root or run dir (bytes).
MAX_STATE_BYTES = 1 << 16
#: What a recorded plan holds: the selection, then what every job is given.
SELECTION = ('preset', 'config_root', 'backbones', 'affective', 'modes',
             'targets', 'seeds', 'controls')
RECORDED = SELECTION + ('cfg_options', 'data_root', 'corruptions', 'grid',
                        'tracker', 'shift')


#: Config keys the sweep manages for each run, refused in ``--cfg-options``
#: (one value would reach every run): what to do instead.
MANAGED_OPTIONS = {
    'work_dir': 'give --work-root instead (each run writes to '
                'WORK_ROOT/<run name>)',
    'resume': 'leave it out: running the sweep again resumes each run from '
              'its own last checkpoint',
    'load_from': 'leave it out: the sweep gives stage 2 its stage-1 '
                 'weights; to start one run from a checkpoint, run '
                 'tools/train.py',
}


class PlanError(ValueError):
    """A selection, option or recorded plan that cannot be planned."""


def check_cfg_options(options: Sequence[str]) -> None:
    """Refuse ``KEY=VALUE`` options whose key the sweep sets per run
    (:data:`MANAGED_OPTIONS`).

    Raises:
        PlanError: naming the option and what to use instead.
    """
    for option in options:
        key = str(option).partition('=')[0]
        if key in MANAGED_OPTIONS:
            raise PlanError(
                f'--cfg-options {str(option)[:80]!r}: the sweep manages '
                f'{key} for each run; {MANAGED_OPTIONS[key]}.')


def split_values(text: str) -> List[str]:
    """``V1,V2,...`` split at the commas outside brackets and quotes (a
    value may be a list: ``[1,2],[3,4]``)."""
    values, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in '\'"':
            quote = ch
        elif ch in '([':
            depth += 1
        elif ch in ')]':
            depth -= 1
        elif ch == ',' and depth == 0:
            values.append(text[start:i])
            start = i + 1
    return values + [text[start:]]


def parse_grid(items: Sequence[str]) -> List[Tuple[str, List[str]]]:
    """``--grid KEY=V1,V2,...`` items as ``[(KEY, [V1, V2, ...])]``; the
    values stay text, read as mmengine's ``--cfg-options`` reads them.

    Raises:
        PlanError: a malformed item, an empty value, a key given twice, or
            a key the sweep sets itself (the seed, :data:`MANAGED_OPTIONS`).
    """
    grid = []
    for item in items:
        key, sep, text = str(item).partition('=')
        values = split_values(text) if sep else []
        if not key or not values or not all(v.strip() for v in values):
            raise PlanError(f'--grid {str(item)[:80]!r}: expected '
                            'KEY=VALUE1,VALUE2,... (a config key, as in '
                            '--cfg-options)')
        if key in dict(grid):
            raise PlanError(f'--grid {key}: given twice; give its values in '
                            'one --grid KEY=V1,V2')
        if key in MANAGED_OPTIONS or key.startswith('randomness.seed'):
            raise PlanError(f'--grid {key}: the sweep sets it for each run '
                            '(seeds: --seeds)')
        grid.append((key, [v.strip() for v in values]))
    return grid


def point_label(point: Sequence[str]) -> str:
    """A grid point (``('optim_wrapper.optimizer.lr=0.01', ...)``) as a
    run name's token: the last part of each key and its value
    (``lr0.01``), the whole key where two last parts are alike; characters
    other than letters, digits, ``.``, ``+`` and ``-`` become ``-``."""
    keys = [p.partition('=')[0] for p in point]
    short = [k.rsplit('.', 1)[-1] for k in keys]
    if len(set(short)) < len(short):
        short = [k.replace('.', '-') for k in keys]
    return '_'.join(re.sub(r'[^A-Za-z0-9.+-]', '-', s + p.partition('=')[2])
                    for s, p in zip(short, point))


class Run(NamedTuple):
    """One run of a sweep."""
    name: str  #: its work dir's name: the leaf's, stage 2 plus ``_s<seed>``
    stage: int
    config: str  #: absolute path
    work_dir: str
    seed: Optional[int]  #: stage 2 only
    deps: Tuple[str, ...]  #: the stage-1 run it waits for (stage 2)
    #: (backbone, mode or 'stage1', affective label, target); the label is
    #: a set or its control (``abstract-shuffled``), None for baseline
    key: Tuple
    #: the grid point of a stage-2 run: ``KEY=VALUE`` options (``--grid``)
    grid: Tuple[str, ...] = ()


def package_root() -> str:
    """Where ``configs/`` and ``tools/`` are: the checkout the package was
    imported from, or the installed package's ``.mim``."""
    pkg = osp.dirname(osp.dirname(osp.abspath(__file__)))
    checkout = osp.dirname(pkg)
    if all(osp.isdir(osp.join(checkout, f)) for f in ('configs', 'tools')):
        return checkout
    return osp.join(pkg, '.mim')


def named_paths(option: str, items: Sequence[str], what: str, kind: str,
                valid: Sequence[str], preset: str) -> Dict[str, str]:
    """``NAME=PATH`` values of ``option`` as ``{name: absolute path}``.

    Raises:
        PlanError: naming the value and, for an unknown name, the valid
            ones of the preset.
    """
    paths = {}
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or not path:
            raise PlanError(f'{option} {item!r}: expected {what}=PATH')
        if name not in valid:
            raise PlanError(f'{option} {item!r}: unknown {kind} {name} for '
                            f'preset {preset}; valid: {", ".join(valid)}')
        paths[name] = osp.abspath(path)
    return paths


def _leaf_stems(folder: str) -> List[str]:
    return sorted(osp.splitext(f)[0] for f in (
        os.listdir(folder) if osp.isdir(folder) else ())
        if f.endswith('.py') and not f.startswith(('_', '.')))


def preset_of_tree(root: str) -> matrix.Preset:
    """A preset for a config tree laid out as ``configs/``: the backbones,
    affective sets, modes, targets and controls its leaf names hold (read
    with :func:`emoreg_mm.matrix.parse_name`)."""
    paper = matrix.PRESETS['paper']
    stage1 = _leaf_stems(osp.join(root, osp.dirname(paper.stage1)))
    stage2 = _leaf_stems(osp.join(root, osp.dirname(paper.stage2)))
    # candidate names from the tokens; parse_name decides what is a leaf
    tokens = [s.split('_') for s in stage1 + stage2]
    labels = {t[-1] for t in tokens if len(t) == 2} | \
        {t[2] for t in tokens if len(t) == 4}
    names = dict(backbones={t[0] for t in tokens},
                 affective_sets={matrix.split_control(a)[0] for a in labels}
                 | {paper.default_affective},
                 modes=paper.modes, targets={t[-1] for t in tokens},
                 default_affective=paper.default_affective)
    found = {axis: {} for axis in ('backbone', 'affective', 'mode', 'target',
                                   'control')}
    for stem in stage1 + stage2:
        leaf = matrix.parse_name(stem, **names)
        if leaf is None or (leaf.stage == 1) != (stem in stage1):
            continue  # not a leaf of this tree's layout
        base, control = matrix.split_control(leaf.affective or '')
        values = leaf._asdict()
        values.update(affective=base or None, control=control)
        for axis in found:
            # a stage-2 name without its set means the default one
            implied = axis == 'affective' and leaf.stage == 2 and \
                len(stem.split('_')) != 4
            if values[axis] is not None and not implied:
                found[axis][values[axis]] = None
    if not found['backbone'] or not found['target']:
        raise PlanError(
            f'--config-root {root}: no leaf named as configs/ names them '
            '(emoreg/<backbone>_<mode>[_<affective>]_<target>.py, '
            'emoreg_pretrain/<backbone>_<affective>.py)')
    backbones, affective = tuple(found['backbone']), tuple(found['affective'])
    return paper._replace(
        config_root=root, backbones=backbones, default_backbones=backbones,
        affective=affective, default_affective_sets=affective,
        targets=tuple(found['target']),
        modes=tuple(m for m in paper.modes if m in found['mode']),
        controls=tuple(c for c in matrix.CONTROLS if c in found['control']),
        titles={})


def space_words(space: str, spec: Optional[matrix.AffectiveSet]) -> str:
    """An affect space as the sweep's messages name it: ``dimensional
    (valence, arousal)``, ``categorical (8 emotions)``."""
    if spec is None or space is None:
        return str(space)
    what = ', '.join(spec.vocabulary) if space == 'dimensional' else \
        f'{len(spec.vocabulary)} emotions'
    return f'{space} ({what})'


def check_spaces(modes: Sequence[str], sets: Sequence[str],
                 specs: Dict[str, matrix.AffectiveSet]) -> None:
    """Refuse a mode on a set whose affect space it does not regulate
    (:data:`emoreg_mm.matrix.AFFECT_SPACE_MODES`).

    Raises:
        PlanError: naming the mode, the set, their spaces and the modes
            that regulate the set.
    """
    for name in sets:
        space = matrix.affect_space(name, specs)
        wrong = [m for m in modes if not matrix.regulates(m, space)]
        if wrong:
            raise PlanError(
                f'--modes {wrong[0]} and --affective {name} do not go '
                f'together: {wrong[0]} regulates a '
                f'{" or ".join(matrix.spaces_of(wrong[0]))} affective '
                f'state, {name} gives '
                f'a {space_words(space, specs.get(name))} one; the modes '
                f'for {name}: {", ".join(matrix.AFFECT_SPACE_MODES[space])}'
                ' (sets of the other space: a sweep of their own)')


class Sweep:
    """A selection of a preset's matrix and what every run of it is given.

    Args:
        preset (str, optional): A name of :data:`emoreg_mm.matrix.PRESETS`.
            Defaults to ``'paper'`` unless ``config_root`` is given.
        config_root (str, optional): A config tree of one's own instead.
        backbones, affective, modes, targets (Sequence[str], optional):
            The selection; default: the preset's table (modes: the
            preset's that regulate every set chosen). A mode that does not
            regulate a chosen set's affect space (:data:`emoreg_mm.matrix.
            AFFECT_SPACE_MODES`) is refused.
        seeds (Sequence[int], optional): Stage-2 seeds; default: the
            preset's.
        controls (Sequence[str], optional): Also these controls
            (:data:`emoreg_mm.matrix.CONTROLS`) of every affective set
            chosen, in every mode chosen but ``baseline``, with the same
            backbones, targets and seeds (and a stage-1 run of its own for
            a control that pre-trains). Default: none.
        work_root (str): One work dir per run under it.
        cfg_options (Sequence[str]): ``KEY=VALUE`` for every run.
        data_root (Sequence[str]): ``NAME=PATH``: where an affective set
            (its stage-1 runs) or a target (its stage-2 runs) is.
        corruptions (Sequence[str]): ``TARGET=PATH``: CIFAR-C folders to
            evaluate that target's stage-2 runs on after their test.
        grid (Sequence[str]): ``KEY=V1,V2,...``: every stage-2 run at each
            point of the product of these values (stage 1 is shared); the
            point is in the run's name (:func:`point_label`) and config
            (``emoreg_grid`` lists its keys).
        tracker (Sequence[str]): Trackers every training and test logs to
            (:mod:`emoreg_mm.engine.runner.tracking`).
        shift (Sequence[str]): ``NAME=DIR``: natural distribution shifts
            (:data:`emoreg_mm.matrix.SHIFTED_SETS`) to evaluate the
            stage-2 runs of each set's target on after their test.
        root (str, optional): Where ``configs/`` and ``tools/`` are.
            Defaults to :func:`package_root`.
        stage_options (dict): ``{stage: [KEY=VALUE, ...]}`` for the runs
            of one stage only (the demo's epochs).

    Raises:
        PlanError: an unknown name or a malformed ``NAME=PATH``.
    """

    def __init__(self, preset: Optional[str] = None,
                 config_root: Optional[str] = None,
                 backbones=None, affective=None, modes=None, targets=None,
                 seeds=None, controls=None,
                 work_root: str = 'work_dirs/sweep',
                 cfg_options=(), data_root=(), corruptions=(), grid=(),
                 tracker=(), shift=(), root: Optional[str] = None,
                 stage_options=None):
        self.root = root or package_root()
        if config_root:
            if preset:
                raise PlanError('give --preset or --config-root, not both')
            self.config_root = osp.abspath(config_root)
            self.spec, self.preset = (preset_of_tree(self.config_root),
                                      self.config_root)
        else:
            self.config_root, self.preset = None, preset or 'paper'
            if self.preset not in matrix.PRESETS:
                raise PlanError(f'unknown preset {self.preset}; valid: '
                                f'{", ".join(matrix.PRESETS)}')
            self.spec = matrix.PRESETS[self.preset]
        spec = self.spec
        for axis, given, valid, default in (
                ('backbones', backbones, spec.backbones,
                 spec.default_backbones),
                ('affective', affective, spec.affective,
                 spec.default_affective_sets),
                ('modes', modes, spec.modes, spec.modes),
                ('targets', targets, spec.targets, spec.targets),
                ('controls', controls, spec.controls, ())):
            unknown = [n for n in given or () if n not in valid]
            if unknown:
                raise PlanError(f'unknown {axis} {", ".join(unknown)} for '
                                f'preset {self.preset}; valid: '
                                f'{", ".join(valid)}')
            setattr(self, axis, tuple(dict.fromkeys(given or default)))
        if not modes:  # the preset's modes that regulate every set chosen
            spaces = {matrix.affect_space(a, spec.affective_specs)
                      for a in self.affective}
            self.modes = tuple(m for m in self.modes if all(
                matrix.regulates(m, space) for space in spaces))
        check_spaces(self.modes, self.affective, spec.affective_specs)
        self.seeds = tuple(dict.fromkeys(seeds or spec.seeds))
        self.work_root = work_root
        check_cfg_options(cfg_options)
        self.cfg_options = tuple(cfg_options)
        self.data_root, self.corruptions = tuple(data_root), tuple(corruptions)
        self.data_roots = named_paths(
            '--data-root', data_root, 'NAME', 'set',
            spec.affective + spec.targets, self.preset)
        self.corruption_roots = named_paths(
            '--corruptions', corruptions, 'TARGET', 'target', spec.targets,
            self.preset)
        self.shift = tuple(shift)
        self.shift_roots = named_paths(
            '--shift', shift, 'NAME', 'shifted set',
            [n for n, s in matrix.SHIFTED_SETS.items()
             if s.target in spec.targets], self.preset)
        self.stage_options = dict(stage_options or {})
        self.grid, self.tracker = tuple(grid), tuple(tracker)
        axes = [[f'{k}={v}' for v in values]
                for k, values in parse_grid(self.grid)]
        self.points = [tuple(p) for p in itertools.product(*axes)]

    # ------------------------------------------------------------ runs
    def config(self, stage: int, name: str) -> str:
        """The absolute path of the leaf ``name`` of ``stage``."""
        template = self.spec.stage1 if stage == 1 else self.spec.stage2
        return osp.join(self.root, self.spec.config_root,
                        osp.dirname(template), name + '.py')

    def runs(self) -> List[Run]:
        """The runs of the selection, stage 1 first; each stage-2 run
        names the stage-1 run it waits for in ``deps`` (none for baseline
        and for a control without a stage 1)."""
        spec, runs, stage1 = self.spec, {}, {}
        labels = matrix.affective_labels(self.affective, self.controls)
        for backbone in self.backbones:
            for target in self.targets:
                for mode in self.modes:
                    sets = (None, ) if mode == 'baseline' else labels
                    for aff in sets:
                        deps = ()
                        control = matrix.split_control(aff or '')[1]
                        if aff is not None and (
                                control is None or
                                matrix.CONTROLS[control].stage1):
                            name1 = matrix.stage1_name(backbone, aff)
                            stage1.setdefault(name1, Run(
                                name1, 1, self.config(1, name1),
                                osp.join(self.work_root, name1), None, (),
                                (backbone, 'stage1', aff, None)))
                            deps = (name1, )
                        leaf = matrix.stage2_name(
                            backbone, mode, target, aff,
                            default_affective=spec.default_affective)
                        for point, seed in itertools.product(self.points,
                                                             self.seeds):
                            name = '_'.join(
                                [leaf] + ([point_label(point)] if point
                                          else []) + [f's{seed}'])
                            runs[name] = Run(
                                name, 2, self.config(2, leaf),
                                osp.join(self.work_root, name), seed, deps,
                                (backbone, mode, aff, target), point)
        return list(stage1.values()) + list(runs.values())

    def shift_of(self, run: Run) -> List[str]:
        """``NAME=DIR`` of the shifted sets ``run`` is evaluated on after
        its test: those of its target, for a stage-2 run."""
        return [f'{name}={root}' for name, root in self.shift_roots.items()
                if run.stage == 2 and
                matrix.SHIFTED_SETS[name].target == run.key[3]]

    def data_root_of(self, run: Run) -> Optional[str]:
        """The ``--data-root`` of a run: its affective set's (stage 1, a
        control's too) or its target's (stage 2); None for the config's
        own."""
        return self.data_roots.get(matrix.split_control(run.key[2])[0]
                                   if run.stage == 1 else run.key[3])

    # ---------------------------------------------------- recorded plan
    def record(self) -> None:
        """Record the selection in the work root: ``--status`` and re-runs
        without a selection follow it."""
        plan = {k: list(getattr(self, k)) for k in SELECTION[2:]}
        plan.update(cfg_options=list(self.cfg_options),
                    data_root=list(self.data_root),
                    corruptions=list(self.corruptions), grid=list(self.grid),
                    tracker=list(self.tracker), shift=list(self.shift))
        if self.config_root:
            plan['config_root'] = self.config_root
        else:
            plan['preset'] = self.preset
        os.makedirs(self.work_root, exist_ok=True)
        atomic_write_text(osp.join(self.work_root, PLAN),
                          json.dumps(plan, indent=1) + '\n')


def read_plan(work_root: str) -> Optional[dict]:
    """The selection recorded in ``work_root`` (None where there is none),
    as keyword arguments of :class:`Sweep`.

    Raises:
        PlanError: a damaged record, naming the file.
    """
    path = osp.join(work_root, PLAN)
    if not osp.lexists(path):
        return None
    try:
        plan = read_json(path, MAX_STATE_BYTES)
    except (UnreadableFileError, ValueError) as err:
        raise PlanError(f'{path}: the plan recorded for this work root '
                        f'cannot be read ({err}); give the selection '
                        '(--preset, --backbones, ...) or delete the file.')
    names = ('preset', 'config_root')  # a string each; the rest lists
    ok = isinstance(plan, dict) and set(plan) <= set(RECORDED) and all(
        isinstance(v, str) if k in names else isinstance(v, list) and
        all(isinstance(x, int if k == 'seeds' else str) for x in v)
        for k, v in plan.items()) and plan.get('preset', 'paper') in \
        matrix.PRESETS
    if not ok:
        raise PlanError(f'{path}: not a plan this sweep recorded (expected '
                        f'lists of names under {", ".join(RECORDED[2:])}); '
                        'give the selection or delete the file.')
    bad = [x for x in plan.get('seeds', ()) if type(x) is not int or
           not 0 <= x < 2**32]
    if bad:
        raise PlanError(f'{path}: seeds holds {str(bad[0])[:40]}, not a '
                        'seed (an integer from 0 to 2**32 - 1); give the '
                        'selection or delete the file.')
    try:  # the names: those of its preset or config tree
        Sweep(**plan, work_root=work_root)
    except PlanError as err:
        raise PlanError(f'{path}: {err} (in the recorded plan); give the '
                        'selection or delete the file.') from None
    return plan


#: The demo preset's sets and the folder of each under the demo's data
#: folder (``work_dirs/demo/data``, where configs/demo look).
DEMO_FOLDERS = {'synth-abstract': 'testImages_abstract', 'digits': 'digits'}


def write_demo_data(folder: str = osp.join('work_dirs', 'demo', 'data'),
                    skip=(), quick: bool = False, out=print) -> dict:
    """Write the demo's data sets (:mod:`emoreg_mm.demo`) under ``folder``,
    except those named in ``skip`` (given by ``--data-root``) and folders
    already there; ``{set: folder}`` of those written or found."""
    from emoreg_mm.demo import make_digits, make_stimuli
    make = {'synth-abstract': lambda p: make_stimuli(
        p, per_emotion=12 if quick else 50),
        'digits': lambda p: make_digits(p, limit=40 if quick else None)}
    paths = {}
    for name, sub in DEMO_FOLDERS.items():
        if name in skip:
            continue
        paths[name] = path = osp.abspath(osp.join(folder, sub))
        if not osp.isdir(path):
            out(f'writing the demo data: {osp.join(folder, sub)}')
            make[name](path)
    return paths
