"""Upsampling on the device: the CPU pipeline ships 32-px images, the data
preprocessor resizes the batch to the backbone's input size."""
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS


@MODELS.register_module()
class UpsampleClsDataPreprocessor(ClsDataPreprocessor):
    """mmpretrain's ``ClsDataPreprocessor``, then a resize of the batch to
    ``size`` on the model's device, before the batch augmentations.

    A ``Resize`` in a CPU pipeline upsamples each image in a data worker
    and ships it at the large size (32 -> 224 px: 147 KiB instead of 3 KiB
    an image, and a fraction of the workers' rate). Here the workers ship
    the small images and the device interpolates the normalised batch;
    interpolation commutes with the per-channel normalisation, and the
    result is clamped to the normalised image of [0, 255], as cv2 clips its
    uint8 output, so it matches the pipeline's ``Resize`` (same kernel,
    same pixel centres) up to cv2's rounding to whole levels.

    Args:
        size (int | Sequence[int]): The output size, ``(h, w)`` or one int
            for both.
        mode (str): ``torch.nn.functional.interpolate``'s mode. Defaults to
            ``'bicubic'`` (as the shipped pipelines' ``Resize``).
        non_blocking (bool): Copy the batch to the device without waiting
            (mmengine's ``BaseDataPreprocessor`` option, which mmpretrain's
            class does not pass on): with pinned batches stacked by
            ``default_collate``, one asynchronous copy a batch. Defaults to
            False.
        **kwargs: ``ClsDataPreprocessor``'s arguments.
    """

    def __init__(self,
                 size: Union[int, Sequence[int]],
                 mode: str = 'bicubic',
                 non_blocking: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self._non_blocking = bool(non_blocking)
        self.resize_to = [size, size] if isinstance(size, int) else \
            [int(s) for s in size]
        self.mode = mode
        low, high = torch.zeros(1, 3, 1, 1), torch.full((1, 3, 1, 1), 255.)
        if self._enable_normalize:
            mean, std = self.mean.view(1, -1, 1, 1), self.std.view(1, -1, 1,
                                                                    1)
            low, high = (low - mean) / std, (high - mean) / std
        self.register_buffer('low', low, persistent=False)
        self.register_buffer('high', high, persistent=False)

    def resize(self, inputs: torch.Tensor) -> torch.Tensor:
        """The normalised batch at ``resize_to``, clamped to the
        normalised [0, 255]."""
        if list(inputs.shape[-2:]) == self.resize_to:
            return inputs
        inputs = F.interpolate(inputs, size=self.resize_to, mode=self.mode,
                               align_corners=False)
        if inputs.size(1) != self.low.size(1):
            return inputs
        return torch.maximum(torch.minimum(inputs, self.high), self.low)

    def forward(self, data: dict, training: bool = False) -> dict:
        # The parent normalises, stacks and builds the label scores; the
        # resize runs just before its batch augmentations, or after it.
        augments, resized = self.batch_augments, []

        def resize_then_augment(inputs, scores):
            resized.append(True)
            return augments(self.resize(inputs), scores)

        if augments is not None:
            self.batch_augments = resize_then_augment
        try:
            data = super().forward(data, training)
        finally:
            self.batch_augments = augments
        if not resized:
            data['inputs'] = self.resize(data['inputs'])
        return data
