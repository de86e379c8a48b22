from .finite_loss_hook import FiniteLossHook, NonFiniteError
from .preemption_hook import PreemptionHook
from .preflight_check_hook import PreflightCheckHook
from .random_state_hook import RandomStateHook

__all__ = [
    'FiniteLossHook', 'NonFiniteError', 'PreemptionHook',
    'PreflightCheckHook', 'RandomStateHook'
]
