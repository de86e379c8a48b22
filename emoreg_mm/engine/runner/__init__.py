from .emotions import set_emotion_classes
from .loops import ResumableEpochBasedTrainLoop
from ...cli import (ConfigKeyError, WorkDirError, add_checkpoint_args,
                        add_data_root_arg, add_stage1_args, check_cfg_options,
                        check_work_dir, resolve_checkpoint_args,
                        set_data_root, set_exclude_file, set_stage1)

__all__ = [
    'ResumableEpochBasedTrainLoop', 'ConfigKeyError', 'WorkDirError',
    'add_checkpoint_args', 'add_data_root_arg', 'add_stage1_args',
    'check_cfg_options', 'check_work_dir', 'resolve_checkpoint_args',
    'set_data_root', 'set_emotion_classes', 'set_exclude_file', 'set_stage1'
]
