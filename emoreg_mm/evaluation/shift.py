"""A checkpoint evaluated on natural distribution shifts of its target:
CIFAR-10.1 and CIFAR-10.2 for CIFAR-10 (``tools/analysis_tools/
eval_shift.py``, docs/shift.md).

The sets are :data:`emoreg_mm.matrix.SHIFTED_SETS`, by name
(``cifar10.1-v6``, ``cifar10.1-v4``, ``cifar10.2``), each read from its
folder by its dataset class (:mod:`emoreg_mm.datasets.cifar_shift`) through
the config's test pipeline and dataloader settings. The model is built and
loaded once; the predictions on each set are saved as ``tools/test.py
--out`` saves them (:mod:`emoreg_mm.evaluation.predictions`), in the run's
work dir::

    WORK_DIR/shift/<name>.npz     the predictions; ``meta``: the checkpoint
                                  (size, SHA-256, path) and the set (name,
                                  title, folder, images, each file's SHA-256)
    WORK_DIR/shift/summary.json   accuracy per set, its images and folder,
                                  the clean accuracy and the drop from it

As the corruption evaluation (:mod:`.corruptions`, whose helpers this
reuses): a set this checkpoint already evaluated on the same files is
skipped, one damaged or of another checkpoint is evaluated again, and a
summary naming another checkpoint is refused unless ``overwrite``; the
work dir's lock is held throughout; a symlink, or a folder where a file
belongs, at a path it writes is refused; the model is built with its work
dir in ``WORK_DIR/shift/``, so the run's own saved config is never
written. A config whose target is not the set's (its ``emoreg_target``,
else its test dataset's type) is refused before anything is built.

:func:`read_shift_accuracy` reads the predictions back for the Shift table
(:mod:`emoreg_mm.results.shift`), leaving out, with the reason, a file that
is damaged or was written by another checkpoint than the one the run's
``last_checkpoint`` names. This module imports only numpy and the standard
library at the top.
"""
import copy
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

from .. import matrix
from ..fileio import (UnreadableFileError, atomic_write_text, file_identity,
                      read_json, read_text)
from .corruptions import (CorruptionEvalError, array_pipeline, cell_state,
                          finite, pipeline_of, predict)
from .predictions import (PredictionsFileError, load_predictions,
                          predictions_meta, save_predictions)
from .robustness import accuracy_of, clean_accuracy

#: Folder of a run's shift predictions, in its work dir.
FOLDER = 'shift'
SUMMARY = 'summary.json'


class ShiftEvalError(ValueError):
    """Bad input to the shift evaluation; the message names it."""


def predictions_path(work_dir: str, name: str) -> str:
    """``WORK_DIR/shift/<name>.npz``."""
    return osp.join(work_dir, FOLDER, f'{name}.npz')


def parse_shift(items: Sequence[str], option: str = '--shift'
                ) -> Dict[str, str]:
    """``NAME=DIR`` items as ``{name: folder}``, in the order given.

    Raises:
        ShiftEvalError: a malformed item, an unknown name (the valid ones
            named) or a name given twice.
    """
    found = {}
    for item in items:
        name, sep, root = str(item).partition('=')
        if not sep or not root:
            raise ShiftEvalError(f'{option} {str(item)[:80]!r}: expected '
                                 'NAME=DIR')
        if name not in matrix.SHIFTED_SETS:
            raise ShiftEvalError(f'{option} {item!r}: unknown set {name}; '
                                 f'valid: {", ".join(matrix.SHIFTED_SETS)}')
        if name in found:
            raise ShiftEvalError(f'{option} {name}: given twice')
        found[name] = root
    return found


def config_target(cfg) -> Tuple[Optional[str], str]:
    """``(target, where it was read)`` of a config: its ``emoreg_target``,
    else the target whose name its test dataset's type holds."""
    target = cfg.get('emoreg_target')
    if target in matrix.TARGETS:
        return target, 'emoreg_target'
    kind = str(cfg.get('test_dataloader', {}).get('dataset', {}).get(
        'type', ''))
    for name in sorted(matrix.TARGETS, key=len, reverse=True):
        if name in kind.lower():  # the longest first: cifar100, cifar10
            return name, f'test dataset {kind}'
    return None, f'emoreg_target {target!r}, test dataset {kind or "-"}'


