"""Stage 2's emotion vocabulary: set in stage 1 only, resolved once into the
config (emoreg_mm.engine.runner.set_emotion_classes), and refused on
loading when a checkpoint has another number of emotions."""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS

from emoreg_mm.engine.runner import emotions as module
from emoreg_mm.engine.runner import set_emotion_classes
from engine_configs import ARCHS, EMOTIONS, write_stage1

OWN = ['joy', 'calm', 'fear', 'awe']


def _cfg(stage1=None, head_classes=None, top=None):
    spec = ARCHS['resnet']
    head = dict(type='RegulationHead', num_classes=2,
                in_channels=spec['in_channels'], regulator='learn-ereg')
    if head_classes is not None:
        head['emotion_classes'] = head_classes
    cfg = dict(model=dict(
        type='RegulatedImageClassifier',
        backbone=dict(type='EmotionalBackboneWrapper',
                      backbone=spec['backbone'], neck=spec['neck'],
                      emotional_checkpoint=stage1,
                      in_channels=spec['in_channels']),
        head=head))
    if top is not None:
        cfg.update(emotion_classes=top, emoreg_affective='emoset')
    return Config(cfg)


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, logger=None, level=20:
                        lines.append((level, msg)))
    return lines


def test_the_first_record_wins_in_order(tmp_path, logged):
    stage1 = str(tmp_path / 'stage1.pth')
    write_stage1(stage1, classes=OWN)
    stage2 = str(tmp_path / 'stage2.pth')
    torch.save({'state_dict': {}, 'meta': dict(
        emotion_classes=['a', 'b', 'c'],
        dataset_meta=dict(classes=['plane', 'car']))}, stage2)
    unrecorded = str(tmp_path / 'old_stage2.pth')
    torch.save({'state_dict': {}, 'meta': dict(
        dataset_meta=dict(classes=['plane', 'car']))}, unrecorded)

    # 1. Set in the config: kept; an affective piece naming others warns;
    # an evaluated checkpoint that recorded others is an error naming both.
    cfg = _cfg(stage1, head_classes=EMOTIONS, top=OWN)
    assert set_emotion_classes(cfg, unrecorded) == \
        'model.head.emotion_classes'
    assert cfg.model.head.emotion_classes == EMOTIONS
    assert logged[-1][0] == 30 and "emoreg_affective='emoset'" in \
        logged[-1][1]
    with pytest.raises(ValueError, match=r"differ from the emotion classes "
                       rf"\['a', 'b', 'c'\] that '{stage2}' recorded"):
        set_emotion_classes(_cfg(stage1, head_classes=EMOTIONS), stage2)

    # 2. The evaluated stage-2 checkpoint's record (not its target classes).
    cfg = _cfg(stage1, top=OWN)
    assert set_emotion_classes(cfg, stage2) == f"'{stage2}'"
    assert cfg.model.head.emotion_classes == ['a', 'b', 'c']

    # 3. A stage-2 checkpoint without the record: the stage-1 checkpoint's,
    # whose classes the affective piece matches (no warning).
    cfg = _cfg(stage1, top=OWN)
    assert 'stage-1' in set_emotion_classes(cfg, unrecorded)
    assert cfg.model.head.emotion_classes == OWN
    assert logged[-1][0] == 20

    # 4. No record anywhere: the config's, with a warning naming the files.
    cfg = _cfg(str(tmp_path / 'no_stage1_yet'), top=EMOTIONS)
    assert set_emotion_classes(cfg, unrecorded) == \
        "the config's emotion_classes"
    assert cfg.model.head.emotion_classes == EMOTIONS
    level, msg = logged[-2]
    assert level == 30 and unrecorded in msg and 'no_stage1_yet' in msg

    # 5. Nothing gives one: the config is left as it is.
    cfg = _cfg()
    assert set_emotion_classes(cfg) is None
    assert 'emotion_classes' not in cfg.model.head

    # A plain classifier has no vocabulary to set.
    plain = Config(dict(model=dict(type='ImageClassifier', head=dict(
        type='LinearClsHead', num_classes=2, in_channels=4))))
    assert set_emotion_classes(plain) is None


