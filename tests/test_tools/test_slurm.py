"""tools/slurm_train.sh and tools/slurm_test.sh on a real Slurm cluster.

Both demo stages with 2 tasks each on the one-node cluster of
``tests/slurm_cluster.py``: the GPU request path (``--gres=gpu:2`` on the
stand-in GRES; no CUDA here, so the tasks use gloo) and the CPU-partition
path (``GRES=``: no GPU arguments at all).
"""
import os.path as osp
import subprocess

import pytest

from launch_utils import dist_env, free_port
from slurm_cluster import slurm_cluster  # noqa: F401  (fixture)
from test_sweep import demo_data as write_demo_data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1 = 'configs/demo/tiny-resnet_synth-abstract.py'
STAGE2 = 'configs/demo/tiny-resnet_ereg_digits.py'


def demo_options(data: str, stage1_dir: str = None) -> list:
    """--cfg-options pointing a demo config at ``data`` (and, in stage 2,
    at the stage-1 work dir ``stage1_dir``), 1 epoch."""
    root = osp.join(data, 'digits' if stage1_dir else 'testImages_abstract')
    opts = [f'{dl}.dataset.data_root={root}'
            for dl in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')]
    if stage1_dir:
        opts += [f'model.backbone.emotional_checkpoint={stage1_dir}',
                 'model.backbone.emotional_checkpoint_config='
                 f'{osp.join(REPO, STAGE1)}']
    return opts + ['train_cfg.max_epochs=1']


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    """The demo's data, small: stimuli in Abstract's layout, digits."""
    root = tmp_path_factory.mktemp('demo')
    write_demo_data(root)
    return str(root / 'work_dirs' / 'demo' / 'data')


def slurm(script, *args, **env):
    """Run a tools/slurm_*.sh script with 2 tasks, 1 CPU each."""
    env = dist_env(GPUS=2, GPUS_PER_NODE=2, CPUS_PER_TASK=1,
                   MASTER_PORT=free_port(), **env)
    out = subprocess.run(['bash', osp.join(REPO, 'tools', script), *args],
                         cwd=REPO, capture_output=True, text=True, env=env,
                         timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    return log


@pytest.mark.slow
def test_slurm_train_and_test_both_stages(slurm_cluster, demo_data,
                                          tmp_path):
    part = slurm_cluster.partition
    s1, s2 = str(tmp_path / 'stage1'), str(tmp_path / 'stage2')

    # stage 1, GPU request path: --gres on the stand-in GPUs, gloo tasks
    log = slurm('slurm_train.sh', part, 's1', STAGE1, s1, '--cfg-options',
                *demo_options(demo_data))
    assert '--gres=gpu:2' in log
    assert 'world size 2, backend gloo' in log
    assert osp.isfile(osp.join(s1, 'epoch_1.pth'))

    # stage 2 reads stage 1; CPU partition path: no GPU arguments
    log = slurm('slurm_train.sh', part, 's2', STAGE2, s2, '--cfg-options',
                *demo_options(demo_data, s1), GRES='')
    assert '--gres' not in log
    assert 'world size 2, backend gloo' in log
    assert osp.isfile(osp.join(s2, 'epoch_1.pth'))

    for config, work_dir, opts in ((STAGE1, s1, demo_options(demo_data)),
                                   (STAGE2, s2, demo_options(demo_data, s1))):
        log = slurm('slurm_test.sh', part, 'test', config,
                    osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
                    osp.join(work_dir, 'test'), '--cfg-options', *opts[:-1],
                    GRES='')
        assert 'accuracy/top1' in log, log[-3000:]


def test_gres_follows_the_partition(slurm_cluster):
    """Unset GRES asks for gpu:GPUS_PER_NODE where sinfo lists GPUs on
    the partition; an explicit value is kept."""
    def gres(**env):
        cmd = ('PARTITION=$0; source tools/slurm_gres.sh; '
               'echo "[${GRES}]"')
        return subprocess.run(
            ['bash', '-c', cmd, slurm_cluster.partition], cwd=REPO,
            capture_output=True, text=True,
            env=dist_env(GPUS_PER_NODE=2, **env)).stdout.strip()

    assert gres() == '[gpu:2]'  # the test cluster lists gpu:2
    assert gres(GRES='') == '[]'
    assert gres(GRES='gpu:a100:1') == '[gpu:a100:1]'
    env = dist_env(GPUS_PER_NODE=2)
    out = subprocess.run(
        ['bash', '-c', 'PARTITION=nosuch; source tools/slurm_gres.sh; '
         'echo "[${GRES}]"'], cwd=REPO, capture_output=True, text=True,
        env=env).stdout.strip()
    assert out == '[]'  # no such partition: no GPU request