def check_config(cfg, name: str, config: str = 'the config') -> list:
    """The test pipeline that reads set ``name`` under ``cfg``; refused
    (naming the config, its target and the set's) where the config is not
    of the set's target or its pipeline loads image files."""
    want = matrix.SHIFTED_SETS[name].target
    target, where = config_target(cfg)
    if target != want:
        raise ShiftEvalError(
            f'{config}: its target is {target or "none known"} ({where}); '
            f'{name} is a shifted test set of {want} '
            f'({matrix.TARGETS[want]}): evaluate a {want} config on it')
    try:
        pipeline, loader = array_pipeline(pipeline_of(cfg))
    except CorruptionEvalError as err:
        raise ShiftEvalError(f'{config}: {err}') from None
    if loader:
        raise ShiftEvalError(
            f'{config}: its test pipeline loads image files; {name} is '
            f'arrays, read as the {want} test split reads them')
    return pipeline


def dataset_cfg(name: str, root: str, pipeline=()) -> dict:
    """The dataset config of set ``name`` in folder ``root``."""
    spec = matrix.SHIFTED_SETS[name]
    return dict(type=spec.type, data_root=root, pipeline=list(pipeline),
                **spec.options)


def read_set(name: str, root: str) -> Tuple[list, dict]:
    """``(labels, source)`` of set ``name`` in ``root``, its files checked:
    ``source`` is what its predictions record of it (name, title, folder,
    images, each file's SHA-256)."""
    from mmpretrain.registry import DATASETS

    from ..datasets.cifar_shift import CIFARShiftError
    try:
        dataset = DATASETS.build(dataset_cfg(name, root))
    except (CIFARShiftError, ValueError) as err:
        raise ShiftEvalError(f'{name}: {err}') from None
    files = {osp.basename(f): file_identity(f)['sha256']
             for f in dataset.files()}
    return dataset.get_gt_labels(), dict(
        name=name, title=matrix.SHIFTED_SETS[name].title,
        root=osp.abspath(root), num_images=len(dataset), files=files)


def check_set(cfg, name: str, root: str, config: str = 'the config'):
    """What the evaluation of ``cfg`` on set ``name`` in ``root`` checks
    before a model is built (the sweep's dry run asks it)."""
    check_config(cfg, name, config)
    read_set(name, root)


def check_paths(work_dir: str, names: Sequence[str]) -> None:
    """Refuse a symlink, or a file where a folder belongs or the reverse,
    at the paths the evaluation writes, naming it."""
    folder = osp.join(work_dir, FOLDER)
    paths = {folder: True, osp.join(folder, SUMMARY): False}
    paths.update({predictions_path(work_dir, n): False for n in names})
    for path, is_dir in paths.items():
        if osp.islink(path):
            what = 'a symlink'
        elif not osp.lexists(path) or (osp.isdir(path) if is_dir
                                       else osp.isfile(path)):
            continue
        else:
            what = 'a folder' if osp.isdir(path) else 'not a ' + (
                'folder' if is_dir else 'regular file')
        raise ShiftEvalError(
            f'{path}: {what}, which no evaluation writes there; it is '
            'neither read nor followed. Remove it and evaluate again.')


def evaluate_shift(cfg, args) -> dict:
    """Evaluate ``args.checkpoint`` under ``cfg`` (merged with
    :func:`emoreg_mm.evaluation.evaluate.merge_test_args`) on each set of
    ``args.shift`` (``{name: folder}``); write and return the summary.

    ``args`` holds what ``eval_shift.py`` parses: ``config``,
    ``checkpoint``, ``shift``, ``batch_size``, ``overwrite`` and
    ``non_strict``. Bad input raises :class:`ShiftEvalError` before any
    model is built.
    """
    from ..engine.runner.work_dir_lock import WorkDirLock, WorkDirLockedError
    sets = {}
    for name, root in args.shift.items():
        pipeline = check_config(cfg, name, args.config)
        sets[name] = read_set(name, root) + (pipeline, root)
    checkpoint = osp.abspath(args.checkpoint)
    try:
        identity = file_identity(checkpoint)
    except OSError as err:
        raise ShiftEvalError(f'{checkpoint}: the checkpoint cannot be read '
                             f'({err.strerror})') from None
    check_paths(cfg.work_dir, list(sets))
    try:
        lock = WorkDirLock(cfg.work_dir).acquire()
    except WorkDirLockedError as err:
        raise ShiftEvalError(str(err)) from None
    try:
        return _evaluate_locked(cfg, args, sets, checkpoint, identity)
    finally:
        lock.release()


