"""README.md's "Running both stages" and "Reading the results" commands, run
as written in a directory laid out like the repository.

The sandbox links every top-level entry of the repository (``tools/``,
``emoreg_mm/``, ...) except ``configs/``, ``data/`` and ``work_dirs/``; its
``python`` (first on ``PATH``) is this test's interpreter, and every command
is a real process (the tools, torchrun and its ranks), as a user runs it.
Substitutions, the only differences to what a user runs:

- ``configs/emoreg_pretrain/vit-b16_emoset.py`` and
  ``configs/emoreg/vit-b16_learn-ereg_cifar100.py`` are same-named configs
  that inherit the real leaves (``emoreg_mm::``) and shrink them: a ViT-B/16
  of 1 layer x 8 dims without ImageNet weights, batches of 2, 1 epoch; stage
  2's target is a 10-class image folder instead of CIFAR-100 (a tiny CIFAR
  copy fails mmpretrain's md5 check);
- ``data/EmoSet-118K`` is the fixture EmoSet in its native layout;
- 8 GPUs -> 2 CPU processes on gloo, two nodes -> 2 x 1 process on this
  machine (``MASTER_ADDR`` 127.0.0.1, a free ``PORT``), ``CONFIG`` -> the
  stage-1 config, ``CKPT`` -> stage 2's last checkpoint.
"""
import os
import subprocess

import pytest

import affective_fixtures as fx
from launch_utils import check_stages, free_port, repo_sandbox

STAGE1 = 'vit-b16_emoset'
STAGE2 = 'vit-b16_learn-ereg_cifar100'

TINY = '''
tiny = dict(arch=dict(_delete_=True, embed_dims=8, num_layers=1, num_heads=1,
                      feedforward_channels=16), init_cfg=None)
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = loader
val_dataloader = loader
test_dataloader = loader
train_cfg = dict(max_epochs=1)
'''
STAGE1_CFG = f'''
_base_ = ['emoreg_mm::emoreg_pretrain/{STAGE1}.py']
{TINY}
model = dict(backbone=tiny, head=dict(in_channels=8))
'''
STAGE2_CFG = f'''
_base_ = ['emoreg_mm::emoreg/{STAGE2}.py']
{TINY}
model = dict(backbone=dict(backbone=tiny, in_channels=8),
             head=dict(in_channels=8, num_classes=10))
# a 10-class image folder (BGR files: to_rgb, as stage 1)
data_preprocessor = dict(num_classes=10, to_rgb=True)
pipeline = [dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=224), dict(type='PackInputs')]
target = dict(_delete_=True, type='CustomDataset', data_root={{root!r}},
              pipeline=pipeline)
train_dataloader = dict(dataset=dict(target, data_prefix='train'))
val_dataloader = dict(dataset=dict(target, data_prefix='test'))
test_dataloader = val_dataloader
'''


