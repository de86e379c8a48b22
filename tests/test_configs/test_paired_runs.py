"""Paired runs: at one seed every mode starts N and its head from the same
weights and trains on the same batches.

The real stage-2 leaves of the cheap variant (backbone swapped for a tiny
one of the same type) train one epoch through mmengine's Runner with the
default runtime's hooks on a tiny CIFAR-10 in its native layout.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.datasets import CIFAR10
from mmpretrain.registry import HOOKS, MODELS

import affective_fixtures as fx
from emoreg_mm import matrix
from emoreg_mm.datasets import EMOTIONS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def paper_config(name: str) -> str:
    """The file of the paper's leaf config ``name``."""
    return osp.join(REPO, matrix.config_file(matrix.PRESETS['paper'],
                                             matrix.parse_name(name)))
TINY = dict(type='ResNet_CIFAR', depth=18, base_channels=4, stem_channels=4,
            out_indices=(3, ))
MODES = ('baseline', 'const', 'ereg', 'learn-ereg')


@HOOKS.register_module(force=True)
class PairedRecorderHook(Hook):
    """Keep the initial weights and the first epoch's batches."""
    priority = 'LOWEST'

    def __init__(self):
        self.weights, self.batches = {}, []

    def before_train(self, runner):
        model = runner.model
        if hasattr(model.backbone, 'encoder_n'):
            n, head = model.backbone.encoder_n.backbone, model.head
            h_n, h_i = head.fc_n, head.fc_i
        else:
            n, h_n, h_i = model.backbone, model.head.fc, None
        self.weights = {
            'N': {k: v.clone() for k, v in n.state_dict().items()},
            'h_N': {k: v.clone() for k, v in h_n.state_dict().items()},
            'h_I': h_i and {k: v.clone() for k, v in h_i.state_dict().items()}
        }

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.epoch == 0:
            self.batches.append(
                ([int(s.sample_idx) for s in data_batch['data_samples']],
                 # a list of images, or (default_collate) a batch tensor
                 torch.stack(list(data_batch['inputs'])).clone()))


@pytest.fixture(scope='module')
def paired(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('paired')
    root = fx.make_cifar(str(tmp / 'cifar10'), 10, per_file=8)  # 40 train
    stage1 = Config.fromfile(
        osp.join(REPO, 'configs/emoreg_pretrain/resnet18-cifar_emoset.py'))
    stage1.model.backbone = TINY
    stage1.model.head.in_channels = 32
    torch.manual_seed(7)
    emotional = MODELS.build(stage1.model)
    emotional.init_weights()
    ckpt = str(tmp / 'stage1.pth')
    torch.save(dict(state_dict=emotional.state_dict(),
                    meta=dict(emotion_classes=list(EMOTIONS))), ckpt)

    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CIFAR10, '_check_integrity', lambda self: True)
        for mode in MODES:
            runs[mode] = train_one_epoch(mode, root, ckpt, str(tmp / mode))
    return runs


def train_one_epoch(mode, root, ckpt, work_dir):
    cfg = Config.fromfile(
        paper_config(matrix.stage2_name('resnet18-cifar', mode, 'cifar10')))
    wrapper = cfg.model.backbone.type == 'EmotionalBackboneWrapper'
    holder = cfg.model.backbone if wrapper else cfg.model
    holder.backbone = TINY
    cfg.model.head.in_channels = 32
    if wrapper:
        cfg.model.backbone.update(in_channels=32, emotional_checkpoint=ckpt)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=8, num_workers=0, persistent_workers=False)
        loader.dataset.update(data_root=root, val_size=8)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks.append(dict(type='PairedRecorderHook'))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=3, deterministic=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return next(h for h in runner.hooks
                if isinstance(h, PairedRecorderHook))


