"""Tiny models and a stage-1 checkpoint shared by the model tests."""
import copy
from types import SimpleNamespace

import pytest
import torch

import emoreg_mm  # noqa: F401  (registers the components)
from emoreg_mm.models.regulators import regulator_branches
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

NUM_CLASSES = 10
NUM_EMOTIONS = 8
IMG_SIZE = 32

#: backbone, per-encoder neck and pooled feature dimension of tiny models.
TINY_ARCHS = {
    'resnet':
    dict(backbone=dict(type='ResNet',
                       depth=18,
                       stem_channels=8,
                       base_channels=8),
         neck=dict(type='GlobalAveragePooling'),
         in_channels=64),
    'vit':
    dict(backbone=dict(type='VisionTransformer',
                       arch=dict(embed_dims=32,
                                 num_layers=2,
                                 num_heads=2,
                                 feedforward_channels=64),
                       img_size=IMG_SIZE,
                       patch_size=8),
         neck=None,
         in_channels=32),
}


def stage1_cfg(arch: str) -> dict:
    """A plain mmpretrain classifier predicting the emotions (stage 1)."""
    spec = TINY_ARCHS[arch]
    return dict(type='ImageClassifier',
                backbone=copy.deepcopy(spec['backbone']),
                neck=copy.deepcopy(spec['neck']),
                head=dict(type='LinearClsHead',
                          num_classes=NUM_EMOTIONS,
                          in_channels=spec['in_channels'],
                          init_cfg=dict(type='Normal', layer='Linear',
                                        std=0.5)))


def regulated_cfg(arch: str, regulator, checkpoint=None, **head_kwargs):
    """A RegulatedImageClassifier config with the wrapper and the
    regulation head (the wrapper's branches and number of emotions follow
    from the head)."""
    spec = TINY_ARCHS[arch]
    return dict(
        type='RegulatedImageClassifier',
        backbone=dict(
            type='EmotionalBackboneWrapper',
            backbone=copy.deepcopy(spec['backbone']),
            neck=copy.deepcopy(spec['neck']),
            emotional_checkpoint=checkpoint,
            emotional_checkpoint_config='emoreg_pretrain/tiny_emoset.py',
            in_channels=spec['in_channels']),
        head=dict(type='RegulationHead',
                  num_classes=NUM_CLASSES,
                  in_channels=spec['in_channels'],
                  regulator=regulator,
                  **head_kwargs))


def build_regulated(arch, regulator, checkpoint=None, **head_kwargs):
    """Build and initialise (loads stage 1) a regulated classifier."""
    model = MODELS.build(
        regulated_cfg(arch, regulator, checkpoint, **head_kwargs))
    model.init_weights()
    return model


def make_batch(batch_size: int = 4, soft: bool = False, seed: int = 0):
    """Float images and data samples with hard or soft labels."""
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch_size, 3, IMG_SIZE, IMG_SIZE, generator=gen)
    labels = torch.randint(NUM_CLASSES, (batch_size, ), generator=gen)
    samples = []
    for label in labels:
        sample = DataSample().set_gt_label(label)
        if soft:
            score = torch.rand(NUM_CLASSES, generator=gen)
            sample.set_gt_score(score / score.sum())
        samples.append(sample)
    return inputs, samples


@pytest.fixture(params=sorted(TINY_ARCHS))
def arch(request) -> str:
    return request.param


def write_stage1(arch: str, path, meta=None) -> dict:
    """Save a stage-1 checkpoint with non-trivial BatchNorm statistics;
    return its state dict."""
    torch.manual_seed(123)
    model = MODELS.build(stage1_cfg(arch))
    model.init_weights()
    model.train()
    with torch.no_grad():  # a few batches: running stats move off 0 / 1
        for _ in range(2):
            model.extract_feat(torch.randn(4, 3, IMG_SIZE, IMG_SIZE) * 2 + 1)
    state_dict = {k: v.clone() for k, v in model.state_dict().items()}
    meta = meta or dict(emotion_classes=[
        'amusement', 'awe', 'contentment', 'excitement', 'anger', 'disgust',
        'fear', 'sadness'
    ],
                        epoch=3)
    torch.save({'state_dict': state_dict, 'meta': meta}, str(path))
    return state_dict


@pytest.fixture
def stage1(tmp_path, arch):
    """(path, state dict) of a stage-1 checkpoint of the tiny ``arch``."""
    path = tmp_path / f'stage1_{arch}.pth'
    return str(path), write_stage1(arch, path)


@pytest.fixture
def tiny() -> SimpleNamespace:
    """The helpers above, for test modules (conftest is not importable)."""
    return SimpleNamespace(archs=TINY_ARCHS,
                           num_classes=NUM_CLASSES,
                           num_emotions=NUM_EMOTIONS,
                           img_size=IMG_SIZE,
                           stage1_cfg=stage1_cfg,
                           regulated_cfg=regulated_cfg,
                           build=build_regulated,
                           batch=make_batch,
                           write_stage1=write_stage1,
                           branches_of=regulator_branches)


@pytest.fixture
def resnet_stage1(tmp_path):
    """(path, state dict) of a stage-1 checkpoint of the tiny ResNet."""
    path = tmp_path / 'stage1_resnet.pth'
    return str(path), write_stage1('resnet', path)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and do not stall when other
    processes share the CPUs; restored after each test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
