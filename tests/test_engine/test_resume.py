"""A killed or pre-empted regulated run resumes to the uninterrupted result.

Runs (CPU, one thread, ``randomness=dict(seed=0, deterministic=True)``) of
a tiny learn-ereg model (3 tiny ResNets with BatchNorm, RandomFlip in the
pipeline, shuffled sampler), 3 epochs of 8 iterations. Results must be
bit-identical to the uninterrupted run: same numbers in the same order.
"""
import os.path as osp
import re
import signal

import pytest
import torch
from mmengine.config import Config

from engine_configs import write_regulated_config
from runs import log_text, state_dict, train, train_until, val_lines

EPOCH2_BATCH3 = r'Epoch\(train\)\s*\[2\]\[\s*3/8\]'


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """(config, work dir, output) of the uninterrupted run."""
    tmp = tmp_path_factory.mktemp('resume')
    config = write_regulated_config(tmp)
    work_dir = str(tmp / 'straight')
    _, log = train(config, work_dir)
    return config, work_dir, log


def assert_same_result(work_dir, reference):
    _, ref_dir, ref_log = reference
    final = state_dict(osp.join(work_dir, 'epoch_3.pth'))
    expected = state_dict(osp.join(ref_dir, 'epoch_3.pth'))
    assert final.keys() == expected.keys()
    differ = [k for k in expected if not torch.equal(final[k], expected[k])]
    assert not differ, f'weights differ from the uninterrupted run: {differ}'
    # The final evaluation of the resumed run is the uninterrupted one's.
    assert val_lines(log_text(work_dir))[-1] == val_lines(ref_log)[-1]


@pytest.mark.slow
def test_sigkill_then_resume_auto(tmp_path, reference):
    config = reference[0]
    work_dir = str(tmp_path / 'killed')
    code, _ = train_until(config, work_dir, EPOCH2_BATCH3, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))

    _, log = train(config, work_dir, '--resume')
    assert 'resumed epoch: 1, iter: 8' in log
    assert 'Restored the random number generator states' in log
    assert_same_result(work_dir, reference)

    # The frozen emotional encoder is still the stage-1 checkpoint, BatchNorm
    # statistics included.
    stage1_path = Config.fromfile(config).model.backbone.emotional_checkpoint
    stage1 = state_dict(stage1_path)
    final = state_dict(osp.join(work_dir, 'epoch_3.pth'))
    assert any('running_mean' in k for k in stage1)
    for key, value in stage1.items():
        if key.startswith('data_preprocessor.'):
            continue
        if key.startswith('head.fc.'):
            mine = 'backbone.emotion_head.' + key[len('head.fc.'):]
        else:
            mine = 'backbone.encoder_e.' + key
        assert torch.equal(final[mine], value), mine


@pytest.mark.slow
def test_sigterm_saves_and_resumes_without_replay(tmp_path, reference):
    config = reference[0]
    work_dir = str(tmp_path / 'preempted')
    code, output = train_until(config, work_dir, EPOCH2_BATCH3,
                               signal.SIGTERM)
    assert code == 143, output[-3000:]
    ckpt = osp.join(work_dir, 'iter_11.pth')  # 8 + 3 iterations trained
    meta = torch.load(ckpt, weights_only=True)['meta']
    assert (meta['epoch'], meta['iter']) == (1, 11)
    assert open(osp.join(work_dir, 'last_checkpoint')).read() == ckpt
    assert 'SIGTERM: saving' in output

    _, log = train(config, work_dir, '--resume')
    assert 'resumed epoch: 1, iter: 11' in log
    assert 'skipping its first 3 of 8 batches' in log
    resumed = log.split('resumed epoch: 1, iter: 11')[1]
    trained = re.findall(r'Epoch\(train\)\s*\[2\]\[\s*(\d+)/8\]', resumed)
    assert trained == ['4', '5', '6', '7', '8']  # no batch trained twice
    assert_same_result(work_dir, reference)