def _own_work_dir(cfg):
    """A copy of ``cfg`` whose work dir is ``WORK_DIR/shift``."""
    own = copy.deepcopy(cfg)
    own.work_dir = osp.join(cfg.work_dir, FOLDER)
    return own


def _check_summary(path: str, checkpoint: str) -> None:
    """Refuse a summary of another checkpoint file (or none readable)."""
    try:
        old = read_json(path)
    except UnreadableFileError as err:
        raise ShiftEvalError(
            f'{err} Expected the summary of an earlier evaluation; give '
            '--overwrite to evaluate again, or remove it.') from None
    held = old.get('checkpoint') if isinstance(old, dict) else None
    if held != checkpoint:
        raise ShiftEvalError(
            f'{path} holds the predictions of {held}, not {checkpoint}; '
            'give another --work-dir, or --overwrite to evaluate again')


def _predict_sets(cfg, args, todo: List[str], sets: dict, meta: dict):
    """Predict each set of ``todo`` and save its predictions."""
    from mmengine.runner import Runner

    from .evaluate import build_runner, load_strict
    runner = build_runner(_own_work_dir(cfg))
    if not args.non_strict:
        load_strict(runner, args.checkpoint, args.config,
                    prog='eval_shift.py')
    loader_cfg = dict(cfg.test_dataloader)
    if args.batch_size:
        loader_cfg['batch_size'] = args.batch_size
    amp = bool(cfg.get('test_cfg', {}).get('fp16', False))
    for name in todo:
        _, source, pipeline, root = sets[name]
        loader = Runner.build_dataloader(dict(
            loader_cfg, dataset=dataset_cfg(name, root, pipeline)))
        path = save_predictions(
            predictions_path(cfg.work_dir, name),
            predict(runner.model, loader, amp),
            meta=dict(meta, set=name, source=source))
        print(f'[eval_shift] {name}: top-1 '
              f'{100 * accuracy_of(load_predictions(path)):.2f}%',
              flush=True)


def _evaluate_locked(cfg, args, sets, checkpoint, identity) -> dict:
    work_dir = cfg.work_dir
    summary_path = osp.join(work_dir, FOLDER, SUMMARY)
    if osp.lexists(summary_path) and not args.overwrite:
        _check_summary(summary_path, checkpoint)
    states = {name: 'overwrite' if args.overwrite else cell_state(
        predictions_path(work_dir, name), labels, identity, source)
        for name, (labels, source, _, _) in sets.items()}
    todo = [name for name, state in states.items() if state != 'done']
    start = time.time()
    if todo:
        _predict_sets(cfg, args, todo, sets, dict(
            checkpoint=identity, checkpoint_path=checkpoint,
            checkpoint_stat=stat_of(checkpoint)))
    for name, (labels, source, _, _) in sets.items():
        path = predictions_path(work_dir, name)
        if cell_state(path, labels, identity, source) != 'done':
            raise ShiftEvalError(
                f'{path}: changed while this evaluation ran (it holds the '
                f'lock of {work_dir}); evaluate again')
    clean = clean_accuracy(work_dir)
    evaluated = {}
    for name in matrix.SHIFTED_SETS:  # with those evaluated before
        found = _done(predictions_path(work_dir, name), identity)
        if found is not None:
            accuracy, source = found
            evaluated[name] = dict(
                title=source['title'], folder=source['root'],
                images=source['num_images'],
                published=matrix.SHIFTED_SETS[name].images,
                files=source['files'], accuracy=accuracy,
                drop=None if clean is None else clean - accuracy)
    summary = dict(
        config=osp.abspath(args.config), checkpoint=checkpoint,
        checkpoint_size=identity['size'],
        checkpoint_sha256=identity['sha256'], evaluated=todo,
        skipped=[n for n in sets if n not in todo],
        replaced=[n for n in todo if states[n] == 'other'],
        clean_accuracy=clean, sets=evaluated)
    os.makedirs(osp.dirname(summary_path), exist_ok=True)
    atomic_write_text(summary_path,
                      json.dumps(finite(summary), indent=1) + '\n')
    print(f'[eval_shift] {len(todo)} evaluated, {len(sets) - len(todo)} '
          f'already done ({time.time() - start:.0f} s): ' + ', '.join(
              f'{n} {100 * s["accuracy"]:.2f}%'
              for n, s in evaluated.items()) + f'; {summary_path}',
          flush=True)
    return summary