def test_a_checkpoint_of_other_emotions_is_refused_on_any_load(tmp_path):
    """Even mmengine's non-strict load (mmpretrain's inferencer,
    ``load_from``) refuses another emotion head, naming both numbers."""
    stage1 = str(tmp_path / 'stage1.pth')
    write_stage1(stage1, classes=OWN)
    four = MODELS.build(_cfg(stage1).model)
    assert four.head.emotion_classes == tuple(OWN)
    saved = str(tmp_path / 'four.pth')
    torch.save({'state_dict': four.state_dict()}, saved)

    three = MODELS.build(_cfg(stage1, head_classes=EMOTIONS).model)
    with pytest.raises(ValueError, match=r"emotion head has 4 emotions, "
                       r"this model 3 \(model.head.emotion_classes="):
        load_checkpoint(three, saved, strict=False)
    # The same vocabulary loads.
    again = MODELS.build(_cfg(stage1, head_classes=OWN).model)
    load_checkpoint(again, saved, strict=True)
    assert torch.equal(again.backbone.emotion_head.weight,
                       four.backbone.emotion_head.weight)


def test_inferencer_takes_the_vocabulary_the_checkpoint_recorded(tmp_path):
    """A leaf-like config without emotion_classes and a stage-2 checkpoint
    of 4 own emotions, stage 1 gone: mmpretrain's inferencer builds the head
    of 4 from the checkpoint's record; without the record the load refuses
    the model of the affective piece's 3."""
    from mmpretrain import ImageClassificationInferencer

    import affective_fixtures as fx
    from engine_configs import write_regulated_config
    config = write_regulated_config(tmp_path, emotions=None,
                                    stage1_emotions=OWN, name='leaf.py')
    with open(config, 'a') as f:
        f.write(f'test_dataloader = val_dataloader\n'
                f'emotion_classes = {EMOTIONS!r}\n')
    model = MODELS.build(Config.fromfile(config).model)
    assert model.head.emotion_classes == tuple(OWN)
    recorded, unrecorded = (str(tmp_path / n) for n in ('rec.pth', 'old.pth'))
    torch.save({'state_dict': model.state_dict(),
                'meta': dict(emotion_classes=OWN)}, recorded)
    torch.save({'state_dict': model.state_dict()}, unrecorded)
    for stage1 in tmp_path.glob('stage1_*.pth'):
        stage1.unlink()

    image = fx.write_image(str(tmp_path / 'x.png'), 8)
    inferencer = ImageClassificationInferencer(config, pretrained=recorded)
    assert inferencer.model.head.emotion_classes == tuple(OWN)
    assert inferencer(image)[0]['affect_class'] in OWN
    with pytest.raises(ValueError, match='emotion head has 4 emotions, '
                       'this model 3'):
        ImageClassificationInferencer(config, pretrained=unrecorded)


# ------------------------------------------------ vocabularies no run wrote
@pytest.fixture(scope='module')
def leaf(tmp_path_factory):
    """A regulated config without emotion_classes (its stage 1 records
    EMOTIONS) and its model's state dict (an emotion head of 3)."""
    from engine_configs import write_regulated_config
    tmp = tmp_path_factory.mktemp('vocabulary')
    config = write_regulated_config(tmp, emotions=None,
                                    stage1_emotions=EMOTIONS, name='leaf.py')
    with open(config, 'a') as f:
        f.write('test_dataloader = val_dataloader\n'
                'test_evaluator = val_evaluator\ntest_cfg = dict()\n')
    model = MODELS.build(Config.fromfile(config).model)
    return config, model.state_dict()


