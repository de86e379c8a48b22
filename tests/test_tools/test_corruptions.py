"""Robustness under corruption: CE / mCE by hand, the CIFAR-C builder, the
evaluation command on a tiny trained checkpoint, the sweep's option and
the commands of docs/robustness.md."""
import contextlib
import io
import json
import os
import os.path as osp
import shlex

import numpy as np
import pytest
from mmpretrain.datasets import CIFAR10

import emoreg_mm  # noqa: F401
from affective_fixtures import make_cifar
from cifar_c_fixtures import make_cifar_c, make_tiny_cifar_run
from emoreg_mm.datasets import CIFARCorruptedError
from emoreg_mm.evaluation import load_predictions, save_predictions
from emoreg_mm.evaluation.predictions import predictions_meta
from emoreg_mm.evaluation.robustness import (CORRUPTIONS, corruption_errors,
                                             mean_accuracy, predictions_path,
                                             read_corruption_accuracy)
from launch_utils import load_tool


@pytest.fixture
def cifar(tmp_path, monkeypatch):
    """A CIFAR-10 folder of 4 test images (its md5 differs: not checked)."""
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    return make_cifar(str(tmp_path / 'cifar10'), 10, per_file=4)


# ------------------------------------------------------------------ the math
def test_ce_and_mce_by_hand():
    model = {'fog': {1: .9, 2: .8}, 'snow': {1: .7, 2: .5}}
    base = {'fog': {1: .8, 2: .6}, 'snow': {1: .6, 2: .4},
            'saturate': {1: .1, 2: .1}}
    out = corruption_errors(model, base, model_clean=.95, baseline_clean=.9)
    # fog: (0.1 + 0.2) / (0.2 + 0.4) = 0.5; snow: (0.3 + 0.5) / (0.4 + 0.6)
    assert out['corruptions'] == ['snow', 'fog']  # CORRUPTIONS' order
    assert out['ce']['fog'] == pytest.approx(.5)
    assert out['ce']['snow'] == pytest.approx(.8)
    assert out['mce'] == pytest.approx(.65)
    # relative: fog (0.05 + 0.15) / (0.1 + 0.3); snow (0.25 + 0.45) / (0.3
    # + 0.5)
    assert out['relative_ce']['fog'] == pytest.approx(.5)
    assert out['relative_ce']['snow'] == pytest.approx(.875)
    assert out['relative_mce'] == pytest.approx(.6875)
    assert 'relative_mce' not in corruption_errors(model, base)
    # mean corruption accuracy: the 15's cells (saturate is an extra one)
    assert mean_accuracy(base) == pytest.approx(.6)
    with pytest.raises(ValueError, match=r'severities \[1\] and the '
                       r'baseline \[1, 2\]'):
        corruption_errors({'fog': {1: .9}}, base)
    with pytest.raises(ValueError, match='not in both runs'):
        corruption_errors(model, base, corruptions=['frost'])


def _write_run(work_dir, cells, n=4, clean=None):
    """Predictions of ``round(acc * n)`` right answers per cell."""
    def samples(acc):
        right = round(acc * n)
        return [dict(gt_label=i % 10, pred_label=i % 10 if i < right else
                     (i + 1) % 10, pred_score=np.eye(10)[i % 10])
                for i in range(n)]
    for c, by_severity in cells.items():
        for s, acc in by_severity.items():
            save_predictions(predictions_path(work_dir, c, s), samples(acc))
    if clean is not None:
        save_predictions(osp.join(work_dir, 'predictions.npz'),
                         samples(clean))


def test_read_corruption_accuracy(tmp_path):
    wd = str(tmp_path / 'run')
    assert read_corruption_accuracy(wd) is None
    _write_run(wd, {'fog': {1: 1., 2: .5}, 'spatter': {3: .25}}, clean=.75)
    r = read_corruption_accuracy(wd)
    assert r['accuracy'] == {'fog': {1: 1., 2: .5}, 'spatter': {3: .25}}
    assert r['mean_accuracy'] == .75 and r['mean_accuracy_extra'] == .25
    assert r['clean_accuracy'] == .75 and r['images'] == 4
    assert not r['complete'] and len(r['missing']) == 15 * 5 - 2
    _write_run(wd, {c: {s: .5 for s in range(1, 6)} for c in CORRUPTIONS})
    assert read_corruption_accuracy(wd)['complete']


