"""Run tools/train.py in subprocesses for the engine tests."""
import glob
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import torch

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
TRAIN = osp.join(REPO, 'tools', 'train.py')


def env(**extra):
    """Environment of a run: one thread (reproducible CPU numerics), no
    GPU, the test-only hooks importable."""
    out = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               PYTHONPATH=os.pathsep.join(
                   [HERE, os.environ.get('PYTHONPATH', '')]))
    out.update({k: str(v) for k, v in extra.items()})
    return out


def train(config, work_dir, *args, check=True, **extra_env):
    """Run tools/train.py to the end; return (returncode, output)."""
    out = subprocess.run(
        [sys.executable, TRAIN, config, '--work-dir', work_dir, *args],
        capture_output=True, text=True, cwd=REPO, env=env(**extra_env),
        timeout=900)
    log = out.stdout + out.stderr
    if check:
        assert out.returncode == 0, log[-4000:]
    return out.returncode, log


def train_in_forks(root, plan):
    """Run the steps of ``plan`` (``[config, work_dir_name, kill(,
    args)]``, see kill_sweep.py) through tools/train.py's ``main()``, each
    in a process forked from one driver (one interpreter start for all);
    return the driver's per-step results (exit status, log, the
    checkpoint a resume picks)."""
    plan_file = osp.join(str(root), 'plan.json')
    with open(plan_file, 'w') as f:
        json.dump(plan, f)
    out = subprocess.run(
        [sys.executable, osp.join(HERE, 'kill_sweep.py'), str(root),
         plan_file], capture_output=True, text=True, env=env(), timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def log_text(work_dir):
    """Concatenated text of the run logs under ``work_dir``."""
    return ''.join(open(p).read() for p in sorted(
        glob.glob(osp.join(work_dir, '2*', '2*.log'))))


def train_until(config, work_dir, pattern, sig, timeout=600):
    """Start a run that stalls after epoch 2, batch 3; once its log matches
    ``pattern``, send ``sig``, release the stall; return (returncode,
    output)."""
    release = osp.join(work_dir + '.release')
    proc = subprocess.Popen(
        [sys.executable, TRAIN, config, '--work-dir', work_dir],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=REPO, env=env(ENGINE_TEST_STALL=f'2:3:{release}'))
    deadline = time.time() + timeout
    try:
        while not re.search(pattern, log_text(work_dir)):
            assert proc.poll() is None, proc.stdout.read()[-4000:]
            assert time.time() < deadline, 'the run never reached the stall'
            time.sleep(0.05)
        proc.send_signal(sig)
        time.sleep(0.2)
        open(release, 'w').close()
        output = proc.communicate(timeout=timeout)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, output


def state_dict(path):
    return torch.load(path, map_location='cpu', weights_only=True)[
        'state_dict']


def val_lines(log):
    """The final metric line of each validation, without timings."""
    return [re.sub(r'\s+(data_)?time: [\d.]+', '', line.split(' - ')[-1])
            for line in log.splitlines()
            if re.search(r'Epoch\(val\).*accuracy/top1', line)]


__all__ = ['env', 'train', 'train_in_forks', 'log_text', 'train_until', 'state_dict',
           'val_lines', 'signal', 'REPO']
