"""A killed or pre-empted regulated run resumes to the uninterrupted result.

Runs (tools/train.py's ``main()`` in forked processes, CPU, one thread,
``randomness=dict(seed=0, deterministic=True)``) of a tiny learn-ereg model
(3 tiny ResNets with BatchNorm, RandomFlip in the pipeline, shuffled
sampler), 3 epochs of 8 iterations. Results must be
bit-identical to the uninterrupted run: same numbers in the same order.
"""
import os.path as osp
import re
import signal

import pytest
import torch
from mmengine.config import Config

from engine_configs import write_regulated_config
from runs import log_text, state_dict, train_in_forks, val_lines

AT = '2:3'  # the signal comes after epoch 2, batch 3 (iteration 11)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The uninterrupted run, a SIGKILLed and a SIGTERMed one, each
    followed by ``--resume``: through tools/train.py's ``main()`` in
    processes forked from one driver (a signal from outside, as a scheduler
    sends it); ``{work dir name: [(step, log text), ...]}`` plus the config
    and the root."""
    root = tmp_path_factory.mktemp('resume')
    config = write_regulated_config(root)
    steps = train_in_forks(root, [
        [config, 'straight', None, []],
        [config, 'killed', ['signal', 'SIGKILL', AT], []],
        [config, 'killed', None, ['--resume']],
        [config, 'preempted', ['signal', 'SIGTERM', AT], []],
        [config, 'preempted', None, ['--resume']],
    ])
    out = dict(config=config, root=str(root))
    for step in steps:
        out.setdefault(step['work_dir'], []).append(
            (step, open(step['log']).read()))
    assert out['straight'][0][0]['status'] == 0, out['straight'][0][1][-3000:]
    return out


def assert_same_result(runs, name):
    ref_dir = osp.join(runs['root'], 'straight')
    work_dir = osp.join(runs['root'], name)
    final = state_dict(osp.join(work_dir, 'epoch_3.pth'))
    expected = state_dict(osp.join(ref_dir, 'epoch_3.pth'))
    assert final.keys() == expected.keys()
    differ = [k for k in expected if not torch.equal(final[k], expected[k])]
    assert not differ, f'weights differ from the uninterrupted run: {differ}'
    # The final evaluation of the resumed run is the uninterrupted one's.
    assert val_lines(log_text(work_dir))[-1] == \
        val_lines(runs['straight'][0][1])[-1]


@pytest.mark.slow
def test_sigkill_then_resume_auto(runs):
    (killed, _), (resume, log) = runs['killed']
    assert killed['status'] == -signal.SIGKILL, killed
    # right after the kill: epoch 1's checkpoint, no epoch 2's
    assert killed['checkpoints'] == ['epoch_1.pth'], killed
    assert (killed['chosen'], killed['iter']) == ('epoch_1.pth', 8), killed
    work_dir = osp.join(runs['root'], 'killed')
    assert resume['status'] == 0, log[-3000:]
    assert 'resumed epoch: 1, iter: 8' in log
    assert 'Restored the random number generator states' in log
    assert_same_result(runs, 'killed')

    # The frozen emotional encoder is still the stage-1 checkpoint, BatchNorm
    # statistics included.
    stage1_path = Config.fromfile(
        runs['config']).model.backbone.emotional_checkpoint
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
def test_sigterm_saves_and_resumes_without_replay(runs):
    (preempted, output), (resume, log) = runs['preempted']
    assert preempted['status'] == 143, output[-3000:]
    work_dir = osp.join(runs['root'], 'preempted')
    ckpt = osp.join(work_dir, 'iter_11.pth')  # 8 + 3 iterations trained
    assert (preempted['chosen'], preempted['epoch'],
            preempted['iter']) == ('iter_11.pth', 1, 11), preempted
    assert preempted['pointer'] == ckpt
    assert 'SIGTERM: saving' in output

    assert resume['status'] == 0, log[-3000:]
    assert 'resumed epoch: 1, iter: 11' in log
    assert 'skipping its first 3 of 8 batches' in log
    resumed = log.split('resumed epoch: 1, iter: 11')[1]
    trained = re.findall(r'Epoch\(train\)\s*\[2\]\[\s*(\d+)/8\]', resumed)
    assert trained == ['4', '5', '6', '7', '8']  # no batch trained twice
    assert_same_result(runs, 'preempted')
