"""What training sees of a regulated model: its optimizer and its stage-1
checkpoint found from the stage-1 work dir."""
import os
import shutil

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from conftest import build_regulated


def test_frozen_encoder_is_not_in_the_optimizer(resnet_stage1):
    model = build_regulated('resnet', 'learn-ereg', resnet_stage1[0])
    frozen = {id(p) for p in model.backbone.frozen_parameters()}
    assert frozen  # E and g_E exist
    init_default_scope('mmpretrain')  # as configs set default_scope
    wrapper = build_optim_wrapper(
        model,
        dict(constructor='TrainableParamsOptimWrapperConstructor',
             optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    optimized = {id(p) for g in wrapper.optimizer.param_groups
                 for p in g['params']}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert optimized == trainable and not optimized & frozen


def test_stage1_work_dir_resolves_to_its_latest_checkpoint(
        tmp_path, resnet_stage1):
    work_dir = tmp_path / 'resnet_emoset'
    work_dir.mkdir()
    shutil.copy(resnet_stage1[0], work_dir / 'epoch_3.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_3.pth'))
    model = build_regulated('resnet', 'ereg', str(work_dir))
    expected = resnet_stage1[1]
    for key, value in model.backbone.encoder_e.state_dict().items():
        assert torch.equal(value, expected[key])

    os.remove(work_dir / 'last_checkpoint')
    with pytest.raises(FileNotFoundError) as err:
        build_regulated('resnet', 'ereg', str(work_dir))
    message = str(err.value)
    assert 'python tools/train.py emoreg_pretrain/tiny_emoset.py' in message
    assert 'mim train emoreg_mm tiny_emoset' in message  # installed package
    assert 'model.backbone.emotional_checkpoint=PATH' in message
