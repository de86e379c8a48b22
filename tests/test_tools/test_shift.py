"""The natural distribution shift: docs/shift.md's commands as written (a
tiny CIFAR-10 checkpoint evaluated on fake CIFAR-10.1 v6 and CIFAR-10.2
files, then the Shift table checked against accuracies computed from the
predictions), what the evaluation refuses, and the sweep's ``--shift``."""
import json
import os
import os.path as osp
import shlex

import numpy as np
import pytest
from mmpretrain.datasets import CIFAR10

import emoreg_mm  # noqa: F401
from affective_fixtures import make_cifar
from cifar_c_fixtures import make_tiny_cifar_run
from cifar_shift_fixtures import fake_images, make_cifar10_1, make_cifar10_2
from emoreg_mm.evaluation import load_predictions
from emoreg_mm.evaluation.shift import predictions_path
from launch_utils import load_tool, repo_sandbox, run_tool

EVAL_BASELINE = (
    'python tools/analysis_tools/eval_shift.py '
    'configs/emoreg/resnet18-cifar_baseline_cifar10.py '
    'work_dirs/baseline/epoch_200.pth --shift cifar10.1-v6=data/CIFAR-10.1 '
    '--shift cifar10.2=data/cifar-10.2 --work-dir work_dirs/baseline')
EVAL_EREG = (
    'python tools/analysis_tools/eval_shift.py '
    'configs/emoreg/resnet18-cifar_ereg_cifar10.py '
    'work_dirs/ereg/epoch_200.pth --shift cifar10.1-v6=data/CIFAR-10.1 '
    '--shift cifar10.2=data/cifar-10.2 --work-dir work_dirs/ereg')
TABLE = "python tools/analysis_tools/results_table.py 'work_dirs/*' --out " \
    'results'
SWEEP = ('python tools/sweep.py --backbones resnet18-cifar --modes baseline '
         'ereg --affective emoset --targets cifar10 --seeds 0 --shift '
         'cifar10.1-v6=data/CIFAR-10.1 --shift cifar10.2=data/cifar-10.2 '
         '--dry-run')
#: What makes a tiny config a leaf of the matrix for the results table.
TAGS = '''
emoreg_backbone = 'resnet18-cifar'
emoreg_mode = {mode!r}
randomness = dict(seed=0)
'''


def accuracy(path):
    p = load_predictions(path)
    return 100 * float(np.mean(p['pred_label'] == p['gt_label']))