def _done(path: str, identity: dict) -> Optional[tuple]:
    """``(accuracy, source)`` of the predictions at ``path`` where this
    checkpoint wrote them; else None."""
    if not osp.isfile(path) or osp.islink(path):
        return None
    try:
        p = load_predictions(path)
    except PredictionsFileError:
        return None
    meta = predictions_meta(p)
    if meta.get('checkpoint') != identity or not isinstance(
            meta.get('source'), dict):
        return None
    return accuracy_of(p), meta['source']


# -------------------------------------------------------- reading back
def stat_of(path: str) -> dict:
    """``{path, size, mtime_ns}`` of a checkpoint: what tells, without
    hashing it, that the checkpoint is the one a file recorded."""
    info = os.stat(path)
    return dict(path=osp.abspath(path), size=info.st_size,
                mtime_ns=info.st_mtime_ns)


def current_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``WORK_DIR/last_checkpoint`` names (as written, or
    its name in the work dir where that path is not here); None without
    the pointer."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    path = read_text(pointer, 4096).strip()
    moved = osp.join(work_dir, osp.basename(path))
    return path if osp.isfile(path) or not osp.isfile(moved) else moved


def other_checkpoint(meta: dict, work_dir: str) -> Optional[str]:
    """Why predictions whose ``meta`` records a checkpoint were not
    written by the run's current one (:func:`current_checkpoint`), or None
    where they were, or where the run names none to compare with. Hashed
    only where path, size or time differ from what was recorded."""
    current = current_checkpoint(work_dir)
    recorded = meta.get('checkpoint_path')
    if current is None:
        return None
    if not osp.isfile(current):  # a copied run dir without checkpoints
        same = osp.basename(current) == osp.basename(str(recorded))
        return None if same else (
            f'written by {recorded}; the run\'s last checkpoint is '
            f'{current}')
    if meta.get('checkpoint_stat') == stat_of(current) or \
            file_identity(current) == meta.get('checkpoint'):
        return None
    return (f'written by {recorded} (SHA-256 '
            f'{str((meta.get("checkpoint") or {}).get("sha256"))[:12]}); '
            f"the run's last checkpoint {current} is another")


def read_shift_accuracy(work_dir: str) -> Tuple[Dict[str, dict], List[str]]:
    """The shift predictions of a run: ``({name: dict(accuracy, images,
    source, path)}, problems)``; a file that is damaged, a symlink, or of
    another checkpoint than the run's (:func:`other_checkpoint`) is left
    out and named in ``problems``."""
    found, problems = {}, []
    for name in matrix.SHIFTED_SETS:
        path = predictions_path(work_dir, name)
        if not osp.lexists(path):
            continue
        if osp.islink(path) or not osp.isfile(path):
            problems.append(f'{path}: not a regular file; not read.')
            continue
        try:
            p = load_predictions(path)
            meta = predictions_meta(p)
            other = other_checkpoint(meta, work_dir)
        except (OSError, ValueError) as err:  # PredictionsFileError too
            problems.append(f'{err}; left out of the shift table.')
            continue
        if other:
            problems.append(f'{path}: {other}; left out of the shift '
                            'table (evaluate the run again).')
            continue
        source = meta.get('source') if isinstance(meta.get('source'),
                                                  dict) else {}
        found[name] = dict(accuracy=accuracy_of(p), images=len(
            p['gt_label']), source=source, path=path)
    return found, problems
