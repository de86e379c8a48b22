"""The leaves of the affective sets' controls (docs/method.md, "Controls").

Each control leaf is its set's leaf and the control, nothing else: its
``_base_`` pieces (every control leaf, read without loading) and its
loaded config (a sample: every mode and control, backbones, sets and
targets in turn). A shuffled stage 1 builds its training set with the
labels permuted; an untrained stage 2 builds a random, frozen E and reads
no checkpoint.
"""
import os.path as osp
import posixpath
from collections import Counter

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import DATASETS, MODELS

from affective_fixtures import EMOTIONS, make_emoset
from dimensional_fixtures import make_oasis
from emoreg_mm import matrix
from emoreg_mm.metafiles import read_bases

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER, DEMO = matrix.PRESETS['paper'], matrix.PRESETS['demo']


def control_of(leaf):
    return matrix.split_control(leaf.affective or '')[1]


def set_leaf(leaf):
    """The leaf of the set whose control ``leaf`` is."""
    return leaf._replace(affective=matrix.split_control(leaf.affective)[0])


def load(preset, leaf):
    return Config.fromfile(osp.join(REPO, matrix.config_file(preset, leaf)))


def test_every_control_leaf_has_its_sets_pieces_and_its_controls():
    seen = Counter()
    for preset in matrix.PRESETS.values():
        for leaf in matrix.shipped_leaves(preset):
            control = control_of(leaf)
            if control is None:
                continue
            seen[control, leaf.stage] += 1
            bases = read_bases(osp.join(REPO, matrix.config_file(
                preset, leaf)))
            piece = [] if (control, leaf.stage) == ('shuffled', 2) else [
                posixpath.join(preset.layout.controls, f'{control}.py')]
            assert bases == read_bases(osp.join(REPO, matrix.config_file(
                preset, set_leaf(leaf)))) + piece, leaf
    # per backbone and set, a shuffled stage 1; per target and mode but
    # baseline (5 on emotion labels, 4 on valence / arousal ratings), both
    # controls (the demo's one set, one target)
    sets = [a for b in PAPER.backbones for a in matrix.shipped_sets(b)]
    stage2 = sum(8 if a in ('oasis', 'gaped', 'emotion6-va', 'findingemo')
                 else 10 for a in sets)
    assert stage2 == 2 * 7 * 10 + 10 + 2 * 4 * 8
    assert seen == {('shuffled', 1): len(sets) + 1,
                    ('shuffled', 2): stage2 + 5,
                    ('untrained', 2): stage2 + 5}


def sample():
    """Each backbone's shuffled stage 1 (its sets in turn) and one on
    valence / arousal ratings; per control, each mode but baseline once
    (backbones, sets the mode regulates and targets in turn); the demo's
    shuffled stage 1 and one demo leaf per control."""
    leaves, modes = [], [m for m in PAPER.modes if m != 'baseline']
    for k, backbone in enumerate(PAPER.backbones):
        sets = matrix.shipped_sets(backbone)
        leaves.append((PAPER, matrix.LeafName(1, backbone, matrix.control_name(
            sets[k % len(sets)], 'shuffled'), None, None)))
    leaves.append((PAPER, matrix.LeafName(1, 'vit-b16', 'gaped-shuffled',
                                          None, None)))
    for j, control in enumerate(PAPER.controls):
        for i, mode in enumerate(modes):
            sets_of = {b: [a for a in matrix.shipped_sets(b) if
                           matrix.regulates(mode, matrix.affect_space(a))]
                       for b in PAPER.backbones}
            backbones = [b for b in PAPER.backbones if sets_of[b]]
            backbone = backbones[i % len(backbones)]
            sets = sets_of[backbone]
            leaves.append((PAPER, matrix.LeafName(
                2, backbone, matrix.control_name(
                    sets[(i + j) % len(sets)], control), mode,
                PAPER.targets[(i + j) % len(PAPER.targets)])))
    leaves += [(DEMO, leaf) for leaf in matrix.shipped_leaves(DEMO)
               if control_of(leaf) and (leaf.stage == 1 or
                                        leaf.mode == 'learn-ereg')]
    return leaves


