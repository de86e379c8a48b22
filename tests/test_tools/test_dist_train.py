"""tools/dist_train.sh trains on a machine without GPUs (gloo backend)."""
import os.path as osp
import subprocess

import pytest

from launch_utils import dist_env
from plain_config import plain_config  # noqa: F401  (fixture)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'dist_train.sh')


@pytest.mark.slow
def test_dist_train_two_processes(tmp_path, plain_config):
    work_dir = str(tmp_path / 'work')
    out = subprocess.run(
        ['bash', SCRIPT, plain_config, '2', '--work-dir', work_dir],
        capture_output=True, text=True, env=dist_env(), timeout=900)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'world size 2, backend gloo' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))


@pytest.mark.slow
def test_dist_train_two_nodes(tmp_path, plain_config):
    work_dir = str(tmp_path / 'work')
    env = dist_env(NNODES=2)
    procs = [
        subprocess.Popen(
            ['bash', SCRIPT, plain_config, '1', '--work-dir', work_dir],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(env, NODE_RANK=str(rank))) for rank in (0, 1)
    ]
    logs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs[0][-3000:] + \
        logs[1][-3000:]
    assert 'world size 2, backend gloo' in logs[0]
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
