"""Faults are caught before the first step, each with a clear error; a run
that turns non-finite stops without saving the broken weights."""
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from emoreg_mm.engine.hooks import NonFiniteError
from emoreg_mm.engine.runner import ConfigKeyError, check_cfg_options
from emoreg_mm.engine.runner.training import merge_train_args
from engine_configs import write_regulated_config
from plain_config import make_plain_config
from runs import REPO


def _train_tool():
    spec = importlib.util.spec_from_file_location(
        'emoreg_train_tool', osp.join(REPO, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_main(monkeypatch, *argv):
    """tools/train.py main() in-process; building the Runner fails the test
    (every fault here must be caught before)."""
    tool = _train_tool()
    monkeypatch.setattr(sys, 'argv', ['train.py', *argv])

    def must_not_build(*args, **kwargs):
        raise AssertionError('the Runner was built before the check')

    monkeypatch.setattr(tool.Runner, 'from_cfg', must_not_build)
    with pytest.raises(SystemExit) as exc:
        tool.main()
    return str(exc.value.code)


def _runner(config, tmp_path, **changes):
    """An in-process Runner (not deterministic: that mode is global)."""
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.randomness = dict(seed=0)
    cfg.experiment_name = f'{tmp_path.name}'
    cfg.merge_from_dict(changes)
    return Runner.from_cfg(cfg)


def test_unknown_cfg_option_names_the_closest_key(tmp_path, monkeypatch):
    config = make_plain_config(tmp_path)
    msg = _run_main(monkeypatch, config, '--cfg-options',
                    'train_cfg.max_epoch=3')
    assert "no 'train_cfg.max_epoch'" in msg
    assert 'Did you mean train_cfg.max_epochs' in msg and '--cfg-add' in msg

    cfg = Config.fromfile(config)
    with pytest.raises(ConfigKeyError, match='model.backbone.depth'):
        check_cfg_options(cfg, ['model.backbone.deph'])
    with pytest.raises(ConfigKeyError, match='is a value'):
        check_cfg_options(cfg, ['train_cfg.max_epochs.x'])
    # Existing keys, and new top-level variables, pass.
    check_cfg_options(cfg, ['train_cfg.max_epochs', 'emoreg_mode',
                            'model.head.loss.type'])

    args = _train_tool().parse_args([
        config, '--cfg-options', 'train_cfg.max_epochs=3',
        '--cfg-add', 'model.backbone.drop_path_rate=0.1'])
    cfg = merge_train_args(Config.fromfile(config), args)
    assert cfg.train_cfg.max_epochs == 3
    assert cfg.model.backbone.drop_path_rate == 0.1


def test_num_workers_zero_on_a_recipe_drops_the_worker_options():
    """A recipe keeps its workers alive; ``num_workers=0`` given on the
    command line (debugging in one process) must not stop in torch's
    DataLoader ('persistent_workers option needs num_workers > 0')."""
    from torch.utils.data import DataLoader
    config = osp.join(REPO, 'configs', 'emoreg',
                      'vit-b16_learn-ereg_cifar100.py')
    assert Config.fromfile(config).train_dataloader.persistent_workers
    args = _train_tool().parse_args([
        config, '--cfg-options', 'train_dataloader.num_workers=0'])
    cfg = merge_train_args(Config.fromfile(config), args)
    loader = cfg.train_dataloader
    assert 'persistent_workers' not in loader, loader
    assert cfg.val_dataloader.persistent_workers  # still has workers
    DataLoader(list(range(4)), batch_size=2, num_workers=0,
               **{k: v for k, v in loader.items()
                  if k in ('persistent_workers', 'pin_memory')})


def test_unwritable_work_dir_fails_before_building(tmp_path, monkeypatch):
    config = make_plain_config(tmp_path)
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a directory')
    work_dir = str(blocker / 'work')
    msg = _run_main(monkeypatch, config, '--work-dir', work_dir)
    assert f"Work dir '{work_dir}' is not writable" in msg
    assert '--work-dir' in msg


def test_dataset_classes_must_match_the_head(tmp_path):
    config = make_plain_config(tmp_path)
    runner = _runner(config, tmp_path, custom_hooks=[
        dict(type='PreflightCheckHook')], model=dict(head=dict(
            num_classes=3)))
    with pytest.raises(ValueError, match=r"2 classes \['a', 'b'\].*"
                       r'num_classes=3'):
        runner.train()
    assert runner.iter == 0


@pytest.mark.slow
def test_stage1_with_other_emotions_is_refused(tmp_path):
    config = write_regulated_config(
        tmp_path, emotions=['calm', 'joy', 'fear'],
        stage1_emotions=['joy', 'calm', 'fear'])
    runner = _runner(config, tmp_path)
    with pytest.raises(ValueError, match=r"trained on the emotions "
                       r"\['joy', 'calm', 'fear'\].*emotion_classes is "
                       r"\['calm', 'joy', 'fear'\]"):
        runner.train()
    assert runner.iter == 0


def test_stage1_of_another_backbone_is_refused(tmp_path):
    config = write_regulated_config(tmp_path, arch='resnet',
                                    stage1_arch='vit')
    runner = _runner(config, tmp_path)
    with pytest.raises(RuntimeError, match='missing keys'):
        runner.train()
    assert runner.iter == 0


class _BreakWeights(Hook):
    """Set a head weight to NaN at iteration ``at`` (0-based)."""

    def __init__(self, at, stage, priority):
        self.at, self.stage, self.priority = at, stage, priority

    def _break(self, runner):
        if runner.iter == self.at:
            with torch.no_grad():
                runner.model.head.fc.weight[0, 0] = float('nan')

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.stage == 'before':
            self._break(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.stage == 'after':
            self._break(runner)


def test_nan_loss_stops_naming_iteration_and_last_good_checkpoint(tmp_path):
    runner = _runner(make_plain_config(tmp_path), tmp_path,
                     custom_hooks=[dict(type='FiniteLossHook')])
    # 2 iterations per epoch: the 4th iteration's loss is NaN.
    runner.register_hook(_BreakWeights(3, 'before', 'NORMAL'))
    good = osp.join(runner.work_dir, 'epoch_1.pth')
    with pytest.raises(NonFiniteError) as exc:
        runner.train()
    assert 'iteration 4 (epoch 2, batch 2)' in str(exc.value)
    assert f'last good checkpoint is {good}' in str(exc.value)
    assert not osp.exists(osp.join(runner.work_dir, 'epoch_2.pth'))
    weights = torch.load(good, weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in weights.values()
               if v.is_floating_point())


def test_non_finite_weights_are_never_saved(tmp_path):
    runner = _runner(make_plain_config(tmp_path), tmp_path,
                     custom_hooks=[dict(type='FiniteLossHook')])
    # Broken after the last loss of epoch 1 was checked: the epoch-end
    # checkpoint is refused.
    runner.register_hook(_BreakWeights(1, 'after', 'LOWEST'))
    with pytest.raises(NonFiniteError,
                       match='non-finite weights head.fc.weight.*No '
                       'checkpoint was saved'):
        runner.train()
    assert not osp.exists(osp.join(runner.work_dir, 'epoch_1.pth'))
    assert not osp.exists(osp.join(runner.work_dir, 'last_checkpoint'))


def test_amp_without_a_gpu_is_one_line_naming_what_works(capsys):
    """mmengine's AmpOptimWrapper asserts deep in the Runner on a CPU;
    tools/train.py says it before anything is built."""
    from launch_utils import load_tool
    if torch.cuda.is_available():
        pytest.skip('this machine has a GPU: --amp works here')
    with pytest.raises(SystemExit) as exit_:
        load_tool('train.py').parse_args(
            [osp.join(REPO, 'configs/demo/tiny-resnet_baseline_digits.py'),
             '--amp'])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert '--amp needs a GPU' in err and 'train without --amp' in err