def run(command, cwd, env, timeout=600):
    """Run one README command line with bash; return its output."""
    proc = subprocess.run(['bash', '-c', command], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'$ {command}\n{out[-5000:]}'
    return out


def last_checkpoint(box, name):
    return (box / 'work_dirs' / name / 'last_checkpoint').read_text().strip()


def written(box, name):
    """When the checkpoint ``last_checkpoint`` names was written (ns; 0
    before the first)."""
    pointer = box / 'work_dirs' / name / 'last_checkpoint'
    return os.stat(last_checkpoint(box, name)).st_mtime_ns \
        if pointer.is_file() else 0


@pytest.mark.slow
@pytest.mark.readme('python tools/analysis_tools/check_dataset.py '
                    'configs/emoreg_pretrain/vit-b16_emoset.py')
@pytest.mark.readme('python tools/train.py '
                    'configs/emoreg_pretrain/vit-b16_emoset.py')
@pytest.mark.readme('python tools/train.py '
                    'configs/emoreg/vit-b16_learn-ereg_cifar100.py')
@pytest.mark.readme('python tools/test.py '
                    'configs/emoreg/vit-b16_learn-ereg_cifar100.py '
                    '--checkpoint $(cat work_dirs/vit-b16_learn-ereg_cifar100'
                    '/last_checkpoint) --out preds.npz')
@pytest.mark.readme('bash tools/dist_train.sh '
                    'configs/emoreg_pretrain/vit-b16_emoset.py 8')
@pytest.mark.readme('bash tools/dist_train.sh '
                    'configs/emoreg/vit-b16_learn-ereg_cifar100.py 8')
@pytest.mark.readme('bash tools/dist_test.sh '
                    'configs/emoreg/vit-b16_learn-ereg_cifar100.py CKPT 8')
@pytest.mark.readme('NNODES=2 NODE_RANK=0 MASTER_ADDR=10.1.1.1 PORT=29500 '
                    'bash tools/dist_train.sh CONFIG 8')
@pytest.mark.readme('NNODES=2 NODE_RANK=1 MASTER_ADDR=10.1.1.1 PORT=29500 '
                    'bash tools/dist_train.sh CONFIG 8')
@pytest.mark.readme("python tools/analysis_tools/results_table.py "
                    "'work_dirs/*' --out results")
def test_running_both_stages(tmp_path):
    box, env = repo_sandbox(tmp_path)
    fx.make_emoset(str(box / 'data' / 'EmoSet-118K'))
    target = tmp_path / 'target'
    for split, count in (('train', 2), ('test', 1)):
        for c in range(10):
            for k in range(count):
                fx.write_image(str(target / split / f'c{c}' / f'{k}.png'),
                               32)
    for folder, name, text in (('emoreg_pretrain', STAGE1, STAGE1_CFG),
                               ('emoreg', STAGE2, STAGE2_CFG)):
        (box / 'configs' / folder).mkdir(parents=True)
        (box / 'configs' / folder / f'{name}.py').write_text(
            text.format(root=str(target)))
    stage1 = f'configs/emoreg_pretrain/{STAGE1}.py'
    stage2 = f'configs/emoreg/{STAGE2}.py'

    # one process
    out = run(f'python tools/analysis_tools/check_dataset.py {stage1}', box,
              env)
    assert 'EmoSet' in out
    run(f'python tools/train.py {stage1}', box, env)
    assert (box / 'work_dirs' / STAGE1 / 'epoch_1.pth').is_file()
    run(f'python tools/train.py {stage2}', box, env)  # finds stage 1 itself
    run(f'python tools/test.py {stage2} --checkpoint $(cat work_dirs/'
        f'{STAGE2}/last_checkpoint) --out preds.npz', box, env)
    assert (box / 'preds.npz').stat().st_size > 0

    # 8 GPUs -> 2 CPU processes; each run writes a new checkpoint
    for config, name in ((stage1, STAGE1), (stage2, STAGE2)):
        before = written(box, name)
        out = run(f'bash tools/dist_train.sh {config} 2', box, env)
        assert 'world size 2, backend gloo' in out
        assert written(box, name) > before, f'{name}: no new checkpoint'
    check_stages(last_checkpoint(box, STAGE1), last_checkpoint(box, STAGE2),
                 input_size=[224, 224])
    ckpt = last_checkpoint(box, STAGE2)
    out = run(f'bash tools/dist_test.sh {stage2} {ckpt} 2', box, env)
    assert 'accuracy/top1' in out

    # two nodes: both node commands at once, 1 process each
    before = written(box, STAGE1)
    port = free_port()
    procs = [
        subprocess.Popen(
            ['bash', '-c', f'NNODES=2 NODE_RANK={rank} MASTER_ADDR=127.0.0.1 '
             f'PORT={port} bash tools/dist_train.sh {stage1} 1'],
            cwd=str(box), env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True) for rank in (0, 1)
    ]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], \
        logs[0][-3000:] + logs[1][-3000:]
    assert 'world size 2, backend gloo' in logs[0]
    assert written(box, STAGE1) > before, 'two nodes: no new checkpoint'

    # reading the results
    out = run("python tools/analysis_tools/results_table.py 'work_dirs/*' "
              '--out results', box, env)
    table = (box / 'results.md').read_text()
    assert '| vit-b16 |' in table and 'learn-ereg' in table, out
