"""What would fail late, or silently, is caught before the first step:
stage 2's preprocessing against stage 1's record, evaluators that cannot
run on the target, a broken val pipeline, an emotion vocabulary set where
it does not reach the model, unreachable pretrained weights, and
``--cfg-options`` keys one level off."""
import glob
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import affective_fixtures as fx
from emoreg_mm.engine.hooks.preprocess_record_hook import (
    preprocess_mismatches, preprocess_record)
from emoreg_mm.engine.runner import ConfigKeyError, check_cfg_options
from engine_configs import ARCHS, EMOTIONS, write_regulated_config
from plain_config import make_plain_config
from runs import REPO

STAGE1 = '''
custom_imports = dict(imports=['emoreg_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'
model = dict(type='ImageClassifier', backbone={backbone!r}, neck={neck!r},
             head=dict(type='LinearClsHead', num_classes=3,
                       in_channels={in_channels}))
# Decoded BGR by LoadImageFromFile, fed to the model as RGB.
data_preprocessor = dict(num_classes=3, mean=[127.5] * 3, std=[127.5] * 3,
                         to_rgb=True)
dataset = dict(type='CustomDataset', data_root={root!r}, with_label=True,
               pipeline=[dict(type='LoadImageFromFile'),
                         dict(type='PackInputs')])
train_dataloader = dict(batch_size=4, num_workers=0, dataset=dataset,
                        sampler=dict(type='DefaultSampler', shuffle=False))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
train_cfg = dict(by_epoch=True, max_epochs=1)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1))
custom_hooks = [dict(type='PreprocessRecordHook')]
'''


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions gain nothing from threads, and OpenMP threads on
    shared cores can be many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _runner(config, tmp_path, name, **changes):
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / name)
    cfg.experiment_name = f'{tmp_path.name}_{name}'
    cfg.train_cfg.max_epochs = 1
    cfg.train_dataloader.batch_size = 8
    cfg.merge_from_dict(changes)
    return Runner.from_cfg(cfg)


#: The plain configs have no custom hooks.
PREFLIGHT = [dict(type='PreflightCheckHook')]


def _log(runner):
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        return f.read()


@pytest.fixture
def stage1(tmp_path):
    """A stage-1 run of the tiny ResNet on three emotion folders of 8x8
    images (RGB into the model); its checkpoint path."""
    root = str(tmp_path / 'stimuli')
    for name in EMOTIONS:
        for k in range(4):
            fx.write_image(osp.join(root, name, f'{k}.png'), size=8)
    spec = ARCHS['resnet']
    path = tmp_path / 'stage1.py'
    path.write_text(STAGE1.format(root=root, **spec))
    runner = _runner(str(path), tmp_path, 'stage1_work')
    runner.train()
    return osp.join(runner.work_dir, 'epoch_1.pth')


def test_stage2_preprocessing_must_match_stage1(tmp_path, stage1):
    meta = torch.load(stage1, weights_only=True)['meta']
    assert meta['preprocess'] == dict(
        channel_order='rgb', to_rgb=True, source_order='bgr',
        mean=[127.5] * 3, std=[127.5] * 3, input_size=[8, 8])
    # CustomDataset sorts the folders: the emotions in that order.
    emotions = sorted(EMOTIONS)
    assert list(meta['dataset_meta']['classes']) == emotions

    # The target read with LoadImageFromFile (BGR) and to_rgb left False,
    # and at another size: both named, with stage 1's values.
    config = write_regulated_config(tmp_path, max_epochs=1,
                                    emotions=emotions)
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(16, 16)),
                dict(type='PackInputs')]
    runner = _runner(
        config, tmp_path, 'bgr', model=dict(
            backbone=dict(emotional_checkpoint=stage1)),
        train_dataloader=dict(dataset=dict(pipeline=pipeline)))
    with pytest.raises(ValueError) as exc:
        runner.train()
    msg = str(exc.value)
    assert f"stage-1 checkpoint '{stage1}'" in msg
    assert ('channel order: stage 1 RGB (LoadImageFromFile decodes BGR, '
            'data_preprocessor.to_rgb=True), this config BGR '
            '(LoadImageFromFile decodes BGR, data_preprocessor.to_rgb=False)'
            ': set data_preprocessor.to_rgb=True') in msg
    assert 'input size: stage 1 8x8, this config 16x16' in msg
    assert 'mean' not in msg.split('\n', 1)[1]
    assert runner.iter == 0

    # As stage 1: trains, and its own checkpoints record it.
    runner = _runner(
        config, tmp_path, 'rgb', model=dict(
            backbone=dict(emotional_checkpoint=stage1)),
        data_preprocessor=dict(to_rgb=True))
    runner.train()
    assert runner.iter > 0
    assert 'records no preprocessing' not in _log(runner)


