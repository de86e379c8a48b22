"""Evaluate a checkpoint on every corruption and severity of CIFAR-C, or
of a folder of the same layout holding an image-folder target's test
images (docs/robustness.md).

Usage::

    python tools/analysis_tools/eval_corruptions.py CONFIG [CHECKPOINT] \
        --corruption-root DIR [--work-dir DIR] [--corruptions ...] \
        [--severities ...] [--baseline BASELINE_WORK_DIR]

CONFIG and CHECKPOINT are what ``tools/test.py`` takes (the checkpoint
positionally or with ``--checkpoint``; strict loading, ``--non-strict``,
``--cfg-options``, ``--amp`` and the stage-1 options as there). The
predictions of each corruption and severity go to
``WORK_DIR/corruptions/<corruption>/s<severity>.npz`` and the accuracies to
``WORK_DIR/corruptions/summary.json``; WORK_DIR is ``--work-dir``, else the
config's ``work_dir``, else ``work_dirs/<config name>`` (as tools/test.py).
A run again skips the cells this checkpoint already wrote (each records
the checkpoint's size and SHA-256) and evaluates again those of another
checkpoint; it holds the work dir's lock while it runs. ``--baseline``
adds CE and mCE relative to that run. The run's saved config is never
written: the model is built with its work dir in WORK_DIR/corruptions/.
The evaluation:
:mod:`emoreg_mm.evaluation.corruptions`. One process: no ``--launcher``.
"""
import argparse
import sys
from typing import List, Optional

from emoreg_mm import matrix
from emoreg_mm.cli import (add_checkpoint_args, add_stage1_args,
                           resolve_checkpoint_args)
from emoreg_mm.evaluation.robustness import ALL_CORRUPTIONS, SEVERITIES


def positive(text: str) -> int:
    """An argument that must be a positive integer."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text}: expected a positive '
                                         'integer')
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Evaluate a checkpoint on every corruption and severity '
        'of CIFAR-10-C / CIFAR-100-C')
    add_checkpoint_args(p, 'test config, as tools/test.py takes it')
    p.add_argument('--corruption-root', required=True, metavar='DIR',
                   help='the CIFAR-10-C / CIFAR-100-C folder, or one of '
                   "an image-folder target's test images (labels.npy, "
                   '<corruption>.npy)')
    p.add_argument('--work-dir', help='the run dir to write corruptions/ in')
    p.add_argument('--corruptions', nargs='+', metavar='NAME',
                   help='default: those of the 19 (15 + 4 extra) the folder '
                   'holds; given, those it lacks are an error')
    p.add_argument('--severities', nargs='+', type=int,
                   default=list(SEVERITIES), help='default: 1 to 5')
    p.add_argument('--images-per-severity', type=positive, default=None,
                   help="default: a fifth of the folder's labels.npy; "
                   'given, it must be that')
    p.add_argument('--dataset', choices=tuple(matrix.CORRUPTED_TARGETS),
                   help="default: the config's emoreg_target, or its test "
                   'dataset type')
    p.add_argument('--cifar-root', metavar='DIR',
                   help='also check labels.npy against this CIFAR test set')
    p.add_argument('--baseline', metavar='WORK_DIR',
                   help="the baseline run's work dir (evaluated the same "
                   'way): CE and mCE relative to it in the summary')
    p.add_argument('--batch-size', type=positive, default=None,
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
    unknown = [c for c in args.corruptions or () if c not in ALL_CORRUPTIONS]
    if unknown:
        p.error(f'unknown corruption(s) {unknown}; valid: '
                f'{", ".join(ALL_CORRUPTIONS)}')
    if any(s not in SEVERITIES for s in args.severities):
        p.error(f'--severities {args.severities}: expected 1 to 5')
    # the test options merge_test_args reads that this tool does not take
    args.launcher, args.out = 'none', None
    args.data_root = args.exclude_file = None
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Run with ``argv`` (default: the command line)."""
    args = parse_args(argv)
    from mmengine.config import Config

    from emoreg_mm.evaluation.corruptions import (CorruptionEvalError,
                                                  evaluate_corruptions)
    from emoreg_mm.evaluation.evaluate import merge_test_args
    from emoreg_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = merge_test_args(Config.fromfile(args.config), args,
                          prog='eval_corruptions.py')
    try:
        evaluate_corruptions(cfg, args)
    except CorruptionEvalError as err:
        sys.exit(f'eval_corruptions.py: error: {err}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
