"""Predictions saved by tools/test.py load without unpickling."""
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from emoreg_mm.evaluation import (PredictionsFileError, load_predictions,
                                  save_predictions)
from emoreg_mm.evaluation.metrics import SavePredictions


def samples(n=5, affect=True):
    out = []
    for i in range(n):
        s = DataSample().set_gt_label(i % 3)
        s.set_pred_score(torch.tensor([0.2, 0.5, 0.3]) + i)
        s.set_pred_label(1)
        s.set_field(i + 10, 'sample_idx', field_type='metainfo')
        s.set_field(torch.tensor(0.25 * i), 'rho')
        if affect:
            s.set_field(torch.full((8, ), i / 8.), 'affect_score')
            s.set_field('awe', 'affect_class')
        out.append(s)
    return out


def test_round_trip_and_atomic(tmp_path):
    path = save_predictions(str(tmp_path / 'p.npz'), samples())
    assert os.listdir(tmp_path) == ['p.npz']  # no temporary file left
    p = load_predictions(path)
    assert p['sample_idx'].tolist() == [10, 11, 12, 13, 14]
    assert p['gt_label'].tolist() == [0, 1, 2, 0, 1]
    assert p['pred_label'].tolist() == [1] * 5
    assert p['pred_score'].shape == (5, 3)
    np.testing.assert_allclose(p['pred_score'][4], [4.2, 4.5, 4.3],
                               rtol=1e-6)
    np.testing.assert_allclose(p['rho'], [0, .25, .5, .75, 1.])
    assert p['affect_score'].shape == (5, 8)
    assert p['affect_class'].tolist() == ['awe'] * 5
    # Optional keys appear only where the model produced them.
    q = load_predictions(save_predictions(str(tmp_path / 'q.npz'),
                                          samples(affect=False)))
    assert 'affect_score' not in q and 'affect_class' not in q


def test_metric_gathers_and_writes(tmp_path):
    metric = SavePredictions(str(tmp_path / 'm.npz'))
    metric.dataset_meta = {}
    all_samples = samples(4)
    metric.process({}, [s.to_dict() for s in all_samples[:2]])
    metric.process({}, [s.to_dict() for s in all_samples[2:]])
    assert metric.evaluate(4) == {}
    assert load_predictions(str(tmp_path / 'm.npz'))['sample_idx'].tolist() \
        == [10, 11, 12, 13]


class _Payload:

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def test_pickle_needs_trust(tmp_path):
    import mmengine
    marker = tmp_path / 'ran'
    pkl = str(tmp_path / 'p.pkl')
    mmengine.dump(_Payload(str(marker)), pkl)
    with pytest.raises(PredictionsFileError) as err:
        load_predictions(pkl)
    assert pkl in str(err.value) and 'trust_pickle' in str(err.value)
    assert not marker.exists()
    mmengine.dump([s.to_dict() for s in samples()], pkl)
    assert load_predictions(pkl, trust_pickle=True)['rho'].shape == (5, )


def test_object_array_in_npz_is_not_unpickled(tmp_path):
    marker = tmp_path / 'ran'
    path = str(tmp_path / 'evil.npz')
    obj = np.empty(1, dtype=object)
    obj[0] = _Payload(str(marker))
    np.savez(path, gt_label=obj)
    with pytest.raises(PredictionsFileError, match='evil.npz'):
        load_predictions(path)
    assert not marker.exists()


@pytest.mark.parametrize('content,reason', [
    (b'', 'not a predictions .npz'),
    (os.urandom(300), 'not a predictions .npz'),
])
def test_damaged_files_named(tmp_path, content, reason):
    path = tmp_path / 'bad.npz'
    path.write_bytes(content)
    with pytest.raises(PredictionsFileError, match=reason) as err:
        load_predictions(str(path))
    assert str(path) in str(err.value)


def test_wrong_keys_and_shapes(tmp_path):
    path = str(tmp_path / 'x.npz')
    np.savez(path, gt_label=np.zeros(3))
    with pytest.raises(PredictionsFileError, match='missing key'):
        load_predictions(path)
    np.savez(path, sample_idx=np.arange(3), gt_label=np.zeros(3),
             pred_label=np.zeros(2), pred_score=np.zeros((3, 2)))
    with pytest.raises(PredictionsFileError, match="'pred_label' has shape"):
        load_predictions(path)
    with pytest.raises(PredictionsFileError, match='not found'):
        load_predictions(str(tmp_path / 'none.npz'))
    with pytest.raises(PredictionsFileError, match='.npz'):
        save_predictions(str(tmp_path / 'p.pkl'), samples())


