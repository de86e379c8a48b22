"""Run dirs as training, tools/test.py and eval_corruptions.py leave them,
for the tests of emoreg_mm.results."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from scipy import stats

from emoreg_mm.evaluation import save_predictions
from emoreg_mm.evaluation.robustness import predictions_path


def stage1_model(mode, affective):
    """The model of a leaf: a plain classifier for ``baseline``, else the
    wrapper with the stage-1 weights of ``affective`` as the leaves set
    them (for ``X-untrained``: a random E, the untrained piece's options,
    X's emotions named in the head); returns (model, top-level keys)."""
    encoder, head = dict(type='TinyNet'), dict(num_classes=10)
    if mode == 'baseline':
        return dict(type='ImageClassifier', backbone=encoder, head=head), {}
    top = {}
    if affective.endswith('-untrained'):
        weights = top['untrained_encoders'] = dict(emotional_init='random',
                                                   emotional_seed=0)
        head = dict(head, emotion_classes=['a', 'b'])
    else:
        weights = dict(
            emotional_checkpoint=f'work_dirs/tiny_{affective}',
            emotional_checkpoint_config='configs/emoreg_pretrain/'
            f'tiny_{affective}.py')
    backbone = dict(type='EmotionalBackboneWrapper', backbone=encoder,
                    in_channels=8, **weights)
    return dict(type='RegulatedImageClassifier', backbone=backbone,
                head=dict(head, type='RegulationHead')), top


def write_run(root, name, mode, seed, value, lr=0.1, val_split='val',
              correct=None, affective='emoset', target='cifar10',
              source='test', stage1=False, head=None):
    """A work dir as training and tools/test.py leave it: the config that
    mmengine dumps (Config.dump), the test result (``source='val'``: only
    the validation log) and, given ``correct``, per-image predictions.
    With ``stage1``, the model is the leaves' (:func:`stage1_model`): the
    wrapper reading the stage-1 weights of ``affective``; ``head`` adds
    options to the model's head (``affect_space='dimensional'``)."""
    work_dir = osp.join(root, name)
    stamp = osp.join(work_dir, '20260101_000000')
    os.makedirs(osp.join(stamp, 'vis_data'))
    data = dict(type='HeldOutCIFAR10', data_root='data/cifar10')
    cfg = dict(
        emoreg_backbone='tiny', emoreg_mode=mode, emoreg_target=target,
        randomness=dict(seed=seed, deterministic=False),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr)),
        val_dataloader=dict(dataset=dict(data, split=val_split)),
        test_dataloader=dict(dataset=dict(data, split='test')),
        model=dict(type='ImageClassifier', head=dict(num_classes=10)),
        work_dir=work_dir)
    if mode != 'baseline':
        cfg.update(emoreg_affective=affective, regulator=dict(type=mode),
                   emotion_classes=['a', 'b'], num_emotions=2)
    if stage1:
        cfg['model'], top = stage1_model(mode, affective)
        cfg.update(top)
    cfg['model']['head'].update(head or {})
    Config(cfg).dump(osp.join(work_dir, f'{name}.py'))
    if source == 'test':
        with open(osp.join(stamp, '20260101_000000.json'), 'w') as f:
            json.dump({'accuracy/top1': value}, f)
    else:
        with open(osp.join(stamp, 'vis_data', 'scalars.json'), 'w') as f:
            f.write(json.dumps({'accuracy/top1': value - 5, 'step': 1}) +
                    '\n' + json.dumps({'accuracy/top1': value, 'step': 2}) +
                    '\n')
    if correct is not None:
        gt = np.arange(len(correct)) % 10
        save_predictions(osp.join(work_dir, 'predictions.npz'), [
            dict(sample_idx=i, gt_label=int(g),
                 pred_label=int(g if ok else (g + 1) % 10),
                 pred_score=np.eye(10)[g if ok else (g + 1) % 10])
            for i, (g, ok) in enumerate(zip(gt, correct))])
    return work_dir