# --------------------------------------------------------------- the builder
def test_builder_subset_resume_and_record(tmp_path, cifar, capsys):
    tool = load_tool('dataset_converters/build_cifar_c.py')
    out = str(tmp_path / 'CIFAR-10-C')
    argv = ['--cifar-root', cifar, '--out', out, '--corruptions',
            'gaussian_noise', 'contrast', '--severities', '1', '3',
            '--num-images', '3']
    assert tool.main(argv) == 0
    images = np.load(osp.join(out, 'contrast.npy'))
    assert images.shape == (15, 32, 32, 3) and images.dtype == np.uint8
    assert not images[3:6].any() and images[6:9].any()  # s2 not built
    clean = np.stack([CIFAR10(cifar, split='test').get_data_info(i)['img']
                      for i in range(3)])
    # contrast lowers the spread of the pixels, more at severity 3
    assert images[6:9].std() < images[:3].std() < clean.std()
    labels = np.load(osp.join(out, 'labels.npy'))
    assert labels.tolist() == [0, 1, 2] * 5
    info = json.load(open(osp.join(out, 'build.json')))
    assert info['official'] is False and info['num_images'] == 3
    assert (info['parameters'], info['library']) == ('cifar', 'emoreg_mm')
    assert info['corruptions'] == {'gaussian_noise': [1, 3],
                                   'contrast': [1, 3]}
    assert 'RE-CREATION' in open(osp.join(out, 'README.txt')).read()
    # what the builder wrote, the reader reads (and refuses severity 2)
    from mmpretrain.registry import DATASETS
    cfg = dict(type='CIFAR10C', data_root=out, corruption='contrast',
               images_per_severity=3, cifar_root=cifar)
    data = DATASETS.build(dict(cfg, severity=3))
    assert np.array_equal(data.get_data_info(1)['img'], images[7])
    with pytest.raises(CIFARCorruptedError, match='not 2'):
        DATASETS.build(dict(cfg, severity=2))
    # resumed: done files are skipped; a rebuilt one is the same bytes
    noise = open(osp.join(out, 'gaussian_noise.npy'), 'rb').read()
    os.remove(osp.join(out, 'gaussian_noise.npy'))
    capsys.readouterr()
    assert tool.main(argv) == 0
    assert '1 corruption(s) built, 1 already done' in capsys.readouterr().out
    assert open(osp.join(out, 'gaussian_noise.npy'), 'rb').read() == noise
    # other settings into the same folder: refused, naming the record
    assert tool.main(argv[:-1] + ['2']) == 1
    err = capsys.readouterr().err
    assert osp.join(out, 'build.json') in err and "'num_images': 3" in err
    assert tool.main(['--cifar-root', cifar, '--out', out,
                      '--num-images', '9']) == 1
    assert 'has 4 images' in capsys.readouterr().err


# ---------------------------------------------------------- the evaluation
def test_eval_corruptions_matches_test_py_and_resumes(tmp_path, cifar,
                                                      capsys):
    test_set = CIFAR10(cifar, split='test')
    clean = np.stack([test_set.get_data_info(i)['img'] for i in range(4)])
    labels = test_set.get_gt_labels()
    root = make_cifar_c(str(tmp_path / 'CIFAR-10-C'), labels=labels)
    contrast = np.load(osp.join(root, 'contrast.npy'))
    contrast[4:8] = clean  # severity 2 holds the clean test images
    np.save(osp.join(root, 'contrast.npy'), contrast)
    train = np.load(osp.join(root, 'gaussian_noise.npy'))
    config, ckpt = make_tiny_cifar_run(
        str(tmp_path / 'run'), cifar, train, np.tile(labels, 5))
    wd = str(tmp_path / 'wd')
    tool = load_tool('analysis_tools/eval_corruptions.py')
    argv = [config, ckpt, '--corruption-root', root, '--work-dir', wd,
            '--corruptions', 'gaussian_noise', 'contrast',
            '--images-per-severity', '4', '--cifar-root', cifar]
    assert tool.main(argv) == 0
    for c in ('gaussian_noise', 'contrast'):
        assert sorted(os.listdir(osp.join(wd, 'corruptions', c))) == [
            f's{s}.npz' for s in range(1, 6)]
    # the clean images through tools/test.py give the same predictions
    load_tool('test.py').main([config, ckpt, '--work-dir', wd, '--out',
                               osp.join(wd, 'predictions.npz')])
    ref = load_predictions(osp.join(wd, 'predictions.npz'))
    got = load_predictions(predictions_path(wd, 'contrast', 2))
    np.testing.assert_allclose(got['pred_score'], ref['pred_score'],
                               rtol=1e-5, atol=1e-6)
    assert got['gt_label'].tolist() == list(labels)
    summary = json.load(open(osp.join(wd, 'corruptions', 'summary.json')))
    accs = {c: {s: float(np.mean(
        load_predictions(predictions_path(wd, c, s))['pred_label'] ==
        labels)) for s in range(1, 6)} for c in ('gaussian_noise',
                                                 'contrast')}
    assert len({a for v in accs.values() for a in v.values()}) > 1
    assert summary['accuracy'] == {c: {str(s): a for s, a in v.items()}
                                   for c, v in accs.items()}
    assert summary['mean_accuracy'] == pytest.approx(np.mean(
        [a for v in accs.values() for a in v.values()]))
    assert (summary['evaluated'], summary['skipped']) == (10, 0)
    # no build.json, and files that are not the distributed ones
    assert (summary['kind'], summary['official']) == ('unknown', False)
    assert summary['checksums']['differ'] == ['labels', 'gaussian_noise',
                                              'contrast']
    assert predictions_meta(got)['source'] == dict(
        root=osp.abspath(root), kind='unknown', images_per_severity=4)
    # resumed: one file lost, one damaged; the rest are counted as done
    os.remove(predictions_path(wd, 'contrast', 4))
    with open(predictions_path(wd, 'contrast', 5), 'wb') as f:
        f.write(b'cut')
    # against a baseline whose accuracies are known: CE by hand
    base = str(tmp_path / 'baseline')
    _write_run(base, {c: {s: .5 for s in range(1, 6)}
                      for c in ('gaussian_noise', 'contrast')}, clean=.75)
    capsys.readouterr()
    assert tool.main(argv + ['--baseline', base]) == 0
    assert '2 evaluated, 8 already done' in capsys.readouterr().out
    summary = json.load(open(osp.join(wd, 'corruptions', 'summary.json')))
    for c in ('gaussian_noise', 'contrast'):
        ce = sum(1 - a for a in accs[c].values()) / 2.5
        assert summary['ce'][c] == pytest.approx(ce)
    assert summary['mce'] == pytest.approx(np.mean(list(
        summary['ce'].values())))
    assert summary['relative_mce'] is not None
    # another checkpoint into the same run dir is refused
    other = osp.join(str(tmp_path), 'other.pth')
    os.link(ckpt, other)
    with pytest.raises(SystemExit, match='holds the predictions of'):
        tool.main([config, other] + argv[2:])
    # a folder that lacks a corruption asked for stops before the model
    with pytest.raises(SystemExit, match='no file for fog'):
        tool.main(argv[:7] + ['fog', '--images-per-severity', '4'])


