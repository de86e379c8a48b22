"""A checkpoint evaluated on every corruption and severity of CIFAR-C
(``tools/analysis_tools/eval_corruptions.py``, docs/robustness.md).

The model is built and loaded once; each corruption and severity of a
CIFAR-10-C / CIFAR-100-C folder (:mod:`emoreg_mm.datasets.cifar_c`) is then
read through the config's test pipeline and dataloader settings, and its
predictions saved as ``tools/test.py --out`` saves them
(:mod:`emoreg_mm.evaluation.predictions`), in the run's work dir::

    WORK_DIR/corruptions/<corruption>/s<severity>.npz
    WORK_DIR/corruptions/summary.json    accuracy per corruption and
                                         severity, the mean over the 15

Each cell records the checkpoint's identity (size and SHA-256) in its
``meta``. A run again skips the cells this checkpoint wrote and evaluates
again what is missing, damaged, or written by another checkpoint (or by a
checkpoint replaced under the same name); a summary naming another
checkpoint file is refused unless ``overwrite``. The evaluation holds the
work dir's lock (:class:`~emoreg_mm.engine.runner.work_dir_lock.
WorkDirLock`): a second evaluation or a training run on it fails at once.
A symlink, or a folder where a file belongs, at any path it writes is
refused, never read or followed. Sizes come from the CIFAR-C folder's files
before anything is allocated (:func:`emoreg_mm.datasets.cifar_c.
severity_size`), and a folder of the other CIFAR is refused. With a
baseline run (evaluated the same way) the summary adds CE per
corruption and mCE (:func:`emoreg_mm.evaluation.robustness.
corruption_errors`), and the relative mCE where both runs have
``predictions.npz``. Which corrupted set a config's target has is
:data:`emoreg_mm.matrix.CORRUPTED_TARGETS`.

A target whose test pipeline loads image files (``LoadImageFromFile``: an
image folder read by ``CustomDataset``) is evaluated on a folder of the
same layout holding its own test images, of any size: ``labels.npy`` and
``<corruption>.npy`` of ``(5 x N, H, W, 3)`` uint8 RGB images. The arrays
take the place of ``LoadImageFromFile`` (:func:`array_pipeline`), in the
channel order it would have given. The model is built with its work dir
in ``WORK_DIR/corruptions/``: the config mmengine saves and its logs stay
there, and the run's own config is never written.
"""
import copy
import json
import math
import os
import os.path as osp
import time
from typing import List, Optional, Sequence

from .. import matrix
from ..fileio import (UnreadableFileError, atomic_write_text, file_identity,
                      read_json)
from .predictions import (PredictionsFileError, load_predictions,
                          predictions_meta, save_predictions)
from .robustness import (ALL_CORRUPTIONS, FOLDER, KINDS, SUMMARY,
                         accuracy_of, clean_accuracy, corruption_errors,
                         mean_accuracy, predictions_path,
                         read_corruption_accuracy)


#: The loading transform of an image-folder target; arrays replace it.
FILE_LOADER = 'LoadImageFromFile'
#: The kind of an image-folder target (:func:`target_kind`).
IMAGES = 'images'


class CorruptionEvalError(ValueError):
    """Bad input to the corruption evaluation; the message names it."""


def _type_name(transform) -> str:
    kind = transform.get('type', '')
    return getattr(kind, '__name__', str(kind))


