"""An ``ImageClassifier`` that gives the data samples to the backbone."""
from typing import List, Optional

import torch
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class RegulatedImageClassifier(ImageClassifier):
    """mmpretrain's ``ImageClassifier`` whose ``loss`` and ``predict`` also
    pass the data samples to an :class:`EmotionalBackboneWrapper`, which
    reads their ``img_path`` / ``sample_idx`` to key its affect cache.

    Otherwise identical (same arguments, state dict and outputs); needed
    only with ``model.backbone.affect_cache``.
    """

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
