import json
import math
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import (EMOTIONS, make_affective_folder,
                                make_label_file, write_corrupt_image)


def build(**kwargs):
    return DATASETS.build(dict(type='AffectiveImageFolder', **kwargs))


def labels_by_name(ds):
    return {
        osp.relpath(ds.get_data_info(i)['img_path'], ds.img_root):
        ds.get_data_info(i)['gt_label']
        for i in range(len(ds))
    }


def test_folder_per_emotion_canonical(affective_folder_root, pipeline):
    ds = build(data_root=affective_folder_root, pipeline=pipeline)
    assert ds.CLASSES == EMOTIONS and len(ds) == 9
    labels = labels_by_name(ds)
    assert labels['Amusement/img_0.png'] == 0
    assert labels['Fear/img_2.png'] == 6
    assert labels['Sad/img_1.png'] == 7  # Sad -> sadness
    out = ds[0]
    assert out['inputs'].shape == (3, 8, 8)
    assert out['data_samples'].gt_label.item() == 0


def test_folder_own_classes_from_config(affective_folder_root):
    ds = build(data_root=affective_folder_root, label_space='own',
               classes=['Sad', 'Fear', 'Amusement'])
    assert ds.CLASSES == ('Sad', 'Fear', 'Amusement')
    assert labels_by_name(ds)['Sad/img_0.png'] == 0
    auto = build(data_root=affective_folder_root, label_space='own')
    assert auto.CLASSES == ('Amusement', 'Fear', 'Sad')
    binary = build(data_root=affective_folder_root, label_space='binary')
    assert sorted(binary.get_gt_labels().tolist()) == [0] * 3 + [1] * 6
    with pytest.raises(ValueError, match=r"unknown label 'Fear' .*"
                       r"\['Sad', 'Amusement'\]"):
        build(data_root=affective_folder_root, label_space='own',
              classes=['Sad', 'Amusement'])


def test_unknown_folder_name(tmp_path):
    root = make_affective_folder(str(tmp_path), {'awe': 1, 'joyful': 1})
    with pytest.raises(ValueError, match=r"Unknown emotion name 'joyful' in "
                       'image root .*amusement'):
        build(data_root=root)
    ds = build(data_root=root, name_map={'joyful': 'amusement'})
    assert sorted(ds.get_gt_labels().tolist()) == [0, 1]


def test_label_file(tmp_path, pipeline):
    ann = make_label_file(str(tmp_path), [('a b/one.jpg', 'fear'),
                                          ('two.jpg', 'Awe'),
                                          ('three.jpg', '7')])
    ds = build(data_root=str(tmp_path), data_prefix='images', ann_file=ann,
               pipeline=pipeline)
    assert labels_by_name(ds) == {'a b/one.jpg': 6, 'two.jpg': 1,
                                  'three.jpg': 7}
    assert ds[0]['inputs'].shape == (3, 8, 8)
    own = build(data_root=str(tmp_path), data_prefix='images', ann_file=ann,
                label_space='own', classes=[f'c{i}' for i in range(8)] +
                ['fear', 'Awe'])
    assert labels_by_name(own) == {'a b/one.jpg': 8, 'two.jpg': 9,
                                   'three.jpg': 7}


def test_label_file_errors(tmp_path):
    ann = make_label_file(str(tmp_path), [('one.jpg', 'fear'),
                                          ('two.jpg', 'awe')])
    kw = dict(data_root=str(tmp_path), data_prefix='images', ann_file=ann)
    with open(ann, 'a') as f:
        f.write('gone.jpg awe\n')
    with pytest.raises(FileNotFoundError,
                       match=r'1 image\(s\) named by label file .*labels\.txt'
                       r'.*gone\.jpg'):
        build(**kw)
    with open(ann, 'a') as f:
        f.write('lonely_path\n')
    with pytest.raises(ValueError, match=r"labels\.txt, line 5: 'lonely_path'"
                       '; expected "<image path> <label>"'):
        build(**kw)
    with pytest.raises(FileNotFoundError, match='label file not found'):
        build(data_root=str(tmp_path), ann_file='nope.txt')
    with pytest.raises(ValueError, match=r"classes=\['a'\] is only used"):
        build(data_root=str(tmp_path), classes=['a'])


def test_split(tmp_path):
    root = make_affective_folder(str(tmp_path), {e: 5 for e in EMOTIONS[:4]})
    sides = [set(labels_by_name(build(data_root=root, split=s,
                                      split_ratios=(0.6, 0.2, 0.2))))
             for s in ('train', 'val', 'test')]
    assert [len(s) for s in sides] == [12, 4, 4]
    assert len(set().union(*sides)) == 20


def test_corrupt_image_named(tmp_path, pipeline):
    root = make_affective_folder(str(tmp_path), {'awe': 2})
    write_corrupt_image(osp.join(root, 'awe', 'img_1.png'))
    ds = build(data_root=root, pipeline=pipeline)
    with pytest.raises(RuntimeError, match=r'awe/img_1\.png'):
        ds[1]


CONFIG = '''
custom_imports = dict(imports=['emoreg_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=8, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))
data_preprocessor = dict(num_classes=8, mean=[127.5] * 3, std=[127.5] * 3,
                         to_rgb=True)
train_dataloader = dict(
    batch_size=3, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='AffectiveImageFolder', data_root={root!r},
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='Resize', scale=(16, 16)),
                  dict(type='PackInputs')]))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs=1)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1))
log_processor = dict(by_epoch=True)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
'''


@pytest.mark.slow
def test_own_stimuli_train_from_config_only(affective_folder_root, tmp_path):
    import torch
    from mmengine.runner import Runner
    cfg_path = tmp_path / 'my_stimuli_pretrain.py'
    cfg_path.write_text(CONFIG.format(root=affective_folder_root))
    cfg = Config.fromfile(str(cfg_path))
    cfg.work_dir = str(tmp_path / 'work')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: threads only add contention
    try:
        Runner.from_cfg(cfg).train()
    finally:
        torch.set_num_threads(threads)
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))
    logs = [
        osp.join(dp, f) for dp, _, fs in os.walk(cfg.work_dir) for f in fs
        if f.endswith('.json') and 'vis_data' in dp
    ]
    assert logs, 'no scalars.json log written'
    losses = [json.loads(line)['loss'] for line in open(logs[0])
              if '"loss"' in line]
    assert len(losses) == 3  # 9 images, batch 3 -> 3 iterations
    assert all(math.isfinite(x) for x in losses)