def pipeline_of(cfg) -> list:
    """The config's test pipeline, a list of dicts."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    return [dict(t) for t in dataset.get('pipeline', [])]


def target_kind(cfg, target: Optional[str] = None) -> str:
    """What the corrupted test set of ``cfg``'s target is: the dataset
    class of a CIFAR target (:func:`corrupted_type`), or :data:`IMAGES`
    for a target whose test pipeline loads image files."""
    try:
        return corrupted_type(cfg, target)
    except CorruptionEvalError as err:
        loads = [_type_name(t) for t in pipeline_of(cfg)
                 if 'load' in _type_name(t).lower()]
        if target is None and loads == [FILE_LOADER]:
            return IMAGES
        raise CorruptionEvalError(
            f'{err}; nor a target whose test pipeline reads image files '
            f'with {FILE_LOADER} (its loading transforms: '
            f'{loads or "none"}), which arrays can replace') from None


def array_pipeline(pipeline) -> tuple:
    """``(pipeline, loader)``: the test ``pipeline`` that reads the
    corrupted arrays, less its ``LoadImageFromFile``, and that transform's
    settings (``{}`` without one: a CIFAR pipeline reads arrays as it is).

    Raises:
        CorruptionEvalError: another loading transform, or one that gives
            what RGB arrays cannot (grayscale, another backend's decoding
            options), naming it.
    """
    steps = [dict(t) for t in pipeline]
    loaders = [t for t in steps if _type_name(t) == FILE_LOADER]
    other = [_type_name(t) for t in steps if _type_name(t) != FILE_LOADER
             and 'load' in _type_name(t).lower()]
    loader = loaders[0] if loaders else {}
    unknown = set(loader) - {'type', 'channel_order', 'to_float32',
                             'color_type', 'imdecode_backend',
                             'backend_args', 'file_client_args'}
    if other or len(loaders) > 1 or unknown or loader.get(
            'color_type', 'color') != 'color' or loader.get(
                'channel_order', 'bgr') not in ('bgr', 'rgb'):
        raise CorruptionEvalError(
            f'test pipeline {[_type_name(t) for t in steps]}: the corrupted '
            f'arrays (RGB) replace one {FILE_LOADER} of color images; '
            f'{other or loader} cannot read them')
    return [t for t in steps if t is not loader], loader


def corrupted_type(cfg, target: Optional[str] = None) -> str:
    """The corrupted dataset class of ``cfg``'s target (``CIFAR10C``):
    ``target``, else the config's ``emoreg_target``, else the target whose
    name is in its test dataset's type."""
    targets = matrix.CORRUPTED_TARGETS
    target = target or cfg.get('emoreg_target')
    if target not in targets:
        kind = str(cfg.get('test_dataloader', {}).get('dataset', {}).get(
            'type', '')).lower()
        # the longest first: cifar100 before cifar10
        target = next((t for t in sorted(targets, key=len, reverse=True)
                       if t in kind), None)
    if target is None:
        raise CorruptionEvalError(
            f'not a config of a target with a corrupted test set '
            f'({", ".join(targets)}; emoreg_target, test dataset type); '
            'give --dataset')
    return targets[target]


def cell_state(path: str, labels, identity: dict,
               source: Optional[dict] = None) -> str:
    """``'done'`` where ``path`` holds this checkpoint's predictions of
    every image of ``labels`` (of the folder ``source``, given); else
    ``'missing'``, ``'damaged'`` (a killed or foreign file) or ``'other'``
    (another checkpoint's or folder's, or one that records none)."""
    import numpy as np
    if not osp.lexists(path):
        return 'missing'
    try:
        p = load_predictions(path)
    except PredictionsFileError:
        return 'damaged'
    if not np.array_equal(p['gt_label'], labels):
        return 'damaged'
    meta = predictions_meta(p)
    return 'done' if meta.get('checkpoint') == identity and (
        source is None or meta.get('source') == source) else 'other'


def check_paths(work_dir: str, cells: Sequence[tuple]) -> None:
    """Refuse what no evaluation writes at a path it writes or reads: a
    symlink (the folders, a cell, the summary), a folder where a file
    belongs or a file where a folder belongs; naming it."""
    folder = osp.join(work_dir, FOLDER)
    paths = {folder: True, osp.join(folder, SUMMARY): False}
    for c, s in cells:
        paths[osp.join(folder, c)] = True
        paths[predictions_path(work_dir, c, s)] = False
    for path, is_dir in paths.items():
        if osp.islink(path):
            what = 'a symlink'
        elif not osp.lexists(path) or (osp.isdir(path) if is_dir
                                       else osp.isfile(path)):
            continue
        else:
            what = 'a folder' if osp.isdir(path) else 'not a ' + (
                'folder' if is_dir else 'regular file')
        raise CorruptionEvalError(
            f'{path}: {what}, which no evaluation writes there; it is '
            'neither read nor followed. Remove it and evaluate again.')


def predict(model, loader, amp: bool) -> list:
    """The model's predictions on every batch of ``loader`` (test mode)."""
    import torch
    from mmengine.runner.amp import autocast
    samples = []
    model.eval()
    with torch.no_grad(), autocast(enabled=amp):
        for batch in loader:
            samples.extend(model.test_step(batch))
    return samples


