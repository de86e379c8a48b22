from .affect_cache_hook import AffectCacheHook
from .checkpoint_hook import AtomicCheckpointHook
from .finite_loss_hook import FiniteLossHook, NonFiniteError
from .paired_init_hook import PairedInitHook
from .preemption_hook import PreemptionHook
from .preflight_check_hook import PreflightCheckHook
from .preprocess_record_hook import PreprocessRecordHook
from .random_state_hook import RandomStateHook
from .regulation_monitor_hook import RegulationMonitorHook
from .sync_buffers_hook import SyncTrainedBuffersHook
from .tracking_hook import TrackingHook

__all__ = [
    'AffectCacheHook', 'AtomicCheckpointHook', 'FiniteLossHook',
    'NonFiniteError', 'PairedInitHook',
    'PreemptionHook', 'PreflightCheckHook', 'PreprocessRecordHook',
    'RandomStateHook', 'RegulationMonitorHook', 'SyncTrainedBuffersHook',
    'TrackingHook'
]
