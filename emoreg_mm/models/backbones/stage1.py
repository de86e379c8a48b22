"""Loading a stage-1 checkpoint into the wrapper's I, E and g_E.

Stage 1 trains a plain mmpretrain ``ImageClassifier`` (backbone, neck,
``LinearClsHead``) on an affective set. :func:`load_stage1` reads its
checkpoint (a file, or a work dir whose latest checkpoint is used) through
mmengine's loader, which this package routes through the safe loader
(:mod:`emoreg_mm.compat.safe_load`), and loads ``backbone.*`` / ``neck.*``
into each given encoder and ``head.fc.*`` into g_E, strictly. A missing file
names the stage-1 config that makes it; weights of another architecture
list the missing, unexpected and mis-shaped keys. :func:`recorded_classes`
reads the emotion vocabulary stage 1 recorded, which stage 2 uses unless
its config sets one.
"""
import os.path as osp
from typing import List, Optional, Sequence

import torch.nn as nn
from mmengine.runner import find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

#: The stage-1 head's keys that g_E loads (its ``nn.Linear`` keys after it).
HEAD = 'head.fc.'


def read_checkpoint(path: str, stage1_config: Optional[str] = None) -> dict:
    """The stage-1 checkpoint at ``path`` (a file or a stage-1 work dir).

    Args:
        path (str): Checkpoint file, or the stage-1 work dir (its latest
            checkpoint, as recorded in ``last_checkpoint``).
        stage1_config (str, optional): The stage-1 config that produces the
            file, named in the error when it is missing. Defaults to None.

    Returns:
        dict: The checkpoint (``state_dict``, ``meta``, ...).
    """
    file = path
    if osp.isdir(path):
        file = find_latest_checkpoint(path) or osp.join(path,
                                                        'last_checkpoint')
    try:
        return _load_checkpoint(file, map_location='cpu')
    except FileNotFoundError as err:
        made_by = (
            f'the stage-1 config: python tools/train.py {stage1_config} '
            '(with the package installed by pip or mim: mim train emoreg_mm '
            f'{osp.splitext(osp.basename(stage1_config))[0]}, from the '
            'directory you run stage 2 in)' if stage1_config else
            'its stage-1 config (set emotional_checkpoint_config to name it '
            'here)')
        raise FileNotFoundError(
            f"Stage-1 emotional checkpoint '{path}' not found. Train "
            f'{made_by} first, or point to its checkpoint with '
            '--cfg-options model.backbone.emotional_checkpoint=PATH.') from err


def stage1_classes(checkpoint: dict,
                   where: str = 'the stage-1 checkpoint'
                   ) -> Optional[List[str]]:
    """The emotion classes recorded in a stage-1 checkpoint's meta, or None.

    A Runner checkpoint stores them in ``meta['dataset_meta']['classes']``;
    ``meta['emotion_classes']`` is accepted too. They are checked against
    the checkpoint's own head (:func:`~emoreg_mm.datasets.vocabulary.
    recorded_vocabulary`; an ``EmotionVocabularyError`` naming ``where``).
    """
    from ...datasets.vocabulary import recorded_vocabulary
    return recorded_vocabulary(
        checkpoint, where, [('dataset_meta', 'classes'),
                            ('emotion_classes', )], HEAD + 'weight')


def recorded_classes(path: Optional[str],
                     affect_space: Optional[str] = None
                     ) -> Optional[List[str]]:
    """The emotion classes the stage-1 checkpoint at ``path`` (a file or a
    work dir) records; None when it records none or is not there yet (the
    wrapper's loader names a missing file when it needs it).

    With ``affect_space`` (the stage-2 head's), a checkpoint of the other
    space is refused: one whose dataset recorded rated ``dimensions`` is a
    valence / arousal regressor (``'dimensional'``), one with classes only
    an emotion classifier (``'categorical'``).
    """
    if not path:
        return None
    try:
        checkpoint = read_checkpoint(path)
    except FileNotFoundError:
        return None
    from ...datasets.vocabulary import nested_get
    where = f"the stage-1 checkpoint '{path}'"
    classes = stage1_classes(checkpoint, where)
    recorded = 'dimensional' if nested_get(
        checkpoint, ('meta', 'dataset_meta', 'dimensions')) else 'categorical'
    if affect_space and classes is not None and recorded != affect_space:
        names = ', '.join(classes)
        raise ValueError(
            f'{where} learned a {recorded} affective state ({names}), but '
            f'model.head.affect_space is {affect_space!r}: set '
            f"model.head.affect_space='{recorded}' with a regulator of that "
            'space, or use a stage 1 of the other kind (docs/method.md).')
    return classes


