"""Compare the evaluated runs of many work dirs in one paired table.

Usage::

    python tools/analysis_tools/results_table.py 'work_dirs/*' \
        [--metric accuracy/top1] [--out results]

Each work dir is one run. Nothing in it is executed: its config is the one
mmengine dumped there (``<config name>.py``), read by :func:`read_config`, a
parser that admits only literals and ``dict(...)`` calls (a ``.py`` file
holding anything else is reported and ignored). The config's
``emoreg_backbone``, ``emoreg_affective``, ``emoreg_mode``, ``emoreg_target``
keys name the combination, ``randomness.seed`` the seed. The value is the
``tools/test.py`` result (``<timestamp>/<timestamp>.json``) where present,
else the last validation during training (``vis_data/scalars.json``,
marked ``val``). Per-image test predictions are read from
``predictions.npz`` in the work dir (``tools/test.py ... --out
WORK_DIR/predictions.npz``) with
:func:`emoreg_mm.evaluation.load_predictions`.

Rows are backbone x affective set x mode; per target: the metric as mean
± std over seeds (n), then, for every regulated mode, the paired
difference to ``baseline`` (same backbone and target) and to ``const``
(same backbone, affective set and target) over the seeds both have: mean,
95% confidence interval from the t distribution, n, and a verdict ("no
evidence" unless the interval excludes zero); and McNemar's exact test
against ``const`` on the same test images, one p-value per seed where both
runs wrote predictions. Two runs are paired only when their configs differ
in nothing but the mode and the seed, and only like with like (a test
result with a test result, a validation score with a validation score);
otherwise the pair is reported with the reason. Seeds that one side lacks
are reported by name. Identical differences at every seed give no interval
and no verdict (the seeds may not have taken effect). A run dir that cannot
be read (a config that is not plain literals, a file that is not a regular
file or is over ``--max-file-mb``, a result that is not a number) is
reported by name with the reason and left out; the table of the others is
still written. A cut-off last line of ``scalars.json`` (what a killed run
leaves) is left out and reported. A result marked
``†`` was selected on the data it was evaluated on (the run validated, and
kept its best checkpoint, on its test data). Written to ``OUT.md`` and
``OUT.csv``. :func:`results_table` is the entry point for other tools.

From the runs' predictions, ``analysis_table.py`` (this folder) adds two
companion tables to ``OUT.md`` (and ``OUT_analysis.csv``): the branches (top-1
of N, I, the fused model, ``const``'s fusion, the oracle gate; the share of
the oracle's gain captured; rho by which branch alone was right) and the
calibration (ECE over 15 equal-width confidence bins, NLL; paired against
``baseline`` and ``const``), and ``OUT_forest.png``, the forest plot of the
paired differences above (``docs/results.md`` says how to read them).
Where runs were evaluated on CIFAR-C (``eval_corruptions.py``),
``robustness_table.py`` adds the robustness table (mean corruption accuracy
paired like accuracy, mCE and relative mCE against ``baseline``) to
``OUT.md`` and ``OUT_robustness.csv`` (``docs/robustness.md``).
"""
import argparse
import ast
import csv
import glob
import io
import json
import math
import os
import os.path as osp
import statistics
from collections import defaultdict
from typing import List, Optional, Sequence, Tuple

TAGS = ('backbone', 'affective', 'mode', 'target')
#: The note for a stage-1 run dir among the patterns.
STAGE1_LEFT_OUT = ('{}: a stage-1 run (emotional pre-training, no target '
                   'and no mode); not a row of this table.')
PREDICTIONS = 'predictions.npz'
#: Largest config, result or log file read from a run dir (bytes);
#: ``--max-file-mb`` changes it.
MAX_FILE = 64 << 20
#: Keys a mode sets (compared through the normalised model instead) and
#: bookkeeping of a run that does not change what it trains.
MODE_KEYS = ('emoreg_mode', 'regulator', 'branches', 'model',
             'randomness.seed')
