"""A dimensional affective state regulating stage 2: the arousal and the
learnable regulators, the head's dimensional affect, and stage 2 through
tools/train.py and tools/test.py on a stage 1 that regresses valence and
arousal."""
import os.path as osp

import numpy as np
import pytest
import torch
from engine_configs import write_regulated_config
from launch_utils import run_cli, run_tool

from emoreg_mm.evaluation import load_predictions
from emoreg_mm.models import EmotionalFeatures, build_regulator
from emoreg_mm.models.dimensional_regulators import DIMENSIONAL_MODES
from emoreg_mm.models.heads import RegulationHead

AFFECT = torch.tensor([[0., -1.], [0.3, 0.], [-0.5, 1.], [0.9, -0.5]])


def test_arousal_regulator_maps_arousal_to_rho():
    linear = build_regulator(DIMENSIONAL_MODES['arousal-reg'], 2)
    assert linear.branches == ('N', 'I', 'E')
    assert linear(AFFECT, 4).tolist() == [0., .5, 1., .25]
    absolute = build_regulator(dict(type='ArousalRegulator', mapping='abs'),
                               2)
    assert absolute(AFFECT, 4).tolist() == [1., 0., 1., .5]
    with pytest.raises(ValueError, match='dimensional state'):
        linear(torch.zeros(4, 1), 4)
    with pytest.raises(ValueError, match="'linear' or 'abs'"):
        build_regulator(dict(type='ArousalRegulator', mapping='log'), 2)


def test_learnable_regulator_starts_at_half_and_learns():
    regulator = build_regulator(DIMENSIONAL_MODES['learn-va-reg'], 2)
    rho = regulator(AFFECT, 4)
    assert torch.equal(rho, torch.full((4, ), .5))
    rho.sum().backward()
    assert regulator.weight.grad.abs().sum() > 0


def test_head_reads_the_regression_outputs():
    head = RegulationHead(num_classes=3, in_channels=4,
                          regulator=dict(type='ArousalRegulator'),
                          emotion_classes=('valence', 'arousal'),
                          affect_space='dimensional')
    logits = torch.tensor([[0.2, -3.], [1., 2.]])
    feats = EmotionalFeatures(torch.randn(2, 4), torch.randn(2, 4), logits)
    out = head.regulate(feats)
    assert torch.allclose(out.affect, torch.tanh(logits))
    assert torch.allclose(out.rho, (torch.tanh(logits[:, 1]) + 1) / 2)
    sample = head.predict(feats)[0]
    assert torch.allclose(sample.affect_score, torch.tanh(logits[0]))
    assert 'affect_class' not in sample  # no top emotion of a V-A point
    with pytest.raises(ValueError, match="'categorical' or 'dimensional'"):
        RegulationHead(num_classes=3, in_channels=4, affect_space='va')


@pytest.mark.slow
def test_stage2_with_the_arousal_regulator_through_the_tools(tmp_path):
    """Stage 1's head regresses (valence, arousal): its checkpoint names
    the two dimensions as its classes, and stage 2 reads them as its
    affective state; tools/test.py's predictions hold rho = (arousal + 1) /
    2 for every image."""
    config = write_regulated_config(tmp_path, max_epochs=1,
                                    emotions=('valence', 'arousal'))
    with open(config, 'a') as f:  # tested on the held-out images
        f.write('test_dataloader = val_dataloader\n'
                'test_evaluator = val_evaluator\ntest_cfg = dict()\n')
    work = str(tmp_path / 'work')
    options = ['--cfg-options', 'model.head.regulator=ArousalRegulator',
               '--cfg-add', 'model.head.affect_space=dimensional',
               'emoreg_mode=arousal-reg']
    run_tool('train.py', config, '--work-dir', work, *options)
    out = osp.join(work, 'predictions.npz')
    run_tool('test.py', config, osp.join(work, 'epoch_1.pth'), '--work-dir',
             work, '--out', out, '--cfg-options',
             'model.head.regulator=ArousalRegulator',
             'model.head.affect_space=dimensional')
    preds = load_predictions(out)
    affect = preds['affect_score']
    assert affect.shape[1] == 2 and np.all(np.abs(affect) <= 1)
    np.testing.assert_allclose(preds['rho'], (affect[:, 1] + 1) / 2,
                               atol=1e-6)
    assert 'affect_class' not in preds


def test_a_regulator_of_the_other_space_is_refused():
    """E-Reg's entropy has no meaning on (valence, arousal), nor arousal
    on a distribution over emotions: the head refuses either pairing,
    naming the regulator and the state."""
    with pytest.raises(ValueError, match=r"ERegRegulator regulates a "
                       r"categorical affective state, but model.head."
                       r"affect_space is 'dimensional' \(valence, arousal\)"):
        RegulationHead(num_classes=3, in_channels=4, regulator='ereg',
                       emotion_classes=('valence', 'arousal'),
                       affect_space='dimensional')
    with pytest.raises(ValueError, match=r"ArousalRegulator regulates a "
                       r"dimensional affective state.*'categorical'"):
        RegulationHead(num_classes=3, in_channels=4,
                       regulator=dict(type='ArousalRegulator'))
    # const reads no affect: either space
    for space in ('categorical', 'dimensional'):
        RegulationHead(num_classes=3, in_channels=4, regulator='const',
                       emotion_classes=('valence', 'arousal'),
                       affect_space=space)


