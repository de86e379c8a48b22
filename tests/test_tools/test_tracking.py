"""Trackers: tools/train.py and tools/test.py with --tracker tensorboard
write event files that name and tag the run and hold the test metrics;
an unknown tracker or a missing package is a one-line error."""
import glob
import json
import os.path as osp

import pytest
from launch_utils import run_tool
from mmengine.config import Config

from emoreg_mm.engine.runner.tracking import (TRACKERS, TrackerError,
                                              run_tags, set_tracker)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1 = osp.join(REPO, 'configs', 'demo', 'tiny-resnet_synth-abstract.py')


def events(vis_data):
    """(text of 'emoreg/tags', {scalar tag: last value}) of the TensorBoard
    event files in ``vis_data``."""
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    acc = EventAccumulator(vis_data, size_guidance={'tensors': 0,
                                                    'scalars': 0})
    acc.Reload()
    texts = {t: acc.Tensors(t)[-1].tensor_proto.string_val[0].decode()
             for t in acc.Tags()['tensors'] if t.startswith('emoreg/tags')}
    scalars = {t: acc.Scalars(t)[-1].value for t in acc.Tags()['scalars']}
    return next(iter(texts.values()), None), scalars


@pytest.mark.slow
def test_tensorboard_events_name_tag_and_hold_the_test_top1(tmp_path):
    pytest.importorskip('sklearn')
    from test_sweep import demo_data
    demo_data(tmp_path)
    root = str(tmp_path / 'work_dirs' / 'demo' / 'data' /
               'testImages_abstract')
    opts = [f'{dl}.dataset.data_root={root}' for dl in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')] + [
        'train_cfg.max_epochs=1']
    work = str(tmp_path / 'tiny-abstract_s0')
    run_tool('train.py', STAGE1, '--work-dir', work, '--tracker',
             'tensorboard', '--cfg-options', *opts)
    run_tool('test.py', STAGE1, osp.join(work, 'epoch_1.pth'),
             '--work-dir', work, '--tracker', 'tensorboard',
             '--cfg-options', *opts[:-1])
    runs = sorted(glob.glob(osp.join(work, '2*', 'vis_data')))
    assert len(runs) == 2, runs  # training, then test
    (train_text, train), (test_text, test) = map(events, runs)
    tags = json.loads(train_text)
    assert tags == json.loads(test_text)
    assert tags['name'] == 'tiny-abstract_s0'
    assert tags['tags']['seed'] == str(
        Config.fromfile(STAGE1).randomness.seed)
    assert 'loss' in train and 'accuracy/top1' in train
    record = json.load(open(glob.glob(osp.join(
        osp.dirname(runs[1]), '*.json'))[0]))
    assert test['test/accuracy/top1'] == pytest.approx(
        record['accuracy/top1'])


def test_tags_group_and_errors(tmp_path, monkeypatch):
    cfg = Config(dict(
        emoreg_backbone='tiny', emoreg_affective='emoset', emoreg_mode='ereg',
        emoreg_target='cifar10', randomness=dict(seed=2),
        emoreg_sweep='grid', emoreg_grid=['optim_wrapper.optimizer.lr'],
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        work_dir=str(tmp_path / 'run_s2'),
        visualizer=dict(type='UniversalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')])))
    assert run_tags(cfg) == dict(
        backbone='tiny', affective='emoset', mode='ereg', target='cifar10',
        seed='2', sweep='grid', **{'optim_wrapper.optimizer.lr': '0.01'})
    added = set_tracker(cfg, ['tensorboard', 'LocalVisBackend'])
    assert [b['type'] for b in cfg.visualizer.vis_backends] == [
        'LocalVisBackend', 'TensorboardVisBackend', 'LocalVisBackend']
    assert added[0] == dict(type='TensorboardVisBackend')
    hook = cfg.custom_hooks[-1]
    assert (hook['name'], hook['group']) == (
        'run_s2', 'tiny_emoset_ereg_cifar10_lr=0.01')
    with pytest.raises(TrackerError, match='neither tensorboard, wandb, '
                       'mlflow nor a registered'):
        set_tracker(cfg, ['tensorbored'])
    # a missing package names the extra to install
    import importlib.util
    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None
                        if name == 'mlflow' else find(name, *a))
    with pytest.raises(TrackerError, match=r'the mlflow package is not '
                       r'installed; pip install -e "\.\[mlflow\]"'):
        set_tracker(cfg, ['mlflow'])
    assert set(TRACKERS) == {'tensorboard', 'wandb', 'mlflow'}