def test_stage1_checkpoint_without_record_warns(tmp_path):
    # write_regulated_config's stage-1 file holds weights and classes only,
    # as checkpoints written before the record existed.
    runner = _runner(write_regulated_config(tmp_path, max_epochs=1),
                     tmp_path, 'old')
    runner.train()
    assert runner.iter > 0
    assert "records no preprocessing (meta['preprocess']" in _log(runner)


def test_topk_beyond_the_classes_fails_before_the_first_step(tmp_path):
    config = make_plain_config(tmp_path)  # 2 classes
    runner = _runner(config, tmp_path, 'topk', custom_hooks=PREFLIGHT,
                     val_evaluator=dict(topk=(1, 5)),
                     test_evaluator=dict(topk=(1, 5)))
    with pytest.raises(ValueError) as exc:
        runner.train()
    msg = str(exc.value)
    assert 'The model predicts 2 classes' in msg
    assert 'val_evaluator.topk=(1,) test_evaluator.topk=(1,)' in msg
    assert runner.iter == 0


def test_broken_val_pipeline_and_metric_fail_before_the_first_step(
        tmp_path):
    config = make_plain_config(tmp_path)
    # No LoadImageFromFile: PackInputs finds no image.
    runner = _runner(config, tmp_path, 'pipeline', custom_hooks=PREFLIGHT,
                     val_dataloader=dict(
        dataset=dict(pipeline=[dict(type='PackInputs')])))
    with pytest.raises(RuntimeError, match='first validation sample fails '
                       'in the val pipeline.*val_dataloader.dataset.pipeline'):
        runner.train()
    assert runner.iter == 0

    # Validation data without labels: Accuracy cannot be computed.
    runner = _runner(config, tmp_path, 'labels', custom_hooks=PREFLIGHT,
                     val_dataloader=dict(
        dataset=dict(with_label=False)))
    with pytest.raises(RuntimeError, match='val_evaluator: its metrics '
                       'cannot be computed on the first validation sample'):
        runner.train()
    assert runner.iter == 0


def test_stage2_takes_the_emotion_vocabulary_stage1_recorded(tmp_path):
    """Set in stage 1 only: a config without model.head.emotion_classes
    builds the head and g_E from the classes the stage-1 checkpoint
    recorded, and every stage-2 checkpoint records them."""
    own = ['joy', 'calm', 'fear', 'awe']
    config = write_regulated_config(
        tmp_path, max_epochs=1, emotions=None, stage1_emotions=own,
        extra_hooks=[dict(type='PreprocessRecordHook')], name='unset.py')
    runner = _runner(config, tmp_path, 'unset')
    assert runner.model.head.emotion_classes == tuple(own)
    assert runner.model.backbone.emotion_head.out_features == 4
    runner.train()
    saved = torch.load(osp.join(str(tmp_path), 'unset', 'epoch_1.pth'),
                       weights_only=True)
    assert saved['meta']['emotion_classes'] == own

    # Set, with another number of emotions than stage 1: the load names
    # both and what to change.
    config = write_regulated_config(
        tmp_path, max_epochs=1, stage1_emotions=EMOTIONS + ['awe'],
        name='four.py')
    runner = _runner(config, tmp_path, 'four')
    with pytest.raises(RuntimeError, match=r'stage 1 has 4 emotions, this '
                       r'model 3: leave model.head.emotion_classes unset'):
        runner.train()


