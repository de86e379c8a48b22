"""Train a model from a config: ``python tools/train.py CONFIG [options]``.

The command-line interface is mmpretrain's ``tools/train.py``. ``main``
registers the plugin's components and applies its compatibility layer
(safe checkpoints, CPU-only distributed training) before reading the
config (:func:`emoreg_mm.utils.register_all_modules`).
"""
import argparse
import os
import sys
import warnings

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_world_size
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from emoreg_mm.cli import (ConfigKeyError, WorkDirError, add_data_root_arg,
                           add_stage1_args, add_tracker_arg, check_work_dir)
from emoreg_mm.compat.dist import accelerator_present, leave_process_group
from emoreg_mm.config_names import resolve_config
from emoreg_mm.datasets.vocabulary import EmotionVocabularyError
from emoreg_mm.engine.runner.tracking import TrackerError
from emoreg_mm.engine.runner.training import merge_train_args, resolve_resume
from emoreg_mm.engine.runner.work_dir_lock import WorkDirLock, launcher_rank
from emoreg_mm.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument(
        'config',
        help='train config file path, or a config name as `mim search '
        'emoreg_mm` lists it')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or with no value from the '
        'checkpoint last_checkpoint names in the work directory (the newest '
        'intact one if that file is missing or damaged, with a warning; '
        'from scratch, with a warning, when there is none)')
    parser.add_argument(
        '--amp',
        nargs='?',
        const='auto',
        choices=['auto', 'bf16', 'fp16'],
        help='mixed-precision training through mmengine\'s AmpOptimWrapper: '
        'bf16, or fp16 with dynamic loss scaling; alone, bf16 where the '
        'device supports it, else fp16')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, as key=value pairs, e.g. '
        'train_cfg.max_epochs=10 or key="[a,b]". Each dotted key must exist '
        'in the config (a typo fails, naming the closest key); a key without '
        'a dot may add a new top-level variable')
    parser.add_argument(
        '--cfg-add',
        nargs='+',
        action=DictAction,
        help='add new keys to the config on purpose, unchecked, e.g. '
        'model.backbone.drop_path_rate=0.1 when the config does not set it')
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
    if args.amp and not accelerator_present():
        parser.error('--amp needs a GPU (mmengine\'s AmpOptimWrapper runs on '
                     'CUDA, NPU, MLU or MUSA) and this machine has none: '
                     'train without --amp (float32 on the CPU).')
    try:
        args.config = resolve_config(args.config)
    except FileNotFoundError as err:
        parser.error(str(err))
    return args


def main(argv=None):
    """Run with ``argv`` (default: the command line)."""
    register_all_modules(init_default_scope=False)
    args = parse_args(argv)
    notes, lock = [], None
    try:
        cfg = merge_train_args(Config.fromfile(args.config), args)
        check_work_dir(cfg.work_dir)  # before building anything heavy
        if launcher_rank() == 0:  # the ranks of one job share the work dir
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                lock = WorkDirLock(cfg.work_dir).acquire()
            notes += [str(w.message) for w in caught]
        notes.append(resolve_resume(cfg, args))
    except (ConfigKeyError, WorkDirError, EmotionVocabularyError,
            TrackerError) as err:
        sys.exit(f'tools/train.py: error: {err}')
    try:
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
            else RUNNERS.build(cfg)
        for note in filter(None, notes):
            runner.logger.warning(note)
        if runner.distributed:
            runner.logger.info(
                f'Distributed training: world size {get_world_size()}, '
                f'backend {torch.distributed.get_backend()}')
        runner.train()
        del runner  # the DDP wrapper holds the process group
        leave_process_group()
    finally:
        if lock is not None:  # called in-process: the work dir is free again
            lock.release()


if __name__ == '__main__':
    main()
