"""A run killed at any point resumes to the uninterrupted result.

SIGKILL lands between iterations, in the middle of a checkpoint write, right
after it, in the middle of the ``last_checkpoint`` update and just before an
outdated checkpoint is removed (``max_keep_ckpts`` 1 and 2), once from
outside during a deliberately slow write, and once the newest checkpoint is
truncated on disk. After every kill a complete checkpoint of the last
finished save is there to resume from, and every resumed run ends with the
weights of the uninterrupted run, bit for bit. The steps run through
``tools/train.py``'s ``main()`` in processes forked from one driver
(``kill_sweep.py``), so the sweep costs one interpreter start.
"""
import os.path as osp
import signal

import pytest
import torch

from plain_config import make_plain_config
from runs import train_in_forks

KILLED = -signal.SIGKILL

OVERRIDES = '''
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root={root!r}, with_label=True,
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='RandomFlip', prob=0.5),
                           dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=True))
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=3,
                 val_interval=3)
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                    max_keep_ckpts={keep}),
    logger=dict(type='LoggerHook', interval=1))
custom_hooks = [dict(type='RandomStateHook'), dict(type='FiniteLossHook')]
randomness = dict(seed=0, deterministic=True)
'''

# (work dir, kill point, checkpoint a resume picks afterwards, its iter).
# 3 epochs of 2 iterations: epoch_N.pth holds iteration 2N.
KEEP1 = [
    ('keep1', ['iter', 1], None, None),
    ('keep1', ['write', 'epoch_1.pth'], None, None),
    ('keep1', ['written', 'epoch_1.pth'], 'epoch_1.pth', 2),
    ('keep1', ['iter', 3], 'epoch_1.pth', 2),
    ('keep1', ['slow', 'epoch_2.pth'], 'epoch_1.pth', 2),
    ('keep1', ['remove', 'epoch_1.pth'], 'epoch_2.pth', 4),
    ('keep1', ['pointer', 'epoch_3.pth'], 'epoch_2.pth', 4),
    ('keep1', ['write', 'epoch_3.pth'], 'epoch_2.pth', 4),
    ('keep1', ['truncate', 'epoch_3.pth'], 'epoch_2.pth', 4),
    # last_checkpoint names a damaged file: back to epoch_1, which the
    # kill before its removal left.
    ('keep1', ['truncate', 'epoch_2.pth'], 'epoch_1.pth', 2),
    ('keep1', None, 'epoch_3.pth', 6),
]
KEEP2 = [
    ('keep2', ['written', 'epoch_1.pth'], 'epoch_1.pth', 2),
    ('keep2', ['iter', 3], 'epoch_1.pth', 2),
    ('keep2', ['pointer', 'epoch_3.pth'], 'epoch_2.pth', 4),
    ('keep2', ['remove', 'epoch_1.pth'], 'epoch_3.pth', 6),
    ('keep2', None, 'epoch_3.pth', 6),
]


def _config(tmp_path, keep):
    config = make_plain_config(tmp_path, max_epochs=3)
    with open(config) as f:
        text = f.read()
    path = str(tmp_path / f'keep{keep}.py')
    with open(path, 'w') as f:
        f.write(text + OVERRIDES.format(root=str(tmp_path / 'data'),
                                        keep=keep))
    return path


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)[
        'state_dict']


@pytest.mark.slow
def test_kill_anywhere_then_resume(tmp_path):
    configs = {keep: _config(tmp_path, keep) for keep in (1, 2)}
    plan = [(configs[1], 'straight', None, None, None)] + [
        (configs[int(name[-1])], name, kill, chosen, it)
        for name, kill, chosen, it in KEEP1 + KEEP2]
    steps = train_in_forks(tmp_path, [[config, name, kill]
                                      for config, name, kill, *_ in plan])
    print('seconds per step:', [s['seconds'] for s in steps])
    assert steps[0]['status'] == 0, open(steps[0]['log']).read()[-3000:]
    for step, (_, _, kill, chosen, it) in zip(steps[1:], plan[1:]):
        log = open(step['log']).read() if osp.exists(step['log']) else ''
        if kill is None:
            assert step['status'] == 0, log[-3000:]
        elif kill[0] != 'truncate':
            # The kill point was reached (the run did not end on its own).
            assert step['status'] == KILLED, (step, log[-3000:])
        # A complete checkpoint of the last finished save is there.
        assert (step['chosen'], step['iter']) == (chosen, it), step

    expected = _weights(osp.join(tmp_path, 'straight', 'epoch_3.pth'))
    for keep in (1, 2):
        final = _weights(osp.join(tmp_path, f'keep{keep}', 'epoch_3.pth'))
        differ = [k for k in expected
                  if not torch.equal(final[k], expected[k])]
        assert final.keys() == expected.keys() and not differ, (keep, differ)
        logs = [open(s['log']).read() for s in steps
                if s['work_dir'] == f'keep{keep}' and osp.exists(s['log'])]
        # Each resume after a kill took over the dead run's work-dir lock.
        assert all('Took over the lock of work dir' in log
                   for log in logs[1:]), keep
    keep1 = [open(s['log']).read() for s in steps
             if s['work_dir'] == 'keep1' and osp.exists(s['log'])]
    # Nothing saved yet: a WARNING line, and a start from scratch.
    assert 'WARNING - --resume: no intact checkpoint in' in keep1[0]
    final_log = keep1[-1]
    assert 'skipped' in final_log and 'epoch_2.pth: it is a truncated' in \
        final_log and 'Resuming from' in final_log
    assert 'resumed epoch: 1, iter: 2' in final_log