def test_unreachable_pretrained_url_names_the_key_of_the_config(tmp_path):
    config = write_regulated_config(tmp_path, max_epochs=1)
    # Nothing listens on port 9 of this machine.
    url = 'http://127.0.0.1:9/emoreg_preflight_missing_weights.pth'
    runner = _runner(config, tmp_path, 'offline', model=dict(
        backbone=dict(backbone=dict(
            init_cfg=dict(type='Pretrained', checkpoint=url)))))
    with pytest.raises(FileNotFoundError) as exc:
        runner.train()
    msg = str(exc.value)
    assert url in msg and 'emoreg_preflight_missing_weights.pth' in msg
    assert msg.endswith(
        '--cfg-options model.backbone.backbone.init_cfg=None')

    # Testing loads the weights from a checkpoint: the URL is not needed.
    runner = _runner(config, tmp_path, 'offline_test', model=dict(
        backbone=dict(backbone=dict(
            init_cfg=dict(type='Pretrained', checkpoint=url)))),
        test_dataloader=dict(runner.cfg.val_dataloader),
        test_evaluator=dict(type='Accuracy', topk=(1, )), test_cfg=dict())
    assert 'accuracy/top1' in runner.test()


@pytest.mark.parametrize('leaf,key,suggested', [
    ('configs/emoreg/resnet50_learn-ereg_cifar10.py',
     'model.backbone.init_cfg', 'model.backbone.backbone.init_cfg'),
    ('configs/emoreg_pretrain/resnet50_emoset.py',
     'model.backbone.backbone.init_cfg', 'model.backbone.init_cfg'),
])
def test_cfg_option_one_level_off_suggests_the_key(leaf, key, suggested):
    cfg = Config.fromfile(osp.join(REPO, leaf))
    with pytest.raises(ConfigKeyError, match=f'Did you mean {suggested}\\?'):
        check_cfg_options(cfg, [key])
    check_cfg_options(cfg, [suggested])


def _static_record(cfg):
    """The preprocessing record of a config's training data, from its
    pipeline and data preprocessor (no data needed; no input size)."""
    init_default_scope('mmpretrain')
    prep = dict(cfg.data_preprocessor)
    prep.pop('num_classes', None)
    model = SimpleNamespace(data_preprocessor=MODELS.build(
        dict(prep, type=prep.get('type', 'ClsDataPreprocessor'))))
    dataset = SimpleNamespace(
        pipeline=Compose(cfg.train_dataloader.dataset.pipeline))
    return preprocess_record(model, dataset)


def test_every_leaf_feeds_stage_1_as_it_was_trained():
    """Every stage-2 leaf (one mode per backbone x affective set x target:
    the mode changes no preprocessing) matches its stage-1 leaf; the
    untrained controls have none (a random E, no stage 1)."""
    leaves = sorted(glob.glob(osp.join(REPO, 'configs/emoreg/*_learn-ereg_*'
                                       '.py'))) + [
        osp.join(REPO, 'configs/demo/tiny-resnet_learn-ereg_digits.py')]
    stage1 = {}
    for leaf in leaves:
        cfg = Config.fromfile(leaf)
        if leaf.endswith('-untrained_' + leaf.rsplit('_', 1)[1]):
            assert cfg.model.backbone.emotional_init == 'random', leaf
            continue
        s1 = cfg.model.backbone.emotional_checkpoint_config
        if s1 not in stage1:
            stage1[s1] = _static_record(Config.fromfile(osp.join(REPO, s1)))
        current = _static_record(cfg)
        assert stage1[s1]['channel_order'] == current['channel_order'] == \
            'rgb', (leaf, current)
        assert not preprocess_mismatches(stage1[s1], current), leaf
    assert len(leaves) > 10 and len(stage1) > 3


@pytest.mark.parametrize('leaf', ['configs/emoreg_pretrain/vit-b16_fi.py',
                                  'configs/emoreg/resnet50_ereg_cifar10.py'])
def test_data_root_option_reaches_every_split(leaf):
    """tools/train.py / test.py / check_dataset --data-root: one option for
    the three dataloaders' dataset.data_root."""
    from emoreg_mm.engine.runner import set_data_root
    cfg = Config.fromfile(osp.join(REPO, leaf))
    assert set_data_root(cfg, '/data/mine') == 3
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.data_root == '/data/mine'
    assert set_data_root(cfg, None) == 0
    with pytest.raises(ConfigKeyError, match='no dataset of this config'):
        set_data_root(Config(dict(model=dict(type='X'))), '/data/mine')
