"""The metafiles and model-index.yml match the config tree."""
import os.path as osp
import subprocess
import sys

import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'misc'))

import gen_metafiles  # noqa: E402


def test_metafiles_up_to_date():
    stale = gen_metafiles.outdated(REPO)
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
    for folder in ('emoreg_pretrain', 'emoreg'):
        for fname in gen_metafiles.leaf_configs(
                osp.join(REPO, 'configs', folder)):
            rel = f'configs/{folder}/{fname}'
            assert listed.get(rel) == osp.splitext(fname)[0], rel


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_generator_metadata_and_check(tmp_path):
    root = tmp_path
    assert gen_metafiles.expected_files(str(root))['model-index.yml']
    _write(root / 'configs' / 'emoreg_pretrain' / 'resnet50_emoset.py',
           "_base_ = ['../_base_/datasets/emoset.py']\n")
    _write(root / 'configs' / 'emoreg' / 'vit-b16_learn-ereg_cifar100.py',
           "_base_ = ['../emoreg_pretrain/vit-b16_abstract.py',\n"
           "          '../_base_/datasets/cifar100.py']\n")
    _write(root / 'configs' / 'emoreg' / '_helper.py', 'x = 1\n')
    tool = osp.join(REPO, 'tools', 'misc', 'gen_metafiles.py')
    check = [sys.executable, tool, '--root', str(root), '--check']
    assert subprocess.run(check, capture_output=True).returncode == 1
    subprocess.run([sys.executable, tool, '--root', str(root)], check=True)
    assert subprocess.run(check, capture_output=True).returncode == 0

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
    assert subprocess.run(check, capture_output=True).returncode == 1
