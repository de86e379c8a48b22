"""emoreg_mm.results: the Shift table (accuracy on CIFAR-10.1 / CIFAR-10.2,
the drop from clean, paired differences) by hand on constructed shift
predictions; damaged files, files of another checkpoint and pairs on other
files named in the notes and left out."""
import os.path as osp

import numpy as np
import pytest
from results_fixtures import assert_paired, write_run

from emoreg_mm.evaluation import save_predictions
from emoreg_mm.evaluation.shift import predictions_path, stat_of
from emoreg_mm.fileio import file_identity
from emoreg_mm.results import build_report

FILES = {'cifar102_test.npy': 'a' * 64}


def write_shift_preds(work_dir, name, accuracy, n=8, files=FILES,
                      checkpoint=None):
    """``eval_shift.py``'s file for set ``name``: ``n`` images of which
    ``accuracy * n`` are right; the checkpoint recorded where given."""
    right = round(accuracy * n)
    meta = dict(set=name, source=dict(name=name, root='/data/' + name,
                                      num_images=n, files=files))
    if checkpoint:
        meta.update(checkpoint=file_identity(checkpoint),
                    checkpoint_path=checkpoint,
                    checkpoint_stat=stat_of(checkpoint))
    return save_predictions(predictions_path(work_dir, name), [
        dict(sample_idx=i, gt_label=i % 10,
             pred_label=i % 10 if i < right else (i + 1) % 10,
             pred_score=np.eye(10)[i % 10 if i < right else (i + 1) % 10])
        for i in range(n)], meta=meta)


def test_shift_table_by_hand(tmp_path):
    """Accuracy per set, the drop from each run's clean accuracy (its
    predictions.npz: 3 of 4 right, 75 %) and the paired differences."""
    root = str(tmp_path)
    shift = {'baseline': {0: (.5, .25), 1: (.625, .375)},
             'const': {0: (.5, .5), 1: (.5, .5)},
             'ereg': {0: (.75, .5), 1: (.875, .5)}}
    for mode, by_seed in shift.items():
        for seed, (v6, v2) in by_seed.items():
            wd = write_run(root, f'{mode}{seed}', mode, seed, 90,
                           correct=[1, 1, 1, 0])
            write_shift_preds(wd, 'cifar10.1-v6', v6)
            write_shift_preds(wd, 'cifar10.2', v2)
    report = build_report([osp.join(root, '*')], out=osp.join(root, 'out'))
    header = report['shift_header']
    rows = {(r[2], r[4]): dict(zip(header, r))
            for r in report['shift_rows']}
    assert len(rows) == 6 and 'shift' in report['families']
    for (mode, name), row in rows.items():
        k = 0 if name == 'cifar10.1-v6' else 1
        acc = [100 * shift[mode][s][k] for s in (0, 1)]
        assert float(row['accuracy mean']) == pytest.approx(np.mean(acc),
                                                            abs=1e-4)
        assert float(row['accuracy std']) == pytest.approx(
            np.std(acc, ddof=1), abs=1e-4)
        assert float(row['drop mean']) == pytest.approx(75 - np.mean(acc),
                                                        abs=1e-4)
        assert (row['seeds'], row['images'], row['drop n']) == (2, '8', 2)
        if mode == 'baseline':
            assert row['vs baseline mean'] == '-'
            continue
        base = [100 * shift['baseline'][s][k] for s in (0, 1)]
        diffs = [a - b for a, b in zip(acc, base)]
        if np.std(diffs) > 0:
            assert_paired(row, 'vs baseline', diffs,
                          row['vs baseline verdict'])
        else:
            assert float(row['vs baseline mean']) == pytest.approx(diffs[0])
    assert rows[('ereg', 'cifar10.1-v6')]['vs const mean'] == '31.2500'
    text = open(osp.join(root, 'out.md')).read()
    assert '## Shift' in text and '| cifar10.2 |' in text
    assert '- cifar10.2: /data/cifar10.2 (8 of 2000 images): 6 runs' in text
    assert open(osp.join(root, 'out_shift.csv')).read().startswith(
        'backbone,affective,mode,target,shifted set,seeds,images,folder')


def test_shift_table_leaves_out_what_it_cannot_trust(tmp_path):
    """A damaged file, a file of another checkpoint than the run's last
    one, and a pair evaluated on other files: named, left out."""
    root = str(tmp_path)
    for mode in ('baseline', 'ereg'):
        wd = write_run(root, mode, mode, 0, 90, correct=[1, 1, 1, 0])
        ckpt = osp.join(wd, 'epoch_1.pth')
        with open(ckpt, 'wb') as f:
            f.write(b'weights')
        with open(osp.join(wd, 'last_checkpoint'), 'w') as f:
            f.write(ckpt)
        write_shift_preds(wd, 'cifar10.1-v6', .5, checkpoint=ckpt)
        write_shift_preds(wd, 'cifar10.2', .5, checkpoint=ckpt, files={
            'cifar102_test.npy': mode * 8})
    ereg = osp.join(root, 'ereg')
    with open(osp.join(ereg, 'epoch_1.pth'), 'wb') as f:
        f.write(b'retrained')  # the last checkpoint is now another
    base = osp.join(root, 'baseline')
    with open(predictions_path(base, 'cifar10.1-v4'), 'wb') as f:
        f.write(b'cut')
    report = build_report([osp.join(root, '*')])
    notes = '\n'.join(report['analysis_notes'])
    assert f'{predictions_path(base, "cifar10.1-v4")}: not a predictions' \
        in notes
    for name in ('cifar10.1-v6', 'cifar10.2'):
        assert f"{predictions_path(ereg, name)}: written by " \
            f"{osp.join(ereg, 'epoch_1.pth')} (SHA-256" in notes
    assert [(r[2], r[4]) for r in report['shift_rows']] == [
        ('baseline', 'cifar10.1-v6'), ('baseline', 'cifar10.2')]
    # the same checkpoint back: kept; the cifar10.2 pair is on other files
    with open(osp.join(ereg, 'epoch_1.pth'), 'wb') as f:
        f.write(b'weights')
    report = build_report([osp.join(root, '*')])
    rows = {(r[2], r[4]): dict(zip(report['shift_header'], r))
            for r in report['shift_rows']}
    assert rows[('ereg', 'cifar10.1-v6')]['vs baseline mean'] == '0.0000'
    assert rows[('ereg', 'cifar10.2')]['vs baseline n'] == 0
    assert 'were evaluated on different files' in '\n'.join(
        report['analysis_notes'])
