"""Stage 1 with a dimensional target: the regression head on images whose
valence and arousal are a known function of the image, and the metric
against scipy."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from scipy import stats

from emoreg_mm.evaluation.affect_regression import (average_ranks,
                                                    regression_scores)

SCALES = dict(valence=(1, 7), arousal=(1, 7))


def write_known_affect(root, name, n, seed):
    """``root/<name>.csv`` (a user's ratings CSV on OASIS's 1-7 scale) and
    its 32 px PNGs under ``root/imgs``: the red level is the valence and
    the blue level the arousal, green and pixel noise at random."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'imgs'), exist_ok=True)
    rows = ['file,V,A']
    for i in range(n):
        red, blue = rng.uniform(0, 1, 2)
        img = rng.integers(0, 256, (32, 32, 3)).astype(np.float64)
        img[..., 0] = 0.8 * red * 255 + 0.2 * img[..., 0]
        img[..., 2] = 0.8 * blue * 255 + 0.2 * img[..., 2]
        Image.fromarray(img.astype(np.uint8)).save(
            osp.join(root, 'imgs', f'{name}{i}.png'))
        rows.append(f'{name}{i}.png,{1 + 6 * red:.6f},{1 + 6 * blue:.6f}')
    with open(osp.join(root, f'{name}.csv'), 'w') as f:
        f.write('\n'.join(rows) + '\n')
    return dict(type='AffectiveRatings', data_root=root,
                ann_file=f'{name}.csv', image_column='file',
                columns=dict(valence='V', arousal='A'), scale=(1, 7),
                data_prefix='imgs')


def test_scores_match_scipy():
    rng = np.random.default_rng(0)
    gt = rng.uniform(-1, 1, (50, 2))
    pred = np.clip(gt + rng.normal(0, .3, gt.shape), -1, 1)
    pred[:5, 1] = pred[5, 1]  # ties in the ranks
    out = regression_scores(pred, gt, ('valence', 'arousal'), SCALES)
    for i, name in enumerate(('valence', 'arousal')):
        assert out[f'{name}/pearson'] == pytest.approx(
            stats.pearsonr(pred[:, i], gt[:, i])[0])
        assert out[f'{name}/spearman'] == pytest.approx(
            stats.spearmanr(pred[:, i], gt[:, i])[0])
        rmse = np.sqrt(np.mean((pred[:, i] - gt[:, i]) ** 2))
        assert out[f'{name}/rmse'] == pytest.approx(rmse)
        assert out[f'{name}/rmse_scale'] == pytest.approx(rmse * 3)
    assert np.array_equal(average_ranks(np.array([3., 1., 3., 2.])),
                          stats.rankdata([3, 1, 3, 2]))


def test_missing_targets_are_named():
    from mmpretrain.structures import DataSample

    from emoreg_mm.models.heads import AffectRegressionHead
    head = AffectRegressionHead(in_channels=4)
    with pytest.raises(KeyError, match="no 'gt_va'.*algorithm_keys"):
        head.loss((torch.zeros(2, 4), ), [DataSample(), DataSample()])


@pytest.mark.slow
def test_stage1_learns_a_known_valence_and_arousal(tmp_path):
    """A tiny ResNet trained through mmengine's Runner on a ratings CSV
    (AffectiveRatings) reaches a Pearson correlation above 0.9 on both
    dimensions of held-out images, and its checkpoint records the set's
    dimensions and scale."""
    from mmengine.runner import Runner
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='PackInputs', algorithm_keys=('gt_va', ))]
    loader = dict(batch_size=16, num_workers=0, sampler=dict(
        type='DefaultSampler', shuffle=True))
    data = str(tmp_path / 'data')
    cfg = dict(
        work_dir=str(tmp_path / 'work'), randomness=dict(seed=0),
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(type='ClsDataPreprocessor',
                                   mean=[127.5] * 3, std=[64.] * 3),
            backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                          base_channels=8, zero_init_residual=False),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='AffectRegressionHead', in_channels=64)),
        train_dataloader=dict(loader, dataset=dict(
            write_known_affect(data, 'train', 256, seed=1),
            pipeline=pipeline)),
        val_dataloader=dict(loader, sampler=dict(type='DefaultSampler',
                                                 shuffle=False),
                            dataset=dict(
                                write_known_affect(data, 'val', 96, seed=2),
                                pipeline=pipeline)),
        val_evaluator=dict(type='AffectRegressionMetric'),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=3e-3)),
        train_cfg=dict(by_epoch=True, max_epochs=8, val_interval=8),
        val_cfg=dict(), default_scope='mmpretrain',
        default_hooks=dict(logger=dict(type='LoggerHook', interval=50),
                           checkpoint=dict(type='CheckpointHook',
                                           interval=8)))
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert metrics['valence/pearson'] > 0.9, metrics
    assert metrics['arousal/pearson'] > 0.9, metrics
    assert metrics['valence/rmse_scale'] == pytest.approx(
        3 * metrics['valence/rmse'])
    meta = torch.load(str(tmp_path / 'work' / 'epoch_8.pth'),
                      weights_only=True)['meta']['dataset_meta']
    assert meta['classes'] == meta['dimensions'] == ('valence', 'arousal')
    assert meta['scales'] == SCALES
