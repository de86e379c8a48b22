"""UpsampleClsDataPreprocessor: the device-side resize against the CPU
pipeline's cv2 ``Resize`` it replaces."""
import mmcv
import numpy as np
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from emoreg_mm.engine.hooks.preprocess_record_hook import preprocess_record

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


def batch(seed=0, n=8, smooth=False):
    rng = np.random.default_rng(seed)
    if smooth:  # a photograph-like image: slow changes
        x = np.linspace(0, 1, 32)
        base = np.outer(np.sin(6 * x), np.cos(4 * x)) * 100 + 128
        imgs = np.stack([np.stack([base + 10 * c + k for c in range(3)], -1)
                         for k in range(n)]).astype(np.uint8)
    else:
        imgs = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return imgs, [DataSample().set_gt_label(i % 10) for i in range(n)]


def level_errors(smooth):
    """|device - cv2| in pixel levels: (mean, max)."""
    imgs, samples = batch(smooth=smooth)
    cpu = MODELS.build(dict(type='ClsDataPreprocessor', **NORM))
    dev = MODELS.build(dict(type='UpsampleClsDataPreprocessor', size=224,
                            **NORM))
    big = [torch.from_numpy(mmcv.imresize(i, (224, 224),
                                          interpolation='bicubic'))
           .permute(2, 0, 1) for i in imgs]
    small = [torch.from_numpy(i).permute(2, 0, 1) for i in imgs]
    ref = cpu(dict(inputs=big, data_samples=samples))['inputs']
    out = dev(dict(inputs=small, data_samples=samples))['inputs']
    assert out.shape == ref.shape == (8, 3, 224, 224)
    diff = (out - ref).abs() * cpu.std.view(1, 3, 1, 1)
    return diff.mean().item(), diff.max().item()


def test_device_resize_matches_cv2_up_to_rounding():
    # Measured: random pixels mean 0.25 / max 0.50 levels, a smooth image
    # 0.25 / 0.50 (cv2 rounds to whole levels); without the clamp random
    # pixels would differ by up to 70 levels (bicubic overshoot).
    for smooth in (False, True):
        mean, worst = level_errors(smooth)
        assert mean < 0.3 and worst <= 0.51, (smooth, mean, worst)


def test_batch_augments_run_on_the_resized_batch():
    imgs, samples = batch()
    dev = MODELS.build(dict(
        type='UpsampleClsDataPreprocessor', size=(48, 40), num_classes=10,
        batch_augments=dict(augments=[dict(type='Mixup', alpha=1.)]),
        **NORM))
    out = dev(dict(inputs=[torch.from_numpy(i).permute(2, 0, 1)
                           for i in imgs], data_samples=samples), True)
    assert out['inputs'].shape == (8, 3, 48, 40)
    assert out['data_samples'][0].gt_score.shape == (10, )


def test_the_record_states_the_resized_size():
    model = MODELS.build(dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='UpsampleClsDataPreprocessor',
                               size=224, **NORM),
        backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=4,
                      stem_channels=4),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=32)))
    record = preprocess_record(model, object(), dict(
        inputs=[torch.zeros(3, 32, 32, dtype=torch.uint8)]))
    assert record['input_size'] == [224, 224]


def test_stacked_pinned_batches_give_the_same_inputs():
    """The 224-px CIFAR pieces copy their batches without waiting; a batch
    stacked in the workers (``default_collate``) gives the same normalised,
    resized batch as mmpretrain's list of images (``pseudo_collate``)."""
    import os.path as osp

    from mmengine.config import Config
    from mmengine.dataset import default_collate, pseudo_collate
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(osp.join(repo, 'configs/_base_/datasets/'
                                         'cifar100.py'))
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].pin_memory is True
    dev = MODELS.build(cfg.data_preprocessor)
    assert dev._non_blocking is True
    imgs, samples = batch()
    packed = [dict(inputs=torch.from_numpy(i).permute(2, 0, 1).contiguous(),
                   data_samples=s) for i, s in zip(imgs, samples)]
    stacked = default_collate(packed)
    assert isinstance(stacked['inputs'], torch.Tensor)
    stacked['inputs'] = stacked['inputs'].pin_memory() \
        if torch.cuda.is_available() else stacked['inputs']
    out = dev(stacked)
    ref = dev(pseudo_collate(packed))
    assert out['inputs'].shape == (8, 3, 224, 224)
    assert torch.equal(out['inputs'], ref['inputs'])
    assert [s.gt_label.item() for s in out['data_samples']] == \
        [s.gt_label.item() for s in ref['data_samples']]
