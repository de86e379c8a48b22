# Demo runtime: the default runtime (../../_base_/default_runtime.py) with
# a log line every 10 iterations, a checkpoint each epoch, one kept (plus
# the best) and
# the RegulationMonitorHook (rho / affect statistics in the logs), added
# unless the default runtime has it already.
_base_ = ['../../_base_/default_runtime.py']
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=1))
custom_hooks = _base_.custom_hooks + (
    [] if any(h.get('type') == 'RegulationMonitorHook'
              for h in _base_.custom_hooks)
    else [dict(type='RegulationMonitorHook')])
