"""Every leaf config loads, builds its model and builds its datasets.

Full-size ResNet-50 / ViT-B/16 would make the sweep slow, so each leaf's
backbone is swapped for a tiny one of the same family (same type, fewer
channels or layers); everything else (wrapper, head, regulator, data
pipeline, dataset class) is the leaf's own. Datasets are the tiny
native-layout fixtures of ``affective_fixtures`` and
``dimensional_fixtures``. A set rated on valence and arousal has a stage 1
that regresses the ratings and stage-2 heads that read them. The leaves of
the sets' controls differ from their set's leaves by a few keys:
``test_control_leaves.py`` checks those keys and builds a sample.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpretrain.datasets import CIFAR10
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample

import affective_fixtures as fx
import dimensional_fixtures as dfx
from emoreg_mm import matrix
from emoreg_mm.leaf_configs import (stage1_scratch_schedule,
                                    stage1_schedule)
from launch_utils import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LEAVES = sorted(
    osp.relpath(p, REPO)
    for d in ('emoreg_pretrain', 'emoreg')
    for p in glob.glob(osp.join(REPO, 'configs', d, '*.py')))
#: The leaves of the affective sets (not of their controls).
SET_LEAVES = [leaf for leaf in LEAVES if not any(
    f'-{control}' in leaf for control in matrix.CONTROLS)]

TINY = {
    'ResNet': (dict(type='ResNet', depth=18, base_channels=4,
                    stem_channels=4, out_indices=(3, )), 32),
    'ResNet_CIFAR': (dict(type='ResNet_CIFAR', depth=18, base_channels=4,
                          stem_channels=4, out_indices=(3, )), 32),
    'VisionTransformer': (dict(
        type='VisionTransformer',
        arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                  feedforward_channels=64),
        img_size=32, patch_size=8, out_type='cls_token'), 32),
}


def test_leaves_match_the_matrix(capsys):
    """``gen_configs.py --check``: the paper's leaves and the demo's
    (configs/demo) are what the matrix writes."""
    assert load_tool('misc/gen_configs.py').main(['--check']) == 0
    demo = glob.glob(osp.join(REPO, 'configs', 'demo', '*.py'))
    assert f'{len(LEAVES) + len(demo)} leaf configs up to date' in \
        capsys.readouterr().out
    # stage 1 of the set and of its shuffled control; baseline; 5 modes on
    # the set and on each of its 2 controls
    assert len(demo) == 2 + 1 + 5 * 3
    # 2 targets x (baseline + per affective set of the backbone and per
    # control of it, 5 modes of an emotion-labelled set, 4 of a set rated
    # on valence and arousal), plus one stage-1 leaf per backbone and
    # affective set and one of its shuffled control.
    stage1 = [leaf for leaf in SET_LEAVES if 'emoreg_pretrain/' in leaf]
    assert all(leaf.replace('.py', '-shuffled.py') in LEAVES
               for leaf in stage1)
    rated = ('oasis', 'gaped', 'emotion6-va', 'findingemo')
    assert len(LEAVES) - 2 * len(stage1) == sum(
        2 * (1 + 3 * sum(4 if s.endswith(tuple(f'_{r}.py' for r in rated))
                         else 5 for s in stage1 if f'/{backbone}_' in s))
        for backbone in ('resnet50', 'vit-b16', 'resnet18-cifar'))
    assert len([s for s in stage1 if s.endswith(
        tuple(f'_{r}.py' for r in rated))]) == 2 * len(rated)


def test_required_leaf_exists():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/emoreg/vit-b16_learn-ereg_cifar100.py'))
    assert cfg.model.backbone.type == 'EmotionalBackboneWrapper'
    assert cfg.model.backbone.backbone.type == 'VisionTransformer'
    assert cfg.model.head.regulator.type == 'LearnERegRegulator'
    assert cfg.model.head.num_classes == 100
    assert cfg.emoreg_affective == 'emoset'
    assert cfg.model.backbone.emotional_checkpoint == \
        'work_dirs/vit-b16_emoset'


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('data')
    emotion6 = fx.make_emotion6(str(tmp / 'emotion6'), repeat=4)
    emod = fx.make_emod(str(tmp / 'EMOd'))
    ids = [fx.emod_id(row[0]) for row in fx.emod_matrix()]
    return {
        'EmoSet': dict(data_root=fx.make_emoset(str(tmp / 'EmoSet'))),
        'Abstract': dict(
            data_root=fx.make_abstract(str(tmp / 'abstract'), repeat=4)),
        'EMOd': dict(data_root=emod),
        'DiffusedEMOd': dict(
            data_root=fx.make_diffused_emod(str(tmp / 'diffused'), emod, ids),
            emod_root=emod),
        'FI': dict(data_root=fx.make_fi(str(tmp / 'fi'), count=10)),
        'ArtPhoto': dict(data_root=fx.make_artphoto(str(tmp / 'artphoto'))),
        'Emotion6': dict(data_root=emotion6),
        # the sets rated on valence and arousal: 20 images each
        'OASIS': dict(data_root=dfx.make_oasis(str(tmp / 'oasis'), [
            (f'I{i}', f'Pic {i}', 'Object', 'Pixabay', str(1 + i * 0.3),
             str(7 - i * 0.3)) for i in range(20)])),
        'GAPED': dict(data_root=dfx.make_gaped(str(tmp / 'gaped'), {
            cat: [(f'{cat}{i:03d}.jpg', str(5 * i + k), str(90 - 5 * i))
                  for i in range(4)]
            for k, cat in enumerate(('A', 'H', 'N', 'P', 'Sn', 'Sp'))})),
        'Emotion6VA': dict(data_root=emotion6),
        'FindingEmo': dict(data_root=dfx.make_findingemo(
            str(tmp / 'findingemo'), [
                (str(i), f'/Run_1/query/{i}.jpg', str(i % 7 - 3),
                 str(i % 7)) for i in range(20)])),
        # 20 training images each: hold out 4 for validation.
        'HeldOutCIFAR10': dict(
            data_root=fx.make_cifar(str(tmp / 'c10'), 10), val_size=4),
        'HeldOutCIFAR100': dict(
            data_root=fx.make_cifar(str(tmp / 'c100'), 100, per_file=20),
            val_size=4),
    }


def tiny_model(model_cfg):
    """Swap the leaf's backbone for a tiny one of the same family."""
    wrapper = model_cfg.backbone.type == 'EmotionalBackboneWrapper'
    holder = model_cfg.backbone if wrapper else model_cfg
    tiny, channels = TINY[holder.backbone.type]
    holder.backbone = tiny
    model_cfg.head.in_channels = channels
    if wrapper:
        model_cfg.backbone.in_channels = channels
    return model_cfg