@pytest.mark.parametrize('meta,problem', [
    (dict(emotion_classes=['e'] * 10**6),
     '1000000 emotion names for an emotion head of 3 outputs'),
    (dict(emotion_classes='abc'), "the emotion classes are 'abc', of type "
     'str'),
    (dict(emotion_classes=3), 'the emotion classes are 3, of type int'),
    (dict(emotion_classes=[1, 2, 3]), 'name 0 is 1'),
    (dict(emotion_classes=['a', 'a', 'b']), "'a' is named more than once"),
    (dict(emotion_classes=[None] * 3), 'name 0 is None'),
    (dict(emotion_classes=['a', '', 'b']), "name 1 is ''"),
    (dict(emotion_classes=['a', 'b', 'x' * 201]), "name 2 is 'xxx"),
    (['joy'], "the checkpoint's meta is ['joy'], of type list"),
])
def test_test_py_refuses_a_recorded_vocabulary_no_run_wrote(
        tmp_path, leaf, meta, problem):
    """tools/test.py on a checkpoint (read by the safe loader) whose meta
    holds a vocabulary no run writes: one error naming the file, before
    the config is printed or a model built."""
    from launch_utils import run_cli
    config, state = leaf
    checkpoint = str(tmp_path / 'stage2.pth')
    torch.save({'state_dict': state, 'meta': meta}, checkpoint)
    code, out = run_cli('test.py', config, checkpoint, '--work-dir',
                        str(tmp_path / 'work'))
    assert code == 1
    assert f"tools/test.py: error: '{checkpoint}'" in out and problem in out
    assert 'Traceback' not in out and len(out) < 5000  # no config printed


def test_train_py_refuses_a_stage1_vocabulary_of_another_head(tmp_path):
    """A stage-1 checkpoint naming 3 emotions over its head of 5 outputs,
    read by tools/train.py (model.head.emotion_classes unset): an error
    naming the stage-1 file, nothing trained."""
    from engine_configs import write_regulated_config, write_stage1
    from launch_utils import run_cli
    config = write_regulated_config(tmp_path, emotions=None,
                                    stage1_emotions=EMOTIONS)
    stage1 = str(tmp_path / 'stage1_regulated.py.pth')
    state = write_stage1(stage1, classes=['a', 'b', 'c', 'd', 'e'])
    torch.save({'state_dict': state, 'meta': dict(
        dataset_meta=dict(classes=EMOTIONS))}, stage1)
    code, out = run_cli('train.py', config, '--work-dir',
                        str(tmp_path / 'work'))
    assert code == 1, out[-2000:]
    assert f"error: the stage-1 checkpoint '{stage1}' (meta['dataset_meta']" \
        "['classes']): 3 emotion names for an emotion head of 5 outputs" \
        in out
    assert 'Traceback' not in out
    assert not list((tmp_path / 'work').glob('*.pth'))


def test_a_config_ordering_the_emotions_otherwise_is_an_error(tmp_path,
                                                              leaf):
    """model.head.emotion_classes naming the checkpoint's emotions in
    another order: an error naming the config and the checkpoint (the
    affect would be labelled under the wrong names)."""
    from launch_utils import run_cli
    config, state = leaf
    checkpoint = str(tmp_path / 'stage2.pth')
    recorded = ['joy', 'calm', 'fear']
    torch.save({'state_dict': state,
                'meta': dict(emotion_classes=recorded)}, checkpoint)
    code, out = run_cli('test.py', config, checkpoint, '--work-dir',
                        str(tmp_path / 'work'), '--out',
                        str(tmp_path / 'p.npz'), '--cfg-options',
                        "model.head.emotion_classes=['calm','joy','fear']")
    assert code == 1
    assert f"model.head.emotion_classes=['calm', 'joy', 'fear'] of {config}" \
        f" differ from the emotion classes {recorded} that '{checkpoint}' " \
        'recorded (the same names in another order)' in out
    assert not (tmp_path / 'p.npz').exists()
