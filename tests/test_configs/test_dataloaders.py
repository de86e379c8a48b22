"""The 224-px recipes' dataloaders as a user's child config inherits them
through ``emoreg_mm::``: each batch stacked into one tensor by mmengine's
default_collate."""
import torch
from affective_fixtures import make_cifar
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.datasets import CIFAR10

from emoreg_mm.engine.runner.training import merge_train_args
from emoreg_mm.utils import register_all_modules

CHILD = """_base_ = ['emoreg_mm::_base_/datasets/cifar10.py']
train_dataloader = dict(batch_size=3, dataset=dict(
    data_root={root!r}, val_size=8))
"""


def test_a_child_config_stacks_batches_with_default_collate(
        tmp_path, monkeypatch):
    register_all_modules(init_default_scope=False)
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    root = make_cifar(str(tmp_path / 'cifar10'), 10, per_file=4)
    config = tmp_path / 'child.py'
    config.write_text(CHILD.format(root=root))
    inherited = Config.fromfile(str(config)).train_dataloader.collate_fn
    # mmengine marks the package's dicts; passed on, the call fails
    assert inherited == dict(type='default_collate', _scope_='emoreg_mm')
    from launch_utils import load_tool
    args = load_tool('train.py').parse_args([
        str(config), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        'train_dataloader.num_workers=0'])
    cfg = merge_train_args(Config.fromfile(str(config)), args)
    assert cfg.train_dataloader.collate_fn == dict(type='default_collate')
    batch = next(iter(Runner.build_dataloader(cfg.train_dataloader)))
    assert isinstance(batch['inputs'], torch.Tensor)
    assert batch['inputs'].shape == (3, 3, 32, 32)
    assert len(batch['data_samples']) == 3
