"""Pairing runs: cells of runs, their reference partners, paired statistics.

Runs are grouped into cells by their :data:`~.runs.TAGS` (backbone,
affective set, mode, target). Every cell but ``baseline``'s is compared
with the references of :data:`REFERENCES` (:func:`partners`): ``baseline``
of the same backbone and target; ``const`` of the same backbone, affective
set and target; and, for a cell on an affective set X, the same mode on
the control sets ``X-shuffled`` (stage 1 on X's images with the emotion
labels permuted) and ``X-untrained`` (E with random weights, no stage 1).
Two runs are paired by seed, and only when their configs differ in nothing
but the mode and the seed, or, against a control, the affective set's name
and its stage-1 weights (:func:`config_differences`), and their values are
of the same kind (a test result with a test result, a validation score
with a validation score); every refusal is noted with the reason. All
tables pair through :func:`compare`.
"""
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .runs import TAGS
from .stats import RESOLUTION, WORDS, mcnemar_exact, paired_ci, verdict

#: What every cell is compared with, in column order: two modes, then the
#: two controls of its affective set (``X-shuffled``, ``X-untrained``).
REFERENCES = ('baseline', 'const', 'shuffled', 'untrained')
#: The control affective sets, as suffixes of the set they control.
CONTROLS = ('shuffled', 'untrained')
#: Keys a mode sets (compared through the normalised model instead) and
#: bookkeeping of a run that does not change what it trains.
MODE_KEYS = ('emoreg_mode', 'regulator', 'branches', 'model',
             'randomness.seed')
RUN_KEYS = ('work_dir', 'resume', 'load_from', 'launcher',
            'experiment_name', 'visualizer', 'vis_backends', 'emoreg_sweep')
#: Hooks that only report a run (its tracker's name and tags).
RUN_HOOKS = ('TrackingHook', )
#: The options of the control pieces (``configs/_base_/controls/``), which
#: a leaf copies where they apply: like the affective set's keys, a
#: baseline has none of them.
CONTROL_KEYS = ('shuffled_train_dataset', 'untrained_encoders')
#: What the affective set adds; a baseline has none of it.
AFFECTIVE_KEYS = ('emoreg_affective', 'emotion_classes',
                  'num_emotions') + CONTROL_KEYS
#: What may differ between a run on X and one on its control set, beside
#: the set's name and :data:`CONTROL_KEYS`: the wrapper's stage-1 weights
#: (their file and the config that made them, or a random E instead and
#: its seed). The emotion vocabulary may not: the untrained control names
#: it in the head (``model.head.emotion_classes``), where X's runs take it
#: from the stage-1 checkpoint; it must then be the run's own
#: ``emotion_classes``, which both runs share.
CONTROL_WRAPPER_KEYS = ('emotional_checkpoint',
                        'emotional_checkpoint_config', 'emotional_init',
                        'emotional_seed')

Cell = Tuple[str, str, str, str]
#: What a cell says where every run was left out (:func:`unique_seeds`).
EMPTY = 'no run left, see the notes'


def control_of(affective: str) -> Optional[str]:
    """The control an affective set's name says it is (``'shuffled'`` for
    ``'emoset-shuffled'``), else None."""
    for control in CONTROLS:
        if affective.endswith(f'-{control}') and \
                len(affective) > len(control) + 1:
            return control
    return None


def reference_name(ref: str, affective: str) -> str:
    """How the column and the notes name a reference of a cell on
    ``affective``: the mode, or the control set (``'emoset-shuffled'``)."""
    return f'{affective}-{ref}' if ref in CONTROLS else ref


def references(cells: Dict[Cell, list]) -> Tuple[str, ...]:
    """The references a table shows: ``baseline``, ``const`` and
    ``shuffled`` always (a missing control is said in its column),
    ``untrained`` where runs on an ``X-untrained`` set exist."""
    shown = [ref for ref in REFERENCES if ref != 'untrained']
    if any(control_of(key[1]) == 'untrained' for key in cells):
        shown.append('untrained')
    return tuple(shown)


