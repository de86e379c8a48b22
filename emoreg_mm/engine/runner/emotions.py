"""Stage 2's emotion vocabulary, resolved once into the config.

A user's own K emotion categories are set in stage 1 only: the stage-1
checkpoint records its classes (``meta['dataset_meta']['classes']``) and
every stage-2 checkpoint records the vocabulary it was trained with
(``meta['emotion_classes']``, written by :class:`PreprocessRecordHook`).
:func:`set_emotion_classes`, called by tools/train.py and tools/test.py
before the model is built, writes the vocabulary into
``model.head.emotion_classes``, so the work dir's dumped config and every
checkpoint's config hold it. In order, the first that gives one:

1. ``model.head.emotion_classes`` set in the config (kept as it is; an
   evaluated stage-2 checkpoint that records other names, or the same in
   another order, is an error naming both, and the preflight check stops a
   run whose stage-1 checkpoint recorded others);
2. the evaluated stage-2 checkpoint's ``meta['emotion_classes']``
   (tools/test.py);
3. the stage-1 checkpoint's recorded classes
   (``model.backbone.emotional_checkpoint``);
4. the config's top-level ``emotion_classes`` (its affective piece's), with
   a warning when a checkpoint of the run was there but recorded none.

Without any of them the classifier falls back to the canonical emotions
(:class:`~emoreg_mm.models.RegulatedImageClassifier`).

Every vocabulary is checked before it is used or written into the config
(:func:`~emoreg_mm.datasets.vocabulary.check_vocabulary`): a list of
distinct non-empty names, at most 1,000 of at most 200 characters, as many
as the checkpoint's own emotion head has outputs; anything else is an
:class:`~emoreg_mm.datasets.vocabulary.EmotionVocabularyError` naming the
file, raised before mmengine prints the config.
"""
import logging
from typing import List, Optional

from mmengine.logging import print_log

from ...datasets.vocabulary import (EmotionVocabularyError,
                                    check_vocabulary, recorded_vocabulary)

#: A stage-2 checkpoint's emotion head g_E (K outputs).
STAGE2_HEAD = 'backbone.emotion_head.weight'


def _stage2_classes(checkpoint: str) -> Optional[List[str]]:
    from mmengine.runner.checkpoint import _load_checkpoint
    return recorded_vocabulary(
        _load_checkpoint(checkpoint, map_location='cpu'), f"'{checkpoint}'",
        [('emotion_classes', )], STAGE2_HEAD)


def set_emotion_classes(cfg, checkpoint: Optional[str] = None
                        ) -> Optional[str]:
    """Write a regulated model's emotion vocabulary into
    ``cfg.model.head.emotion_classes`` (see the module's docstring).

    Args:
        cfg (Config): The run's config, changed in place.
        checkpoint (str, optional): The stage-2 checkpoint that will be
            loaded (tools/test.py), read first. Defaults to None.

    Returns:
        str, optional: Where the vocabulary came from, for messages; None
        for a model without a :class:`RegulationHead` or when nothing gives
        one.
    """
    from ...models.backbones.stage1 import recorded_classes
    from ...models.classifiers import _builds
    from ...models.heads import RegulationHead
    model = cfg.get('model') or {}
    head, backbone = model.get('head'), model.get('backbone') or {}
    if not _builds(head, RegulationHead):
        return None
    top = cfg.get('emotion_classes')
    if top is not None:
        top = check_vocabulary(top, "the config's emotion_classes")
    classes, source = head.get('emotion_classes'), 'model.head.emotion_classes'
    consulted = []
    if classes is not None:
        classes = check_vocabulary(classes, source)
        recorded = _stage2_classes(checkpoint) if checkpoint else None
        if recorded is not None and recorded != classes:
            order = ' (the same names in another order)' if sorted(
                recorded) == sorted(classes) else ''
            config = getattr(cfg, 'filename', None)
            raise EmotionVocabularyError(
                f'{source}={classes}' + (f' of {config}' if config else '') +
                f" differ from the emotion classes {recorded} that "
                f"'{checkpoint}' recorded{order}: "
                'its affect would be labelled under the wrong names. Leave '
                'model.head.emotion_classes unset to take the '
                "checkpoint's, or set it to them, in that order.")
    if classes is None and checkpoint:
        classes, source = _stage2_classes(checkpoint), f"'{checkpoint}'"
        consulted.append(checkpoint)
    stage1 = backbone.get('emotional_checkpoint')
    if classes is None and stage1:
        classes = recorded_classes(stage1)
        source = f"the stage-1 checkpoint '{stage1}'"
        consulted.append(stage1)
    if classes is None and top is not None:
        classes, source = top, "the config's emotion_classes"
        if consulted:
            print_log(
                'No checkpoint of this run records its emotion classes '
                f'(read: {", ".join(consulted)}): using the config\'s '
                f'emotion_classes={top}.', logger='current',
                level=logging.WARNING)
    if classes is None:
        return None
    classes = list(classes)
    head['emotion_classes'] = classes
    if top is not None and top != classes:
        print_log(
            f"The config's emotion_classes={top} (of its affective piece, "
            f"emoreg_affective={cfg.get('emoreg_affective')!r}) differ from "
            f'the {len(classes)} classes of {source}, which this run uses: '
            f'{classes}. Set emoreg_affective (the results table\'s label '
            'of the run) and emotion_classes to what stage 1 learned.',
            logger='current', level=logging.WARNING)
    else:
        print_log(f'Emotion classes from {source}: {classes}',
                  logger='current')
    return source