# ---------------------------------------------------------------- the sweep
def test_sweep_adds_the_evaluations_to_a_plan(tmp_path):
    """A sweep with ``--corruptions cifar10=DIR``: the CIFAR-10 stage-2
    jobs evaluate on the folder after their test, with arguments
    eval_corruptions.py parses; recorded with the plan; a folder without
    labels.npy is a problem; bad values are named."""
    from emoreg_mm.experiments import Sweep, check
    from emoreg_mm.experiments.launch import make_job
    root = make_cifar_c(str(tmp_path / 'CIFAR-10-C'))
    argv = ['--backbones', 'resnet18-cifar', '--modes', 'baseline',
            '--seeds', '0', '--work-root', str(tmp_path / 'sweep'),
            '--corruptions', f'cifar10={root}']
    sweep = load_tool('sweep.py').parse_args(argv).sweep
    assert sweep.corruption_roots == {'cifar10': root}

    def corruption_problems(sweep):
        return [p for p in check(sweep, sweep.runs())[0]
                if p.startswith('--corruptions')]

    assert corruption_problems(sweep) == []
    runs = {r.key[3]: r for r in sweep.runs()}
    tools = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
        __file__)))), 'tools')
    job = make_job(sweep, runs['cifar10'], 1, tools)
    assert job.test and job.corruptions == root  # tested, then evaluated
    os.makedirs(job.work_dir)
    with open(osp.join(job.work_dir, 'last_checkpoint'), 'w') as f:
        f.write('ckpt.pth')
    # the job's arguments are a valid command of the evaluation tool
    parsed = load_tool('analysis_tools/eval_corruptions.py').parse_args(
        job.argv('corruptions'))
    assert (parsed.corruption_root, parsed.work_dir, parsed.checkpoint) == (
        root, job.work_dir, 'ckpt.pth')
    assert make_job(sweep, runs['cifar100'], 1, tools).corruptions is None
    # recorded with the plan; a folder without labels.npy is a problem
    sweep.record()
    plan = json.load(open(tmp_path / 'sweep' / 'sweep_plan.json'))
    assert plan['corruptions'] == [f'cifar10={root}']
    os.remove(osp.join(root, 'labels.npy'))
    assert 'labels.npy: file not found' in corruption_problems(sweep)[0]
    for bad, says in (('emoset=/x', "'emoset=/x': unknown target emoset "
                       'for preset paper; valid: cifar10, cifar100'),
                      ('cifar10', "'cifar10': expected TARGET=PATH")):
        err = io.StringIO()
        with pytest.raises(SystemExit), contextlib.redirect_stderr(err):
            load_tool('sweep.py').parse_args(argv[:-1] + [bad])
        assert f'--corruptions {says}' in err.getvalue()
    assert Sweep(corruptions=[f'cifar100={root}']).corruption_roots == {
        'cifar100': root}


