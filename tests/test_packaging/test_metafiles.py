"""The metafiles and model-index.yml match the config tree."""
import os
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


def _matrix():
    from results_table import plugin_module
    return plugin_module('matrix')


def _index_entries(root=REPO):
    entries = {}
    with open(osp.join(root, 'model-index.yml')) as f:
        for rel in yaml.safe_load(f)['Import']:
            with open(osp.join(root, rel)) as m:
                for model in yaml.safe_load(m)['Models']:
                    entries.setdefault(model['Config'], []).append(model)
    return entries


def test_every_leaf_has_one_entry_naming_its_place_in_the_matrix():
    """From the one matrix (emoreg_mm/matrix.py): each shipped leaf is
    listed once, with its backbone, mode, target and (but for baseline)
    affective set; each stage-1 leaf with its training data."""
    from launch_utils import load_tool
    matrix = _matrix()
    entries = _index_entries()
    leaves = load_tool('misc/gen_configs.py').leaves()
    assert len(leaves) == 171
    for rel in leaves:
        listed = entries.get(f'configs/{rel}', [])
        assert len(listed) == 1, (rel, listed)
        meta = listed[0]['Metadata']
        stem = osp.splitext(osp.basename(rel))[0]
        backbone, rest = stem.split('_', 1)
        assert meta['Backbone'] == matrix.BACKBONES[backbone].display, rel
        if rel.startswith('emoreg_pretrain/'):
            title = matrix.AFFECTIVE_SETS[rest].title
            assert meta['Affective Set'] == title, rel
            assert meta['Training Data'] == title, rel
            assert 'Regulation Mode' not in meta, rel
            continue
        parts = rest.split('_')
        mode, target = parts[0], parts[-1]
        affective = parts[1] if len(parts) == 3 else matrix.DEFAULT_AFFECTIVE
        assert meta['Regulation Mode'] == mode, rel
        assert meta['Target'] == matrix.TARGETS[target], rel
        if mode == 'baseline':
            assert 'Affective Set' not in meta, rel
        else:
            assert meta['Affective Set'] == \
                matrix.AFFECTIVE_SETS[affective].title, rel


#: One more entry at the end of the matrix's AFFECTIVE_SETS.
NEW_SET = '''\
    'newset': AffectiveSet('NewSet', 'EmoSet', 'NewSet', 2_000, MIKELS,
                           in_paper=False),
}
DEFAULT_AFFECTIVE = '''


def test_a_set_added_in_the_matrix_reaches_leaves_index_and_sweep(tmp_path):
    """On a copy of the tree: one entry in the matrix and the set's two
    _base_ pieces; the generators and the sweep take it from there."""
    import shutil
    root = tmp_path / 'checkout'
    for folder in ('tools', 'configs'):
        shutil.copytree(osp.join(REPO, folder), root / folder,
                        ignore=shutil.ignore_patterns('__pycache__'))
    # the package as the tools find it (plugin_module: its __init__ is
    # never run, only the torch-free modules they name are loaded)
    package = root / 'emoreg_mm'
    shutil.copytree(osp.join(REPO, 'emoreg_mm'), package,
                    ignore=shutil.ignore_patterns('__pycache__', '.mim'))
    text = (package / 'matrix.py').read_text()
    assert text.count('}\nDEFAULT_AFFECTIVE = ') == 1
    (package / 'matrix.py').write_text(
        text.replace('}\nDEFAULT_AFFECTIVE = ', NEW_SET))
    _write(root / 'configs/_base_/affective/newset.py',
           "_base_ = ['./emoset.py']\nemoreg_affective = 'newset'\n")
    _write(root / 'configs/_base_/datasets/newset.py',
           "_base_ = ['./affective_224px.py', '../affective/newset.py']\n"
           "dataset = dict(type='EmoSet', data_root='data/NewSet')\n"
           "data_preprocessor = dict(num_classes=8)\n"
           "train_dataloader = dict(dataset=dataset)\n"
           "val_dataloader = dict(dataset=dataset)\n"
           "test_dataloader = dict(dataset=dataset)\n")
    env = dict(os.environ, PYTHONPATH=str(root))

    def run(*cmd):
        return subprocess.run([sys.executable, *cmd], cwd=str(root), env=env,
                              capture_output=True, text=True)

    out = run('tools/misc/gen_configs.py')
    assert out.returncode == 0, out.stderr
    assert (root / 'configs/emoreg_pretrain/resnet50_newset.py').is_file()
    leaf = root / 'configs/emoreg/vit-b16_learn-ereg_newset_cifar100.py'
    assert "'../_base_/affective/newset.py'" in leaf.read_text()
    assert run('tools/misc/gen_configs.py', '--check').returncode == 0

    assert run('tools/misc/gen_metafiles.py', '--root',
               str(root)).returncode == 0
    entries = _index_entries(str(root))
    meta = entries['configs/emoreg/vit-b16_learn-ereg_newset_cifar100.py'][
        0]['Metadata']
    assert meta['Affective Set'] == 'NewSet'
    assert entries['configs/emoreg_pretrain/resnet50_newset.py'][0][
        'Metadata']['Training Data'] == 'NewSet'

    out = run('tools/sweep.py', '--dry-run', '--affective', 'newset',
              '--backbones', 'resnet50', '--modes', 'ereg', '--targets',
              'cifar10', '--seeds', '0')
    assert 'Plan (paper): 2 runs = 1 stage-1 + 1 stage-2' in out.stdout, \
        out.stdout + out.stderr
    assert 'configs/emoreg/resnet50_ereg_newset_cifar10.py' in out.stdout
    assert 'data/NewSet' in out.stderr  # the set's data folder checked
    out = run('tools/sweep.py', '--dry-run', '--affective', 'nosuchset')
    assert 'newset' in out.stderr  # among the valid names
