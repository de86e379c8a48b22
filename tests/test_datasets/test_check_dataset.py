"""Checking the datasets of a config: emoreg_mm.datasets.checks, and
tools/analysis_tools/check_dataset.py's options through its main(argv) in
this process."""
import os.path as osp
import shutil

import pytest

from affective_fixtures import (make_affective_folder, make_artphoto,
                                make_emotion6, make_fi, make_label_file,
                                write_corrupt_image)
from emoreg_mm.datasets.checks import check_datasets, load_config
from emoreg_mm.utils import register_all_modules
from launch_utils import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

register_all_modules(init_default_scope=False)


def check(cfg, **kwargs):
    """The problems :func:`check_datasets` finds in the config file."""
    return check_datasets(load_config(cfg), **kwargs)


def tool(*argv):
    """check_dataset.py's exit status."""
    return load_tool('analysis_tools/check_dataset.py').main(list(argv))


def write_config(path, train, val, test=None):
    text = ("custom_imports = dict(imports=['emoreg_mm'], "
            'allow_failed_imports=False)\n'
            "pipeline = [dict(type='LoadImageFromFile'), "
            "dict(type='PackInputs')]\n"
            f'train_dataloader = dict(batch_size=2, dataset={train!r})\n'
            f'val_dataloader = dict(batch_size=2, dataset={val!r})\n')
    if test is not None:
        text += f'test_dataloader = dict(batch_size=2, dataset={test!r})\n'
    path.write_text(text)
    return str(path)


def folder_split(root, split):
    return dict(type='AffectiveImageFolder', data_root=root, split=split,
                split_ratios=(0.6, 0.2, 0.2),
                pipeline=[dict(type='LoadImageFromFile')])


def test_clean_dataset_passes(tmp_path, capsys):
    root = make_affective_folder(str(tmp_path / 'stim'),
                                 {'awe': 5, 'fear': 5})
    cfg = write_config(tmp_path / 'cfg.py', folder_split(root, 'train'),
                       folder_split(root, 'val'), folder_split(root, 'val'))
    assert check(cfg) == []
    out = capsys.readouterr().out
    assert 'No problems found' in out
    assert 'same dataset config as val' in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith('  ')}
    assert rows['awe'] == ['3', '1', '1'] and rows['fear'] == ['3', '1', '1']
    assert rows['total'] == ['6', '2', '2']
    assert tool(cfg, '--split', 'train') == 0


def test_corrupt_and_duplicate_images_fail(tmp_path, capsys):
    ann_train = make_label_file(str(tmp_path), [('a.jpg', 'awe'),
                                                ('b.jpg', 'fear'),
                                                ('bad.jpg', 'fear')],
                                'train.txt')
    ann_val = make_label_file(str(tmp_path), [('c.jpg', 'awe')], 'val.txt')
    shutil.copy(osp.join(tmp_path, 'images', 'a.jpg'),
                osp.join(tmp_path, 'images', 'copy_of_a.jpg'))
    with open(ann_val, 'a') as f:
        f.write('copy_of_a.jpg awe\n')
    write_corrupt_image(osp.join(tmp_path, 'images', 'bad.jpg'))

    def ds(ann):
        return dict(type='AffectiveImageFolder', data_root=str(tmp_path),
                    data_prefix='images', ann_file=ann)

    cfg = write_config(tmp_path / 'cfg.py', ds(ann_train), ds(ann_val))
    assert len(check(cfg)) == 2
    out = capsys.readouterr().out
    assert '2 problem(s) found' in out
    assert 'bad.jpg: corrupt' in out
    assert 'duplicate across train/val' in out and 'copy_of_a.jpg' in out
    assert tool(cfg, '--no-decode', '--split', 'train') == 0


def test_missing_image_and_unbuildable(tmp_path, capsys):
    root = make_affective_folder(str(tmp_path / 'stim'), {'awe': 2})
    cfg = write_config(tmp_path / 'cfg.py', folder_split(root, 'all'),
                       folder_split(str(tmp_path / 'nowhere'), 'all'))
    assert check(cfg)
    out = capsys.readouterr().out
    assert '[val] the dataset cannot be built: FileNotFoundError' in out
    assert 'nowhere' in out
    # mmpretrain's CustomDataset does not check files: the tool does
    lf = tmp_path / 'lf'
    make_label_file(str(lf), [('x.jpg', '0')])
    (lf / 'custom.txt').write_text('x.jpg 0\ngone.jpg 1\n')
    custom = dict(type='CustomDataset', data_root=str(lf),
                  data_prefix='images', ann_file='custom.txt',
                  classes=['a', 'b'])
    cfg2 = write_config(tmp_path / 'cfg2.py', custom, custom)
    assert tool(cfg2) == 1
    out = capsys.readouterr().out
    assert 'gone.jpg: missing' in out and '1 problem(s)' in out