def _listing(keys) -> str:
    keys = sorted(keys)
    more = f', ... ({len(keys) - 20} more)' if len(keys) > 20 else ''
    return ', '.join(keys[:20]) + more


def check_keys(path: str, expected: dict, given: dict,
               num_emotions: Optional[int]) -> None:
    """Raise with the key and shape differences, naming the file.

    Args:
        path (str): The checkpoint, for the message.
        expected (dict): The model's state dict (encoder keys, and g_E's
            under ``head.fc.`` when E is built).
        given (dict): The checkpoint's keys the model loads.
        num_emotions (int, optional): K of g_E (None: no E).
    """
    missing = expected.keys() - given.keys()
    unexpected = given.keys() - expected.keys()
    shapes = [
        f'{k}: checkpoint {tuple(given[k].shape)} vs model '
        f'{tuple(v.shape)}' for k, v in expected.items()
        if k in given and given[k].shape != v.shape
    ]
    if not (missing or unexpected or shapes):
        return
    emotions = ''
    stage1_k = given[HEAD + 'weight'].shape[0] \
        if HEAD + 'weight' in given else None
    if num_emotions is not None and stage1_k not in (None, num_emotions):
        emotions = (
            f'\n  stage 1 has {stage1_k} emotions, this model '
            f'{num_emotions}: leave model.head.emotion_classes unset (stage '
            '2 then reads the classes stage 1 recorded) or set it to the '
            'stage-1 classes, in order.')
    raise RuntimeError(
        f"Stage-1 checkpoint '{path}' does not match the wrapper "
        'architecture (the backbone, neck and number of emotions of stage 1 '
        'must be the same).\n'
        f'  missing keys ({len(missing)}): {_listing(missing)}\n'
        f'  unexpected keys ({len(unexpected)}): {_listing(unexpected)}\n'
        f'  shape mismatches ({len(shapes)}): {_listing(shapes)}{emotions}')


def load_stage1(path: str,
                encoders: Sequence[nn.Module],
                emotion_head: Optional[nn.Linear] = None,
                stage1_config: Optional[str] = None) -> dict:
    """Load a stage-1 checkpoint strictly into ``encoders`` and g_E.

    Args:
        path (str): Checkpoint file or stage-1 work dir.
        encoders (Sequence[nn.Module]): Pooled encoders (I and / or E), each
            loading the ``backbone.*`` / ``neck.*`` weights.
        emotion_head (nn.Linear, optional): g_E, loading ``head.fc.*``;
            None ignores the stage-1 head. Defaults to None.
        stage1_config (str, optional): Named when the file is missing.

    Returns:
        dict: The checkpoint's ``meta`` (what stage 1 recorded, e.g. its
        emotion classes), for checks.
    """
    checkpoint = read_checkpoint(path, stage1_config)
    state_dict = checkpoint.get('state_dict', checkpoint)
    expected = dict(encoders[0].state_dict())
    if emotion_head is not None:
        expected.update(
            {HEAD + k: v
             for k, v in emotion_head.state_dict().items()})
    ignored = ('data_preprocessor.', ) + (
        ('head.', ) if emotion_head is None else ())
    given = {k: v for k, v in state_dict.items() if not k.startswith(ignored)}
    check_keys(path, expected, given,
               emotion_head.out_features if emotion_head is not None else None)
    encoder_sd = {k: v for k, v in given.items() if not k.startswith('head.')}
    for encoder in encoders:
        encoder.load_state_dict(encoder_sd, strict=True)
    if emotion_head is not None:
        emotion_head.load_state_dict(
            {k[len(HEAD):]: v
             for k, v in given.items() if k.startswith(HEAD)},
            strict=True)
    return dict(checkpoint.get('meta') or {})
