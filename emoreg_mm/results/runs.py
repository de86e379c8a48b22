"""Reading run dirs: the config, the evaluation and the predictions of a run.

Nothing in a work dir is executed. Its config is the one mmengine dumped
there (``<config name>.py``), read by :func:`read_config`, a parser that
admits only literals and ``dict(...)`` calls. The config's
``emoreg_backbone``, ``emoreg_affective``, ``emoreg_mode``,
``emoreg_target`` keys (:data:`TAGS`) name the combination,
``randomness.seed`` the seed; a run of a sweep's grid (``emoreg_grid``
lists the keys of its point) carries the point after its backbone
(``resnet50 @ lr=0.01``), so that rows, pairs and the family stay within
one grid point. The value is the ``tools/test.py`` result
(``<timestamp>/<timestamp>.json``) where present, else the last validation
during training (``vis_data/scalars.json``, marked ``val``). Per-image test
predictions are ``WORK_DIR/predictions.npz`` (:data:`PREDICTIONS`).

A dir that cannot be read (a config that is not plain literals, a file that
is not a regular file or is over ``max_bytes``, a result that is not a
finite number or is beyond :data:`MAX_VALUE`, an integer too long to
print) is reported by name with the reason; :func:`read_runs` never lets
one dir stop the others. A
``predictions.npz`` written more than :data:`STALE_SECONDS` before or after
the test record whose value is tabled came from another test (of another
checkpoint, or of this one before it was trained further): it is noted and
not used (:func:`current_predictions`).
"""
import ast
import glob
import json
import math
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

from ..fileio import UnreadableFileError, read_json_lines, read_text
from ..matrix import grid_label, grid_point

#: The config keys ``emoreg_<tag>`` that name a run's combination.
TAGS = ('backbone', 'affective', 'mode', 'target')
#: The note for a stage-1 run dir among the patterns.
STAGE1_LEFT_OUT = ('{}: a stage-1 run (emotional pre-training, no target '
                   'and no mode); not a row of this table.')
#: Per-image test predictions in a work dir (``tools/test.py ... --out
#: WORK_DIR/predictions.npz``).
PREDICTIONS = 'predictions.npz'
#: Largest config, result or log file read from a run dir (bytes).
MAX_FILE = 64 << 20
#: Seeds are below this (numpy's ``np.random.seed``, which mmengine calls).
SEED_LIMIT = 2**32
#: How far apart (seconds) a run's ``predictions.npz`` and the test record
#: tabled beside it may have been written: ``tools/test.py --out`` writes the
#: predictions as its evaluation ends and the record right after.
STALE_SECONDS = 60.
#: Largest magnitude of a result read: the sums and differences of the
#: tables' statistics stay within a float's range.
MAX_VALUE = 1e300


class UnsafeConfigError(ValueError):
    """A config file holds something other than literals and dict()."""


def _checked_int(value: int, node: ast.AST, path: str) -> int:
    """``value``, unless Python refuses to print it: a hex, octal or binary
    literal is not held to the limit on decimal digits (that a decimal one
    meets while parsed), yet every table prints its config's values."""
    if value.bit_length() > 1000:  # far below any limit: not worth a try
        try:
            str(value)
        except ValueError:
            raise UnsafeConfigError(
                f'{path}, line {getattr(node, "lineno", "?")}: an integer of '
                f'{value.bit_length()} bits, too long to print (Python\'s '
                f'limit is {sys.get_int_max_str_digits()} decimal digits); '
                'the file is not read.') from None
    return value


def _literal(node: ast.AST, path: str):
    """Evaluate a literal / ``dict(key=literal, ...)`` / ``dict({...})``
    node."""
    if isinstance(node, ast.Constant):
        if type(node.value) is int:
            return _checked_int(node.value, node, path)
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
        value = _literal(node.operand, path)
        return -value if isinstance(node.op, ast.USub) else value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == 'dict' and len(node.args) <= 1
            and all(k.arg is not None for k in node.keywords)
            and all(isinstance(a, ast.Dict) for a in node.args)):
        # dict(key=...), and dict({...}): how mmengine dumps a dict whose
        # keys are not names (a dotted key, say)
        out = _literal(node.args[0], path) if node.args else {}
        out.update({k.arg: _literal(k.value, path) for k in node.keywords})
        return out
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

    Args:
        path (str): The config file.
        max_bytes (int): Largest file read. Defaults to :data:`MAX_FILE`.

    Returns:
        dict: The config's names and values.

    Raises:
        UnsafeConfigError: Anything else (imports, other calls, names,
            unhashable keys, literals Python refuses or cannot print,
            nesting too deep, a FIFO or a device); the message names the
            file and the reason.
    """
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


def evaluated_data(cfg: dict, split: str) -> Optional[dict]:
    """What the ``split`` dataloader's dataset reads, normalised so that
    two configs reading the same images compare equal: the pipeline and
    ``test_mode`` left out, HeldOutCIFAR* read as the CIFAR* it cuts (its
    ``val_size`` and ``split_seed`` only matter for ``train`` / ``val``),
    the data root as a normalised path."""
    loader = cfg.get(f'{split}_dataloader')
    ds = loader.get('dataset') if isinstance(loader, dict) else None
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


def read_run(work_dir: str, metric: str = 'accuracy/top1',
             max_bytes: int = MAX_FILE) -> Tuple[Optional[dict], List[str]]:
    """The combination, seed, config and evaluation of one run.

    Args:
        work_dir (str): A run's work dir.
        metric (str): The metric key. Defaults to ``'accuracy/top1'``.
        max_bytes (int): Largest file read. Defaults to :data:`MAX_FILE`.

    Returns:
        tuple: (run, problems). ``run`` has the keys of :data:`TAGS` and
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
    grid = grid_label(grid_point(cfg)) if isinstance(
        cfg.get('emoreg_grid'), (list, tuple)) else ''
    if grid:  # a sweep's grid point: rows and pairs stay within it
        run['backbone'] = f"{run['backbone']} @ {grid}"
    run['grid'] = grid
    randomness = cfg.get('randomness')
    seed = randomness.get('seed') if isinstance(randomness, dict) else None
    if not (seed is None or type(seed) is int):
        return None, problems + [
            f'{path}: randomness.seed is {str(seed)[:40]!r}, not an integer '
            'or None; the run is left out.']
    if seed is not None and not 0 <= seed < SEED_LIMIT:
        shown = seed if abs(seed) < 10**20 else \
            f'an integer of {seed.bit_length()} bits'
        return None, problems + [
            f'{path}: randomness.seed is {shown}, not a seed a run can '
            'have (numpy takes 0 <= seed < 2**32); the run is left out.']
    run['seed'] = seed
    value, source, step = latest_evaluation(work_dir, metric, problems,
                                            max_bytes)
    if value is None:
        return None, problems + [f'{work_dir}: no {metric!r} evaluation.']
    val_data = evaluated_data(cfg, 'val')
    run.update(
        value=value, source=source, step=step, config=cfg, work_dir=work_dir,
        selected_on_eval=val_data is not None
        and val_data == evaluated_data(cfg, 'test'),
        predictions=current_predictions(work_dir, source, step, problems))
    return run, problems