def _npz(path, members, compression=None):
    """An .npz archive of raw ``members`` (name -> bytes)."""
    import zipfile
    with zipfile.ZipFile(path, 'w', compression=compression or
                         zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


def _npy(array=None, header=None):
    import io
    buf = io.BytesIO()
    if header is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def test_files_that_would_allocate_without_bound_are_refused(tmp_path,
                                                             monkeypatch):
    """Shapes and member sizes are checked before anything is allocated;
    through the CLI that reads predictions (plot_regulation --preds, its
    main() in this process)."""
    import sys
    import zipfile

    from launch_utils import load_tool
    plot = load_tool('analysis_tools/plot_regulation.py')
    good = dict(sample_idx=np.arange(4), gt_label=np.zeros(4, int),
                pred_label=np.zeros(4, int), pred_score=np.zeros((4, 2)))
    members = {f'{k}.npy': _npy(v) for k, v in good.items()}
    huge = _npz(tmp_path / 'huge.npz', dict(members, **{
        'pred_score.npy': _npy(header=dict(
            descr='<f8', fortran_order=False, shape=(10**6, 10**6))) +
        b'\0' * 64}))
    bomb = _npz(tmp_path / 'bomb.npz', dict(members, **{
        'pred_score.npy': _npy(np.zeros((2**24, 2)))}), zipfile.ZIP_DEFLATED)
    assert os.path.getsize(bomb) < 1 << 20
    square = _npz(tmp_path / 'square.npz', dict(members, **{
        'pred_label.npy': _npy(np.zeros((4, 4), int))}))
    for path, reason in (
            (huge, 'member pred_score.npy declares shape (1000000, 1000000)'
             ' of float64 (8000000000000 bytes) but holds 64; not read'),
            (bomb, 'member pred_score.npy declares 268435584 bytes from'),
            (square, "'pred_label' has shape (4, 4); expected one value per "
             'image (N,)')):
        monkeypatch.setattr(sys, 'argv', [
            'plot_regulation.py', '--preds', path, '--out-dir',
            str(tmp_path / 'plots')])
        with pytest.raises(SystemExit) as exit_:
            plot.main()
        err = str(exit_.value.code)  # a message: exit status 1
        assert f'{path}: ' in err and reason in err, err[-3000:]
    assert not (tmp_path / 'plots').exists()


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path,
                                                          monkeypatch):
    import errno
    from emoreg_mm.evaluation import predictions
    path = save_predictions(str(tmp_path / 'p.npz'), samples())
    before = open(path, 'rb').read()

    def full(f, **arrays):
        f.write(b'partial')
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(predictions.np, 'savez', full)
    with pytest.raises(OSError) as err:
        save_predictions(path, samples(3))
    assert err.value.errno == errno.ENOSPC
    assert path in str(err.value) and 'No space left' in str(err.value)
    assert open(path, 'rb').read() == before
    assert os.listdir(tmp_path) == ['p.npz']  # no temporary file left


def test_head_predictions_carry_each_branch(tmp_path):
    """RegulationHead's predictions hold softmax(z_N) and softmax(z_I); the
    fused score is (1 - rho) p_N + rho p_I, and both survive the file."""
    from emoreg_mm.models.backbones.emotional_wrapper import \
        EmotionalFeatures
    from emoreg_mm.models.heads import RegulationHead
    torch.manual_seed(0)
    head = RegulationHead(num_classes=4, in_channels=6, regulator='ereg')
    head.init_weights()
    feats = EmotionalFeatures(torch.randn(5, 6) * 3, torch.randn(5, 6) * 3,
                              torch.randn(5, 8) * 3)
    preds = head.predict(feats, [DataSample().set_gt_label(i % 4)
                                 for i in range(5)])
    for s in preds:
        rho = float(s.rho)
        assert 0 < rho < 1
        torch.testing.assert_close(
            s.pred_score, (1 - rho) * s.pred_score_n + rho * s.pred_score_i,
            atol=1e-6, rtol=0)
        torch.testing.assert_close(s.pred_score_n.sum(), torch.tensor(1.))
    torch.testing.assert_close(
        torch.stack([s.pred_score_n for s in preds]),
        torch.softmax(head.fc_n(feats.feat_n), 1))
    p = load_predictions(save_predictions(str(tmp_path / 'p.npz'), preds))
    fused = (1 - p['rho'][:, None]) * p['pred_score_n'] + \
        p['rho'][:, None] * p['pred_score_i']
    np.testing.assert_allclose(p['pred_score'], fused, atol=1e-6)
    # a one-branch head (e-infl) records the branch it has
    one = RegulationHead(num_classes=4, in_channels=6, regulator='e-infl')
    s = one.predict(EmotionalFeatures(None, feats.feat_i, None))[0]
    assert 'pred_score_i' in s and 'pred_score_n' not in s


def test_files_without_branch_scores_load(tmp_path):
    p = load_predictions(save_predictions(str(tmp_path / 'old.npz'),
                                          samples()))
    assert 'pred_score_n' not in p and 'pred_score_i' not in p
    assert p['rho'].shape == (5, )