RUN_KEYS = ('work_dir', 'resume', 'load_from', 'launcher',
            'experiment_name')
#: What the affective set adds; a baseline has none of it.
AFFECTIVE_KEYS = ('emoreg_affective', 'emotion_classes', 'num_emotions')


def plugin_module(name: str):
    """``emoreg_mm.<name>``, a module of the standard library only (e.g.
    ``fileio``, ``matrix``, ``engine.runner.preflight``), without importing
    the package: its ``__init__`` imports torch, mmengine and mmpretrain
    (about 5 s of CPU), which a tool that reads run dirs does not need. An
    import of the package afterwards uses this module."""
    import importlib.util
    import sys
    full = f'emoreg_mm.{name}'
    if full not in sys.modules:
        package = importlib.util.find_spec('emoreg_mm')
        if package is None or not package.origin:
            raise ImportError('emoreg_mm is not installed (pip install -e . '
                              'or bash tools/setup_env.sh)')
        spec = importlib.util.spec_from_file_location(
            full, osp.join(osp.dirname(package.origin),
                           *name.split('.')) + '.py')
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
    return sys.modules[full]


class UnsafeConfigError(ValueError):
    """A config file holds something other than literals and dict()."""


# --------------------------------------------------------------------------
# Reading runs (no code is executed)
# --------------------------------------------------------------------------
def _literal(node: ast.AST, path: str):
    """Evaluate a literal / ``dict(key=literal, ...)`` node."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_literal(n, path) for n in node.elts]
        return {ast.List: list, ast.Tuple: tuple,
                ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k, path): _literal(v, path)
                for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(
            node.op, (ast.USub, ast.UAdd)) and isinstance(
                node.operand, ast.Constant) and isinstance(
                    node.operand.value, (int, float)):
        value = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == 'dict' and not node.args
            and all(k.arg is not None for k in node.keywords)):
        return {k.arg: _literal(k.value, path) for k in node.keywords}
    raise UnsafeConfigError(
        f'{path}, line {getattr(node, "lineno", "?")}: '
        f'{ast.dump(node)[:60]} is not a literal or dict(...); the file is '
        'not read (it is never executed).')


def read_config(path: str, max_bytes: int = MAX_FILE) -> dict:
    """Read a config that mmengine dumped, without executing it.

    Only ``name = value`` statements whose values are literals (numbers,
    strings, None, booleans, lists, tuples, dicts) or ``dict(key=...)``
    calls are admitted. The file must be a regular file of at most
    ``max_bytes``.

    Raises:
        UnsafeConfigError: Anything else (imports, other calls, names,
            unhashable keys, literals Python refuses, nesting too deep, a
            FIFO or a device); the message names the file and the reason.
    """
    fileio = plugin_module('fileio')
    UnreadableFileError = fileio.UnreadableFileError
    read_text = fileio.read_text
    try:
        text = read_text(path, max_bytes)
    except UnreadableFileError as err:
        raise UnsafeConfigError(str(err)) from None
    try:
        tree = ast.parse(text, path)
    except SyntaxError as err:
        raise UnsafeConfigError(
            f'{path}, line {err.lineno}: not Python ({str(err.msg)[:120]}).'
        ) from None
    except (ValueError, RecursionError, MemoryError) as err:
        # e.g. an integer literal over Python's digit limit, an expression
        # nested deeper than the parser allows.
        raise UnsafeConfigError(
            f'{path}: not read ({type(err).__name__}: '
            f'{str(err)[:100]}).') from None
    cfg = {}
    try:
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)):
                raise UnsafeConfigError(
                    f'{path}, line {node.lineno}: a {type(node).__name__} '
                    'statement, not name = literal; the file is not read (it '
                    'is never executed).')
            cfg[node.targets[0].id] = _literal(node.value, path)
    except TypeError as err:  # an unhashable dict key or set element
        raise UnsafeConfigError(f'{path}: not a config ({err}).') from None
    except RecursionError:
        raise UnsafeConfigError(
            f'{path}: literals nested too deeply to be a config.') from None
    return cfg


def find_config(work_dir: str, max_bytes: int = MAX_FILE
                ) -> Tuple[Optional[str], Optional[dict], List[str]]:
    """The dumped config of ``work_dir``: (path, config, problems)."""
    found, problems = [], []
    for path in sorted(glob.glob(osp.join(work_dir, '*.py'))):
        try:
            found.append((path, read_config(path, max_bytes)))
        except UnsafeConfigError as err:
            problems.append(str(err))
    if len(found) > 1:
        problems.append(f'{work_dir}: several configs '
                        f'({", ".join(p for p, _ in found)}); which one the '
                        'run used is unknown, so none is used.')
        found = []
    path, cfg = found[0] if found else (None, None)
    return path, cfg, problems


def _dataset(cfg: dict, split: str) -> Optional[dict]:
    """What the ``split`` dataloader's dataset reads, normalised so that
    two configs reading the same images compare equal: the pipeline and
    ``test_mode`` left out, HeldOutCIFAR* read as the CIFAR* it cuts (its
    ``val_size`` and ``split_seed`` only matter for ``train`` / ``val``),
    the data root as a normalised path."""
    ds = (cfg.get(f'{split}_dataloader') or {}).get('dataset')
    if not isinstance(ds, dict):
        return None
    ds = {k: v for k, v in ds.items() if k not in ('pipeline', 'test_mode')}
    kind = str(ds.get('type', ''))
    if kind.startswith('HeldOut'):
        ds['type'] = kind[len('HeldOut'):]
        if ds.get('split', 'train') not in ('train', 'val'):
            ds.pop('val_size', None)
            ds.pop('split_seed', None)
    if 'CIFAR' in kind:
        ds.setdefault('split', 'train')
    if isinstance(ds.get('data_root'), str):
        ds['data_root'] = osp.normpath(ds['data_root'])
    return ds or None


def read_run(work_dir: str, metric: str,
             max_bytes: int = MAX_FILE) -> Tuple[Optional[dict], List[str]]:
    """The combination, seed, config and evaluation of one run.

    Args:
        work_dir (str): A run's work dir.
        metric (str): The metric key, e.g. ``accuracy/top1``.
        max_bytes (int): Largest file read. Defaults to ``MAX_FILE``.

    Returns:
        tuple: (run, problems). ``run`` has the keys of ``TAGS`` and
        ``seed``, ``value``, ``source`` (``test`` or ``val``), ``step``,
        ``selected_on_eval`` (validated on the test data), ``config``,
        ``predictions`` (path or None) and ``work_dir``; None when the dir
        holds no readable config or no evaluation (``problems`` says why).
    """
    path, cfg, problems = find_config(work_dir, max_bytes)
    if cfg is None:
        return None, problems + [f'{work_dir}: no readable config.']
    run = {tag: str(cfg.get(f'emoreg_{tag}', '-')) for tag in TAGS}
    if run['mode'] == '-' and run['target'] == '-' and \
            run['affective'] != '-':
        # emotional pre-training: its accuracy is on emotions, not a row
        return None, problems + [STAGE1_LEFT_OUT.format(work_dir)]
    if run['mode'] == '-':
        run['mode'] = osp.splitext(osp.basename(path))[0]
    randomness = cfg.get('randomness')
    seed = randomness.get('seed') if isinstance(randomness, dict) else None
    if not (seed is None or type(seed) is int):
        return None, problems + [
            f'{path}: randomness.seed is {str(seed)[:40]!r}, not an integer '
            'or None; the run is left out.']
    run['seed'] = seed
    value, source, step = _latest_evaluation(work_dir, metric, problems,
                                             max_bytes)
    if value is None:
        return None, problems + [f'{work_dir}: no {metric!r} evaluation.']
    predictions = osp.join(work_dir, PREDICTIONS)
    val_data = _dataset(cfg, 'val')
    run.update(
        value=value, source=source, step=step, config=cfg, work_dir=work_dir,
        selected_on_eval=val_data is not None
        and val_data == _dataset(cfg, 'test'),
        predictions=predictions if osp.isfile(predictions) else None)
    return run, problems


def _metric_value(record, metric: str, where: str,
                  problems: List[str]) -> Optional[float]:
    """``record[metric]`` as a float; None (with a problem) if it is not
    a number."""
    if not isinstance(record, dict) or metric not in record:
        return None
    value = record[metric]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f'{where}: {metric!r} is {str(value)[:40]!r}, not a '
                        'number; not read.')
        return None
    return float(value)


def _test_record(path: str, max_bytes: int, problems: List[str]):
    """The metrics tools/test.py wrote: the file's first JSON document.

    Every process of a distributed test writes this file at the same
    moment, so it can hold one rank's record followed by the tail of
    another's; the first document is read and the rest reported.
    """
    read_text = plugin_module('fileio').read_text
    text = read_text(path, max_bytes)
    try:
        record, end = json.JSONDecoder().raw_decode(text.lstrip())
    except (ValueError, RecursionError) as err:
        problems.append(f'{path}: not JSON ({err}); not read.')
        return None
    if text.lstrip()[end:].strip():
        problems.append(
            f'{path}: text after its first JSON document (each process of '
            'a distributed test writes this file); the first is read.')
    if not isinstance(record, dict):
        problems.append(f'{path}: a JSON {type(record).__name__}, not an '
                        'object of metrics; not read.')
        return None
    return record


def _latest_evaluation(work_dir: str, metric: str, problems: List[str],
                       max_bytes: int = MAX_FILE):
    """The test result if there is one, else the last validation; files
    that cannot be read are added to ``problems`` by name."""
    fileio = plugin_module('fileio')
    UnreadableFileError = fileio.UnreadableFileError
    read_json_lines = fileio.read_json_lines
    test, val = None, None
    for log_dir in sorted(glob.glob(osp.join(work_dir, '2*'))):
        stamp = osp.basename(log_dir)
        test_json = osp.join(log_dir, f'{stamp}.json')
        scalars = osp.join(log_dir, 'vis_data', 'scalars.json')
        try:
            if osp.lexists(test_json):
                value = _metric_value(
                    _test_record(test_json, max_bytes, problems), metric,
                    test_json, problems)
                if value is not None:
                    test = (value, 'test', stamp)
            if osp.lexists(scalars):
                records, bad = read_json_lines(scalars, max_bytes)
                problems += bad
                for record in records:
                    value = _metric_value(record, metric, scalars, problems)
                    if value is not None:
                        step = record.get('step')
                        val = (value, 'val', f'step {str(step)[:20]}')
        except UnreadableFileError as err:
            problems.append(str(err))
    return test or val or (None, None, None)


# --------------------------------------------------------------------------
# Statistics (scipy.stats)
# --------------------------------------------------------------------------
def paired_ci(diffs: Sequence[float], level: float = 0.95) -> dict:
    """Mean, t confidence interval and count of paired differences.

    The interval is None for fewer than two pairs, and for differences
    that are all the same (zero spread gives no interval: identical
    differences at several seeds usually mean the seeds did not vary).
    """
    from scipy import stats
    n = len(diffs)
    mean = statistics.fmean(diffs) if n else float('nan')
    out = dict(mean=mean, low=None, high=None, n=n, spread=None)
    if n < 2:
        return out
    spread = statistics.stdev(diffs)
    out['spread'] = spread
    if spread == 0:
        return out
    half = stats.t.ppf(0.5 + level / 2., n - 1) * spread / math.sqrt(n)
    out.update(low=mean - half, high=mean + half)
    return out


def detectable_difference(spread: float, n: int, power: float = 0.8,
                          alpha: float = 0.05) -> Optional[float]:
    """The smallest true mean difference that a two-sided paired t test at
    level ``alpha`` finds with probability ``power``, for ``n`` pairs whose
    differences have standard deviation ``spread`` (noncentral t); None
    for fewer than two pairs or zero spread."""
    from scipy import optimize, stats
    if n < 2 or not spread or not math.isfinite(spread):
        return None
    df, spread = n - 1, abs(spread)
    crit = stats.t.ppf(1. - alpha / 2., df)

    def power_at(d):
        nc = d * math.sqrt(n) / spread
        lower = stats.nct.cdf(-crit, df, nc)  # NaN far in the tail: ~0
        return stats.nct.sf(crit, df, nc) + (0. if math.isnan(lower)
                                             else lower)

    high = spread
    while power_at(high) < power:
        high *= 2.
    return float(optimize.brentq(lambda d: power_at(d) - power, 0., high))


def seeds_needed(effect: float, spread: float, power: float = 0.8,
                 alpha: float = 0.05, most: int = 10000) -> Optional[int]:
    """How many seeds (pairs) a paired t test needs to find a true mean
    difference ``effect`` with probability ``power`` when the differences
    spread by ``spread`` (their standard deviation); None beyond
    ``most``."""
    for n in range(2, most + 1):
        if detectable_difference(spread, n, power, alpha) <= effect:
            return n
    return None


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b``
    (only the first model right) and ``c`` (only the second right): the
    exact binomial test of ``b`` in ``b + c`` at 1/2."""
    from scipy import stats
    if b + c == 0:
        return 1.
    return float(stats.binomtest(b, b + c, 0.5).pvalue)