def current_predictions(work_dir: str, source: str, step: str,
                        problems: List[str]) -> Optional[str]:
    """``WORK_DIR/predictions.npz``; None without one, or (with a problem
    naming it) when its time of writing and that of the test record tabled
    (``step``, its stamp, where ``source`` is ``test``) are more than
    :data:`STALE_SECONDS` apart: the file came from another test. Run dirs
    copied must keep their files' times (``cp -p``, ``rsync -a``)."""
    path = osp.join(work_dir, PREDICTIONS)
    if not osp.isfile(path):
        return None
    if source != 'test':
        return path
    record = osp.join(work_dir, step, f'{step}.json')
    apart = osp.getmtime(record) - osp.getmtime(path)
    if abs(apart) <= STALE_SECONDS:
        return path
    problems.append(
        f'{path}: written {abs(apart):.0f} s '
        f'{"before" if apart > 0 else "after"} the test record {record}, '
        'so not by that test (another checkpoint\'s predictions?); not used: '
        'no branch analysis, calibration, McNemar test or relative mCE for '
        'this run.')
    return None


def read_runs(patterns: Sequence[str], metric: str = 'accuracy/top1',
              max_bytes: int = MAX_FILE) -> Tuple[List[dict], List[str]]:
    """:func:`read_run` of every dir that ``patterns`` match, in name order.

    Returns:
        tuple: (runs, notes): the runs read, and per dir left out (or read
        with a problem) the reason, naming it.
    """
    dirs = sorted({d for pattern in patterns for d in glob.glob(pattern)
                   if osp.isdir(d)})
    runs, notes = [], []
    for work_dir in dirs:
        try:
            run, problems = read_run(work_dir, metric, max_bytes)
        except OSError as err:  # e.g. a folder that cannot be listed
            run, problems = None, [f'{work_dir}: not read ({err}).']
        except (ValueError, RecursionError) as err:  # what no check foresaw
            run, problems = None, [
                f'{work_dir}: not read ({type(err).__name__}: '
                f'{str(err)[:100]}).']
        notes += problems
        if run:
            runs.append(run)
    return runs, notes


def _metric_value(record, metric: str, where: str,
                  problems: List[str]) -> Optional[float]:
    """``record[metric]`` as a float; None (with a problem) if it is not
    a finite number."""
    if not isinstance(record, dict) or metric not in record:
        return None
    value = record[metric]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f'{where}: {metric!r} is {str(value)[:40]!r}, not a '
                        'number; not read.')
        return None
    try:
        value = float(value)
    except OverflowError:
        problems.append(f'{where}: {metric!r} is an integer beyond any '
                        'float; not read.')
        return None
    if not math.isfinite(value):
        problems.append(f'{where}: {metric!r} is {value}, not a finite '
                        'number; not read.')
        return None
    if abs(value) > MAX_VALUE:
        problems.append(f'{where}: {metric!r} is {value:g}, beyond '
                        f'+-{MAX_VALUE:g} (sums and differences of such '
                        'values overflow); not read.')
        return None
    return value


def read_test_record(path: str, max_bytes: int, problems: List[str]):
    """The metrics tools/test.py wrote: the file's first JSON document.

    Every process of a distributed test writes this file at the same
    moment, so it can hold one rank's record followed by the tail of
    another's; the first document is read and the rest reported.
    """
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


def latest_evaluation(work_dir: str, metric: str, problems: List[str],
                      max_bytes: int = MAX_FILE):
    """(value, source, step) of the test result if there is one, else of
    the last validation; (None, None, None) without either. Files that
    cannot be read are added to ``problems`` by name."""
    test, val = None, None
    for log_dir in sorted(glob.glob(osp.join(work_dir, '2*'))):
        stamp = osp.basename(log_dir)
        test_json = osp.join(log_dir, f'{stamp}.json')
        scalars = osp.join(log_dir, 'vis_data', 'scalars.json')
        try:
            if osp.lexists(test_json):
                record = read_test_record(test_json, max_bytes, problems)
                value = _metric_value(record, metric, test_json, problems)
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
