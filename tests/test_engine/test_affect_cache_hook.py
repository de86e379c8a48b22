"""AffectCacheHook through the Runner: the fill pass before training, in
the training dtype (float32 here), with the train dataloader's workers."""
import glob
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

from emoreg_mm.engine.hooks.affect_cache_hook import amp_dtype
from engine_configs import write_regulated_config


def test_fill_pass_before_training(tmp_path):
    config = write_regulated_config(
        tmp_path, max_epochs=1, extra_hooks=[dict(type='AffectCacheHook')])
    cfg = Config.fromfile(config)
    cache_dir = str(tmp_path / 'cache')
    cfg.model.backbone.affect_cache = dict(cache_dir=cache_dir)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert amp_dtype(runner.optim_wrapper) is None
    cache = runner.model.backbone.affect_cache
    assert len(cache) == len(runner.train_dataloader.dataset) == 16
    assert not cache.dataset_id.endswith('bfloat16')
    assert len(glob.glob(osp.join(cache_dir, 'affect-*.pth'))) == 1