_DATASETS = {}


def built_dataset(ds_cfg, monkeypatch):
    """(length, classes, first sample) of the dataset ``ds_cfg`` builds.
    The 171 leaves of the sets hold a few distinct dataset configs: each is
    built once, and every leaf holding it is checked against the result."""
    key = repr(sorted(ds_cfg.to_dict().items(), key=lambda kv: kv[0]))
    if key not in _DATASETS:
        # CIFAR fixtures are tiny, so their md5 differs from the real files.
        monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
        dataset = DATASETS.build(ds_cfg)
        _DATASETS[key] = (len(dataset), dataset.metainfo['classes'],
                          dataset[0])
    return _DATASETS[key]


@pytest.mark.parametrize('leaf', SET_LEAVES)
def test_leaf_builds(leaf, data_roots, monkeypatch):
    cfg = Config.fromfile(osp.join(REPO, leaf))
    for tag in ('emoreg_backbone', 'emoreg_mode', 'emoreg_target') if \
            'emoreg/' in leaf else ('emoreg_backbone', 'emoreg_affective'):
        assert cfg[tag] in osp.basename(leaf), (tag, cfg[tag])

    # a set rated on valence and arousal: the leaf says so as the matrix
    label = cfg.get('emoreg_affective')
    rated = label is not None and matrix.affect_space(label) == 'dimensional'
    assert (cfg.get('affect_space') == 'dimensional') == rated
    if rated and 'emoreg/' in leaf:  # stage 2 reads the two ratings
        assert cfg.model.head.affect_space == 'dimensional'
        assert cfg.emotion_classes == matrix.VA
    if rated and 'emoreg_pretrain/' in leaf:
        return check_regression_leaf(cfg, data_roots, monkeypatch)

    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(tiny_model(cfg.model))
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 32), mode='tensor')
    num_classes = cfg.model.head.num_classes
    assert out.shape == (2, num_classes)
    if rated:
        assert model.head.affect_space == 'dimensional'
    if cfg.model.get('train_cfg'):  # batch augmentation (MixUp): a step
        model.train()
        data = model.data_preprocessor(dict(
            inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                    for _ in range(2)],
            data_samples=[DataSample().set_gt_label(i) for i in range(2)]),
            training=True)
        assert data['data_samples'][0].gt_score.shape == (num_classes, )
        loss = sum(model.loss(**data).values())
        assert torch.isfinite(loss)

    sizes = {}
    for split in ('train', 'val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset
        ds_cfg.update(data_roots[ds_cfg.type])
        size, classes, sample = built_dataset(ds_cfg, monkeypatch)
        assert size > 0
        sizes[split] = size
        assert len(classes) == num_classes
        assert sample['inputs'].dim() == 3
        assert 0 <= int(sample['data_samples'].gt_label) < num_classes
    if 'emoreg/' in leaf:  # validation held out of training, not the test
        assert cfg.val_dataloader.dataset.split == 'val'
        assert cfg.test_dataloader.dataset.split == 'test'
        assert (sizes['train'], sizes['val']) == (16, 4)


def check_regression_leaf(cfg, data_roots, monkeypatch):
    """A stage 1 on valence and arousal: its model regresses the two
    ratings into [-1, 1] and takes a step on packed ``gt_va``; its splits
    pack them; it is evaluated and its best checkpoint kept by their
    correlation."""
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(tiny_model(cfg.model))
    assert type(model.head).__name__ == 'AffectRegressionHead'
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=[DataSample(gt_va=torch.tensor([v, -v]))
                      for v in (0.5, -1.)]), training=True)
    assert torch.isfinite(model.loss(**data)['loss'])
    model.eval()
    with torch.no_grad():
        out = model(data['inputs'], mode='tensor')
    assert out.shape == (2, 2) and out.abs().max() <= 1
    for split in ('train', 'val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset
        ds_cfg.update(data_roots[ds_cfg.type])
        size, classes, sample = built_dataset(ds_cfg, monkeypatch)
        assert size > 0 and tuple(classes) == matrix.VA
        gt_va = torch.as_tensor(sample['data_samples'].gt_va)
        assert gt_va.shape == (2, ) and gt_va.abs().max() <= 1
    assert cfg.val_evaluator == cfg.test_evaluator == dict(
        type='AffectRegressionMetric')
    checkpoint = cfg.default_hooks.checkpoint
    assert (checkpoint.save_best, checkpoint.rule) == ('mean/pearson',
                                                       'greater')


def test_scratch_backbones_pretrain_with_the_scratch_recipe():
    """Stage 1 of a backbone trained from scratch follows
    schedules/affective_scratch.py (the CIFAR ResNet recipe, 200 epochs),
    fine-tuned backbones the BiT rule."""
    scratch = Config.fromfile(osp.join(
        REPO, 'configs/emoreg_pretrain/resnet18-cifar_emoset.py'))
    batch = 8 * scratch.train_dataloader.batch_size
    assert (batch, scratch.auto_scale_lr.base_batch_size) == (128, 128)
    optimizer = scratch.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 0.1, 0.9, 1e-4)
    assert scratch.train_cfg.max_epochs == 200
    assert scratch.param_scheduler.milestones == [100, 150]
    tuned = Config.fromfile(osp.join(
        REPO, 'configs/emoreg_pretrain/resnet50_emoset.py'))
    assert tuned.optim_wrapper.optimizer.weight_decay == 0.
    assert tuned.train_cfg.max_epochs == 28  # 10k steps of the BiT rule
    # small sets: at least four steps per epoch, lr scaled with the batch
    small = stage1_scratch_schedule(180)
    assert (small['batch'], small['lr'], small['per_epoch']) == (32, 0.025, 6)
    assert stage1_scratch_schedule(94_500)['batch'] == 128
    assert stage1_schedule(94_500)['epochs'] == 28
