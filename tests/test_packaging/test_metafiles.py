"""The metafiles and model-index.yml match the config tree, and a name
added to the matrix reaches every reader of names."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import yaml
from mmengine.config import Config

from emoreg_mm import leaf_configs, matrix, metafiles
from launch_utils import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_metafiles_up_to_date():
    stale = metafiles.outdated(REPO)
    assert not stale, (f'out of date: {stale}; run '
                       'python tools/misc/gen_metafiles.py')


def test_every_leaf_config_listed_and_nothing_measured():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    listed = {}
    for rel in imports:
        with open(osp.join(REPO, rel)) as f:
            for model in yaml.safe_load(f)['Models']:
                assert 'Results' not in model and 'Weights' not in model
                assert osp.isfile(osp.join(REPO, model['Config']))
                listed[model['Config']] = model['Name']
    for folder in ('emoreg_pretrain', 'emoreg', 'demo'):
        for fname in metafiles.leaf_configs(
                osp.join(REPO, 'configs', folder)):
            rel = f'configs/{folder}/{fname}'
            assert listed.get(rel) == osp.splitext(fname)[0], rel


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_generator_metadata_and_check(tmp_path):
    root = tmp_path
    tool = load_tool('misc/gen_metafiles.py')
    assert metafiles.expected_files(str(root))['model-index.yml']
    _write(root / 'configs' / 'emoreg_pretrain' / 'resnet50_emoset.py',
           "_base_ = ['../_base_/datasets/emoset.py']\n")
    _write(root / 'configs' / 'emoreg' / 'vit-b16_learn-ereg_cifar100.py',
           "_base_ = ['../emoreg_pretrain/vit-b16_abstract.py',\n"
           "          '../_base_/datasets/cifar100.py']\n")
    _write(root / 'configs' / 'emoreg' / '_helper.py', 'x = 1\n')
    check = ['--root', str(root), '--check']
    assert tool.main(check) == 1
    assert tool.main(['--root', str(root)]) == 0
    assert tool.main(check) == 0

    index = yaml.safe_load((root / 'model-index.yml').read_text())
    assert index['Import'] == ['configs/emoreg/metafile.yml',
                               'configs/emoreg_pretrain/metafile.yml']
    stage2 = yaml.safe_load(
        (root / 'configs' / 'emoreg' / 'metafile.yml').read_text())
    assert [m['Name'] for m in stage2['Models']] == [
        'vit-b16_learn-ereg_cifar100']
    assert stage2['Models'][0]['Config'] == \
        'configs/emoreg/vit-b16_learn-ereg_cifar100.py'
    meta = stage2['Models'][0]['Metadata']
    assert meta['Backbone'] == 'ViT-B/16'
    assert meta['Affective Set'] == 'Abstract'  # from _base_
    assert meta['Regulation Mode'] == 'learn-ereg'
    assert meta['Target'] == 'CIFAR-100'
    stage1 = yaml.safe_load(
        (root / 'configs' / 'emoreg_pretrain' / 'metafile.yml').read_text())
    meta = stage1['Models'][0]['Metadata']
    assert meta['Backbone'] == 'ResNet-50'
    assert meta['Affective Set'] == 'EmoSet'
    assert 'Regulation Mode' not in meta

    # a new config makes the files stale
    _write(root / 'configs' / 'emoreg' / 'resnet50_ereg_cifar10.py', '')
    assert tool.main(check) == 1


def _index_entries(root=REPO):
    entries = {}
    with open(osp.join(root, 'model-index.yml')) as f:
        for rel in yaml.safe_load(f)['Import']:
            with open(osp.join(root, rel)) as m:
                for model in yaml.safe_load(m)['Models']:
                    entries.setdefault(model['Config'], []).append(model)
    return entries


def test_every_leaf_has_one_entry_naming_its_place_in_the_matrix():
    """From the one matrix (emoreg_mm/matrix.py): each shipped leaf of
    every preset (the demo's too) is listed once, with its backbone, mode,
    target and (but for baseline) affective set or control; each stage-1
    leaf with its training data."""
    entries = _index_entries()
    leaves = leaf_configs.leaves()
    # 171 + 7 leaves of the emotion-labelled sets, 315 + 11 of their
    # controls; 72 of the sets rated on valence and arousal, 136 of theirs
    assert len(leaves) == 486 + 18 + 72 + 136
    for preset in matrix.PRESETS.values():
        for leaf in matrix.shipped_leaves(preset):
            rel = matrix.config_file(preset, leaf)
            listed = entries.get(rel, [])
            assert len(listed) == 1, (rel, listed)
            meta = listed[0]['Metadata']
            assert meta['Backbone'] == \
                preset.backbone_specs[leaf.backbone].display, rel
            if leaf.stage == 1:
                title = matrix.affective_title(leaf.affective,
                                               preset.affective_specs)
                assert meta['Affective Set'] == title, rel
                assert meta['Training Data'] == title, rel
                assert 'Regulation Mode' not in meta, rel
                continue
            assert meta['Regulation Mode'] == leaf.mode, rel
            assert meta['Target'] == preset.target_titles[leaf.target], rel
            if leaf.mode == 'baseline':
                assert 'Affective Set' not in meta, rel
            else:
                assert meta['Affective Set'] == matrix.affective_title(
                    leaf.affective, preset.affective_specs), rel
    assert entries['configs/emoreg/vit-b16_ereg_emoset-shuffled_cifar10.py'][
        0]['Metadata']['Affective Set'] == 'EmoSet, labels shuffled (control)'
    assert entries['configs/emoreg/vit-b16_const_oasis-shuffled_cifar10.py'][
        0]['Metadata']['Affective Set'] == 'OASIS, ratings shuffled (control)'



# ------------------------------------------ a name added to the matrix
#: One entry at the end of each of the matrix's tables: an affective set,
#: a backbone (shipping for EmoSet and the new set) and a mode.
ADDITIONS = {
    '}\nDEFAULT_AFFECTIVE = ': '''\
    'newset': AffectiveSet('NewSet', 'EmoSet', 'NewSet', 2_000, MIKELS,
                           in_paper=False),
}
DEFAULT_AFFECTIVE = ''',
    "        affective=('emoset', ), in_paper=False),\n}\n": '''\
        affective=('emoset', ), in_paper=False),
    'newnet': Backbone('NewNet at 224 px', 'NewNet', '',
                       'vit_finetune_cifar', '',
                       affective=('emoset', 'newset'), in_paper=False),
}
''',
    "         'rand-learn-ereg')\n": "         'rand-learn-ereg', 'newmode')\n",
}
#: Their _base_ pieces: the set's dataset and affective pieces, the
#: backbone's two model pieces, the mode's regulation piece.
PIECES = {
    'affective/newset.py':
    "_base_ = ['./emoset.py']\nemoreg_affective = 'newset'\n",
    'datasets/newset.py':
    "_base_ = ['./affective_224px.py', '../affective/newset.py']\n"
    "dataset = dict(type='EmoSet', data_root='data/NewSet')\n"
    'data_preprocessor = dict(num_classes=8)\n'
    'train_dataloader = dict(dataset=dataset)\n'
    'val_dataloader = dict(dataset=dataset)\n'
    'test_dataloader = dict(dataset=dataset)\n',
    'models/newnet.py':
    "_base_ = ['./vit-b16.py']\nemoreg_backbone = 'newnet'\n",
    'models/newnet_emoreg.py':
    "_base_ = ['./vit-b16_emoreg.py']\nemoreg_backbone = 'newnet'\n",
    'regulation/newmode.py':
    "_base_ = ['./ereg.py']\nemoreg_mode = 'newmode'\n",
}


def test_names_added_in_the_matrix_reach_every_reader(tmp_path):
    """On a copy of the checkout: one entry per table in the matrix and
    the _base_ pieces they name. The leaves are written, they load, the
    model index lists them, parse_name parses them and the sweep plans
    them, with torch unimportable. The copy's package is a new
    interpreter's (its edited matrix)."""
    root = tmp_path / 'checkout'
    for folder in ('tools', 'configs', 'emoreg_mm'):
        shutil.copytree(osp.join(REPO, folder), root / folder,
                        ignore=shutil.ignore_patterns('__pycache__', '.mim'))
    text = (root / 'emoreg_mm/matrix.py').read_text()
    for old, new in ADDITIONS.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (root / 'emoreg_mm/matrix.py').write_text(text)
    for rel, piece in PIECES.items():
        _write(root / 'configs/_base_' / rel, piece)
    # the generators, the names and the plan need no torch
    _write(tmp_path / 'blocked' / 'torch' / '__init__.py',
           "raise ImportError('torch is blocked in this test')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root), str(tmp_path / 'blocked')]))

    def run(*cmd):
        return subprocess.run([sys.executable, *cmd], cwd=str(root), env=env,
                              capture_output=True, text=True)

    assert 'torch is blocked' in run('-c', 'import torch').stderr
    out = run('tools/misc/gen_configs.py')
    assert out.returncode == 0, out.stderr
    new = {
        'emoreg_pretrain/resnet50_newset', 'emoreg_pretrain/newnet_emoset',
        'emoreg_pretrain/newnet_newset', 'emoreg/newnet_baseline_cifar10',
        'emoreg/newnet_newmode_cifar10', 'emoreg/newnet_ereg_newset_cifar100',
        'emoreg/newnet_newmode_newset_cifar100',
        'emoreg/vit-b16_learn-ereg_newset_cifar100',
        'emoreg/resnet18-cifar_newmode_cifar10',
        'emoreg/resnet50_newmode_fi_cifar10',
        'demo/tiny-resnet_newmode_digits',
        # the new set's controls, and the new mode on every set's
        'emoreg_pretrain/newnet_newset-shuffled',
        'emoreg/newnet_ereg_newset-untrained_cifar10',
        'emoreg/resnet50_newmode_abstract-shuffled_cifar100',
        'demo/tiny-resnet_newmode_synth-abstract-untrained_digits'}
    for name in new:
        assert (root / f'configs/{name}.py').is_file(), name
    # a mode added to MODES regulates emotion categories only
    assert not (root / 'configs/emoreg/resnet50_newmode_oasis_cifar10.py'
                ).exists()
    # per backbone: a stage-1 leaf per set it ships for and per shuffled
    # control of one, and per target a baseline and 6 modes on each
    # emotion-labelled set and each of its 2 controls (4 modes on each set
    # rated on valence and arousal): resnet50 and vit-b16 8 + 4 sets (410
    # each), resnet18-cifar 1 (40), newnet 2 (78); the demo's 2 + 19: 959,
    # of which 712 were there
    assert 'Wrote 247 of 959 leaf configs.' in out.stdout, out.stdout
    assert run('tools/misc/gen_configs.py', '--check').returncode == 0
    cfg = Config.fromfile(
        str(root / 'configs/emoreg/newnet_newmode_newset_cifar100.py'))
    assert (cfg.emoreg_backbone, cfg.emoreg_mode, cfg.emoreg_affective,
            cfg.emoreg_target) == ('newnet', 'newmode', 'newset', 'cifar100')
    assert cfg.model.backbone.emotional_checkpoint == \
        'work_dirs/newnet_newset'

    assert run('tools/misc/gen_metafiles.py', '--root',
               str(root)).returncode == 0
    entries = _index_entries(str(root))
    meta = entries['configs/emoreg/newnet_newmode_newset_cifar100.py'][0][
        'Metadata']
    assert (meta['Backbone'], meta['Regulation Mode'],
            meta['Affective Set']) == ('NewNet', 'newmode', 'NewSet')
    assert entries['configs/emoreg_pretrain/resnet50_newset.py'][0][
        'Metadata']['Training Data'] == 'NewSet'

    out = run('-c', 'from emoreg_mm import matrix; print(matrix.__file__); '
              "print(tuple(matrix.parse_name('newnet_newmode_newset_cifar10'"
              ')))')
    assert out.stdout.split('\n')[:2] == [
        str(root / 'emoreg_mm/matrix.py'),
        "(2, 'newnet', 'newset', 'newmode', 'cifar10')"], out.stderr

    out = run('tools/sweep.py', '--dry-run', '--affective', 'newset',
              '--backbones', 'newnet', '--modes', 'newmode', '--targets',
              'cifar10', '--seeds', '0')
    assert 'Plan (paper): 2 runs = 1 stage-1 + 1 stage-2' in out.stdout, \
        out.stdout + out.stderr
    assert 'configs/emoreg/newnet_newmode_newset_cifar10.py' in out.stdout
    assert 'data/NewSet' in out.stderr  # the set's data folder checked
    out = run('tools/sweep.py', '--dry-run', '--affective', 'nosuchset')
    assert 'newset' in out.stderr  # among the valid names