def test_native_sets_skipped_files_are_notes(tmp_path, capsys):
    """FI / ArtPhoto / Emotion6 in their layouts: what a set leaves out by
    its own rules is listed as a note; a file that only fails to decode is
    a problem."""
    fi = make_fi(str(tmp_path / 'emotion_dataset'), count=10)

    def split(type_, root, name, **kw):
        return dict(type=type_, data_root=root, split=name,
                    pipeline=[dict(type='LoadImageFromFile')], **kw)

    cfg = write_config(tmp_path / 'fi.py', split('FI', fi, 'train'),
                       split('FI', fi, 'val'), split('FI', fi, 'test'))
    assert check(cfg) == []
    out = capsys.readouterr().out
    assert 'note: FI left out' in out and '(placeholder)' in out
    assert 'awe/awe_9004.jpg' in out and 'No problems found' in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith('  ')}
    assert sum(int(n) for n in rows['total']) == 80  # 85 found, 5 left out

    # a JPEG header with nothing decodable behind it passes the dataset's
    # cheap check; the tool's decode finds it
    victim = osp.join(fi, 'anger', 'anger_0011.jpg')
    with open(victim, 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 truncated')
    assert check(cfg)
    assert 'anger_0011.jpg: corrupt' in capsys.readouterr().out

    e6 = make_emotion6(str(tmp_path / 'Emotion6'), repeat=2)
    ap = make_artphoto(str(tmp_path / 'testImages_artphoto'))
    cfg2 = write_config(
        tmp_path / 'e6.py',
        split('Emotion6', e6, 'all', label_space='canonical'),
        split('ArtPhoto', ap, 'all'))
    assert check(cfg2) == []
    out = capsys.readouterr().out
    assert 'Emotion6 left out 6 file(s) (label without a canonical class)' \
        in out
    assert 'Emotion6 left out 2 file(s) (tied)' in out


def test_one_option_sets_the_data_root_and_dead_keys_are_refused(
        tmp_path, capsys):
    """--data-root points train, val and test at a folder (the config's
    own path does not exist); keys that would change nothing, or do not
    exist, are refused as tools/train.py refuses them."""
    root = make_affective_folder(str(tmp_path / 'stim'),
                                 {'awe': 5, 'fear': 5})
    nowhere = str(tmp_path / 'not_here')
    cfg = write_config(tmp_path / 'cfg.py', folder_split(nowhere, 'train'),
                       folder_split(nowhere, 'val'),
                       folder_split(nowhere, 'test'))
    assert tool(cfg) == 1  # the config's folder is missing
    capsys.readouterr()
    assert tool(cfg, '--data-root', root) == 0
    out = capsys.readouterr().out
    assert 'No problems found' in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith('  ')}
    assert rows['total'] == ['6', '2', '2']  # the images under root
    for key, says in (('data_root', 'changes no dataset'),
                      ('dataset.data_root', 'changes no dataset'),
                      ('train_dataloader.datset.data_root',
                       "Did you mean train_dataloader.dataset")):
        with pytest.raises(SystemExit) as exit_:
            tool(cfg, '--cfg-options', f'{key}={root}')
        assert says in str(exit_.value) and key in str(exit_.value), key


def test_what_check_dataset_finds_is_left_out_in_one_step(
        tmp_path, capsys, monkeypatch):
    """check_dataset --write-exclude FILE, then the run's --exclude-file
    FILE: the dataset leaves those images out, by count and name; the
    decode check at build time (verify_images) finds them by itself."""
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS

    from emoreg_mm.datasets.base_affective import is_affective
    from emoreg_mm.cli import ConfigKeyError, set_exclude_file
    ann = make_label_file(str(tmp_path), [('a.jpg', 'awe'), ('b.jpg', 'fear'),
                                          ('bad.jpg', 'fear')], 'train.txt')
    bad = write_corrupt_image(osp.join(tmp_path, 'images', 'bad.jpg'))
    train = dict(type='AffectiveImageFolder', data_root=str(tmp_path),
                 data_prefix='images', ann_file=ann)
    cfg = write_config(tmp_path / 'cfg.py', train, train)
    exclude = str(tmp_path / 'exclude.txt')
    assert tool(cfg, '--write-exclude', exclude) == 1
    out = capsys.readouterr().out
    assert f'wrote 1 image path(s) to {exclude}' in out
    assert f'--exclude-file {exclude}' in out
    with open(exclude) as f:
        assert [line.strip() for line in f if line[0] != '#'] == [bad]

    left = DATASETS.build(dict(train, exclude_file=exclude))
    assert len(left) == 2 and left.skipped == {f'listed in {exclude}': [bad]}
    # a config whose data_root is relative: the absolute paths still match
    monkeypatch.chdir(tmp_path)
    left = DATASETS.build(dict(train, data_root='.', exclude_file=exclude))
    assert len(left) == 2 and left.skipped == {f'listed in {exclude}': [bad]}
    decoded = DATASETS.build(dict(train, verify_images=True))
    assert len(decoded) == 2
    [(reason, names)] = decoded.skipped.items()
    assert reason == 'does not decode (verify_images=True)'
    assert names[0].startswith(f'{bad} (corrupt')

    # the run's option: every affective dataset of the config, nothing else
    loaded = Config.fromfile(cfg)
    assert set_exclude_file(loaded, exclude, is_affective) == 2
    assert loaded.val_dataloader.dataset.exclude_file == exclude
    with pytest.raises(ConfigKeyError, match='no dataset .* takes an '
                       'exclude file'):
        set_exclude_file(Config.fromfile(osp.join(
            REPO, 'configs/emoreg/resnet50_ereg_cifar10.py')), exclude,
            is_affective)
