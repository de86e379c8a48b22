"""Branch analysis and calibration against numbers worked out by hand."""
import math

import numpy as np
import pytest

from emoreg_mm.evaluation.analysis import (ECE_BINS, branch_analysis,
                                           calibration, captured_share,
                                           run_analysis, some_rho_right)

# Eight images of three classes: what N and I said, rho, the true class.
P_N = [(.8, .1, .1), (.6, .3, .1), (.3, .6, .1), (.1, .8, .1),
       (.5, .4, .1), (.7, .2, .1), (.5, .1, .4), (.1, .1, .8)]
P_I = [(.7, .2, .1), (.2, .7, .1), (.9, .05, .05), (.5, .4, .1),
       (.1, .4, .5), (.2, .7, .1), (.1, .1, .8), (.2, .2, .6)]
RHO = [.5, .2, .7, .9, .9, .4, .8, .4]
GT = [0, 0, 0, 0, 1, 2, 0, 2]
# By hand, per image:      1  2  3  4  5  6  7  8
# N right                  x  x           x  x    -> 4/8
# I right                  x     x  x           x -> 4/8
# fused (1-rho)pN+rho pI   x  x  x  x           x -> 5/8 (image 4: .46 > .44)
# const .5 pN + .5 pI      x     x     x        x -> 4/8 (image 5: .4 > .3)
# either branch            x  x  x  x     x  x    -> 6/8
# oracle (some rho)        x  x  x  x  x  x  x    -> 7/8 (6: class 2 never
#                                                    tops)
# only I right: images 3, 4 (rho .7, .9); only N right: 2, 7 (rho .2, .8)
# fused p(true class): .75 .52 .72 .46 .40 .10 .18 .72


def hand_preds():
    p_n, p_i = np.array(P_N), np.array(P_I)
    rho = np.array(RHO)
    score = (1 - rho[:, None]) * p_n + rho[:, None] * p_i
    return dict(sample_idx=np.arange(8), gt_label=np.array(GT),
                pred_label=score.argmax(1), pred_score=score.astype(
                    np.float32), pred_score_n=p_n.astype(np.float32),
                pred_score_i=p_i.astype(np.float32),
                rho=rho.astype(np.float32))


def test_branch_analysis_by_hand():
    out, reason = branch_analysis(hand_preds())
    assert reason == ''
    expected = dict(n=4 / 8, i=4 / 8, fused=5 / 8, const=4 / 8,
                    either=6 / 8, oracle=7 / 8, count_only_i=2,
                    count_only_n=2, rho_only_i=.8, rho_only_n=.5, images=8)
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, abs=1e-6), key
    assert out['captured'] == pytest.approx((5 - 4) / (7 - 4))
    assert some_rho_right(np.array(P_N), np.array(P_I),
                          np.array(GT)).tolist() == [True] * 5 + [
                              False, True, True]


def test_oracle_gate_needs_no_branch_right():
    """The true class can top the mixture while topping neither branch;
    the oracle counts it, 'either branch' does not."""
    p_n, p_i = np.array([[.5, .4, .1]]), np.array([[.1, .4, .5]])
    assert some_rho_right(p_n, p_i, np.array([1])).tolist() == [True]
    # class 1 tops nowhere when another class is always larger
    assert some_rho_right(p_n, np.array([[.6, .3, .1]]),
                          np.array([1])).tolist() == [False]


def test_captured_share_is_undefined_without_headroom():
    assert captured_share(.9, .8, .8) is None  # oracle = const: 0 / 0
    assert captured_share(.85, .8, .9) == pytest.approx(.5)
    assert captured_share(.75, .8, .9) == pytest.approx(-.5)
    both_right = hand_preds()
    both_right['gt_label'] = both_right['pred_score_n'].argmax(1)
    both_right['pred_score_i'] = both_right['pred_score_n']
    both_right['pred_label'] = both_right['gt_label']
    out, _ = branch_analysis(both_right)
    assert out['oracle'] == out['const'] == 1 and out['captured'] is None
    assert out['rho_only_i'] is None and out['count_only_i'] == 0


def test_missing_branches_say_why():
    preds = hand_preds()
    old = {k: v for k, v in preds.items() if not k.startswith('pred_score_')}
    assert 'saved before' in branch_analysis(old)[1]
    one = dict(old, pred_score_i=preds['pred_score_i'])
    assert branch_analysis(one) == (None, 'only pred_score_i: a one-branch '
                                    'model')
    plain = {k: v for k, v in old.items() if k != 'rho'}
    assert 'not a regulated model' in branch_analysis(plain)[1]
    full = run_analysis(plain)
    assert full['branches'] is None and 'branches' in full['reasons']
    assert full['top1'] == pytest.approx(5 / 8)  # any classifier's top-1
    assert full['calibration'] is not None  # any classifier's scores


def test_nll_by_hand():
    out, reason = calibration(hand_preds())
    assert reason == ''
    p_true = [.75, .52, .72, .46, .40, .10, .18, .72]
    assert out['nll'] == pytest.approx(-np.mean(np.log(p_true)), rel=1e-6)
    assert out['accuracy'] == pytest.approx(5 / 8)


def test_ece_by_hand():
    """Confidences .95 | .90 .92 | .55 | .25 in bins 14, 13, 8 and 3 of 15
    (width 1/15); right 1 | 0 1 | 0 | 1."""
    conf = [.95, .90, .92, .55, .25]
    right = [1, 0, 1, 0, 1]
    pred = np.array([0, 1, 2, 3, 4])
    score = np.array([[(1 - c) / 4] * 5 for c in conf])
    score[np.arange(5), pred] = conf
    gt = np.where(right, pred, (pred + 1) % 5)
    out, _ = calibration(dict(gt_label=gt, pred_label=pred,
                              pred_score=score))
    hand = (abs(1 - .95) + 2 * abs(.5 - .91) + abs(0 - .55) +
            abs(1 - .25)) / 5
    assert hand == pytest.approx(.434)
    assert out['ece'] == pytest.approx(hand, abs=1e-9)
    bins = out['bins']
    assert len(bins) == ECE_BINS == 15
    assert [k for k, b in enumerate(bins) if b['count']] == [3, 8, 13, 14]
    assert bins[13]['count'] == 2 and bins[13]['accuracy'] == .5
    assert bins[13]['confidence'] == pytest.approx(.91)
    assert (bins[13]['low'], bins[13]['high']) == pytest.approx(
        (13 / 15, 14 / 15))
    # a probability 0 of the true class is floored, not -log(0) = inf
    zero = dict(gt_label=np.array([1]), pred_label=np.array([0]),
                pred_score=np.array([[1., 0.]]))
    assert calibration(zero)[0]['nll'] == pytest.approx(-math.log(1e-12))


def test_scores_that_are_not_probabilities_are_not_calibrated():
    out, reason = calibration(dict(gt_label=np.array([0, 1]),
                                   pred_label=np.array([1, 1]),
                                   pred_score=np.array([[1., 3.],
                                                        [0., 2.]])))
    assert out is None and 'not probabilities' in reason
