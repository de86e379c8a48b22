from .loops import ResumableEpochBasedTrainLoop
from .preflight import ConfigKeyError, WorkDirError, check_cfg_options, \
    check_work_dir

__all__ = [
    'ResumableEpochBasedTrainLoop', 'ConfigKeyError', 'WorkDirError',
    'check_cfg_options', 'check_work_dir'
]