def verdict(ci: dict) -> str:
    """'better' / 'worse' when the interval excludes zero, else no
    evidence."""
    if ci['low'] is None:
        if ci.get('spread') == 0:
            return (f'no evidence (n={ci["n"]}: identical differences, no '
                    'interval; did the seeds vary?)')
        return f'no evidence (n={ci["n"]}: no interval)'
    if ci['low'] > 0:
        return 'better'
    if ci['high'] < 0:
        return 'worse'
    return 'no evidence'


# --------------------------------------------------------------------------
# Pairing
# --------------------------------------------------------------------------
def _flatten(value, prefix: str = '') -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f'{prefix}{k}.'))
        return out
    return {prefix[:-1]: value}


def _model_parts(cfg: dict, regulated_pair: bool) -> dict:
    """The parts of the model that are not the mode's own."""
    model = dict(cfg.get('model') or {})
    backbone = dict(model.get('backbone') or {})
    head = dict(model.get('head') or {})
    wrapped = backbone.get('type') == 'EmotionalBackboneWrapper'
    parts = {
        'encoder': backbone.get('backbone') if wrapped else backbone,
        'neck': backbone.get('neck') if wrapped else model.get('neck'),
        'num_classes': head.get('num_classes'),
        'train_cfg': model.get('train_cfg'),
    }
    if regulated_pair and wrapped:
        for key in ('backbone', 'neck', 'branches', 'type'):
            backbone.pop(key, None)
        for key in ('regulator', 'type'):
            head.pop(key, None)
        parts.update(wrapper=backbone, head=head)
    return parts


