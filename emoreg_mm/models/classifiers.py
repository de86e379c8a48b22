"""The stage-2 classifier: mmpretrain's ``ImageClassifier`` around an
:class:`EmotionalBackboneWrapper` and a :class:`RegulationHead`."""
import inspect
from typing import List, Optional

import torch
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .backbones import EmotionalBackboneWrapper
from .heads import RegulationHead
from .regulators import regulator_branches


def _builds(cfg, base: type) -> bool:
    """Whether config ``cfg`` builds ``base`` (or a subclass)."""
    cls = cfg.get('type') if isinstance(cfg, dict) else None
    cls = MODELS.get(cls) if isinstance(cls, str) else cls
    return inspect.isclass(cls) and issubclass(cls, base)


def _default(arg: str):
    return inspect.signature(RegulationHead).parameters[arg].default


def wire_backbone(backbone: dict, head: dict) -> dict:
    """The wrapper's config with what follows from the head: ``branches``
    (those the head's regulator needs) and ``num_emotions`` (the length of
    the head's ``emotion_classes``), so that each is set in one place.
    Other models are returned as they are."""
    if not (_builds(backbone, EmotionalBackboneWrapper)
            and _builds(head, RegulationHead)):
        return backbone
    regulator = head.get('regulator', _default('regulator'))
    classes = head.get('emotion_classes', _default('emotion_classes'))
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
    return backbone


@MODELS.register_module()
class RegulatedImageClassifier(ImageClassifier):
    """mmpretrain's ``ImageClassifier`` for Emotional Regulation.

    The same arguments, state dict and outputs, with two additions:

    - the :class:`EmotionalBackboneWrapper` is built with the ``branches``
      and ``num_emotions`` that follow from the :class:`RegulationHead`
      (its regulator, its ``emotion_classes``): a config sets the mode and
      the emotion vocabulary once, in the head;
    - ``loss`` and ``predict`` pass the data samples to the wrapper, which
      reads their ``img_path`` / ``sample_idx`` to key its affect cache.

    Args:
        backbone (dict): The wrapper's config (or any backbone's).
        head (dict): The head's config.
        *args, **kwargs: ``ImageClassifier``'s other arguments.
    """

    def __init__(self, backbone: dict, *args, head: Optional[dict] = None,
                 **kwargs):
        super().__init__(wire_backbone(backbone, head or {}), *args,
                         head=head, **kwargs)

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