def test_arousal_is_found_by_name():
    """A stage 1 whose dimensions come in another order (a ratings CSV's
    columns) still regulates by its arousal."""
    head = RegulationHead(num_classes=3, in_channels=4,
                          regulator=dict(type='ArousalRegulator'),
                          emotion_classes=('arousal', 'valence'),
                          affect_space='dimensional')
    assert head.regulator.index == 0
    assert torch.allclose(head.regulator(AFFECT, 4),
                          torch.tensor([.5, .65, .25, .95]))
    with pytest.raises(ValueError, match=r"reads 'arousal', but the "
                       r"affective state names \('valence', 'dominance'\)"):
        RegulationHead(num_classes=3, in_channels=4,
                       regulator=dict(type='ArousalRegulator'),
                       emotion_classes=('valence', 'dominance'),
                       affect_space='dimensional')


def test_test_time_augmentation_of_a_dimensional_state():
    """--tta averages a dimensional state's views without naming a top
    emotion, and averages a stage-1 regressor's pred_va."""
    from mmpretrain.structures import DataSample

    from emoreg_mm.models.tta import RegulatedAverageTTA
    head = RegulationHead(num_classes=3, in_channels=4,
                          regulator=dict(type='ArousalRegulator'),
                          emotion_classes=('valence', 'arousal'),
                          affect_space='dimensional')
    feats = EmotionalFeatures(torch.randn(2, 4), torch.randn(2, 4),
                              torch.tensor([[0.2, -3.], [1., 2.]]))
    views = head.predict(feats)
    class Model(torch.nn.Module):  # what the TTA wrapper reads of one
        def __init__(self):
            super().__init__()
            self.head = head

        def test_step(self, data):
            return []

    tta = RegulatedAverageTTA(module=Model())
    merged = tta._merge_single_sample(views)
    assert torch.allclose(merged.affect_score,
                          (views[0].affect_score + views[1].affect_score) / 2)
    assert torch.allclose(merged.rho, (views[0].rho + views[1].rho) / 2)
    assert 'affect_label' not in merged and 'affect_class' not in merged
    regressed = [DataSample(pred_va=torch.tensor(v))
                 for v in ([0.2, -0.4], [0.4, 0.0])]
    merged = tta._merge_single_sample(regressed)
    assert torch.allclose(merged.pred_va, torch.tensor([0.3, -0.2]))


def test_a_regressor_has_no_predictions_file(tmp_path):
    """tools/test.py --out FILE.npz on a stage-1 valence / arousal leaf is
    refused before anything is built, pointing to the metrics file."""
    code, out = run_cli('test.py', 'configs/emoreg_pretrain/resnet50_oasis.py',
                        str(tmp_path / 'missing.pth'), '--out',
                        str(tmp_path / 'p.npz'))
    assert code == 1
    assert 'is a stage-1 valence / arousal regressor' in out
    assert '--out FILE.json --out-item metrics' in out
    assert not (tmp_path / 'p.npz').exists()


def test_a_stage1_of_the_other_space_is_refused(tmp_path):
    """A categorical stage 2 on a valence / arousal regressor (or the other
    way round) would softmax ratings (or tanh emotion logits): refused,
    naming the checkpoint, what it learned and the setting to change."""
    from engine_configs import write_stage1

    from emoreg_mm.models.classifiers import wire
    rated, emotions = tmp_path / 'rated.pth', tmp_path / 'emotions.pth'
    write_stage1(rated, classes=('valence', 'arousal'))
    write_stage1(emotions)
    backbone = dict(type='EmotionalBackboneWrapper')
    for path, space, learned in (
            (rated, 'categorical', 'dimensional affective state \\(valence, '
             'arousal\\)'),
            (emotions, 'dimensional', 'categorical affective state \\(calm, '
             'joy, fear\\)')):
        regulator = 'const' if space == 'categorical' else dict(
            type='ArousalRegulator')
        with pytest.raises(ValueError, match=f"'{path}' learned a {learned}, "
                           f"but model.head.affect_space is '{space}'"):
            wire(dict(backbone, emotional_checkpoint=str(path)),
                 dict(type='RegulationHead', affect_space=space,
                      regulator=regulator))
    _, head = wire(dict(backbone, emotional_checkpoint=str(rated)),
                   dict(type='RegulationHead', affect_space='dimensional',
                        regulator=dict(type='ArousalRegulator')))
    assert head['emotion_classes'] == ['valence', 'arousal']
