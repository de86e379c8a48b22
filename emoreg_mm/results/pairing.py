"""Pairing runs: cells of runs, their reference partners, paired statistics.

Runs are grouped into cells by their :data:`~.runs.TAGS` (backbone,
affective set, mode, target). Every regulated mode is compared with two
references (:data:`REFERENCES`): ``baseline`` of the same backbone and
target, and ``const`` of the same backbone, affective set and target. Two
runs are paired by seed, and only when their configs differ in nothing but
the mode and the seed (:func:`config_differences`) and their values are of
the same kind (a test result with a test result, a validation score with a
validation score); every refusal is noted with the reason. All three tables
pair through :func:`compare`.
"""
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Tuple

from .runs import TAGS
from .stats import detectable_difference, mcnemar_exact, paired_ci, verdict

#: The modes every regulated mode is compared with, in column order.
REFERENCES = ('baseline', 'const')
#: Keys a mode sets (compared through the normalised model instead) and
#: bookkeeping of a run that does not change what it trains.
MODE_KEYS = ('emoreg_mode', 'regulator', 'branches', 'model',
             'randomness.seed')
RUN_KEYS = ('work_dir', 'resume', 'load_from', 'launcher',
            'experiment_name')
#: What the affective set adds; a baseline has none of it.
AFFECTIVE_KEYS = ('emoreg_affective', 'emotion_classes', 'num_emotions')

Cell = Tuple[str, str, str, str]


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


def partners(cells: Dict[Cell, List[dict]], key: Cell,
             reference: str) -> Optional[List[dict]]:
    """The runs of cell ``key`` compares with ``reference``, one per seed.

    Returns:
        list | None: None when the cell is ``reference`` itself or a
        ``baseline`` (nothing to compare); else the runs of ``reference``
        with the same backbone and target (and, for ``const``, the same
        affective set), possibly none.
    """
    backbone, affective, mode, target = key
    if mode in ('baseline', reference):
        return None
    refs = [run for (b, a, m, t), runs in cells.items()
            if b == backbone and m == reference and t == target and
            (reference == 'baseline' or a == affective) for run in runs]
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


def config_differences(a: dict, b: dict) -> List[str]:
    """Keys (dotted) in which two runs' configs differ beyond the mode and
    the seed (and the affective set's keys where one is a ``baseline``).

    Args:
        a (dict): A config as :func:`~.runs.read_config` reads it.
        b (dict): Another.

    Returns:
        list[str]: The differing keys, sorted; ``model/...`` for the parts
        of the model that are not the mode's own.
    """
    regulated_pair = 'baseline' not in (a.get('emoreg_mode'),
                                        b.get('emoreg_mode'))
    ignored = MODE_KEYS + RUN_KEYS + (() if regulated_pair else
                                      AFFECTIVE_KEYS)

    def signature(cfg):
        flat = _flatten(dict(cfg))
        flat = {k: v for k, v in flat.items()
                if not any(k == i or k.startswith(i + '.') for i in ignored)}
        flat.update(_flatten(_model_parts(cfg, regulated_pair), 'model/'))
        return flat

    sa, sb = signature(a), signature(b)
    return sorted(k for k in sa.keys() | sb.keys() if sa.get(k) != sb.get(k))


def _order(ids) -> List[int]:
    return sorted(range(len(ids)), key=lambda i: ids[i])


def mcnemar_runs(run: dict, ref: dict) -> Tuple[Optional[float], str]:
    """McNemar's exact p of ``run`` against ``ref`` on the same images,
    from their predictions: (p, '') or (None, the reason; '' where either
    run saved none)."""
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
    return mcnemar_exact(b, c), ''


def compare(runs: List[dict], refs: List[dict], notes: List[str],
            what: str, mcnemar: bool = False) -> Optional[dict]:
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

    Returns:
        dict | None: None without ``refs``; else :func:`~.stats.paired_ci`
        with ``verdict`` (``'not paired'`` without a pair), ``mcnemar``
        ([(seed, p)]) and ``detectable``.
    """
    if not refs:
        return None
    by_seed = {r['seed']: r for r in runs}
    ref_seed = {r['seed']: r for r in refs}
    missing = sorted(set(by_seed) ^ set(ref_seed), key=str)
    if missing:
        only = [(s, (by_seed.get(s) or ref_seed[s])['work_dir'])
                for s in missing]
        notes.append(f'{what}: seeds without a partner, not paired: ' +
                     ', '.join(f'{s} (only {d})' for s, d in only))
    diffs, pvalues = [], []
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
            pvalue, note = mcnemar_runs(run, ref)
            if note:
                notes.append(note)
            if pvalue is not None:
                pvalues.append((seed, pvalue))
    ci = paired_ci(diffs)
    ci.update(verdict=verdict(ci) if diffs else 'not paired',
              mcnemar=pvalues,
              detectable=detectable_difference(ci['spread'], ci['n']))
    return ci