def missing(key: Cell, ref: str, runs: str = 'runs') -> str:
    """What a cell's column says when ``ref`` has no runs to pair with:
    ``no emoset-shuffled runs``."""
    return f'no {reference_name(ref, key[1])} {runs}'


def cell_name(key: Cell) -> str:
    """``backbone affective mode on target``, the name notes give a cell."""
    backbone, affective, mode, target = key
    return f'{backbone} {affective} {mode} on {target}'


def group(runs: List[dict],
          keep: Callable[[dict], bool] = bool) -> Dict[Cell, List[dict]]:
    """The runs for which ``keep(run)`` holds, by cell."""
    cells = defaultdict(list)
    for run in runs:
        if keep(run):
            cells[tuple(run[t] for t in TAGS)].append(run)
    return cells


def unique_seeds(runs: List[dict], notes: List[str], what: str
                 ) -> List[dict]:
    """Runs of one cell, one per seed; duplicated seeds are left out of
    the pairing (and noted)."""
    seen = defaultdict(list)
    for run in runs:
        seen[run['seed']].append(run)
    for seed, same in seen.items():
        if len(same) > 1:
            notes.append(f'{what}: {len(same)} runs at seed {seed} ('
                         + ', '.join(r['work_dir'] for r in same) +
                         '); not paired.')
    return [same[0] for same in seen.values() if len(same) == 1]


def compares(key: Cell, ref: str) -> bool:
    """Whether cell ``key`` has a ``ref`` column: never for ``baseline`` or
    ``ref``'s own mode; the controls only for a cell on an affective set
    that is not itself a control."""
    affective, mode = key[1], key[2]
    if mode in ('baseline', ref):
        return False
    if ref in CONTROLS:
        return affective != '-' and control_of(affective) is None
    return True


def partner_cell(key: Cell, ref: str) -> Cell:
    """The cell whose runs ``key`` is compared with as ``ref`` (for
    ``baseline``, the affective set is any)."""
    backbone, affective, mode, target = key
    if ref in CONTROLS:
        return backbone, reference_name(ref, affective), mode, target
    return backbone, '*' if ref == 'baseline' else affective, ref, target


def partners(cells: Dict[Cell, List[dict]], key: Cell,
             reference: str) -> Optional[List[dict]]:
    """The runs of cell ``key`` compares with ``reference``, one per seed.

    Returns:
        list | None: None where :func:`compares` says there is no such
        column; else the runs of :func:`partner_cell`, possibly none.
    """
    if not compares(key, reference):
        return None
    want = partner_cell(key, reference)
    refs = [run for cell, runs in cells.items()
            if all(w in ('*', c) for w, c in zip(want, cell))
            for run in runs]
    return unique_seeds(refs, [], '')


def _flatten(value, prefix: str = '') -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f'{prefix}{k}.'))
        return out
    return {prefix[:-1]: value}


def _without(value, keys: Tuple[str, ...]):
    """``value`` less ``keys`` where it is a dict; else ``value``."""
    if not isinstance(value, dict):
        return value
    return {k: v for k, v in value.items() if k not in keys}


def _model_parts(cfg: dict, regulated_pair: bool) -> dict:
    """The parts of the model that are not the mode's own (a model, a
    backbone or a head that is not a dict is compared as it is)."""
    model = cfg.get('model') or {}
    if not isinstance(model, dict):
        return {'model': model}
    backbone = model.get('backbone') or {}
    head = model.get('head') or {}
    wrapped = isinstance(backbone, dict) and \
        backbone.get('type') == 'EmotionalBackboneWrapper'
    parts = {
        'encoder': backbone.get('backbone') if wrapped else backbone,
        'neck': backbone.get('neck') if wrapped else model.get('neck'),
        'num_classes': head.get('num_classes') if isinstance(head, dict)
        else head,
        'train_cfg': model.get('train_cfg'),
    }
    if regulated_pair and wrapped:
        parts.update(
            wrapper=_without(backbone, ('backbone', 'neck', 'branches',
                                        'type')),
            head=_without(head, ('regulator', 'type')))
    return parts