@pytest.mark.slow
def test_paired_modes_start_alike(paired):
    base = paired['baseline']
    assert len(base.batches) == 4  # 32 training images, batches of 8
    for mode in MODES[1:]:
        run = paired[mode]
        for part in ('N', 'h_N'):
            ref = base.weights[part]
            assert run.weights[part].keys() == ref.keys(), (mode, part)
            for key, value in ref.items():
                assert torch.equal(run.weights[part][key], value), \
                    (mode, part, key)
        for key, value in paired['const'].weights['h_I'].items():
            assert torch.equal(run.weights['h_I'][key], value), (mode, key)
        assert [ids for ids, _ in run.batches] == \
            [ids for ids, _ in base.batches]
        for (_, inputs), (_, ref) in zip(run.batches, base.batches):
            assert torch.equal(inputs, ref), mode  # same augmentations
    # Weights are drawn, not constant; N and I differ.
    assert base.weights['N']['conv1.weight'].std() > 0
    assert not torch.equal(paired['const'].weights['h_I']['weight'],
                           base.weights['h_N']['weight'])


# -- draws during training: batch augmentations and N's dropout ------------
TINY_VIT = dict(type='VisionTransformer', img_size=32, patch_size=8,
                arch=dict(embed_dims=16, num_layers=2, num_heads=2,
                          feedforward_channels=32),
                drop_rate=0.1, drop_path_rate=0.1, out_type='cls_token')
TINY_R50 = dict(type='ResNet', depth=18, base_channels=4, stem_channels=4,
                out_indices=(3, ))  # a ResNet as in the ResNet-50 leaves
DRAW_MODES = ('baseline', 'const', 'ereg', 'learn-ereg')


@HOOKS.register_module(force=True)
class DrawRecorderHook(Hook):
    """Keep the first steps' batches after the data preprocessor (mixed by
    MixUp) and which units N's dropout / drop path zeroed."""
    priority = 'LOWEST'

    def __init__(self, steps=2, epoch=0):
        self.steps, self.epoch, self.batches, self.masks = steps, epoch, [], []

    def before_train(self, runner):
        model = runner.model
        n = getattr(model.backbone, 'encoder_n', model.backbone)

        def batch(module, args, output):
            if len(args) > 1 and args[1] and len(self.batches) < \
                    self.steps and runner.epoch == self.epoch:
                self.batches.append(
                    (output['inputs'].clone(),
                     torch.stack([s.gt_score if 'gt_score' in s else
                                  s.gt_label for s in
                                  output['data_samples']]).clone()))

        def mask(module, args, output):
            if module.training and len(self.masks) < 4 * self.steps * 9:
                self.masks.append(output.detach() == 0)

        model.data_preprocessor.register_forward_hook(batch)
        for sub in n.modules():
            if isinstance(sub, torch.nn.Dropout) or \
                    type(sub).__name__ == 'DropPath':
                sub.register_forward_hook(mask)