@pytest.mark.readme(EVAL_BASELINE)
@pytest.mark.readme(EVAL_EREG)
@pytest.mark.readme(TABLE)
@pytest.mark.readme(SWEEP)
def test_docs_commands(tmp_path, monkeypatch, capsys):
    """docs/shift.md's commands as written, in a folder laid out like the
    repository. Substitutions: CIFAR-10 is a fixture of 8 test images; both
    configs are the tiny CIFAR-10 model of tests/cifar_c_fixtures.py with
    the matrix's tags, each with a checkpoint of its own (trained 2 and 15
    steps on the CIFAR-10.1 files: accuracies that differ), tested with
    tools/test.py --out (the clean accuracy); CIFAR-10.1 holds the 8 CIFAR
    test images then 16 others, CIFAR-10.2 24 others."""
    box, _ = repo_sandbox(tmp_path)
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    make_cifar(str(box / 'data' / 'cifar10'), 10, per_file=8)
    os.makedirs(box / 'data' / 'EmoSet-118K')  # for the sweep's dry run
    monkeypatch.chdir(box)
    clean = CIFAR10('data/cifar10', split='test')
    test_images = np.stack([clean.get_data_info(i)['img'] for i in range(8)])
    images, labels = fake_images(24, seed=5)
    images[:8], labels[:8] = test_images, clean.get_gt_labels()
    make_cifar10_1('data/CIFAR-10.1', images=images, labels=labels)
    make_cifar10_2('data/cifar-10.2', 24, seed=6)
    for mode, steps in (('baseline', 2), ('ereg', 15)):  # on CIFAR-10.1
        config, ckpt = make_tiny_cifar_run(str(tmp_path / mode),
                                           'data/cifar10', images, labels,
                                           steps)
        leaf = box / 'configs' / 'emoreg' / f'resnet18-cifar_{mode}_cifar10.py'
        leaf.parent.mkdir(parents=True, exist_ok=True)
        leaf.write_text(open(config).read() + TAGS.format(mode=mode) + (
            "emoreg_affective = 'emoset'\n" if mode == 'ereg' else ''))
        os.makedirs(f'work_dirs/{mode}')
        os.rename(ckpt, f'work_dirs/{mode}/epoch_200.pth')
        run_tool('test.py', str(leaf), f'work_dirs/{mode}/epoch_200.pth',
                 '--work-dir', f'work_dirs/{mode}', '--out',
                 f'work_dirs/{mode}/predictions.npz')
    for command in (EVAL_BASELINE, EVAL_EREG, TABLE, SWEEP):
        words = shlex.split(command)
        assert words[0] == 'python'
        assert run_tool(words[1][len('tools/'):], *words[2:]) in (
            0, None), command
    assert 'No problems found.' in capsys.readouterr().out  # the dry run
    # the clean test images through eval_shift.py: tools/test.py's scores
    got = load_predictions(predictions_path('work_dirs/ereg',
                                            'cifar10.1-v6'))
    ref = load_predictions('work_dirs/ereg/predictions.npz')
    np.testing.assert_allclose(got['pred_score'][:8], ref['pred_score'],
                               rtol=1e-5, atol=1e-6)
    # the Shift table against accuracies computed from the predictions
    with open('results_shift.csv') as f:
        header, *rows = [line.rstrip('\n').split(',') for line in f]
    rows = {(r[2], r[4]): dict(zip(header, r)) for r in rows}
    assert sorted(rows) == [(m, s) for m in ('baseline', 'ereg')
                            for s in ('cifar10.1-v6', 'cifar10.2')]
    acc = {key: accuracy(predictions_path(f'work_dirs/{key[0]}', key[1]))
           for key in rows}
    for key, row in rows.items():
        mode, name = key
        cleanacc = accuracy(f'work_dirs/{mode}/predictions.npz')
        assert (row['target'], row['seeds'], row['images']) == (
            'cifar10', '1', '24')
        assert float(row['accuracy mean']) == pytest.approx(acc[key],
                                                            abs=1e-4)
        assert float(row['drop mean']) == pytest.approx(cleanacc - acc[key],
                                                        abs=1e-4)
        summary = json.load(open(f'work_dirs/{mode}/shift/summary.json'))
        assert 100 * summary['sets'][name]['accuracy'] == pytest.approx(
            acc[key])
        if mode == 'ereg':
            assert float(row['vs baseline mean']) == pytest.approx(
                acc[key] - acc[('baseline', name)], abs=1e-4)
            assert row['vs baseline n'] == '1'
    assert len(set(acc.values())) > 1
    text = open('results.md').read()
    assert '## Shift' in text and '| resnet18-cifar | emoset | ereg | ' \
        'cifar10 | cifar10.2 | 1 | 24 |' in text


def test_eval_shift_skips_and_refuses(tmp_path, monkeypatch, capsys):
    """A set evaluated by this checkpoint is skipped; another checkpoint,
    a config of another target, a symlink at an output path and a set
    named twice or unknown are refused, naming them."""
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    cifar = make_cifar(str(tmp_path / 'cifar10'), 10, per_file=2)
    config, ckpt = make_tiny_cifar_run(str(tmp_path / 'run'), cifar)
    c101 = make_cifar10_1(str(tmp_path / 'c101'), 6)
    c102 = make_cifar10_2(str(tmp_path / 'c102'), 6)
    wd = str(tmp_path / 'wd')
    argv = [config, ckpt, '--shift', f'cifar10.1-v6={c101}', '--shift',
            f'cifar10.2={c102}', '--work-dir', wd]
    assert run_tool('analysis_tools/eval_shift.py', *argv) == 0
    assert '2 evaluated, 0 already done' in capsys.readouterr().out
    meta = json.loads(str(load_predictions(predictions_path(
        wd, 'cifar10.2'))['meta']))
    assert meta['source']['num_images'] == 6 and meta['checkpoint'][
        'size'] == os.path.getsize(ckpt)
    assert run_tool('analysis_tools/eval_shift.py', *argv[:4], '--work-dir',
                    wd) == 0
    assert '0 evaluated, 1 already done' in capsys.readouterr().out
    summary = json.load(open(osp.join(wd, 'shift', 'summary.json')))
    assert sorted(summary['sets']) == ['cifar10.1-v6', 'cifar10.2']
    other = str(tmp_path / 'other.pth')
    os.link(ckpt, other)
    with pytest.raises(SystemExit, match='holds the predictions of'):
        run_tool('analysis_tools/eval_shift.py', config, other, *argv[2:])
    cifar100 = str(tmp_path / 'c100.py')
    with open(cifar100, 'w') as f:
        f.write(open(config).read() + "emoreg_target = 'cifar100'\n")
    with pytest.raises(SystemExit, match=r'c100\.py: its target is cifar100 '
                       r'\(emoreg_target\); cifar10\.1-v6 is a shifted test '
                       r'set of cifar10'):
        run_tool('analysis_tools/eval_shift.py', cifar100, *argv[1:])
    os.remove(predictions_path(wd, 'cifar10.2'))
    os.symlink('/dev/null', predictions_path(wd, 'cifar10.2'))
    with pytest.raises(SystemExit, match=r'cifar10\.2\.npz: a symlink'):
        run_tool('analysis_tools/eval_shift.py', *argv)
    tool = load_tool('analysis_tools/eval_shift.py')
    for bad, says in ((f'cifar10.3={c102}', 'unknown set cifar10.3; valid: '
                       'cifar10.1-v6, cifar10.1-v4, cifar10.2'),
                      ('cifar10.2', 'expected NAME=DIR'),
                      (f'cifar10.2={c101}', 'cifar10.2: given twice')):
        with pytest.raises(SystemExit):
            tool.parse_args(argv[:4] + ['--shift', f'cifar10.2={c102}',
                                        '--shift', bad])
        assert says in capsys.readouterr().err


