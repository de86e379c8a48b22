"""Evaluating a checkpoint under a config: ``tools/test.py``'s options
merged into the config, the runner built from it, and the strict loading of
the checkpoint. Shared by ``tools/test.py`` and the corruption evaluation
(:mod:`emoreg_mm.evaluation.corruptions`).

``args`` is an ``argparse.Namespace`` with what ``tools/test.py`` parses:
``config``, ``checkpoint``, ``work_dir``, ``launcher``, ``non_strict``,
``amp``, ``cfg_options``, ``tracker``, the stage-1 options of
:func:`emoreg_mm.cli.add_stage1_args`, ``data_root`` and ``exclude_file``.
"""
import sys


def merge_test_args(cfg, args, prog: str = 'tools/test.py'):
    """Merge command-line arguments into the config.

    Args:
        cfg (Config): The test config.
        args (Namespace): What ``tools/test.py`` parses (module docstring).
        prog (str): The command named in an error message.

    Returns:
        Config: ``cfg``, merged. Bad input (an unknown key, a missing or
        unsafe stage-1 checkpoint, a missing data root) exits with a
        message naming it.
    """
    from .. import cli
    from ..compat import (DamagedCheckpointError, UnsafeCheckpointError,
                          ddp_wrapper_cfg)
    from ..datasets.base_affective import is_affective
    from ..datasets.vocabulary import EmotionVocabularyError
    from ..engine.runner import set_emotion_classes
    from ..engine.runner.tracking import TrackerError, set_tracker
    cfg.launcher = args.launcher
    cli.set_work_dir(cfg, args.work_dir, args.config)
    # Strict loading is load_strict's; --non-strict keeps mmengine's.
    cfg.load_from = args.checkpoint if args.non_strict else None
    if args.amp:
        cfg.test_cfg.fp16 = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cli.fit_dataloaders(cfg)
    try:
        cli.set_stage1(cfg, args)
        set_emotion_classes(cfg, args.checkpoint)
        cli.set_data_root(cfg, args.data_root)
        cli.set_exclude_file(cfg, args.exclude_file, is_affective)
        set_tracker(cfg, getattr(args, 'tracker', None))
    except (cli.ConfigKeyError, FileNotFoundError, DamagedCheckpointError,
            UnsafeCheckpointError, EmotionVocabularyError,
            TrackerError) as err:
        sys.exit(f'{prog}: error: {err}')
    if cfg.launcher != 'none':
        ddp_wrapper_cfg(cfg)
    return cfg


def build_runner(cfg):
    """The runner of ``cfg`` (its ``runner_type`` when it names one)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)


def load_strict(runner, checkpoint: str, config: str,
                prog: str = 'tools/test.py') -> None:
    """Load ``checkpoint`` into the model, every weight; exit with a clear
    error naming the file when it cannot be read or does not fit."""
    from ..compat import DamagedCheckpointError, UnsafeCheckpointError
    try:
        runner.load_checkpoint(checkpoint, strict=True)
    except (FileNotFoundError, DamagedCheckpointError, UnsafeCheckpointError,
            ValueError) as err:  # ValueError: another emotion vocabulary
        sys.exit(f'{prog}: error: {err}')
    except RuntimeError as err:
        detail = ' '.join(str(err).split())
        if len(detail) > 800:
            detail = detail[:800] + ' ...'
        sys.exit(f'{prog}: error: checkpoint {checkpoint} does not fit '
                 f'the model of {config} (another architecture or number of '
                 f'classes?): {detail}. Pass --non-strict to evaluate with '
                 'the weights that do fit.')
