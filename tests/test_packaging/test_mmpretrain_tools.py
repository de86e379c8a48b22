"""mmpretrain's own tools work in the environment the requirements give.

``tools/visualization/browse_dataset.py`` draws its grid with matplotlib's
``adjust_bbox``, whose signature matplotlib 3.11 changed (hence
``matplotlib<3.11`` in requirements/runtime.txt).
"""
import os
import os.path as osp
import subprocess
import sys

import mmpretrain
import numpy as np
import pytest

from plain_config import make_plain_config

BROWSE = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                  'visualization', 'browse_dataset.py')


@pytest.mark.slow
def test_browse_dataset_draws_the_pipeline_grid(tmp_path):
    """mmpretrain's browse_dataset.py as ``python TOOL ARGS``, on a config
    that imports the plugin through ``custom_imports=dict(imports=
    ['emoreg_mm'])`` (a fresh interpreter: the import happens while
    mmengine reads the config)."""
    config = make_plain_config(tmp_path, max_epochs=1)
    with open(config, 'a') as f:
        f.write("visualizer = dict(type='UniversalVisualizer')\n")
    out_dir = tmp_path / 'browse'
    # 'transformed' (the default) and 'pipeline' draw through adjust_bbox
    for mode in ('transformed', 'pipeline'):
        proc = subprocess.run(
            [sys.executable, BROWSE, config, '--output-dir',
             str(out_dir / mode), '--phase', 'train', '--show-number', '1',
             '--mode', mode],
            cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        pngs = list((out_dir / mode).glob('*.png'))
        assert len(pngs) == 1 and pngs[0].stat().st_size > 500, mode


#: A user's stage 1 on their own stimuli, inheriting a shipped leaf.
BROWSE_CHILD = '''
_base_ = ['emoreg_mm::emoreg_pretrain/resnet18-cifar_emoset.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='AffectiveImageFolder', data_root={root!r},
    split='train', split_ratios=(0.5, 0.25, 0.25),
    pipeline=_base_.train_dataloader.dataset.pipeline))
'''


def test_browse_dataset_on_a_child_config(tmp_path, monkeypatch):
    """browse_dataset.py through ``emoreg_mm.upstream`` on a config that
    inherits ``emoreg_mm::`` (mmengine marks each of its dicts with
    ``_scope_``, which the tool passed to UniversalVisualizer)."""
    import affective_fixtures as fx
    from emoreg_mm import upstream
    root = fx.make_affective_folder(str(tmp_path / 'stimuli'))
    (tmp_path / 'my_config.py').write_text(BROWSE_CHILD.format(root=root))
    monkeypatch.chdir(tmp_path)
    upstream.main(['visualization/browse_dataset.py', 'my_config.py',
                   '--output-dir', 'browse', '--phase', 'train',
                   '--show-number', '2', '--not-show'])
    pngs = list((tmp_path / 'browse').glob('*.png'))
    assert len(pngs) == 2 and all(p.stat().st_size > 500 for p in pngs)


#: A user's config outside the repository, inheriting a shipped leaf.
CHILD = '''
_base_ = ['emoreg_mm::emoreg_pretrain/resnet50_emoset.py']
model = dict(backbone=dict(depth=18, base_channels=8, init_cfg=None),
             head=dict(in_channels=64))
'''
README_PRINT = 'python -m emoreg_mm.upstream misc/print_config.py my_config.py'
README_FLOPS = ('python -m emoreg_mm.upstream analysis_tools/get_flops.py '
                'my_config.py --shape 32')


@pytest.mark.readme(README_PRINT)
@pytest.mark.readme(README_FLOPS)
def test_mmpretrain_tools_and_inferencer_on_an_emoreg_child_config(
        tmp_path, capsys):
    """print_config as README shows it (its own process: nothing imported
    the plugin before); get_flops through the same entry point, in this
    process; the inferencer after ``import emoreg_mm``."""
    (tmp_path / 'my_config.py').write_text(CHILD)
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    env.pop('PYTHONPATH', None)
    out = subprocess.run(['bash', '-c', README_PRINT.replace(
        'python', sys.executable, 1)], cwd=str(tmp_path), env=env,
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "type='EmoSet'" in out.stdout and 'base_channels=8' in out.stdout

    from emoreg_mm import upstream
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        upstream.main(README_FLOPS.split()[3:])
    finally:
        os.chdir(cwd)
    assert 'Input shape: (3, 32, 32)' in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no mmpretrain tool 'misc/nope.py'"
                       '.*misc/print_config.py'):
        upstream.main(['misc/nope.py'])

    import emoreg_mm  # noqa: F401  (as README says, before the inferencer)
    from mmpretrain import ImageClassificationInferencer
    inferencer = ImageClassificationInferencer(str(tmp_path / 'my_config.py'))
    image = np.zeros((32, 32, 3), np.uint8)
    result = inferencer(image)[0]
    assert len(result['pred_scores']) == 8  # EmoSet's emotions