def _stage1(tmp, backbone, in_channels):
    name = 'vit-b16' if backbone['type'] == 'VisionTransformer' else \
        'resnet50'
    cfg = Config.fromfile(paper_config(matrix.stage1_name(name, 'emoset')))
    cfg.model.backbone = backbone
    cfg.model.head.in_channels = in_channels
    torch.manual_seed(7)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = str(tmp / f'{name}_stage1.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(emotion_classes=list(EMOTIONS))), path)
    return path


def _draws(leaf, backbone, in_channels, root, ckpt, work_dir, streams=True,
           epochs=1, record_epoch=0, resume=False, save=False):
    cfg = Config.fromfile(paper_config(leaf))
    wrapper = cfg.model.backbone.type == 'EmotionalBackboneWrapper'
    holder = cfg.model.backbone if wrapper else cfg.model
    holder.backbone = backbone
    cfg.model.head.in_channels = in_channels
    if wrapper:
        cfg.model.backbone.update(in_channels=in_channels,
                                  emotional_checkpoint=ckpt)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=8, num_workers=0, persistent_workers=False)
        loader.dataset.update(data_root=root, val_size=8)
    # tiny images: the 224-px targets' on-device upsampling to 32 (none)
    cfg.data_preprocessor.size = 32
    cfg.train_cfg.update(max_epochs=epochs, val_interval=1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None  # steps only
    if save:
        cfg.default_hooks.checkpoint.save_best = None
    else:
        cfg.default_hooks.checkpoint = None
    cfg.resume = resume
    cfg.default_hooks.logger.interval = 1
    for hook in cfg.custom_hooks:
        if hook['type'] == 'PairedInitHook':
            hook['streams'] = streams
    cfg.custom_hooks.append(dict(type='DrawRecorderHook',
                                 epoch=record_epoch))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=3, deterministic=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return next(h for h in runner.hooks if isinstance(h, DrawRecorderHook))


@pytest.mark.slow
@pytest.mark.parametrize('name,backbone,channels', [
    ('resnet50', TINY_R50, 32), ('vit-b16', TINY_VIT, 16)])
def test_paired_modes_draw_alike(tmp_path, name, backbone, channels):
    """The ResNet-50 leaves (MixUp) and the ViT-B/16 leaves (dropout): at
    one seed every mode trains on the same mixed batches and N drops the
    same units; without the streams (PairedInitHook(streams=False)) they
    do not."""
    root = fx.make_cifar(str(tmp_path / 'cifar10'), 10, per_file=8)
    ckpt = _stage1(tmp_path, backbone, channels)
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CIFAR10, '_check_integrity', lambda self: True)
        for mode in DRAW_MODES:
            runs[mode] = _draws(matrix.stage2_name(name, mode, 'cifar10'),
                                backbone, channels,
                                root, ckpt, str(tmp_path / mode))
        control = _draws(matrix.stage2_name(name, 'learn-ereg', 'cifar10'),
                         backbone, channels,
                         root, ckpt, str(tmp_path / 'control'),
                         streams=False)
    base = runs['baseline']
    assert len(base.batches) == 2
    mixed = name == 'resnet50'
    if mixed:  # MixUp: soft labels
        assert not torch.equal(base.batches[0][1],
                               base.batches[0][1].round())
    else:
        assert len(base.masks) >= 2 and any(m.any() for m in base.masks)
    for mode in DRAW_MODES[1:]:
        for (inputs, labels), (ref_in, ref_lab) in zip(runs[mode].batches,
                                                       base.batches):
            assert torch.equal(inputs, ref_in), mode
            assert torch.equal(labels, ref_lab), mode
        assert len(runs[mode].masks) == len(base.masks)
        for got, ref in zip(runs[mode].masks, base.masks):
            assert torch.equal(got, ref), mode
    if mixed:
        assert not all(torch.equal(a[0], b[0]) for a, b in
                       zip(control.batches, base.batches))
    else:
        assert not all(torch.equal(a, b) for a, b in
                       zip(control.masks, base.masks))


@pytest.mark.slow
def test_streams_resume_where_they_stopped(tmp_path):
    """Stopped after epoch 1 and resumed, a ResNet-50 leaf (MixUp) mixes
    the batches of epoch 2 as the uninterrupted run does: the streams'
    states travel in the checkpoint."""
    root = fx.make_cifar(str(tmp_path / 'cifar10'), 10, per_file=8)
    ckpt = _stage1(tmp_path, TINY_R50, 32)
    leaf, work_dir = 'resnet50_learn-ereg_cifar10', str(tmp_path / 'resumed')
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CIFAR10, '_check_integrity', lambda self: True)
        straight = _draws(leaf, TINY_R50, 32, root, ckpt,
                          str(tmp_path / 'straight'), epochs=2,
                          record_epoch=1, save=True)
        _draws(leaf, TINY_R50, 32, root, ckpt, work_dir, epochs=1,
               save=True)
        resumed = _draws(leaf, TINY_R50, 32, root, ckpt, work_dir, epochs=2,
                         record_epoch=1, save=True, resume=True)
        # the control: resumed without the streams' states
        _draws(leaf, TINY_R50, 32, root, ckpt, work_dir + '_c', epochs=1,
               save=True)
        saved = torch.load(osp.join(work_dir + '_c', 'epoch_1.pth'),
                           weights_only=True)
        assert set(saved['paired_streams']) == {'batch_augments'}
        del saved['paired_streams']
        torch.save(saved, osp.join(work_dir + '_c', 'epoch_1.pth'))
        control = _draws(leaf, TINY_R50, 32, root, ckpt, work_dir + '_c',
                         epochs=2, record_epoch=1, save=True, resume=True)
    assert len(straight.batches) == len(resumed.batches) == 2
    for (inputs, labels), (ref_in, ref_lab) in zip(resumed.batches,
                                                   straight.batches):
        assert torch.equal(inputs, ref_in) and torch.equal(labels, ref_lab)
    assert not all(torch.equal(a[0], b[0]) for a, b in
                   zip(control.batches, straight.batches))
