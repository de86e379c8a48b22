"""The stage-2 classifier: mmpretrain's ``ImageClassifier`` around an
:class:`EmotionalBackboneWrapper` and a :class:`RegulationHead`."""
import inspect
import logging
from typing import List, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..matrix import VA
from .backbones import EmotionalBackboneWrapper
from .backbones.stage1 import recorded_classes
from .heads import RegulationHead
from .regulators import regulator_branches


def _builds(cfg, base: type) -> bool:
    """Whether config ``cfg`` builds ``base`` (or a subclass)."""
    cls = cfg.get('type') if isinstance(cfg, dict) else None
    cls = MODELS.get(cls) if isinstance(cls, str) else cls
    return inspect.isclass(cls) and issubclass(cls, base)


def _default(arg: str):
    return inspect.signature(RegulationHead).parameters[arg].default


def wire(backbone: dict, head: dict) -> Tuple[dict, dict]:
    """The wrapper's and the head's configs with what follows from the
    head and stage 1, so that each is set in one place: the wrapper's
    ``branches`` (those the head's regulator needs) and ``num_emotions``
    (the length of the head's ``emotion_classes``), and, where the head
    leaves ``emotion_classes`` unset, the classes the stage-1 checkpoint
    recorded (else the canonical emotions, or valence and arousal for a
    dimensional state, with a warning when a stage-1
    checkpoint is named). Other models are returned as they are."""
    if not (_builds(backbone, EmotionalBackboneWrapper)
            and _builds(head, RegulationHead)):
        return backbone, head
    regulator = head.get('regulator', _default('regulator'))
    classes = head.get('emotion_classes')
    if classes is None:
        stage1 = backbone.get('emotional_checkpoint')
        classes = recorded_classes(
            stage1, head.get('affect_space', 'categorical'))
        if classes is None:
            dimensional = head.get('affect_space') == 'dimensional'
            classes = VA if dimensional else _default('emotion_classes')
            if stage1:
                print_log(
                    'model.head.emotion_classes is unset and the stage-1 '
                    f"checkpoint '{stage1}' records no classes (or is not "
                    f'there yet): the head names the default {classes}.',
                    logger='current', level=logging.WARNING)
        head = dict(head, emotion_classes=list(classes))
    backbone = dict(backbone)
    for key, value, source in (
            ('branches', regulator_branches(regulator), 'the regulator'),
            ('num_emotions', len(classes), 'model.head.emotion_classes')):
        given = backbone.get(key)
        if isinstance(given, list):
            given = tuple(given)
        if given is not None and given != value:
            raise ValueError(
                f'model.backbone.{key}={given!r}, but {source} gives '
                f'{value!r}: leave model.backbone.{key} unset (the '
                'classifier sets it from the head).')
        backbone[key] = value
    return backbone, head


@MODELS.register_module()
class RegulatedImageClassifier(ImageClassifier):
    """mmpretrain's ``ImageClassifier`` for Emotional Regulation.

    The same arguments, state dict and outputs, with three additions:

    - the :class:`EmotionalBackboneWrapper` is built with the ``branches``
      and ``num_emotions`` that follow from the :class:`RegulationHead`
      (its regulator, its ``emotion_classes``), and a head without
      ``emotion_classes`` names the classes stage 1 recorded (:func:`wire`):
      a config sets the mode once, in the head, and the emotion vocabulary
      once, in stage 1;
    - ``loss`` and ``predict`` pass the data samples to the wrapper, which
      reads their ``img_path`` / ``sample_idx`` to key its affect cache;
    - a checkpoint of another number of emotions is refused on loading,
      however strict the loader.

    Args:
        backbone (dict): The wrapper's config (or any backbone's).
        head (dict): The head's config.
        *args, **kwargs: ``ImageClassifier``'s other arguments.
    """

    def __init__(self, backbone: dict, *args, head: Optional[dict] = None,
                 **kwargs):
        if head is not None:
            backbone, head = wire(backbone, head)
        super().__init__(backbone, *args, head=head, **kwargs)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Refuse, naming both, a checkpoint whose emotion head has another
        number of emotions: a non-strict loader (mmpretrain's inferencer,
        ``load_from``) would otherwise only warn and keep a random g_E."""
        key = 'backbone.emotion_head.weight'
        ours = self.state_dict().get(key)
        theirs = state_dict.get(prefix + key)
        if ours is not None and theirs is not None and \
                theirs.shape[0] != ours.shape[0]:
            raise ValueError(
                f'The checkpoint\'s emotion head has {theirs.shape[0]} '
                f'emotions, this model {ours.shape[0]} '
                f'(model.head.emotion_classes={list(self.head.emotion_classes)}'
                '): leave model.head.emotion_classes unset to take the '
                'vocabulary the checkpoints recorded (tools/test.py reads the '
                "checkpoint's meta['emotion_classes']), or set it to the "
                'classes the checkpoint was trained with.')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _feats(self, inputs: torch.Tensor, data_samples):
        if self.with_neck:
            raise ValueError('RegulatedImageClassifier takes no neck of its '
                             'own: set the neck on the wrapper.')
        return self.backbone(inputs, data_samples)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        return self.head.loss(self._feats(inputs, data_samples),
                              data_samples)

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        return self.head.predict(self._feats(inputs, data_samples),
                                 data_samples, **kwargs)