def flat(cfg, prefix=''):
    """``{dotted key: value}`` of a config (lists and tuples as values)."""
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(flat(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


@pytest.mark.parametrize('preset, leaf', sample(), ids=[
    osp.basename(matrix.config_file(*pair)) for pair in sample()])
def test_a_control_leaf_is_its_sets_leaf_and_the_control(preset, leaf):
    control, base = control_of(leaf), set_leaf(leaf)
    cfg, ref = flat(load(preset, leaf)), flat(load(preset, base))
    diff = {k: (cfg.get(k), ref.get(k)) for k in set(cfg) | set(ref)
            if cfg.get(k, KeyError) != ref.get(k, KeyError)}
    assert diff.pop('emoreg_affective') == (leaf.affective, base.affective)
    if preset.layout.work_dir:  # each leaf's own (the demo's)
        assert diff.pop('work_dir') == tuple(
            f'{preset.layout.work_dir}/'
            f'{matrix.leaf_name(x, preset.default_affective)}'
            for x in (leaf, base))
    if leaf.stage == 1:  # the same images, recipe and schedule
        assert diff == {
            'train_dataloader.dataset.shuffle_labels': (True, None),
            'train_dataloader.dataset.shuffle_seed': (0, None),
            'shuffled_train_dataset.shuffle_labels': (True, None),
            'shuffled_train_dataset.shuffle_seed': (0, None)}
        return
    stage1 = matrix.LeafName(1, leaf.backbone, leaf.affective, None, None)
    key = 'model.backbone.emotional_checkpoint'
    if control == 'shuffled':  # the shuffled stage 1's checkpoints
        work = f'{preset.layout.work_dir or "work_dirs"}/'
        assert diff == {
            key: (work + matrix.leaf_name(stage1), ref[key]),
            key + '_config': (matrix.config_file(preset, stage1),
                              ref[key + '_config'])}
        return
    vocabulary = preset.affective_specs[base.affective].vocabulary
    assert diff == {
        key: (None, ref[key]), key + '_config': (None, ref[key + '_config']),
        'model.backbone.emotional_init': ('random', None),
        'model.backbone.emotional_seed': (0, None),
        'untrained_encoders.emotional_init': ('random', None),
        'untrained_encoders.emotional_seed': (0, None),
        'model.head.emotion_classes': (vocabulary, None)}


def stage1_splits(names, root, label):
    """``{(leaf, split): [(image, label(info))]}`` of the training and
    validation datasets of the stage-1 leaves ``names`` on ``root``; the
    validation sets are checked to be unshuffled."""
    built = {}
    for name in names:
        cfg = Config.fromfile(osp.join(REPO, 'configs/emoreg_pretrain',
                                       name + '.py'))
        for split in ('train', 'val'):
            ds_cfg = cfg[f'{split}_dataloader'].dataset
            ds_cfg.update(data_root=root, pipeline=[])
            dataset = DATASETS.build(ds_cfg)
            built[name, split] = [
                (d['img_path'], label(d))
                for d in map(dataset.get_data_info, range(len(dataset)))]
        assert dataset.shuffle_labels is False  # val
    return built


def test_a_shuffled_stage1_config_builds_its_set_with_shuffled_labels(
        tmp_path):
    """configs/emoreg_pretrain/resnet50_emoset-shuffled.py on EmoSet's
    split files: its training split is the set's leaf's, the labels
    permuted; validation keeps the true labels."""
    root = make_emoset(str(tmp_path / 'EmoSet'), per_split=dict(
        train={e: 4 for e in EMOTIONS}, val={'awe': 2, 'fear': 2},
        test={'anger': 1}))
    built = stage1_splits(('resnet50_emoset', 'resnet50_emoset-shuffled'),
                          root, lambda d: int(d['gt_label']))
    true = built['resnet50_emoset', 'train']
    shuffled = built['resnet50_emoset-shuffled', 'train']
    assert [p for p, _ in shuffled] == [p for p, _ in true]
    assert Counter(lab for _, lab in shuffled) == \
        Counter(lab for _, lab in true)
    assert sum(a != b for a, b in zip(true, shuffled)) > len(true) / 2
    assert built['resnet50_emoset-shuffled', 'val'] == \
        built['resnet50_emoset', 'val']


def test_a_shuffled_stage1_config_on_ratings_permutes_them(tmp_path):
    """configs/emoreg_pretrain/resnet50_oasis-shuffled.py on OASIS's
    layout: its training split holds the set's leaf's images and ratings,
    the ratings moved to other images; validation keeps them."""
    root = make_oasis(str(tmp_path / 'OASIS'), [
        (f'I{i}', f'Pic {i}', 'Object', 'Pixabay', str(1 + i * 0.15),
         str(1 + (i * 7) % 40 * 0.15)) for i in range(40)], size=4)
    built = stage1_splits(('resnet50_oasis', 'resnet50_oasis-shuffled'),
                          root, lambda d: tuple(d['gt_va'].tolist()))
    true = built['resnet50_oasis', 'train']
    shuffled = built['resnet50_oasis-shuffled', 'train']
    assert [p for p, _ in shuffled] == [p for p, _ in true]
    assert sorted(va for _, va in shuffled) == sorted(va for _, va in true)
    assert sum(a != b for a, b in zip(true, shuffled)) > len(true) / 2
    assert built['resnet50_oasis-shuffled', 'val'] == \
        built['resnet50_oasis', 'val']


@pytest.mark.parametrize('name, emotions', [
    ('resnet18-cifar_learn-ereg_emoset-untrained_cifar10', 8),
    ('resnet50_ereg_emod-untrained_cifar100', 9),
    ('resnet50_arousal-reg_oasis-untrained_cifar10', 2)])
def test_an_untrained_stage2_config_builds_a_random_frozen_e(
        tmp_path, monkeypatch, name, emotions):
    """Its E (tiny backbone of the leaf's family) has the set's number of
    emotions (or rated dimensions), random weights from a fixed seed,
    frozen; nothing is read: there is no stage-1 work dir here."""
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(osp.join(REPO, 'configs/emoreg', name + '.py'))
    wrapper = cfg.model.backbone
    wrapper.backbone = dict(type=wrapper.backbone.type, depth=18,
                            base_channels=4, stem_channels=4,
                            out_indices=(3, ))
    wrapper.in_channels = cfg.model.head.in_channels = 32
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(MODELS.build(cfg.model))
        models[-1].init_weights()
    wrappers = [m.backbone for m in models]
    assert wrappers[0].emotional_checkpoint is None
    assert not hasattr(wrappers[0], 'emotional_meta')
    assert wrappers[0].emotion_head.out_features == emotions
    for a, b in zip(*(w.encoder_e.state_dict().values() for w in wrappers)):
        assert torch.equal(a, b)  # the same E at every run seed
    assert all(not p.requires_grad for p in wrappers[0].frozen_parameters())
    models[0].train()
    assert not any(m.training for m in wrappers[0].encoder_e.modules())
    with torch.no_grad():
        out = models[0](torch.rand(2, 3, 32, 32), mode='tensor')
    assert out.shape == (2, cfg.model.head.num_classes)
