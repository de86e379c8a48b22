"""Evaluate a CIFAR-10 checkpoint on natural distribution shifts: CIFAR-10.1
and CIFAR-10.2, as their authors distribute them (docs/shift.md).

Usage::

    python tools/analysis_tools/eval_shift.py CONFIG [CHECKPOINT] \
        --shift cifar10.1-v6=DIR [--shift cifar10.2=DIR ...] \
        [--work-dir DIR]

CONFIG and CHECKPOINT are what ``tools/test.py`` takes (the checkpoint
positionally or with ``--checkpoint``; strict loading, ``--non-strict``,
``--cfg-options``, ``--amp`` and the stage-1 options as there). The sets:
``cifar10.1-v6``, ``cifar10.1-v4`` (the folder holding
``cifar10.1_<version>_data.npy`` / ``_labels.npy``) and ``cifar10.2`` (the
folder holding ``cifar102_test.npy``, read without unpickling anything it
holds could run). The predictions on each go to ``WORK_DIR/shift/<name>.npz``
and the accuracies to ``WORK_DIR/shift/summary.json``; WORK_DIR is
``--work-dir``, else the config's ``work_dir``, else ``work_dirs/<config
name>`` (as tools/test.py). A set this checkpoint already evaluated is
skipped; the work dir's lock is held while it runs; the run's saved config
is never written. The evaluation: :mod:`emoreg_mm.evaluation.shift`. One
process: no ``--launcher``.
"""
import argparse
import sys
from typing import List, Optional

from emoreg_mm.cli import (add_checkpoint_args, add_stage1_args,
                           resolve_checkpoint_args)


def positive(text: str) -> int:
    """An argument that must be a positive integer."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text}: expected a positive '
                                         'integer')
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    from emoreg_mm.evaluation.shift import ShiftEvalError, parse_shift
    from emoreg_mm.matrix import SHIFTED_SETS
    p = argparse.ArgumentParser(
        description='Evaluate a CIFAR-10 checkpoint on CIFAR-10.1 / '
        'CIFAR-10.2')
    add_checkpoint_args(p, 'test config, as tools/test.py takes it')
    p.add_argument('--shift', action='append', required=True,
                   metavar='NAME=DIR', help='a set and its folder '
                   f'(repeatable); NAME: {", ".join(SHIFTED_SETS)}')
    p.add_argument('--work-dir', help='the run dir to write shift/ in')
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
    try:
        args.shift = parse_shift(args.shift)
    except ShiftEvalError as err:
        p.error(str(err))
    # the test options merge_test_args reads that this tool does not take
    args.launcher, args.out = 'none', None
    args.data_root = args.exclude_file = None
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Run with ``argv`` (default: the command line)."""
    args = parse_args(argv)
    from mmengine.config import Config

    from emoreg_mm.evaluation.evaluate import merge_test_args
    from emoreg_mm.evaluation.shift import ShiftEvalError, evaluate_shift
    from emoreg_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = merge_test_args(Config.fromfile(args.config), args,
                          prog='eval_shift.py')
    try:
        evaluate_shift(cfg, args)
    except ShiftEvalError as err:
        sys.exit(f'eval_shift.py: error: {err}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
