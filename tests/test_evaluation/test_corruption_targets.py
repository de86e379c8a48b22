"""Corruption evaluation of an image-folder target, the sweep's dry-run
check of a corrupted folder, and the failed steps' reasons in --status."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from cifar_c_fixtures import make_cifar_c
from emoreg_mm.evaluation import load_predictions
from emoreg_mm.evaluation.corruptions import (CorruptionEvalError,
                                              array_pipeline, target_kind)
from emoreg_mm.evaluation.robustness import predictions_path
from launch_utils import load_tool
from plain_config import make_plain_config


def top_level_configs(folder):
    return {f: open(osp.join(folder, f), 'rb').read()
            for f in os.listdir(folder) if f.endswith('.py')}


def test_an_image_folder_target_leaves_the_run_config_alone(tmp_path):
    """A CustomDataset target (LoadImageFromFile, BGR): its corrupted
    arrays (RGB) through the derived pipeline give, at a severity holding
    the clean test images, tools/test.py's predictions; the run's saved
    config is byte-identical and the evaluation's own record is in
    corruptions/; sizes come from labels.npy, the corruptions from the
    folder."""
    import torch
    from mmengine.config import Config
    from mmpretrain.datasets import CustomDataset
    from mmpretrain.registry import MODELS
    config = make_plain_config(tmp_path)
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg.model,
                              data_preprocessor=cfg.data_preprocessor))
    model.head.fc.weight.data *= 30  # scores that tell images apart
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    wd = str(tmp_path / 'run')
    load_tool('test.py').main([config, ckpt, '--work-dir', wd, '--out',
                               osp.join(wd, 'predictions.npz')])
    before = top_level_configs(wd)
    assert list(before) == ['plain_config.py']
    test_set = CustomDataset(cfg.test_dataloader.dataset.data_root,
                             lazy_init=False)
    clean = np.stack([np.asarray(Image.open(test_set.get_data_info(i)[
        'img_path']).convert('RGB')) for i in range(len(test_set))])
    rng = np.random.default_rng(1)  # not the test images' stream
    noisy = rng.integers(0, 256, (4 * len(clean), ) + clean.shape[1:],
                         dtype=np.uint8)
    root = tmp_path / 'folder-c'
    root.mkdir()
    np.save(root / 'labels.npy', np.tile(test_set.get_gt_labels(), 5))
    np.save(root / 'fog.npy', np.concatenate([clean, noisy]))
    tool = load_tool('analysis_tools/eval_corruptions.py')
    assert tool.main([config, ckpt, '--corruption-root', str(root),
                      '--work-dir', wd]) == 0
    assert top_level_configs(wd) == before  # byte-identical, no other
    assert osp.isfile(osp.join(wd, 'corruptions', 'plain_config.py'))
    got = load_predictions(predictions_path(wd, 'fog', 1))
    ref = load_predictions(osp.join(wd, 'predictions.npz'))
    np.testing.assert_allclose(got['pred_score'], ref['pred_score'],
                               rtol=1e-5, atol=1e-6)
    summary = json.load(open(osp.join(wd, 'corruptions', 'summary.json')))
    assert summary['images_per_severity'] == len(clean) == 8
    assert summary['target'] == 'images' and summary['official'] is False
    assert list(summary['accuracy']) == ['fog']
    # other images give other scores: the match above is the images'
    noisy = load_predictions(predictions_path(wd, 'fog', 2))
    assert np.abs(noisy['pred_score'] - ref['pred_score']).max() > 1e-3


def test_pipelines_and_targets_the_evaluator_cannot_read():
    from mmengine.config import Config
    plain = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    assert array_pipeline(plain) == ([dict(type='PackInputs')],
                                     dict(type='LoadImageFromFile'))
    for bad in ([dict(type='LoadImageFromFile', color_type='grayscale')],
                [dict(type='LoadImageFromFile'),
                 dict(type='LoadAnnotations')]):
        with pytest.raises(CorruptionEvalError, match='cannot read them'):
            array_pipeline(bad)
    no_loader = Config(dict(test_dataloader=dict(dataset=dict(
        type='MyArrays', pipeline=[dict(type='PackInputs')]))))
    with pytest.raises(CorruptionEvalError,
                       match=r'nor a target .* \(its loading transforms: '
                       'none\\)'):
        target_kind(no_loader)


def test_the_dry_run_checks_a_corrupted_folder_of_the_demo(tmp_path):
    """The demo's digits (an image-folder target): a CIFAR-layout folder of
    20 images per severity is accepted; one of another layout is refused
    at the dry run, the reason named."""
    from emoreg_mm.experiments import check

    def problems(root):
        sweep = load_tool('sweep.py').parse_args([
            '--preset', 'demo', '--modes', 'baseline', 'ereg', '--seeds',
            '0', '--work-root', str(tmp_path / 'sweep'), '--corruptions',
            f'digits={root}']).sweep
        return [p for p in check(sweep, sweep.runs())[0]
                if p.startswith('--corruptions')]

    good = make_cifar_c(str(tmp_path / 'digits-c'), per_severity=20)
    assert problems(good) == []
    gray = tmp_path / 'gray'
    gray.mkdir()
    np.save(gray / 'labels.npy', np.zeros(100, np.int64))
    np.save(gray / 'fog.npy', np.zeros((100, 28, 28), np.uint8))
    assert problems(gray) == [
        f'--corruptions digits={gray}: the tiny-resnet runs cannot be '
        f'evaluated: {gray}/fog.npy: uint8 array of shape (100, 28, 28); '
        'expected uint8 of shape (100, H, W, 3) (5 severities x 20 RGB '
        'images) (docs/robustness.md)']
    np.save(gray / 'labels.npy', np.full(100, 12))
    assert 'labels span 12..12; expected classes 0..9' in problems(gray)[0]


def test_status_shows_why_a_step_failed(tmp_path):
    from emoreg_mm.experiments.job import call_main, one_line
    from emoreg_mm.experiments.plan import Sweep
    from emoreg_mm.experiments.status import STATUS, status_table

    def exits():
        raise SystemExit('train.py: error: no such key\n')

    def raises():
        raise KeyError('img_path')

    assert call_main(lambda argv: exits(), []) == (
        1, 'train.py: error: no such key')
    assert call_main(lambda argv: raises(), []) == (1, "KeyError: 'img_path'")
    assert call_main(lambda argv: 3, []) == (3, 'exit 3; see the log')
    assert call_main(lambda argv: 0, []) == (0, '')
    assert len(one_line('x' * 500)) == 200
    runs = Sweep(preset='demo', modes=['baseline', 'ereg'], seeds=[0],
                 work_root=str(tmp_path)).runs()
    records = [dict(state='failed', step='train', reason='no such key'),
               dict(state='done', corruptions='failed: bad folder')]
    st = {run.name: ('todo', 0, None) for run in runs}
    for run, record in zip(runs, records):
        os.makedirs(run.work_dir)
        with open(osp.join(run.work_dir, STATUS), 'w') as f:
            json.dump(dict(record, job='1'), f)
        st[run.name] = (record['state'], 1, '1')
    lines = status_table(runs, st).splitlines()
    assert lines[1].endswith('train failed: no such key')
    assert lines[2].endswith('corruptions: failed: bad folder')
