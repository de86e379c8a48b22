"""Evaluate a checkpoint on every corruption and severity of CIFAR-C.

Usage::

    python tools/analysis_tools/eval_corruptions.py CONFIG [CHECKPOINT] \
        --corruption-root DIR [--work-dir DIR] [--corruptions ...] \
        [--severities ...] [--baseline BASELINE_WORK_DIR]

CONFIG and CHECKPOINT are what ``tools/test.py`` takes (the checkpoint
positionally or with ``--checkpoint``; strict loading, ``--non-strict``,
``--cfg-options``, ``--amp`` and the stage-1 options as there). The model
is built and loaded once; each corruption and severity of the CIFAR-10-C /
CIFAR-100-C folder ``--corruption-root`` (:mod:`emoreg_mm.datasets.cifar_c`)
is then read through the config's test pipeline and dataloader settings,
and its predictions saved as ``tools/test.py --out`` saves them
(:mod:`emoreg_mm.evaluation.predictions`), in the run's work dir::

    WORK_DIR/corruptions/<corruption>/s<severity>.npz
    WORK_DIR/corruptions/summary.json    accuracy per corruption and
                                         severity, the mean over the 15

WORK_DIR is ``--work-dir``, else the config's ``work_dir``, else
``work_dirs/<config name>`` (as tools/test.py). A run again skips the
prediction files already complete (counted in the summary); a summary of
another checkpoint stops the command unless ``--overwrite``. With
``--baseline`` (the work dir of the ``baseline`` run evaluated the same
way) the summary adds CE per corruption and mCE
(:func:`emoreg_mm.evaluation.robustness.corruption_errors`), and the
relative mCE where both runs have ``predictions.npz``. One process: no
``--launcher``.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
import time
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_tool():
    """tools/test.py as a module (its config merge and strict loading)."""
    name = 'emoreg_mm_tools_test'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, osp.join(REPO, 'tools', 'test.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    from emoreg_mm.engine.runner import (add_checkpoint_args, add_stage1_args,
                                         resolve_checkpoint_args)
    from emoreg_mm.evaluation.robustness import ALL_CORRUPTIONS, SEVERITIES
    p = argparse.ArgumentParser(
        description='Evaluate a checkpoint on every corruption and severity '
        'of CIFAR-10-C / CIFAR-100-C')
    add_checkpoint_args(p, 'test config, as tools/test.py takes it')
    p.add_argument('--corruption-root', required=True, metavar='DIR',
                   help='the CIFAR-10-C / CIFAR-100-C folder (labels.npy, '
                   '<corruption>.npy)')
    p.add_argument('--work-dir', help='the run dir to write corruptions/ in')
    p.add_argument('--corruptions', nargs='+', default=list(ALL_CORRUPTIONS),
                   metavar='NAME', help='default: the 19 (15 + 4 extra); '
                   'those the folder lacks are an error')
    p.add_argument('--severities', nargs='+', type=int,
                   default=list(SEVERITIES), help='default: 1 to 5')
    p.add_argument('--images-per-severity', type=int, default=None,
                   help="default: the folder's build.json (a re-creation), "
                   'else 10000')
    p.add_argument('--dataset', choices=('cifar10', 'cifar100'),
                   help="default: the config's emoreg_target, or its test "
                   'dataset type')
    p.add_argument('--cifar-root', metavar='DIR',
                   help='also check labels.npy against this CIFAR test set')
    p.add_argument('--baseline', metavar='WORK_DIR',
                   help="the baseline run's work dir (evaluated the same "
                   'way): CE and mCE relative to it in the summary')
    p.add_argument('--batch-size', type=int, default=None,
                   help="default: the config's test_dataloader batch size")
    p.add_argument('--overwrite', action='store_true',
                   help='evaluate again what another checkpoint wrote')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override settings in the config, as key=value')
    p.add_argument('--amp', action='store_true',
                   help='mixed-precision inference')
    p.add_argument('--non-strict', action='store_true',
                   help='evaluate even if the checkpoint does not fit the '
                   'model (as tools/test.py)')
    add_stage1_args(p)
    args = p.parse_args(argv)
    resolve_checkpoint_args(p, args)
    unknown = [c for c in args.corruptions if c not in ALL_CORRUPTIONS]
    if unknown:
        p.error(f'unknown corruption(s) {unknown}; valid: '
                f'{", ".join(ALL_CORRUPTIONS)}')
    if any(s not in SEVERITIES for s in args.severities):
        p.error(f'--severities {args.severities}: expected 1 to 5')
    # what tools/test.py's merge_args reads
    args.launcher, args.out = 'none', None
    args.data_root = args.exclude_file = None
    return args


def dataset_type(cfg, args) -> str:
    """``CIFAR10C`` or ``CIFAR100C`` for this config."""
    target = args.dataset or cfg.get('emoreg_target')
    if target not in ('cifar10', 'cifar100'):
        kind = str(cfg.get('test_dataloader', {}).get('dataset', {}).get(
            'type', ''))
        target = 'cifar100' if 'CIFAR100' in kind else \
            'cifar10' if 'CIFAR10' in kind else None
    if target is None:
        sys.exit(f'eval_corruptions.py: error: {args.config} is not a '
                 'CIFAR-10 / CIFAR-100 config (emoreg_target, test dataset '
                 'type); give --dataset cifar10 or cifar100')
    return {'cifar10': 'CIFAR10C', 'cifar100': 'CIFAR100C'}[target]


def complete(path: str, labels) -> bool:
    """Whether ``path`` holds the predictions of every image of
    ``labels`` (a killed or foreign file is evaluated again)."""
    import numpy as np

    from emoreg_mm.evaluation import PredictionsFileError, load_predictions
    if not osp.isfile(path):
        return False
    try:
        p = load_predictions(path)
    except PredictionsFileError:
        return False
    return np.array_equal(p['gt_label'], labels)


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
    import math
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: Optional[List[str]] = None) -> int:
    """Run with ``argv`` (default: the command line)."""
    args = parse_args(argv)
    from mmengine.config import Config
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from emoreg_mm.datasets.cifar_c import (BUILD_INFO, CIFARCorruptedError,
                                            read_labels, recreation_info)
    from emoreg_mm.evaluation import load_predictions, save_predictions
    from emoreg_mm.evaluation.robustness import (FOLDER, SUMMARY,
                                                 accuracy_of,
                                                 corruption_errors,
                                                 mean_accuracy,
                                                 predictions_path,
                                                 read_corruption_accuracy)
    from emoreg_mm.fileio import atomic_write_text, read_json
    tool = test_tool()
    root = args.corruption_root
    try:
        info = recreation_info(root) if osp.isdir(root) else None
    except CIFARCorruptedError as err:
        sys.exit(f'eval_corruptions.py: error: {err}')
    n = args.images_per_severity or (info['num_images'] if info else 10000)
    cfg = tool.merge_args(Config.fromfile(args.config), args)
    kind = dataset_type(cfg, args)
    num_classes = 100 if kind == 'CIFAR100C' else 10
    summary_path = osp.join(cfg.work_dir, FOLDER, SUMMARY)
    if osp.isfile(summary_path) and not args.overwrite:
        old = read_json(summary_path)
        if old.get('checkpoint') != osp.abspath(args.checkpoint):
            sys.exit(f'eval_corruptions.py: error: {summary_path} holds the '
                     f"predictions of {old.get('checkpoint')}, not "
                     f'{osp.abspath(args.checkpoint)}; give another '
                     '--work-dir, or --overwrite to evaluate again')
    # every file is checked before the model is built
    loader_cfg = dict(cfg.test_dataloader)
    if args.batch_size:
        loader_cfg['batch_size'] = args.batch_size
    pipeline = loader_cfg['dataset'].get('pipeline', [])
    try:
        if not osp.isdir(root):
            raise CIFARCorruptedError(
                f'{root}: folder not found; expected a CIFAR-C folder '
                '(labels.npy, <corruption>.npy); build_cifar_c.py writes one')
        test_labels = None
        if args.cifar_root:  # read once, not per corruption
            from mmpretrain.registry import DATASETS
            test_labels = DATASETS.build(dict(
                type=kind[:-1], data_root=args.cifar_root, split='test',
                download=False)).get_gt_labels()
        labels = read_labels(root, n, num_classes, test_labels)
        missing = [c for c in args.corruptions
                   if not osp.isfile(osp.join(root, f'{c}.npy'))]
        if missing:
            raise CIFARCorruptedError(
                f'{root}: no file for {", ".join(missing)}; expected '
                '<corruption>.npy for each of --corruptions')
    except CIFARCorruptedError as err:
        sys.exit(f'eval_corruptions.py: error: {err}')
    cells = [(c, s) for c in args.corruptions for s in args.severities]
    todo = [(c, s) for c, s in cells
            if args.overwrite or not complete(
                predictions_path(cfg.work_dir, c, s), labels)]
    start = time.time()
    if todo:
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
            else RUNNERS.build(cfg)
        if not args.non_strict:
            tool.load_strict(runner, args.checkpoint, args.config)
        amp = bool(cfg.get('test_cfg', {}).get('fp16', False))
        for c, s in todo:
            dataset = dict(type=kind, data_root=root, corruption=c,
                           severity=s, images_per_severity=n,
                           pipeline=pipeline)
            try:
                loader = Runner.build_dataloader(
                    dict(loader_cfg, dataset=dataset))
            except CIFARCorruptedError as err:
                sys.exit(f'eval_corruptions.py: error: {err}')
            path = save_predictions(predictions_path(cfg.work_dir, c, s),
                                    predict(runner.model, loader, amp))
            print(f'[eval_corruptions] {c} s{s}: top-1 '
                  f'{100 * accuracy_of(load_predictions(path)):.2f}%',
                  flush=True)
    result = read_corruption_accuracy(cfg.work_dir)
    accuracy = {c: {s: result['accuracy'][c][s] for s in args.severities}
                for c in args.corruptions}
    summary = dict(
        config=osp.abspath(args.config),
        checkpoint=osp.abspath(args.checkpoint),
        corruption_root=osp.abspath(root),
        official=info is None,
        recreation=None if info is None else osp.join(
            osp.abspath(root), BUILD_INFO),
        images_per_severity=n, evaluated=len(todo),
        skipped=len(cells) - len(todo),
        accuracy=accuracy, mean_accuracy=mean_accuracy(accuracy),
        clean_accuracy=result['clean_accuracy'])
    if args.baseline:
        base = read_corruption_accuracy(args.baseline)
        if base is None:
            sys.exit(f'eval_corruptions.py: error: --baseline '
                     f'{args.baseline}: no {FOLDER}/ predictions there; '
                     'evaluate the baseline run first')
        try:
            summary['baseline'] = osp.abspath(args.baseline)
            summary.update(corruption_errors(
                accuracy, base['accuracy'],
                model_clean=result['clean_accuracy'],
                baseline_clean=base['clean_accuracy']))
        except (KeyError, ValueError) as err:
            sys.exit(f'eval_corruptions.py: error: --baseline '
                     f'{args.baseline}: {err}')
    os.makedirs(osp.dirname(summary_path), exist_ok=True)
    atomic_write_text(summary_path,
                      json.dumps(finite(summary), indent=1) + '\n')
    line = (f'[eval_corruptions] {len(todo)} evaluated, '
            f'{len(cells) - len(todo)} already done '
            f'({time.time() - start:.0f} s); mean corruption accuracy '
            f"{100 * summary['mean_accuracy']:.2f}%")
    if 'mce' in summary:
        line += f" , mCE {summary['mce']:.3f} relative to {args.baseline}"
    print(f'{line}; {summary_path}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
