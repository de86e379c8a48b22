# mmpretrain's runtime defaults, with the plugin imported and a fixed seed.
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['emoreg_mm'], allow_failed_imports=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=2,
        save_best='auto'))
randomness = dict(seed=0, deterministic=False)