def config_differences(a: dict, b: dict) -> List[str]:
    """Keys (dotted) in which two runs' configs differ beyond the mode and
    the seed."""
    regulated_pair = 'baseline' not in (a.get('emoreg_mode'),
                                        b.get('emoreg_mode'))
    ignored = MODE_KEYS + RUN_KEYS + (() if regulated_pair else
                                      AFFECTIVE_KEYS)

    def signature(cfg):
        flat = _flatten({k: v for k, v in cfg.items()})
        flat = {k: v for k, v in flat.items()
                if not any(k == i or k.startswith(i + '.') for i in ignored)}
        flat.update(_flatten(_model_parts(cfg, regulated_pair), 'model/'))
        return flat

    sa, sb = signature(a), signature(b)
    return sorted(k for k in sa.keys() | sb.keys() if sa.get(k) != sb.get(k))


def _mcnemar(run: dict, ref: dict) -> Tuple[Optional[float], str]:
    """McNemar's exact p of ``run`` against ``ref`` on the same images."""
    if not (run['predictions'] and ref['predictions']):
        return None, ''
    from emoreg_mm.evaluation.predictions import load_predictions
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


def _order(ids):
    return sorted(range(len(ids)), key=lambda i: ids[i])


def compare(runs: List[dict], refs: List[dict], notes: List[str],
            what: str, mcnemar: bool = False) -> Optional[dict]:
    """Pair ``runs`` with ``refs`` by seed; the paired statistics."""
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
            pvalue, note = _mcnemar(run, ref)
            if note:
                notes.append(note)
            if pvalue is not None:
                pvalues.append((seed, pvalue))
    ci = paired_ci(diffs)
    ci.update(verdict=verdict(ci) if diffs else 'not paired',
              mcnemar=pvalues,
              detectable=detectable_difference(ci['spread'], ci['n']))
    return ci