def test_sweep_adds_the_shift_evaluation_to_cifar10_runs(tmp_path):
    """``--shift NAME=DIR``: each CIFAR-10 stage-2 job evaluates on the
    sets after its test, with arguments eval_shift.py parses; recorded
    with the plan; a folder of the wrong layout is a problem of the dry
    run; the status names a failed evaluation, which a sweep again runs
    alone."""
    from emoreg_mm.experiments import check
    from emoreg_mm.experiments.launch import make_job
    from emoreg_mm.experiments.status import (STATUS, evaluation_failed,
                                              failure_note)
    c101 = make_cifar10_1(str(tmp_path / 'c101'), 6)
    c102 = make_cifar10_2(str(tmp_path / 'c102'), 6)
    argv = ['--backbones', 'resnet18-cifar', '--modes', 'baseline',
            '--seeds', '0', '--work-root', str(tmp_path / 'sweep'),
            '--shift', f'cifar10.1-v6={c101}', '--shift', f'cifar10.2={c102}']
    sweep = load_tool('sweep.py').parse_args(argv).sweep

    def shift_problems(sweep):
        return [p for p in check(sweep, sweep.runs())[0]
                if p.startswith('--shift')]

    assert shift_problems(sweep) == []
    runs = {r.key[3]: r for r in sweep.runs()}
    tools = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
        __file__)))), 'tools')
    job = make_job(sweep, runs['cifar10'], 1, tools)
    assert job.shift == [f'cifar10.1-v6={c101}', f'cifar10.2={c102}']
    assert make_job(sweep, runs['cifar100'], 1, tools).shift == []
    os.makedirs(job.work_dir)
    with open(osp.join(job.work_dir, 'last_checkpoint'), 'w') as f:
        f.write('ckpt.pth')
    parsed = load_tool('analysis_tools/eval_shift.py').parse_args(
        job.argv('shift'))
    assert (parsed.shift, parsed.work_dir, parsed.checkpoint) == (
        {'cifar10.1-v6': c101, 'cifar10.2': c102}, job.work_dir, 'ckpt.pth')
    with open(osp.join(job.work_dir, STATUS), 'w') as f:
        json.dump(dict(state='done', job='1', shift='failed: no folder'), f)
    assert evaluation_failed(job.work_dir)
    assert failure_note(runs['cifar10'], 'done') == 'shift: failed: no ' \
        'folder'
    sweep.record()
    plan = json.load(open(tmp_path / 'sweep' / 'sweep_plan.json'))
    assert plan['shift'] == [f'cifar10.1-v6={c101}', f'cifar10.2={c102}']
    np.save(osp.join(c101, 'cifar10.1_v6_labels.npy'), np.arange(5))
    assert shift_problems(sweep) == [
        f'--shift cifar10.1-v6={c101}: cifar10.1-v6: '
        f'{osp.join(c101, "cifar10.1_v6_labels.npy")}: labels int64 of shape '
        '(5,); expected integers of shape (6,), one per image '
        '(docs/shift.md)']
    import contextlib
    import io
    err = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stderr(err):
        load_tool('sweep.py').parse_args(argv + ['--shift', 'cifar10.4=x'])
    assert "--shift 'cifar10.4=x': unknown shifted set cifar10.4 for " \
        'preset paper; valid: cifar10.1-v6, cifar10.1-v4, cifar10.2' in \
        err.getvalue()