# ------------------------------------------------- docs/robustness.md, run
BUILD = ('python tools/dataset_converters/build_cifar_c.py --cifar-root '
         'data/cifar10 --out data/CIFAR-10-C --workers 4')
EVAL_BASELINE = (
    'python tools/analysis_tools/eval_corruptions.py '
    'configs/emoreg/resnet18-cifar_baseline_cifar10.py '
    'work_dirs/baseline/epoch_200.pth --corruption-root data/CIFAR-10-C '
    '--work-dir work_dirs/baseline')
EVAL_EREG = (
    'python tools/analysis_tools/eval_corruptions.py '
    'configs/emoreg/resnet18-cifar_ereg_cifar10.py '
    'work_dirs/ereg/epoch_200.pth --corruption-root data/CIFAR-10-C '
    '--work-dir work_dirs/ereg --baseline work_dirs/baseline')


@pytest.mark.readme(BUILD)
@pytest.mark.readme(EVAL_BASELINE)
@pytest.mark.readme(EVAL_EREG)
def test_docs_commands(tmp_path, monkeypatch):
    """docs/robustness.md's commands as written, in a folder laid out like
    the repository. Substitutions: CIFAR-10 is a fixture of 1 test image
    (its md5 is not checked); both configs are the tiny CIFAR-10 model of
    tests/cifar_c_fixtures.py, each with a checkpoint of its own."""
    from launch_utils import repo_sandbox
    box, _ = repo_sandbox(tmp_path)
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    make_cifar(str(box / 'data' / 'cifar10'), 10, per_file=1)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    for name, steps in (('baseline', 2), ('ereg', 15)):
        config, ckpt = make_tiny_cifar_run(
            str(tmp_path / name), 'data/cifar10', images,
            np.arange(8) % 2, steps=steps)
        leaf = box / 'configs' / 'emoreg' / f'resnet18-cifar_{name}_cifar10.py'
        leaf.parent.mkdir(parents=True, exist_ok=True)
        os.rename(config, leaf)
        os.makedirs(box / 'work_dirs' / name)
        os.rename(ckpt, box / 'work_dirs' / name / 'epoch_200.pth')
    monkeypatch.chdir(box)
    for command, tool in ((BUILD, 'dataset_converters/build_cifar_c.py'),
                          (EVAL_BASELINE, 'analysis_tools/'
                           'eval_corruptions.py'),
                          (EVAL_EREG, 'analysis_tools/eval_corruptions.py')):
        words = shlex.split(command)
        assert words[:2] == ['python', f'tools/{tool}']
        assert load_tool(tool).main(words[2:]) == 0
    assert len(os.listdir(box / 'data' / 'CIFAR-10-C')) == 19 + 3
    run = read_corruption_accuracy('work_dirs/ereg')
    base = read_corruption_accuracy('work_dirs/baseline')
    assert run['complete'] and len(run['accuracy']) == 19
    summary = json.load(open('work_dirs/ereg/corruptions/summary.json'))
    assert summary['official'] is False and summary['images_per_severity'] \
        == 1 and summary['evaluated'] == 95
    expected = corruption_errors(run['accuracy'], base['accuracy'])
    assert summary['mce'] == expected['mce'] or (
        summary['mce'] is None and not np.isfinite(expected['mce']))


def test_the_corrupted_set_of_a_config():
    """The target's corrupted set comes from the matrix
    (CORRUPTED_TARGETS): named, or read from the config."""
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS

    from emoreg_mm import matrix
    from emoreg_mm.evaluation.corruptions import (CorruptionEvalError,
                                                  corrupted_type)
    for target, kind in matrix.CORRUPTED_TARGETS.items():
        assert target in matrix.TARGETS
        assert DATASETS.get(kind).cifar_type == kind[:-1]
    assert corrupted_type(Config(dict(emoreg_target='cifar100'))) == \
        'CIFAR100C'
    for kind, expected in (('HeldOutCIFAR100', 'CIFAR100C'),
                           ('HeldOutCIFAR10', 'CIFAR10C')):
        cfg = Config(dict(test_dataloader=dict(dataset=dict(type=kind))))
        assert corrupted_type(cfg) == expected
    digits = Config(dict(emoreg_target='digits'))
    assert corrupted_type(digits, 'cifar10') == 'CIFAR10C'
    with pytest.raises(CorruptionEvalError,
                       match=r'\(cifar10, cifar100; .*give --dataset'):
        corrupted_type(digits)