#: docs/sweep.md's grid, as shown
DOCS_GRID = ('python tools/sweep.py --preset demo --modes baseline ereg '
             '--seeds 0 --jobs 2 --tracker tensorboard --grid '
             'optim_wrapper.optimizer.lr=0.01,0.001 --cfg-options '
             'train_cfg.max_epochs=1')
GRID = tuple(DOCS_GRID.split()[2:])


@pytest.mark.slow
@pytest.mark.readme(DOCS_GRID)
def test_a_grid_sweep_with_tensorboard(tmp_path):
    """Two learning rates x two modes: one run dir per point, named by it;
    each run's event files carry its tags and its test top-1 (the value
    of results.csv); the results table rows are per grid point and pairs
    stay within one."""
    import csv
    from test_sweep import demo_data, sweep, sweep_here
    demo_data(tmp_path)
    dry = sweep_here(*GRID, '--dry-run', cwd=tmp_path, check=0)
    assert ('| grid optim_wrapper.optimizer.lr=0.01,0.001 (2 points) | '
            'tracker tensorboard') in dry.stdout
    bad = sweep_here(*GRID[:-4], '--grid', 'optim_wrapper.optimiser.lr=1,2',
                     '--dry-run', cwd=tmp_path, check=2)
    assert 'tiny-resnet_baseline_digits_lr1_s0: --grid ' \
        'optim_wrapper.optimiser.lr: the config' in bad.stderr
    assert 'optim_wrapper.optimizer' in bad.stderr
    sweep(*GRID, cwd=tmp_path, check=0)
    root = tmp_path / 'work_dirs' / 'sweep'
    with open(root / 'results.csv') as f:
        rows = {r['backbone'] + ' ' + r['mode']: r for r in csv.DictReader(f)}
    assert set(rows) == {f'tiny-resnet @ lr={lr} {mode}'
                         for lr in ('0.01', '0.001')
                         for mode in ('baseline', 'ereg')}
    md = (root / 'results.md').read_text()
    assert 'not paired' not in md and 'differ in' not in md, md
    for lr in ('0.01', '0.001'):
        for mode in ('baseline', 'ereg'):
            run = root / f'tiny-resnet_{mode}_digits_lr{lr}_s0'
            vis = sorted(glob.glob(str(run / '2*' / 'vis_data')))
            assert len(vis) == 2, vis  # training, then test
            text, scalars = events(vis[1])
            tags = json.loads(text)
            assert tags['tags']['optim_wrapper.optimizer.lr'] == lr
            assert tags['tags']['sweep'] == 'sweep'
            assert tags['group'] == f'tiny-resnet_-_{mode}_digits_lr={lr}' \
                if mode == 'baseline' else tags['group'].endswith(
                    f'_{mode}_digits_lr={lr}')
            assert scalars['test/accuracy/top1'] == pytest.approx(float(
                rows[f'tiny-resnet @ lr={lr} {mode}'][
                    'digits mean']), abs=1e-6)


def test_grid_points_names_and_errors(tmp_path):
    from emoreg_mm import experiments as ex
    from emoreg_mm.experiments.plan import PlanError, point_label, \
        split_values
    assert split_values('[1,2],[3,4]') == ['[1,2]', '[3,4]']
    assert split_values("'a,b',c") == ["'a,b'", 'c']
    assert point_label(('a.lr=0.1', 'b.lr=[1, 2]')) == 'a-lr0.1_b-lr-1--2-'
    swept = ex.Sweep(preset='demo', modes=['ereg'], seeds=[0, 1],
                     grid=['optim_wrapper.optimizer.lr=0.1,0.2',
                           'train_cfg.max_epochs=1'],
                     work_root=str(tmp_path / 'sweep'))
    stage2 = [r for r in swept.runs() if r.stage == 2]
    assert [r.name for r in stage2] == [
        f'tiny-resnet_ereg_digits_lr{lr}_max-epochs1_s{s}'
        for lr in ('0.1', '0.2') for s in (0, 1)]
    assert stage2[0].grid == ('optim_wrapper.optimizer.lr=0.1',
                              'train_cfg.max_epochs=1')
    swept.record()
    assert ex.read_plan(swept.work_root)['grid'] == list(swept.grid)
    for grid, message in ((['lr'], 'expected KEY=VALUE1,VALUE2'),
                          (['a.b=1,'], 'expected KEY=VALUE1,VALUE2'),
                          (['a.b=1', 'a.b=2'], 'given twice'),
                          (['randomness.seed=1,2'], 'sets it for each run'),
                          (['work_dir=a,b'], 'sets it for each run')):
        with pytest.raises(PlanError, match=message):
            ex.Sweep(preset='demo', grid=grid)