def _unique_seeds(runs: List[dict], notes: List[str], what: str):
    """Runs of one cell, one per seed; duplicated seeds are left out of
    the pairing (and reported)."""
    seen = defaultdict(list)
    for run in runs:
        seen[run['seed']].append(run)
    for seed, group in seen.items():
        if len(group) > 1:
            notes.append(f'{what}: {len(group)} runs at seed {seed} ('
                         + ', '.join(r['work_dir'] for r in group) +
                         '); not paired.')
    return [g[0] for g in seen.values() if len(g) == 1]


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------
def _fmt_ci(ci: Optional[dict], digits: int = 2) -> str:
    if ci is None:
        return 'n/a'
    if ci['n'] == 0:
        return 'not paired'
    d = digits
    interval = '' if ci['low'] is None else \
        f' [{ci["low"]:+.{d}f}, {ci["high"]:+.{d}f}]'
    power = '' if ci.get('detectable') is None else \
        f'; detects >= {ci["detectable"]:.{d}f}'
    return (f'{ci["mean"]:+.{d}f}{interval} (n={ci["n"]}): {ci["verdict"]}'
            f'{power}')


def build_table(runs: List[dict], forest: Optional[list] = None
                ) -> Tuple[List[str], List[list], List[List[str]], List[str]]:
    """Return (csv header, csv rows, markdown rows, notes); each paired
    comparison is appended to ``forest`` (label, ref, ci) when given."""
    notes = []
    cells = defaultdict(list)
    for run in runs:
        cells[tuple(run[t] for t in TAGS)].append(run)
    targets = sorted({key[3] for key in cells})
    modes = plugin_module('matrix').MODES  # known modes in their order
    combos = sorted({key[:3] for key in cells},
                    key=lambda k: (k[0], k[2] != 'baseline', k[2] != 'const',
                                   k[1], modes.index(k[2]) if k[2] in modes
                                   else len(modes), k[2]))
    header = ['backbone', 'affective', 'mode']
    for t in targets:
        header += [f'{t} mean', f'{t} std', f'{t} n', f'{t} source',
                   f'{t} selected on eval data']
        for ref in ('baseline', 'const'):
            header += [f'{t} vs {ref} {k}' for k in (
                'mean', 'ci low', 'ci high', 'n', 'verdict', 'detectable')]
        header.append(f'{t} McNemar vs const p')
    width = (len(header) - 3) // max(len(targets), 1)  # columns per target
    rows, md_rows = [], []
    for backbone, affective, mode in combos:
        row, md = [backbone, affective, mode], [backbone, affective, mode]
        for target in targets:
            cell = cells.get((backbone, affective, mode, target))
            if not cell:
                row += [''] * width
                md += ['', '', '', '']
                continue
            values = [r['value'] for r in cell]
            mean = statistics.fmean(values)
            std = statistics.stdev(values) if len(values) > 1 else 0.
            sources = sorted({r['source'] for r in cell})
            flagged = any(r['selected_on_eval'] for r in cell)
            row += [f'{mean:.4f}', f'{std:.4f}', len(values),
                    '+'.join(sources), 'yes' if flagged else 'no']
            mark = ('†' if flagged else '') + (
                ' (val)' if 'val' in sources else '')
            md.append(f'{mean:.2f} ± {std:.2f}{mark} (n={len(values)})')
            name = f'{backbone} {affective} {mode} on {target}'
            mine = _unique_seeds(cell, notes, name)
            stats = {}
            for ref_mode in ('baseline', 'const'):
                refs = [r for k, rs in cells.items() if k[0] == backbone
                        and k[2] == ref_mode and k[3] == target and
                        (ref_mode == 'baseline' or k[1] == affective)
                        for r in rs]
                stats[ref_mode] = None if mode in ('baseline', ref_mode) \
                    else compare(mine, _unique_seeds(refs, [], ''), notes,
                                 f'{name} vs {ref_mode}',
                                 mcnemar=ref_mode == 'const')
                ci = stats[ref_mode]
                if ci is not None and forest is not None:
                    forest.append(dict(label=f'{backbone} {affective} {mode}'
                                       f' on {target}', ref=ref_mode, ci=ci))
                if ci is None:
                    row += ['-' if mode == ref_mode else 'n/a'] + [''] * 5
                else:
                    row += [_num(ci['mean']), _num(ci['low']),
                            _num(ci['high']), ci['n'], ci['verdict'],
                            _num(ci.get('detectable'))]
                md.append('-' if mode == ref_mode else _fmt_ci(ci))
            pvalues = (stats['const'] or {}).get('mcnemar') or []
            row.append('; '.join(f'seed {s}: {p:.4g}' for s, p in pvalues))
            md.append(', '.join(f'{p:.3g}' for _, p in pvalues) or '')
        rows.append(row)
        md_rows.append(md)
    return header, rows, md_rows, notes