def write_predictions(work_dir, gt, score, rho=None, p_n=None, p_i=None):
    """``predictions.npz`` of a run: the fused ``score``, and of a
    regulated run rho and each branch's probabilities."""
    samples = []
    for k, g in enumerate(gt):
        s = dict(sample_idx=k, gt_label=int(g),
                 pred_label=int(score[k].argmax()), pred_score=score[k])
        if rho is not None:
            s.update(rho=rho[k], pred_score_n=p_n[k], pred_score_i=p_i[k])
        samples.append(s)
    return save_predictions(osp.join(work_dir, 'predictions.npz'), samples)


def rows_by(report, key='rows', header='header', column=2):
    """The report's CSV rows as dicts, by the value in ``column`` (the
    mode)."""
    return {r[column]: dict(zip(report[header], r)) for r in report[key]}


def assert_paired(row, prefix, diffs, verdict):
    """``row``'s paired columns under ``prefix`` (mean, 95 % interval, n,
    verdict) against the mean and scipy's t interval of ``diffs``; returns
    the interval."""
    low, high = stats.t.interval(0.95, len(diffs) - 1, loc=np.mean(diffs),
                                 scale=stats.sem(diffs))
    for column, value in (('mean', np.mean(diffs)), ('ci low', low),
                          ('ci high', high)):
        assert float(row[f'{prefix} {column}']) == pytest.approx(
            value, abs=1e-4), (prefix, column)
    assert row[f'{prefix} n'] == len(diffs)
    assert row[f'{prefix} verdict'] == verdict
    return low, high


# Eight images of three classes, as in tests/test_evaluation/
# test_analysis.py: with RHO, N 4/8, I 4/8, fused 5/8, const fusion 4/8,
# oracle 7/8; only I right on images 3, 4 (rho .7, .9), only N on 2, 7
# (rho .2, .8).
P_N = np.array([(.8, .1, .1), (.6, .3, .1), (.3, .6, .1), (.1, .8, .1),
                (.5, .4, .1), (.7, .2, .1), (.5, .1, .4), (.1, .1, .8)])
P_I = np.array([(.7, .2, .1), (.2, .7, .1), (.9, .05, .05), (.5, .4, .1),
                (.1, .4, .5), (.2, .7, .1), (.1, .1, .8), (.2, .2, .6)])
RHO = np.array([.5, .2, .7, .9, .9, .4, .8, .4])
GT = np.array([0, 0, 0, 0, 1, 2, 0, 2])


def write_branch_preds(work_dir, rho=None, branches=True, extra=None):
    """``predictions.npz`` as save_predictions writes it: the fused score of
    P_N and P_I at ``rho`` (None: N alone, a baseline)."""
    score = P_N if rho is None else (1 - rho[:, None]) * P_N + \
        rho[:, None] * P_I
    samples = []
    for k in range(len(GT)):
        s = dict(sample_idx=k, gt_label=int(GT[k]),
                 pred_label=int(score[k].argmax()), pred_score=score[k])
        if rho is not None:
            s['rho'] = rho[k]
            if branches:
                s.update(pred_score_n=P_N[k], pred_score_i=P_I[k])
        samples.append(s)
    path = save_predictions(osp.join(work_dir, 'predictions.npz'), samples)
    if extra:  # rewrite with extra (malformed) keys
        with np.load(path) as npz:
            arrays = dict(npz)
        np.savez(path, **dict(arrays, **extra))
    return path


def write_corruption_preds(work_dir, accuracy, n=4, source=None):
    """``eval_corruptions.py``'s files: per corruption and severity, ``n``
    images of which ``accuracy * n`` are right; each records the folder
    ``source`` (``root``, ``kind``, ``images_per_severity``) where given."""
    for c, by_severity in accuracy.items():
        for s, acc in by_severity.items():
            right = round(acc * n)
            path = predictions_path(work_dir, c, s)
            os.makedirs(osp.dirname(path), exist_ok=True)
            save_predictions(path, [
                dict(sample_idx=i, gt_label=0, pred_label=int(i >= right),
                     pred_score=np.eye(10)[int(i >= right)])
                for i in range(n)], meta=None if source is None else dict(
                    source=source))
