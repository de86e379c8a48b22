"""Both stages of one combination, from a user's project outside the repo.

The user's configs inherit installed emoreg_mm leaves (``emoreg_mm::``),
swap in their own affective stimuli (the generic AffectiveImageFolder, with
their own 3 emotion categories, set in stage 1 only), their own target (an
image folder per class, read as RGB like stage 1's stimuli), a tiny backbone
and their own results-table tags, and keep the leaves' names, so stage 2 finds stage 1's checkpoint in stage 1's
default work dir. Both stages run through tools/train.py's ``main()`` in
this process, from the project's folder (the same checks on two processes
through tools/dist_train.sh: tests/test_readme_commands.py). The two
configs are the ones docs/own_data.md shows, read from the page.
"""
import os
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config

import affective_fixtures as fx
from emoreg_mm import matrix
from emoreg_mm.evaluation import load_predictions
from emoreg_mm.results import read_runs
from launch_utils import check_stages, run_tool

STAGE1 = matrix.stage1_name('resnet18-cifar', 'emoset')
STAGE2 = matrix.stage2_name('resnet18-cifar', 'learn-ereg', 'cifar10')
#: The user's own emotion categories (stage 1's classes, in order).
OWN = ('amusement', 'serenity', 'dread')
OWN_DATA = os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), 'docs', 'own_data.md')


def shown_config(path: str) -> str:
    """The ```python block of docs/own_data.md whose first line is
    ``# my_project/<path>``."""
    for block in re.findall(r'```python\n(.*?)```',
                            open(OWN_DATA).read(), re.S):
        if block.startswith(f'# my_project/{path}\n'):
            return block
    raise AssertionError(f'docs/own_data.md shows no {path}')


@pytest.mark.slow
def test_two_stages_from_outside_the_repo(tmp_path, monkeypatch):
    project = tmp_path / 'my_project'
    stimuli = fx.make_affective_folder(str(tmp_path / 'stimuli'),
                                       {name: 8 for name in OWN})
    target = tmp_path / 'target'
    for split, count in (('train', 2), ('test', 1)):
        for c in range(10):
            for k in range(count):
                fx.write_image(str(target / split / f'c{c}' / f'c{c}_{k}.png'),
                               32)
    for folder, name, shown, root in (
            ('emoreg_pretrain', STAGE1, '/data/my_stimuli', stimuli),
            ('emoreg', STAGE2, '/data/my_target', str(target))):
        text = shown_config(f'configs/{folder}/{name}.py')
        assert repr(shown) in text
        os.makedirs(project / 'configs' / folder, exist_ok=True)
        (project / 'configs' / folder / f'{name}.py').write_text(
            text.replace(repr(shown), repr(root)))

    monkeypatch.chdir(project)
    run_tool('train.py', f'configs/emoreg_pretrain/{STAGE1}.py')
    stage1_dir = project / 'work_dirs' / STAGE1

    # No checkpoint given: the leaf's default is stage 1's work dir.
    run_tool('train.py', f'configs/emoreg/{STAGE2}.py')
    stage2 = (project / 'work_dirs' / STAGE2 / 'last_checkpoint') \
        .read_text().strip()
    check_stages((stage1_dir / 'last_checkpoint').read_text().strip(),
                 stage2, input_size=[32, 32])
    # The vocabulary came from stage 1: in the run's config and checkpoint.
    meta = torch.load(stage2, weights_only=True)['meta']
    assert meta['emotion_classes'] == list(OWN)
    dumped = Config.fromfile(str(project / 'work_dirs' / STAGE2 /
                                 f'{STAGE2}.py'))
    assert dumped.model.head.emotion_classes == list(OWN)
    # The tags of the page's config label the run in the results table.
    runs, notes = read_runs([str(project / 'work_dirs' / STAGE2)])
    assert [(r['backbone'], r['affective'], r['mode'], r['target'])
            for r in runs] == [('tiny-resnet18', 'my-stimuli', 'learn-ereg',
                                'my-target')], notes

    # Evaluating the leaf on the stage-2 checkpoint needs no stage 1: the
    # checkpoint's record gives the 3 emotions (the load refuses others).
    stage1_dir.rename(project / 'stage1_elsewhere')
    run_tool('test.py', f'configs/emoreg/{STAGE2}.py', stage2,
             '--work-dir', str(project / 'test'), '--out', 'plain.npz',
             '--show-dir', str(project / 'shown'), '--interval', '3')
    assert list((project / 'test').glob('*/*.json'))
    # every 3rd of the 10 test images (mmpretrain's hook counts the last,
    # shorter batch from a shifted start, so it may leave out the 10th)
    drawn = {p.name for p in (project / 'shown').glob('*.png')}
    assert 3 <= len(drawn) <= 4 and drawn <= {
        f'c{c}_0.png_0.png' for c in range(10)}

    # mmpretrain's --tta: each branch, rho and the affect averaged over the
    # image and its flip (one run on flipped images gives the other view),
    # the fused score their regulated fusion; --show-dir draws every 3rd.
    (project / 'flipped.py').write_text(
        f"_base_ = ['./configs/emoreg/{STAGE2}.py']\n"
        "pipeline = [dict(type='LoadImageFromFile'),\n"
        "            dict(type='RandomFlip', prob=1.), dict(type='PackInputs')]\n"
        "test_dataloader = dict(dataset=dict(pipeline=pipeline))\n")
    run_tool('test.py', 'flipped.py', stage2, '--work-dir',
             str(project / 'test'), '--out', 'flipped.npz')
    run_tool('test.py', f'configs/emoreg/{STAGE2}.py', stage2, '--tta',
             '--work-dir', str(project / 'test'), '--out', 'tta.npz')
    plain, flipped, tta = (
        load_predictions(str(project / f'{name}.npz'))
        for name in ('plain', 'flipped', 'tta'))
    for key in ('pred_score_n', 'pred_score_i', 'rho', 'affect_score'):
        mean = (plain[key] + flipped[key]) / 2
        assert np.allclose(tta[key], mean, atol=1e-5), key
    for key in ('pred_score_n', 'pred_score_i', 'affect_score'):
        assert not np.allclose(tta[key], plain[key], atol=1e-5), key
    rho = tta['rho'][:, None]
    assert np.allclose(tta['pred_score'], (1 - rho) * tta['pred_score_n'] +
                       rho * tta['pred_score_i'], atol=1e-5)
    assert (tta['pred_label'] == tta['pred_score'].argmax(1)).all()