def _num(x) -> str:
    return '' if x is None else f'{x:.4f}'


def to_markdown(targets: List[str], md_rows: List[List[str]]) -> str:
    header = ['backbone', 'affective', 'mode']
    for t in targets:
        header += [f'{t}', f'{t} vs baseline', f'{t} vs const',
                   f'{t} McNemar p vs const']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in md_rows]
    return '\n'.join(lines) + '\n'


def results_table(patterns: Sequence[str],
                  metric: str = 'accuracy/top1',
                  out: Optional[str] = None,
                  max_bytes: int = MAX_FILE) -> dict:
    """Read the runs matching ``patterns`` and build the table.

    Args:
        patterns (Sequence[str]): Work dirs or glob patterns of them.
        metric (str): Metric key. Defaults to ``'accuracy/top1'``.
        out (str, optional): Write ``OUT.md``, ``OUT.csv``,
            ``OUT_analysis.csv`` (where runs saved predictions) and
            ``OUT_forest.png``. Defaults to None (nothing written).
        max_bytes (int): Largest file read from a run dir; a larger one
            (or one that is not a regular file) is reported and its run
            left out. Defaults to ``MAX_FILE`` (64 MiB).

    Returns:
        dict: ``runs``, ``header`` and ``rows`` (the CSV), ``markdown`` and
        ``notes`` (skipped dirs, refused pairs, unpaired seeds);
        ``analysis_header`` and ``analysis_rows`` (the companion CSV; None
        and [] when no run saved predictions), ``analysis_notes`` and
        ``forest`` (the PNG written, or None).
    """
    import sys
    here = osp.dirname(osp.abspath(__file__))
    if here not in sys.path:  # a sibling module, however this one loaded
        sys.path.insert(0, here)
    import analysis_table as at  # the companion tables
    import robustness_table as rob
    dirs = sorted({d for pattern in patterns for d in glob.glob(pattern)
                   if osp.isdir(d)})
    runs, notes = [], []
    for work_dir in dirs:
        try:
            run, problems = read_run(work_dir, metric, max_bytes)
        except OSError as err:  # e.g. a folder that cannot be listed
            run, problems = None, [f'{work_dir}: not read ({err}).']
        notes += problems
        if run:
            runs.append(run)
    if not runs:
        raise SystemExit(f'No evaluated runs found in {list(patterns)}' +
                         ''.join(f'\n  {n}' for n in notes))
    forest = []
    header, rows, md_rows, table_notes = build_table(runs, forest)
    notes += table_notes
    analysis_notes = []
    at.analyse_runs(runs, analysis_notes)
    if any(r['analysis'] for r in runs):
        a_header, a_rows, a_markdown, more = at.analysis_table(runs)
        analysis_notes += more
    else:
        a_header, a_rows, a_markdown = None, [], ''
        analysis_notes.append(
            f'no run dir holds a readable {PREDICTIONS} (tools/test.py ... '
            f'--out WORK_DIR/{PREDICTIONS}): no branch analysis or '
            'calibration.')
    rob.read_runs(runs, analysis_notes)
    r_header, r_rows, r_markdown, more = rob.robustness_table(runs)
    analysis_notes += more
    targets = sorted({r['target'] for r in runs})
    markdown = (
        f'{metric}: mean ± std over seeds (n); vs baseline / const: paired '
        'difference over seeds, mean [95% t interval] (n pairs): verdict; '
        'detects >= D: the smallest difference these seeds would find with '
        '80% power (alpha 0.05) at the observed spread of the differences; '
        'McNemar: exact p per seed on the same test images. † selected on '
        'the data it was evaluated on (validated on the test data); (val) '
        'a validation score, no test result.\n\n' +
        to_markdown(targets, md_rows))
    if notes:
        markdown += '\nNotes:\n' + ''.join(f'- {n}\n' for n in notes)
    markdown += a_markdown + r_markdown
    forest_png = f'{out}_forest.png' if out else None
    if out:
        forest_png = at.write_forest(forest, forest_png, metric,
                                     analysis_notes)
    if analysis_notes:
        markdown += ('\nNotes on the branches, calibration and robustness:\n' +
                     ''.join(f'- {n}\n' for n in analysis_notes))
    if out:
        if osp.dirname(out):
            os.makedirs(osp.dirname(out), exist_ok=True)
        # written whole or not at all: a table is never half a table
        fileio = plugin_module('fileio')
        fileio.atomic_write_text(f'{out}.md', markdown)
        table = io.StringIO(newline='')
        csv.writer(table).writerows([header] + rows)
        fileio.atomic_write_text(f'{out}.csv', table.getvalue())
        if a_header:
            table = io.StringIO(newline='')
            csv.writer(table).writerows([a_header] + a_rows)
            fileio.atomic_write_text(f'{out}_analysis.csv', table.getvalue())
        if r_rows:
            table = io.StringIO(newline='')
            csv.writer(table).writerows([r_header] + r_rows)
            fileio.atomic_write_text(f'{out}_robustness.csv',
                                     table.getvalue())
    return dict(runs=runs, header=header, rows=rows, markdown=markdown,
                notes=notes, analysis_header=a_header, analysis_rows=a_rows,
                analysis_notes=analysis_notes, forest=forest_png,
                robustness_header=r_header, robustness_rows=r_rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+',
                        help='run work dirs, or glob patterns of them')
    parser.add_argument('--metric', default='accuracy/top1')
    parser.add_argument('--out', default='results',
                        help='write OUT.md, OUT.csv, OUT_analysis.csv and '
                        'OUT_forest.png')
    parser.add_argument('--max-file-mb', type=float, default=MAX_FILE / 2**20,
                        help='largest config / result / log file read from '
                        'a run dir (default: %(default)s)')
    args = parser.parse_args()
    table = results_table(args.work_dirs, args.metric, args.out,
                          int(args.max_file_mb * 2**20))
    print(table['markdown'])
    extra = ''.join(f', {p}' for p in (
        table['analysis_header'] and f'{args.out}_analysis.csv',
        table['forest']) if p)
    print(f'Wrote {args.out}.md and {args.out}.csv{extra} from '
          f'{len(table["runs"])} run(s).')


if __name__ == '__main__':
    main()