def _control_pair(a: dict, b: dict) -> bool:
    """Whether one config's affective set is the other's control."""
    x, y = (str(c.get('emoreg_affective')) for c in (a, b))
    return any(c == f'{o}-{control}' for c, o in ((x, y), (y, x))
               for control in CONTROLS)


def _own_vocabulary(cfg: dict) -> dict:
    """``cfg``'s model with the head's ``emotion_classes`` left out where
    they are the config's own ``emotion_classes`` (a vocabulary named
    twice, as the untrained control's leaf does)."""
    model = cfg.get('model')
    head = model.get('head') if isinstance(model, dict) else None
    if not (isinstance(head, dict) and 'emotion_classes' in head and
            _same(head['emotion_classes'], cfg.get('emotion_classes'))):
        return cfg
    head = {k: v for k, v in head.items() if k != 'emotion_classes'}
    return dict(cfg, model=dict(model, head=head))


def _same(a, b) -> bool:
    """Equal as sequences (a dumped config may hold a tuple as a list)."""
    listed = (list, tuple)
    if isinstance(a, listed) and isinstance(b, listed):
        return list(a) == list(b)
    return a == b


def config_differences(a: dict, b: dict) -> List[str]:
    """Keys (dotted) in which two runs' configs differ beyond the mode and
    the seed (and the affective set's keys where one is a ``baseline``; and
    the set's name, the control pieces' options and the stage-1 weights
    where one set is the other's control: :data:`CONTROL_KEYS`,
    :data:`CONTROL_WRAPPER_KEYS`).

    Args:
        a (dict): A config as :func:`~.runs.read_config` reads it.
        b (dict): Another.

    Returns:
        list[str]: The differing keys, sorted; ``model/...`` for the parts
        of the model that are not the mode's own.
    """
    regulated_pair = 'baseline' not in (a.get('emoreg_mode'),
                                        b.get('emoreg_mode'))
    control = regulated_pair and _control_pair(a, b)
    ignored = MODE_KEYS + RUN_KEYS + (
        () if regulated_pair else AFFECTIVE_KEYS) + (
        ('emoreg_affective', ) + CONTROL_KEYS + tuple(
            f'model/wrapper.{k}' for k in CONTROL_WRAPPER_KEYS)
        if control else ())

    def signature(cfg):
        if control:
            cfg = _own_vocabulary(cfg)
        cfg = dict(cfg)
        if isinstance(cfg.get('custom_hooks'), list):
            cfg['custom_hooks'] = [h for h in cfg['custom_hooks'] if not (
                isinstance(h, dict) and h.get('type') in RUN_HOOKS)]
        flat = _flatten(cfg)
        flat.update(_flatten(_model_parts(cfg, regulated_pair), 'model/'))
        return {k: v for k, v in flat.items()
                if not any(k == i or k.startswith(i + '.') for i in ignored)}

    sa, sb = signature(a), signature(b)
    return sorted(k for k in sa.keys() | sb.keys() if sa.get(k) != sb.get(k))


def _order(ids) -> List[int]:
    return sorted(range(len(ids)), key=lambda i: ids[i])


