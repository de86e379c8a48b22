"""Training under a config: ``tools/train.py``'s options merged into the
config, and which checkpoint ``--resume`` without a file resumes from.

``args`` is an ``argparse.Namespace`` with what ``tools/train.py`` parses:
``config``, ``work_dir``, ``resume``, ``amp``, ``no_validate``,
``auto_scale_lr``, ``cfg_options``, ``cfg_add``, ``launcher``, ``tracker``,
the stage-1
options of :func:`emoreg_mm.cli.add_stage1_args`, ``data_root`` and
``exclude_file``.
"""
from ...cli import (check_cfg_options, fit_dataloaders, set_data_root,
                    set_exclude_file, set_stage1, set_work_dir)
from ...compat import ddp_wrapper_cfg
from ...datasets.base_affective import is_affective
from .emotions import set_emotion_classes
from .resume import describe_resume, find_resumable_checkpoint
from .tracking import set_tracker


def merge_train_args(cfg, args):
    """Merge ``tools/train.py``'s command-line arguments into the config.

    Args:
        cfg (Config): The training config.
        args (Namespace): What ``tools/train.py`` parses (module docstring).

    Returns:
        Config: ``cfg``, merged. An unknown ``--cfg-options`` key raises
        :class:`~emoreg_mm.cli.ConfigKeyError` naming the closest ones.
    """
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.work_dir, args.config)
    if args.amp:
        set_amp(cfg, args.amp)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    if args.cfg_add is not None:
        cfg.merge_from_dict(args.cfg_add)
    fit_dataloaders(cfg)
    set_stage1(cfg, args)
    set_tracker(cfg, getattr(args, 'tracker', None))
    set_emotion_classes(cfg)
    set_data_root(cfg, args.data_root)
    set_exclude_file(cfg, args.exclude_file, is_affective)
    if cfg.launcher != 'none':
        ddp_wrapper_cfg(cfg)
    return cfg


def amp_dtype_name(amp) -> str:
    """``--amp``'s dtype: ``'bf16'`` / ``'fp16'`` as given; ``'auto'`` (or
    True) bf16 where the CUDA device supports it, else fp16."""
    if amp in ('bf16', 'fp16'):
        return amp
    import torch
    return 'bf16' if torch.cuda.is_available() and \
        torch.cuda.is_bf16_supported() else 'fp16'


def set_amp(cfg, amp) -> None:
    """Mixed precision through mmengine's ``AmpOptimWrapper``: bf16 without
    loss scaling (its exponent range is float32's), fp16 with dynamic loss
    scaling. A ``loss_scale`` the config sets is kept."""
    dtype = amp_dtype_name(amp)
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.dtype = dict(bf16='bfloat16', fp16='float16')[dtype]
    cfg.optim_wrapper.setdefault(
        'loss_scale', 'dynamic' if dtype == 'fp16' else dict(enabled=False))


def resolve_resume(cfg, args):
    """``--resume`` without a file: the checkpoint ``last_checkpoint``
    names if intact, else the newest intact one; none: start from scratch.
    Returns the warning to log, or None."""
    if args.resume != 'auto':
        return None
    chosen, skipped = find_resumable_checkpoint(cfg.work_dir)
    cfg.resume, cfg.load_from = chosen is not None, chosen
    return describe_resume(cfg.work_dir, chosen, skipped)
