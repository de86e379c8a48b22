"""``tools/train.py --amp [bf16|fp16]``: the dtype, through mmengine's
AmpOptimWrapper (built only on a GPU; the config it gets is checked)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from emoreg_mm.engine.runner.training import set_amp
from launch_utils import load_tool
from runs import REPO

CONFIG = osp.join(REPO, 'configs/demo/tiny-resnet_baseline_digits.py')


@pytest.mark.parametrize('argv, amp', [([], None), (['--amp'], 'auto'),
                                       (['--amp', 'bf16'], 'bf16'),
                                       (['--amp', 'fp16'], 'fp16')])
def test_amp_takes_a_dtype(monkeypatch, argv, amp):
    tool = load_tool('train.py')
    monkeypatch.setattr(tool, 'accelerator_present', lambda: True)
    assert tool.parse_args([CONFIG, *argv]).amp == amp


def test_amp_refuses_other_dtypes(monkeypatch, capsys):
    tool = load_tool('train.py')
    monkeypatch.setattr(tool, 'accelerator_present', lambda: True)
    with pytest.raises(SystemExit):
        tool.parse_args([CONFIG, '--amp', 'fp8'])
    assert "invalid choice: 'fp8'" in capsys.readouterr().err


@pytest.mark.parametrize('bf16_device', [False, True])
def test_amp_config(monkeypatch, bf16_device):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: bf16_device)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: bf16_device)
    for amp, dtype, scale in [('bf16', 'bfloat16', dict(enabled=False)),
                              ('fp16', 'float16', 'dynamic'),
                              ('auto', 'bfloat16' if bf16_device else
                               'float16', dict(enabled=False)
                               if bf16_device else 'dynamic')]:
        cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD'))))
        set_amp(cfg, amp)
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        assert (cfg.optim_wrapper.dtype, cfg.optim_wrapper.loss_scale) == \
            (dtype, scale), amp
    # a loss scale of the config's own stays
    cfg = Config(dict(optim_wrapper=dict(loss_scale=512.)))
    set_amp(cfg, 'fp16')
    assert cfg.optim_wrapper.loss_scale == 512.
