"""RegulatedImageClassifier: the wrapper's branches and number of emotions
follow from the head (each set once, in the head)."""
import pytest
from mmpretrain.registry import MODELS

from emoreg_mm.models import REGULATION_MODES

#: docs/method.md's "branches built" column
BRANCHES = {'baseline': ('N', ), 'e-infl': ('I', ), 'const': ('N', 'I'),
            'ereg': ('N', 'I', 'E'), 'learn-ereg': ('N', 'I', 'E'),
            'rand-learn-ereg': ('N', 'I', 'E')}


def test_the_table_covers_every_mode():
    assert set(BRANCHES) == set(REGULATION_MODES)


@pytest.mark.parametrize('mode', sorted(BRANCHES))
def test_wrapper_branches_follow_the_regulator(tiny, resnet_stage1, mode):
    cfg = tiny.regulated_cfg('resnet', mode, resnet_stage1[0])
    assert 'branches' not in cfg['backbone']
    model = MODELS.build(cfg)
    assert model.backbone.branches == BRANCHES[mode]
    assert model.head.branches == BRANCHES[mode]
    for branch, module in (('N', model.backbone.encoder_n),
                           ('I', model.backbone.encoder_i),
                           ('E', model.backbone.encoder_e)):
        assert (module is not None) == (branch in BRANCHES[mode]), branch


def test_number_of_emotions_follows_the_vocabulary(tiny, resnet_stage1):
    names = ('joy', 'calm', 'fear')
    model = MODELS.build(tiny.regulated_cfg('resnet', 'ereg',
                                            resnet_stage1[0],
                                            emotion_classes=names))
    assert model.backbone.emotion_head.out_features == 3
    assert model.head.regulator.num_emotions == 3
    # the default vocabulary: the canonical 8
    model = MODELS.build(tiny.regulated_cfg('resnet', 'learn-ereg',
                                            resnet_stage1[0]))
    assert model.backbone.emotion_head.out_features == 8
    assert model.head.regulator.weight.numel() == 8


def test_a_backbone_setting_that_disagrees_is_refused(tiny, resnet_stage1):
    cfg = tiny.regulated_cfg('resnet', 'const', resnet_stage1[0])
    cfg['backbone']['branches'] = ('N', 'I')  # agrees: accepted
    assert MODELS.build(cfg).backbone.branches == ('N', 'I')
    cfg['backbone']['branches'] = ('N', 'I', 'E')
    with pytest.raises(ValueError, match=r"model.backbone.branches=\('N', "
                       r"'I', 'E'\), but the regulator gives \('N', 'I'\): "
                       'leave model.backbone.branches unset'):
        MODELS.build(cfg)
    cfg = tiny.regulated_cfg('resnet', 'ereg', resnet_stage1[0])
    cfg['backbone']['num_emotions'] = 5
    with pytest.raises(ValueError, match='model.backbone.num_emotions=5, but '
                       'model.head.emotion_classes gives 8'):
        MODELS.build(cfg)


def test_a_plain_classifier_is_built_as_it_is(tiny):
    cfg = dict(tiny.stage1_cfg('resnet'), type='RegulatedImageClassifier')
    model = MODELS.build(cfg)
    assert type(model.backbone).__name__ != 'EmotionalBackboneWrapper'