def mcnemar_runs(run: dict, ref: dict) -> Tuple[Optional[tuple], str]:
    """McNemar's exact test of ``run`` against ``ref`` on the same images,
    from their predictions: ((b, c, p), '') with b the images only ``run``
    got right and c those only ``ref`` got right, or (None, the reason; ''
    where either run saved none)."""
    if not (run['predictions'] and ref['predictions']):
        return None, ''
    from ..evaluation.predictions import load_predictions
    try:
        p, q = load_predictions(run['predictions']), load_predictions(
            ref['predictions'])
    except (OSError, ValueError) as err:  # PredictionsFileError included
        return None, f'{err}; no McNemar test.'

    ids_p, ids_q = list(p['sample_idx']), list(q['sample_idx'])
    if sorted(ids_p) != sorted(ids_q) or not (
            (p['gt_label'][_order(ids_p)] ==
             q['gt_label'][_order(ids_q)]).all()):
        return None, (f'{run["work_dir"]} and {ref["work_dir"]}: '
                      'predictions on different images; no McNemar test.')
    right_p = (p['pred_label'] == p['gt_label'])[_order(ids_p)]
    right_q = (q['pred_label'] == q['gt_label'])[_order(ids_q)]
    b = int((right_p & ~right_q).sum())
    c = int((~right_p & right_q).sum())
    return (b, c, mcnemar_exact(b, c)), ''


def compare(runs: List[dict], refs: List[dict], notes: List[str],
            what: str, mcnemar: bool = False, measure: str = '',
            words: Sequence[str] = WORDS,
            resolution: float = RESOLUTION) -> Optional[dict]:
    """Pair ``runs`` with ``refs`` by seed; the paired statistics of their
    ``value`` differences.

    Args:
        runs (list[dict]): One cell's runs, one per seed.
        refs (list[dict]): The reference's runs, one per seed.
        notes (list[str]): Seeds without a partner and refused pairs are
            appended here, named by ``what``.
        what (str): The comparison's name in the notes.
        mcnemar (bool): Also McNemar's exact test per seed on the runs'
            predictions. Defaults to False.
        measure (str): What is differenced (its spread is pooled with the
            other comparisons of the same measure, :mod:`.family`).
        words (Sequence[str]): The verdicts of a positive and a negative
            difference. Defaults to ('better', 'worse').
        resolution (float): :func:`~.stats.paired_ci`'s.

    Returns:
        dict | None: None without ``refs``; else :func:`~.stats.paired_ci`
        with ``verdict`` (``'not paired'`` without a pair), ``mcnemar``
        ([(seed, b, c, p)]), ``measure`` and ``words``.
    """
    if not refs:
        return None
    by_seed = {r['seed']: r for r in runs}
    ref_seed = {r['seed']: r for r in refs}
    missing_seeds = sorted(set(by_seed) ^ set(ref_seed), key=str)
    if missing_seeds:
        only = [(s, (by_seed.get(s) or ref_seed[s])['work_dir'])
                for s in missing_seeds]
        notes.append(f'{what}: seeds without a partner, not paired: ' +
                     ', '.join(f'{s} (only {d})' for s, d in only))
    diffs, tests = [], []
    for seed in sorted(set(by_seed) & set(ref_seed), key=str):
        run, ref = by_seed[seed], ref_seed[seed]
        differ = config_differences(run['config'], ref['config'])
        if differ:
            notes.append(f'{what}, seed {seed}: {run["work_dir"]} and '
                         f'{ref["work_dir"]} differ in {", ".join(differ)};'
                         ' not paired.')
            continue
        if run['source'] != ref['source']:
            notes.append(f'{what}, seed {seed}: {run["work_dir"]} has a '
                         f'{run["source"]} result, {ref["work_dir"]} a '
                         f'{ref["source"]} result; not paired (only test '
                         'with test, validation with validation).')
            continue
        diffs.append(run['value'] - ref['value'])
        if mcnemar:
            test, note = mcnemar_runs(run, ref)
            if note:
                notes.append(note)
            if test is not None:
                tests.append((seed, ) + test)
    ci = paired_ci(diffs, resolution=resolution)
    ci.update(mcnemar=tests, measure=measure, words=tuple(words))
    ci['verdict'] = verdict(ci) if diffs else 'not paired'
    return ci
