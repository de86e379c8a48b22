"""A fake CIFAR-10-C in the distributed layout, and a tiny CIFAR-10 model.

:func:`make_cifar_c` writes ``labels.npy`` and one ``<corruption>.npy`` per
corruption (5 severities x ``per_severity`` images, severity 1 first), as
the official folders hold them. :func:`make_tiny_cifar_run` writes a config
of a tiny CIFAR-10 classifier (the project's ``HeldOutCIFAR10`` test split,
its 32 px test pipeline) and a checkpoint of it, trained a few steps.
"""
import os
import os.path as osp

import numpy as np

from plain_config import TINY_MODEL

CIFAR_CONFIG = TINY_MODEL.format(num_classes=10) + '''
emoreg_target = 'cifar10'
data_preprocessor = dict(num_classes=10, mean=[125.3, 123.0, 113.9],
                         std=[51.6, 50.8, 51.3], to_rgb=False)
test_dataloader = dict(
    batch_size=3, num_workers=0,
    dataset=dict(type='HeldOutCIFAR10', data_root={cifar_root!r},
                 split='test', pipeline=[dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='Accuracy', topk=(1, ))
test_cfg = dict()
default_hooks = dict(logger=dict(type='LoggerHook', interval=1))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
log_level = 'WARNING'
'''


def make_cifar_c(root: str,
                 corruptions=('gaussian_noise', 'contrast'),
                 per_severity: int = 4,
                 labels=None,
                 seed: int = 0) -> str:
    """Write a CIFAR-C folder at ``root``; return it. ``labels`` (default
    ``0..per_severity-1`` mod 10) is repeated for the 5 severities."""
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    labels = np.arange(per_severity) % 10 if labels is None else labels
    np.save(osp.join(root, 'labels.npy'),
            np.tile(np.asarray(labels, np.int64), 5))
    for name in corruptions:
        np.save(osp.join(root, f'{name}.npy'),
                rng.integers(0, 256, (5 * per_severity, 32, 32, 3),
                             dtype=np.uint8))
    return root


def make_tiny_cifar_run(folder: str, cifar_root: str, images=None,
                        labels=None, steps: int = 15) -> tuple:
    """Write ``folder/tiny_cifar10.py`` and a checkpoint ``folder/tiny.pth``
    of its model, trained ``steps`` SGD steps on ``images`` (N, 32, 32, 3)
    / ``labels`` where given; return both paths."""
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    from emoreg_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    os.makedirs(folder, exist_ok=True)
    config = osp.join(folder, 'tiny_cifar10.py')
    with open(config, 'w') as f:
        f.write(CIFAR_CONFIG.format(cifar_root=cifar_root))
    torch.manual_seed(0)
    cfg = Config.fromfile(config)
    model = MODELS.build(dict(cfg.model,
                              data_preprocessor=cfg.data_preprocessor))
    if images is not None:  # a few steps: predictions that differ
        from mmpretrain.structures import DataSample
        data = dict(inputs=[torch.from_numpy(i).permute(2, 0, 1).contiguous()
                            for i in images],
                    data_samples=[DataSample().set_gt_label(int(y))
                                  for y in labels])
        optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model.train()
        for _ in range(steps):
            batch = model.data_preprocessor(data, training=True)
            loss = model(**batch, mode='loss')['loss']
            optim.zero_grad()
            loss.backward()
            optim.step()
        # batch norm's running statistics: those of these images
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.momentum = 1.
        with torch.no_grad():
            model(**model.data_preprocessor(data, training=True),
                  mode='loss')
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.momentum = .1
    checkpoint = osp.join(folder, 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    return config, checkpoint
