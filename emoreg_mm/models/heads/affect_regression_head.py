"""Stage 1 with a dimensional target: valence / arousal (/ dominance)
regressed from the image, each normalised to [-1, 1] by its set's scale
(the datasets' ``gt_va``, :mod:`emoreg_mm.datasets.dimensional`)."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

#: The data-sample field of the targets and of the predictions.
GT_FIELD, PRED_FIELD = 'gt_va', 'pred_va'


@MODELS.register_module()
class AffectRegressionHead(BaseModule):
    """A linear layer from the pooled feature to the affective dimensions,
    squashed into [-1, 1] by ``tanh`` (the targets' range), trained with a
    regression loss on each sample's ``gt_va``.

    Use it as an ``ImageClassifier``'s head; the pipeline packs the targets
    with ``dict(type='PackInputs', algorithm_keys=('gt_va', ))``. Predictions
    are each sample's ``pred_va`` (a float tensor of ``num_dims`` values).

    Args:
        in_channels (int): The feature's channels.
        num_dims (int): The dimensions (2: valence, arousal; 3 with
            dominance). Defaults to 2.
        loss (dict, optional): A loss registered in mmpretrain's
            ``MODELS`` that is called as ``loss(pred, target)`` on
            ``(N, num_dims)`` tensors (mmpretrain's own losses are
            classification losses: register your regression loss first).
            Defaults to None: torch's mean squared error over samples and
            dimensions.
        init_cfg (dict, optional): Defaults to a normal init of the
            layer with std 0.01.
    """

    def __init__(self,
                 in_channels: int,
                 num_dims: int = 2,
                 loss: Optional[dict] = None,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01)):
        super().__init__(init_cfg=init_cfg)
        if num_dims < 1:
            raise ValueError(f'num_dims={num_dims}: expected at least one '
                             'affective dimension')
        self.num_dims = num_dims
        self.fc = nn.Linear(in_channels, num_dims)
        self.loss_module = MODELS.build(loss) if loss is not None \
            else nn.MSELoss()

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The last stage's pooled feature."""
        return feats[-1]

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """``(N, num_dims)`` values in [-1, 1]."""
        return torch.tanh(self.fc(self.pre_logits(feats)))

    def _targets(self, data_samples, like: torch.Tensor) -> torch.Tensor:
        try:
            values = [s.get(GT_FIELD) for s in data_samples]
        except AttributeError:
            values = [None]
        if any(v is None for v in values):
            raise KeyError(
                f'AffectRegressionHead: a data sample has no {GT_FIELD!r}; '
                "pack it with dict(type='PackInputs', algorithm_keys=("
                f"'{GT_FIELD}', )) from a dimensional dataset")
        target = torch.stack([torch.as_tensor(v, dtype=like.dtype)
                              for v in values]).to(like.device)
        if target.shape != like.shape:
            raise ValueError(
                f'AffectRegressionHead: {GT_FIELD} of shape '
                f'{tuple(target.shape)} for predictions of shape '
                f'{tuple(like.shape)} (num_dims={self.num_dims})')
        return target

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List,
             **kwargs) -> dict:
        """``{'loss': ...}`` against each sample's ``gt_va``."""
        pred = self(feats)
        return dict(loss=self.loss_module(pred, self._targets(
            data_samples, pred)))

    def predict(self, feats: Tuple[torch.Tensor],
                data_samples: Optional[List] = None) -> List:
        """Data samples with ``pred_va`` set (new ones where none given)."""
        from mmpretrain.structures import DataSample
        pred = self(feats).detach()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(pred.size(0))]
        for sample, value in zip(data_samples, pred):
            sample.set_field(value, PRED_FIELD)
        return data_samples