def finite(value):
    """``value`` with NaN / infinite floats as None (strict JSON)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def num_classes(cfg) -> int:
    """The classes of the model of ``cfg`` (its data preprocessor's or
    head's ``num_classes``)."""
    model = cfg.get('model', {})
    for part in (cfg.get('data_preprocessor'), model.get('data_preprocessor'),
                 model.get('head')):
        if isinstance(part, dict) and part.get('num_classes'):
            return int(part['num_classes'])
    raise CorruptionEvalError('the config names no num_classes (data '
                              'preprocessor or head) to check labels.npy by')


def image_shape(root: str, corruption: str, per_severity: int) -> tuple:
    """The ``(H, W, 3)`` of ``root/<corruption>.npy``, an image-folder
    target's file, from its header."""
    from ..datasets.cifar_c import CIFARCorruptedError, _open
    path = osp.join(root, f'{corruption}.npy')
    images = _open(path)
    if images.dtype != 'uint8' or images.ndim != 4 or images.shape[0] != \
            5 * per_severity or images.shape[3] != 3:
        raise CIFARCorruptedError(
            f'{path}: {images.dtype} array of shape {images.shape}; expected '
            f'uint8 of shape ({5 * per_severity}, H, W, 3) (5 severities x '
            f'{per_severity} RGB images)')
    return images.shape[1:]


def read_folder(root: str, kind: str, per_severity: Optional[int],
                corruptions: Optional[Sequence[str]],
                cifar_root: Optional[str], classes: Optional[int] = None):
    """``(images per severity, labels, build record or None, corruptions)``
    of the corrupted folder ``root``, checked (sizes from its files'
    headers; a folder of the other CIFAR refused; against the CIFAR test
    set in ``cifar_root`` when given; for :data:`IMAGES`, labels below
    ``classes`` and each file's shape) before any model is built. Every
    corruption asked for must have its file; None asks for those of the 19
    the folder holds (at least one)."""
    from ..datasets import cifar_c as cc
    try:
        if not osp.isdir(root):
            raise cc.CIFARCorruptedError(
                f'{root}: folder not found; expected a CIFAR-C folder '
                '(labels.npy, <corruption>.npy); build_cifar_c.py writes one')
        info = cc.recreation_info(root)
        n = cc.severity_size(root)
        if per_severity not in (None, n):
            raise cc.CIFARCorruptedError(
                f'--images-per-severity {per_severity}: {root} holds {n} '
                'images per severity (a fifth of labels.npy); leave the '
                'option out')
        present = [c for c in ALL_CORRUPTIONS
                   if osp.isfile(osp.join(root, f'{c}.npy'))]
        missing = [c for c in corruptions or () if c not in present]
        if missing or not (corruptions or present):
            raise cc.CIFARCorruptedError(
                f'{root}: no file for {", ".join(missing or ["any"])}; '
                'expected <corruption>.npy for each of --corruptions (by '
                'default those of the 19 the folder holds)')
        corruptions = list(corruptions or present)
        if kind == IMAGES:
            labels = cc.read_labels(root, n, classes)
            shapes = {image_shape(root, c, n) for c in corruptions}
            if len(shapes) > 1:
                raise cc.CIFARCorruptedError(
                    f'{root}: images of sizes {sorted(shapes)}; expected one '
                    'size in every <corruption>.npy')
            return n, labels, info, corruptions
        corrupted = cc.CORRUPTED[kind]
        test_labels = None
        if cifar_root:  # read once, not per corruption
            from mmpretrain.registry import DATASETS
            test_labels = DATASETS.build(dict(
                type=corrupted.cifar_type, data_root=cifar_root,
                split='test', download=False)).get_gt_labels()
        labels = cc.read_labels(root, n, len(corrupted.METAINFO['classes']),
                                test_labels)
        cc.check_source(root, corrupted.cifar_type, labels)
    except cc.CIFARCorruptedError as err:
        raise CorruptionEvalError(str(err)) from None
    return n, labels, info, corruptions


def check_target(cfg, root: str) -> None:
    """Everything the evaluation of ``cfg``'s target on ``root`` checks
    before it builds a model (what the sweep's dry run asks): the target's
    kind, the pipeline that reads the arrays, the folder and its sizes.

    Raises:
        CorruptionEvalError: naming what is wrong.
    """
    kind = target_kind(cfg)
    array_pipeline(pipeline_of(cfg))
    read_folder(root, kind, None, None, None,
                num_classes(cfg) if kind == IMAGES else None)


def array_dataset(root: str, corruption: str, severity: int, n: int,
                  labels, pipeline, loader: dict):
    """One corruption at one severity of an image-folder target's folder:
    each image as ``LoadImageFromFile`` (settings ``loader``) would have
    given it, through ``pipeline``."""
    import numpy as np
    from mmengine.dataset import BaseDataset

    from ..datasets.cifar_c import _open
    images = _open(osp.join(root, f'{corruption}.npy'))
    images = np.array(images[(severity - 1) * n:severity * n])
    if loader.get('channel_order', 'bgr') == 'bgr':
        images = np.ascontiguousarray(images[..., ::-1])
    if loader.get('to_float32'):
        images = images.astype(np.float32)
    shape = images.shape[1:3]
    samples = [dict(img=img, img_shape=shape, ori_shape=shape,
                    gt_label=int(y)) for img, y in zip(images, labels)]

    class Arrays(BaseDataset):

        def load_data_list(self):
            return samples

    return Arrays(pipeline=pipeline, serialize_data=False)


def evaluate_cells(runner, cfg, cells: List[tuple], kind: str, root: str,
                   per_severity: int, labels, batch_size: Optional[int],
                   meta: dict, work_dir: str) -> None:
    """Predict each ``(corruption, severity)`` of ``cells`` and save the
    predictions in ``work_dir``, each with ``meta`` (the checkpoint's
    identity)."""
    from mmengine.runner import Runner

    from ..datasets.cifar_c import CIFARCorruptedError
    loader_cfg = dict(cfg.test_dataloader)
    if batch_size:
        loader_cfg['batch_size'] = batch_size
    pipeline, loader = array_pipeline(pipeline_of(cfg))
    amp = bool(cfg.get('test_cfg', {}).get('fp16', False))
    for c, s in cells:
        dataset = array_dataset(
            root, c, s, per_severity, labels, pipeline, loader) \
            if kind == IMAGES else dict(
                type=kind, data_root=root, corruption=c, severity=s,
                images_per_severity=per_severity, pipeline=pipeline)
        try:
            loader_ = Runner.build_dataloader(dict(loader_cfg,
                                                   dataset=dataset))
        except CIFARCorruptedError as err:
            raise CorruptionEvalError(str(err)) from None
        path = save_predictions(predictions_path(work_dir, c, s),
                                predict(runner.model, loader_, amp),
                                meta=dict(meta, corruption=c, severity=s))
        print(f'[eval_corruptions] {c} s{s}: top-1 '
              f'{100 * accuracy_of(load_predictions(path)):.2f}%',
              flush=True)


def evaluate_corruptions(cfg, args) -> dict:
    """Evaluate ``args.checkpoint`` under ``cfg`` (merged with
    :func:`emoreg_mm.evaluation.evaluate.merge_test_args`) on the
    corruptions of ``args.corruption_root``; write and return the summary.

    ``args`` holds what ``eval_corruptions.py`` parses: ``config``,
    ``checkpoint``, ``corruption_root``, ``corruptions``, ``severities``,
    ``images_per_severity``, ``dataset``, ``cifar_root``, ``baseline``,
    ``batch_size``, ``overwrite`` and ``non_strict``. Bad input raises
    :class:`CorruptionEvalError` before any model is built; the work dir's
    lock is held from before the first cell is read until the summary is
    written.
    """
    from ..engine.runner.work_dir_lock import WorkDirLock, WorkDirLockedError
    root = args.corruption_root
    try:
        kind = target_kind(cfg, args.dataset)
        array_pipeline(pipeline_of(cfg))
        classes = num_classes(cfg) if kind == IMAGES else None
    except CorruptionEvalError as err:
        raise CorruptionEvalError(f'{args.config}: {err}') from None
    if kind == IMAGES and args.cifar_root:
        raise CorruptionEvalError(
            f'--cifar-root: {args.config} is not a CIFAR config')
    n, labels, info, args.corruptions = read_folder(
        root, kind, args.images_per_severity, args.corruptions,
        args.cifar_root, classes)
    from ..datasets.cifar_c import CORRUPTED, provenance
    folder = provenance(root, None if kind == IMAGES else
                        CORRUPTED[kind].cifar_type, args.corruptions)
    checkpoint = osp.abspath(args.checkpoint)
    try:
        identity = file_identity(checkpoint)
    except OSError as err:
        raise CorruptionEvalError(
            f'{checkpoint}: the checkpoint cannot be read '
            f'({err.strerror})') from None
    try:
        lock = WorkDirLock(cfg.work_dir).acquire()
    except WorkDirLockedError as err:
        raise CorruptionEvalError(str(err)) from None
    try:
        return _evaluate_locked(cfg, args, kind, root, n, labels, folder,
                                checkpoint, identity)
    finally:
        lock.release()


def _own_work_dir(cfg):
    """A copy of ``cfg`` whose work dir is ``WORK_DIR/corruptions``."""
    own = copy.deepcopy(cfg)
    own.work_dir = osp.join(cfg.work_dir, FOLDER)
    return own


def _evaluate_locked(cfg, args, kind, root, n, labels, folder, checkpoint,
                     identity) -> dict:
    from ..datasets.cifar_c import BUILD_INFO
    # what each cell records of the folder it was evaluated on
    source = dict(root=folder['root'], kind=folder['kind'],
                  images_per_severity=n)
    from .evaluate import build_runner, load_strict
    cells = [(c, s) for c in args.corruptions for s in args.severities]
    check_paths(cfg.work_dir, cells)
    summary_path = osp.join(cfg.work_dir, FOLDER, SUMMARY)
    if osp.lexists(summary_path) and not args.overwrite:
        try:
            old = read_json(summary_path)
        except UnreadableFileError as err:
            raise CorruptionEvalError(
                f'{err} Expected the summary of an earlier evaluation; '
                'give --overwrite to evaluate again, or remove it.') from None
        held = old.get('checkpoint') if isinstance(old, dict) else None
        if held != checkpoint:
            raise CorruptionEvalError(
                f'{summary_path} holds the predictions of {held}, not '
                f'{checkpoint}; give another --work-dir, or --overwrite to '
                'evaluate again')
    states = {cell: 'overwrite' if args.overwrite else cell_state(
        predictions_path(cfg.work_dir, *cell), labels, identity, source)
        for cell in cells}
    todo = [cell for cell in cells if states[cell] != 'done']
    replaced = sum(state == 'other' for state in states.values())
    start = time.time()
    if todo:
        # the runner's work dir: its saved config and logs stay in ours
        runner = build_runner(_own_work_dir(cfg))
        if not args.non_strict:
            load_strict(runner, args.checkpoint, args.config,
                        prog='eval_corruptions.py')
        evaluate_cells(runner, cfg, todo, kind, root, n, labels,
                       args.batch_size, dict(checkpoint=identity,
                                             checkpoint_path=checkpoint,
                                             source=source),
                       cfg.work_dir)
    accuracy = {}
    for c, s in cells:
        path = predictions_path(cfg.work_dir, c, s)
        if cell_state(path, labels, identity, source) != 'done':
            raise CorruptionEvalError(
                f'{path}: changed while this evaluation ran (it holds the '
                f'lock of {cfg.work_dir}); evaluate again')
        accuracy.setdefault(c, {})[s] = accuracy_of(load_predictions(path))
    clean = clean_accuracy(cfg.work_dir)
    summary = dict(
        config=osp.abspath(args.config), checkpoint=checkpoint,
        checkpoint_size=identity['size'],
        checkpoint_sha256=identity['sha256'],
        corruption_root=folder['root'], kind=folder['kind'],
        kind_text=KINDS[folder['kind']],
        official=folder['kind'] == 'official', target=kind,
        recreation=osp.join(folder['root'], BUILD_INFO)
        if folder['kind'].startswith('recreated') else None,
        checksums=dict(checked=folder['checked'], differ=folder['differ']),
        images_per_severity=n, evaluated=len(todo),
        skipped=len(cells) - len(todo), replaced=replaced,
        accuracy=accuracy, mean_accuracy=mean_accuracy(accuracy),
        clean_accuracy=clean)
    if args.baseline:
        summary.update(baseline_errors(args.baseline, accuracy, clean))
    os.makedirs(osp.dirname(summary_path), exist_ok=True)
    atomic_write_text(summary_path,
                      json.dumps(finite(summary), indent=1) + '\n')
    line = (f'[eval_corruptions] {len(todo)} evaluated, '
            f'{len(cells) - len(todo)} already done' +
            (f' ({replaced} of another checkpoint evaluated again)'
             if replaced else '') +
            f' ({time.time() - start:.0f} s) on {folder["root"]} '
            f'({KINDS[folder["kind"]]}); mean corruption accuracy '
            f"{100 * summary['mean_accuracy']:.2f}%")
    if 'mce' in summary:
        line += f" , mCE {summary['mce']:.3f} relative to {args.baseline}"
    print(f'{line}; {summary_path}', flush=True)
    return summary


def baseline_errors(baseline: str, accuracy: dict,
                    clean: Optional[float]) -> dict:
    """The summary's CE / mCE entries relative to the baseline run dir."""
    base = read_corruption_accuracy(baseline)
    if base is None:
        raise CorruptionEvalError(
            f'--baseline {baseline}: no {FOLDER}/ predictions there; '
            'evaluate the baseline run first')
    try:
        return dict(baseline=osp.abspath(baseline), **corruption_errors(
            accuracy, base['accuracy'], model_clean=clean,
            baseline_clean=base['clean_accuracy']))
    except (KeyError, ValueError) as err:
        raise CorruptionEvalError(f'--baseline {baseline}: {err}') from None
