"""Evaluate a checkpoint: ``python tools/test.py CONFIG --checkpoint CKPT``.

The command-line interface is mmpretrain's ``tools/test.py``; the
checkpoint may also be given as the second positional argument. It loads
through torch's safe loader (see :mod:`emoreg_mm.compat.safe_load`), and
every weight must fit the model (``--non-strict`` evaluates anyway).
``--tta``, ``--show-dir`` and ``--show`` are mmpretrain's (a regulated model
averages its branches over the views: :mod:`emoreg_mm.models.tta`).
``--out FILE.npz`` saves the predictions in a file that loads without
unpickling (:mod:`emoreg_mm.evaluation.predictions`); a ``.pkl`` (mmengine's
``DumpResults``) only with ``--out-pickle``.
"""
import argparse
import os

import mmengine
import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_world_size
from mmengine.evaluator import DumpResults

from emoreg_mm.cli import (ConfigKeyError, add_checkpoint_args,
                           add_data_root_arg, add_show_and_tta_args,
                           add_stage1_args, add_tracker_arg,
                           resolve_checkpoint_args, set_show, set_tta)
from emoreg_mm.compat.dist import leave_process_group
from emoreg_mm.evaluation.evaluate import (build_runner, load_strict,
                                           merge_test_args)
from emoreg_mm.evaluation.metrics import SavePredictions
from emoreg_mm.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    add_checkpoint_args(
        parser, 'test config file path, or a config name as `mim search '
        'emoreg_mm` lists it')
    parser.add_argument(
        '--work-dir', help='the dir to save evaluation metrics and logs')
    parser.add_argument(
        '--out',
        help='the file to write results to: predictions as .npz (read '
        'without unpickling by emoreg_mm.evaluation.load_predictions), '
        'metrics as .json/.yaml')
    parser.add_argument(
        '--out-pickle',
        action='store_true',
        help='allow a .pkl --out (mmengine DumpResults format); a pickle '
        'runs code when it is read, so only trusted tools should read it')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='write metrics or predictions to --out (default: predictions)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, as key=value pairs')
    parser.add_argument(
        '--amp', action='store_true', help='enable mixed-precision test')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='evaluate even if the checkpoint does not fit the model '
        '(missing, unexpected or differently shaped weights are skipped '
        'with a warning); by default that is an error')
    add_show_and_tta_args(parser)
    add_stage1_args(parser)
    add_data_root_arg(parser)
    add_tracker_arg(parser)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    resolve_checkpoint_args(parser, args)
    if args.tta and (args.show or args.show_dir):
        parser.error('--tta with --show / --show-dir: the drawing hook '
                     'draws one view per image; draw without --tta')
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out')
    if args.out:
        pickled = args.out.endswith(('.pkl', '.pickle'))
        if pickled and not args.out_pickle:
            parser.error(f'--out {args.out}: pickle files run code when they '
                         'are read; write FILE.npz (predictions) or '
                         'FILE.json (metrics), or pass --out-pickle to write '
                         'a pickle anyway')
        if args.out_pickle and not pickled:
            parser.error('--out-pickle needs a .pkl --out')
        if args.out_item in ('pred', None) and not pickled \
                and not args.out.endswith('.npz'):
            parser.error(f'--out {args.out}: predictions are written as '
                         '.npz (or .pkl with --out-pickle)')
    return args


def main(argv=None):
    """Run with ``argv`` (default: the command line)."""
    register_all_modules(init_default_scope=False)
    args = parse_args(argv)
    cfg = merge_test_args(Config.fromfile(args.config), args)
    try:
        set_show(cfg, args)
    except ConfigKeyError as err:
        raise SystemExit(f'tools/test.py: error: {err}')
    if args.out and args.out_item in ('pred', None) and \
            cfg.model.get('head', {}).get('type') == 'AffectRegressionHead':
        raise SystemExit(
            f'tools/test.py: error: --out {args.out}: {args.config} is a '
            'stage-1 valence / arousal regressor, whose predictions are no '
            'class scores; save its metrics with --out FILE.json --out-item '
            'metrics')
    if args.tta:
        set_tta(cfg)
    runner = build_runner(cfg)
    if runner.distributed:
        runner.logger.info(
            f'Distributed testing: world size {get_world_size()}, '
            f'backend {torch.distributed.get_backend()}')
    if not args.non_strict:
        load_strict(runner, args.checkpoint, args.config)
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out) if args.out_pickle else
            SavePredictions(out_file_path=args.out))
    metrics = runner.test()
    del runner  # the DDP wrapper holds the process group
    leave_process_group()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
