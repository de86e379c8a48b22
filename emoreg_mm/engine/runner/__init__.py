from .loops import ResumableEpochBasedTrainLoop
from .preflight import (ConfigKeyError, WorkDirError, add_stage1_args,
                        check_cfg_options, check_work_dir, set_stage1)

__all__ = [
    'ResumableEpochBasedTrainLoop', 'ConfigKeyError', 'WorkDirError',
    'add_stage1_args', 'check_cfg_options', 'check_work_dir', 'set_stage1'
]
