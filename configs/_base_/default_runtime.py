# Runtime defaults: mmpretrain's (configs/_base_/default_runtime.py) in the
# plugin's scope (its components register on first use, with mmpretrain's),
# sized for GPUs: a checkpoint every 10 epochs (plus the last epoch's; two
# kept plus the best), cuDNN's autotuner on (fixed input sizes), and a
# fixed seed. The small CPU configs (configs/demo) keep a checkpoint each
# epoch.
default_scope = 'emoreg_mm'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, writing atomically and removing old
    # checkpoints only once the new one is complete.
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=10, max_keep_ckpts=2,
        save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
# emoreg_mm/engine/hooks: rho and affective-state statistics in the logs;
# reliability: checks before the first step (against what stage 1 recorded
# in its checkpoints' meta, e.g. the preprocessing), a stop on non-finite losses
# that never overwrites good checkpoints, RNG state in checkpoints for exact
# resumption, and a checkpoint on SIGTERM (pre-emption); paired runs: at one
# seed every regulation mode starts N and its head from the same weights;
# distributed: the BatchNorm statistics of the trained encoders averaged
# over the ranks after each epoch (SyncTrainedBuffersHook).
custom_hooks = [
    dict(type='RegulationMonitorHook'),
    dict(type='PreflightCheckHook'),
    dict(type='PreprocessRecordHook'),
    dict(type='FiniteLossHook'),
    dict(type='RandomStateHook'),
    dict(type='PreemptionHook'),
    dict(type='PairedInitHook'),
    dict(type='SyncTrainedBuffersHook'),
]
