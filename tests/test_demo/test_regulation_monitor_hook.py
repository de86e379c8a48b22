"""RegulationMonitorHook: rho mean / std in the log line, every statistic
in the visualizer's scalars.json."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import emoreg_mm  # noqa: F401
from emoreg_mm.demo import make_digits, make_stimuli
from emoreg_mm.engine.hooks.regulation_monitor_hook import regulation_stats

from affective_fixtures import EMOTIONS  # the canonical order

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def one_thread():
    """Tiny convolutions gain nothing from threads, and OpenMP threads on
    shared cores can be many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_regulation_stats():
    rho = torch.tensor([0.2, 0.4, 0.6])
    affect = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    s = regulation_stats(rho, affect, ('a', 'b'), 'val_')
    assert abs(s['val_rho/mean'] - 0.4) < 1e-6
    assert abs(s['val_rho/min'] - 0.2) < 1e-6
    assert abs(s['val_rho/max'] - 0.6) < 1e-6
    assert abs(s['val_rho/std'] - rho.std(unbiased=False).item()) < 1e-6
    assert abs(s['val_affect/a'] - 1.7 / 3) < 1e-6
    assert abs(s['val_affect_top/a'] - 2 / 3) < 1e-6
    assert set(regulation_stats(rho, None, ())) == {
        'rho/mean', 'rho/std', 'rho/min', 'rho/max'}


def _tiny_run(tmp_path, config, work_dir, extra=None, data=None):
    cfg = Config.fromfile(osp.join(REPO, 'configs/demo', config))
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.logger.interval = 1
    for dl in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[dl].dataset.data_root = data
        cfg[dl].batch_size = 8
    cfg.merge_from_dict(extra or {})
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def _records(work_dir):
    path, = glob.glob(osp.join(str(work_dir), '2*', 'vis_data',
                               'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f]


def _log_lines(work_dir):
    path, = glob.glob(osp.join(str(work_dir), '2*', '2*.log'))
    with open(path) as f:
        return f.read().splitlines()


def test_hook_logs_rho_and_affect(tmp_path, one_thread):
    stimuli = make_stimuli(str(tmp_path / 'abstract'), per_emotion=2,
                           size=32)
    assert sum(stimuli.values()) == 16
    digits = str(tmp_path / 'digits')
    # the digits need scikit-learn; without it, a class-folder stand-in
    try:
        make_digits(digits, size=32, limit=10)
    except ImportError:
        import os

        import cv2
        import numpy as np
        for split in ('train', 'val', 'test'):
            for d in range(10):
                os.makedirs(f'{digits}/{split}/{d}')
                cv2.imwrite(f'{digits}/{split}/{d}/0.png',
                            np.full((32, 32, 3), 25 * d, np.uint8))
    stage1 = tmp_path / 'stage1'
    _tiny_run(tmp_path, 'tiny-resnet_synth-abstract.py', stage1,
              data=str(tmp_path / 'abstract'))
    work_dir = tmp_path / 'ereg'
    _tiny_run(
        tmp_path, 'tiny-resnet_ereg_digits.py', work_dir,
        extra={'model.backbone.emotional_checkpoint': str(stage1)},
        data=digits)
    records = _records(work_dir)
    # The LoggerHook's record and the hook's visualizer-only record of a
    # step, merged (each key written once per step); validation steps count
    # epochs, training steps iterations.
    merged = {}
    for r in records:
        kind = 'val' if any(k.startswith('val_') or k == 'accuracy/top1'
                            for k in r) else 'train'
        into = merged.setdefault((kind, r['step']), {})
        assert not set(r) & set(into) - {'step'}, (r, into)
        into.update(r)
    train = [r for (kind, _), r in merged.items() if kind == 'train']
    val = [r for (kind, _), r in merged.items() if kind == 'val']
    assert train and val
    for key in ('rho', 'rho/mean', 'rho/std', 'rho/min', 'rho/max'):
        assert key in train[-1], train[-1].keys()
    assert abs(train[-1]['rho'] - train[-1]['rho/mean']) < 1e-6
    for e in EMOTIONS:
        assert f'affect/{e}' in train[-1]
        assert f'val_affect/{e}' in val[-1]
        assert f'val_affect_top/{e}' in val[-1]
    assert 0 <= val[-1]['val_rho/min'] <= val[-1]['val_rho/mean'] <= \
        val[-1]['val_rho/max'] <= 1
    assert abs(sum(val[-1][f'val_affect/{e}'] for e in EMOTIONS) - 1) < 1e-4
    assert abs(sum(val[-1][f'val_affect_top/{e}'] for e in EMOTIONS) -
               1) < 1e-4

    # The log lines keep loss, lr, rho mean / std; the per-emotion
    # statistics are only in the visualizer's records.
    log = _log_lines(work_dir)
    line = [x for x in log if 'Epoch(train)' in x][-1]
    val_line = [x for x in log if 'Epoch(val)' in x and 'accuracy' in x][-1]
    for key in ('lr:', 'loss:', ' rho:', 'rho/std:'):
        assert key in line, line
    for key in ('val_rho/mean:', 'val_rho/std:'):
        assert key in val_line, val_line
    for text in (line, val_line):
        assert 'affect' not in text and 'rho/min' not in text, text
        assert 'rho/mean: ' not in text.replace('val_rho/mean: ', ''), text

    # baseline (no RegulationHead): the hook stays silent, training works
    base = tmp_path / 'baseline'
    _tiny_run(tmp_path, 'tiny-resnet_baseline_digits.py', base, data=digits)
    assert not any('val_rho/mean' in r or 'rho/std' in r
                   for r in _records(base))