@pytest.mark.parametrize('key', ['pred_score_n', 'pred_score_i'])
def test_a_branch_score_of_the_wrong_shape_names_file_and_key(tmp_path,
                                                              key):
    path = str(tmp_path / 'bad.npz')
    good = dict(sample_idx=np.arange(3), gt_label=np.zeros(3, int),
                pred_label=np.zeros(3, int), pred_score=np.zeros((3, 4)))
    np.savez(path, **good, **{key: np.zeros((3, 5), np.float32)})
    with pytest.raises(PredictionsFileError) as err:
        load_predictions(path)
    assert str(err.value) == (
        f"{path}: '{key}' has shape (3, 5); expected (3, 4) like pred_score "
        "(one branch's class probabilities per image)")


def test_metric_keeps_the_branch_scores(tmp_path):
    """SavePredictions (what tools/test.py --out uses) writes the branch
    keys the head sets."""
    metric = SavePredictions(str(tmp_path / 'm.npz'))
    metric.dataset_meta = {}
    batch = samples(3)
    for s in batch:
        s.set_field(torch.tensor([.5, .3, .2]), 'pred_score_n')
        s.set_field(torch.tensor([.1, .1, .8]), 'pred_score_i')
    metric.process({}, [s.to_dict() for s in batch])
    metric.evaluate(3)
    p = load_predictions(str(tmp_path / 'm.npz'))
    assert p['pred_score_n'].dtype == np.float32
    np.testing.assert_allclose(p['pred_score_i'], [[.1, .1, .8]] * 3)


# ------------------------------------------------- values no model writes
def _arrays(n=4, classes=3):
    rng = np.random.default_rng(0)
    score = rng.dirichlet(np.ones(classes), n).astype(np.float32)
    return dict(sample_idx=np.arange(n), gt_label=np.arange(n) % classes,
                pred_label=score.argmax(1), pred_score=score,
                rho=np.full(n, .5, np.float32), pred_score_n=score.copy(),
                pred_score_i=score.copy())


def _gt_nan(a):
    a['gt_label'] = a['gt_label'].astype(float)
    a['gt_label'][1] = np.nan


@pytest.mark.parametrize('change,problem', [
    (lambda a: a['gt_label'].__setitem__(2, 3),
     "'gt_label' is 3 (outside the classes 0..2 of pred_score) in 1 of 4 "
     'rows (first: row 2)'),
    (_gt_nan, "'gt_label' is NaN or infinite, not a class index, in 1 of 4 "
     'rows (first: row 1)'),
    (lambda a: a['pred_label'].__setitem__(0, -1),
     "'pred_label' is -1 (outside the classes 0..2 of pred_score)"),
    (lambda a: a['pred_score'].__setitem__(3, np.nan),
     "'pred_score' has NaN or infinite values (diverged outputs?) in 1 of 4 "
     'rows (first: row 3)'),
    (lambda a: a['pred_score_i'].__setitem__((1, 0), np.inf),
     "'pred_score_i' has NaN or infinite values"),
    (lambda a: a.update(pred_score=a['pred_score'][:, :0],
                        pred_score_n=a['pred_score'][:, :0],
                        pred_score_i=a['pred_score'][:, :0]),
     'pred_score has shape (4, 0); expected at least one image and one '
     'class'),
    (lambda a: a.update({k: v[:0] for k, v in a.items()}),
     'pred_score has shape (0, 3); expected at least one image'),
])
def test_values_no_model_writes_are_refused_naming_file_and_key(
        tmp_path, change, problem):
    """Through plot_analysis.py, which reads a predictions file as the
    results table does: one error naming the file and the key, nothing
    drawn; the writer refuses the same before writing."""
    from launch_utils import run_cli
    arrays = _arrays()
    change(arrays)
    path = str(tmp_path / 'run' / 'predictions.npz')
    os.makedirs(osp.dirname(path))
    np.savez(path, **arrays)
    code, out = run_cli('analysis_tools/plot_analysis.py', path)
    assert code == 1 and f'plot_analysis: {path}: ' in out
    assert problem in out and 'Traceback' not in out
    assert os.listdir(tmp_path / 'run') == ['predictions.npz']
    samples = [{k: v[i] for k, v in arrays.items()}
               for i in range(len(arrays['gt_label']))]
    if samples and arrays['pred_score'].shape[1]:
        key = problem.split()[0]  # the writer casts labels to integers
        with pytest.raises(PredictionsFileError, match=re.escape(key)):
            save_predictions(str(tmp_path / 'new.npz'), samples)
        assert not (tmp_path / 'new.npz').exists()


def test_meta_round_trip_and_a_damaged_one(tmp_path):
    from emoreg_mm.evaluation.predictions import predictions_meta
    path = save_predictions(str(tmp_path / 'p.npz'), samples(),
                            meta=dict(checkpoint=dict(sha256='ab', size=3)))
    p = load_predictions(path)
    assert predictions_meta(p) == dict(checkpoint=dict(sha256='ab', size=3))
    assert predictions_meta(load_predictions(save_predictions(
        str(tmp_path / 'q.npz'), samples()))) == {}
    np.savez(path, **dict(_arrays(), meta=np.array('[1')))
    with pytest.raises(PredictionsFileError,
                       match="'meta' is not a JSON object"):
        load_predictions(path)
