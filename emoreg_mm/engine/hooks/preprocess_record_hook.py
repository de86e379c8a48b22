"""Record how images reach the model, so that stage 2 can feed the stage-1
encoders what they were trained on.

The record (``checkpoint['meta']['preprocess']``) holds what the backbone
receives:

- ``channel_order``: ``'rgb'`` or ``'bgr'`` after the data preprocessor,
  from the order the pipeline produces (``'bgr'`` when it decodes files
  with ``LoadImageFromFile``, as OpenCV does; ``'rgb'`` for the arrays that
  in-memory datasets such as mmpretrain's CIFAR hold) and
  ``data_preprocessor.to_rgb``; None for images of other than 3 channels;
- ``mean`` / ``std``: the data preprocessor's normalisation, in that order;
- ``input_size``: ``[H, W]`` of the first training batch.

:class:`PreflightCheckHook` compares a stage-2 run's record with the
stage-1 checkpoint's before the first step (:func:`preprocess_mismatches`).
"""
import math
from typing import List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


def source_channel_order(dataset) -> str:
    """``'bgr'`` when the dataset's pipeline decodes image files with
    (a subclass of) mmcv's ``LoadImageFromFile``, else ``'rgb'`` (in-memory
    arrays, mmpretrain's convention for CIFAR and MNIST)."""
    from mmcv.transforms import LoadImageFromFile
    while hasattr(dataset, 'dataset') or hasattr(dataset, 'datasets'):
        dataset = getattr(dataset, 'dataset', None) or dataset.datasets[0]
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms',
                         ())
    return 'bgr' if any(
        isinstance(t, LoadImageFromFile) for t in transforms) else 'rgb'


def _first_input_shape(data_batch) -> Optional[tuple]:
    """``(C, H, W)`` of the first image of a data batch (before the data
    preprocessor), or None."""
    inputs = data_batch.get('inputs') if isinstance(data_batch,
                                                    dict) else None
    if isinstance(inputs, (list, tuple)):
        inputs = inputs[0] if inputs else None
    shape = tuple(getattr(inputs, 'shape', ()))
    return tuple(int(s) for s in shape[-3:]) if len(shape) >= 3 else None


def preprocess_record(model, dataset, data_batch=None) -> dict:
    """What the backbone of ``model`` receives from ``dataset``.

    Args:
        model (BaseModel): The model (unwrapped or wrapped).
        dataset: The training dataset.
        data_batch (dict, optional): A training batch as the dataloader
            gives it, for the input size. Defaults to None.

    Returns:
        dict: ``channel_order``, ``to_rgb``, ``source_order``, ``mean``,
        ``std``, ``input_size`` (see the module docstring).
    """
    model = model.module if is_model_wrapper(model) else model
    prep = getattr(model, 'data_preprocessor', None)
    to_rgb = bool(getattr(prep, 'to_rgb', False))
    source = source_channel_order(dataset)
    shape = _first_input_shape(data_batch)
    order = None if shape is not None and shape[0] != 3 else (
        {'bgr': 'rgb', 'rgb': 'bgr'}[source] if to_rgb else source)
    normalize = getattr(prep, '_enable_normalize', False)
    return dict(
        channel_order=order,
        to_rgb=to_rgb,
        source_order=source,
        mean=prep.mean.flatten().tolist() if normalize else None,
        std=prep.std.flatten().tolist() if normalize else None,
        input_size=list(getattr(prep, 'resize_to', None) or shape[1:])
        if shape else None)


def _close(a: Optional[Sequence[float]], b: Optional[Sequence[float]]):
    if a is None or b is None:
        return a is None and b is None
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6) for x, y in zip(a, b))


def _how(record: dict) -> str:
    loads = ('LoadImageFromFile decodes BGR'
             if record.get('source_order') == 'bgr' else
             'the dataset holds RGB arrays')
    return f"{loads}, data_preprocessor.to_rgb={record.get('to_rgb')}"


def preprocess_mismatches(stage1: dict, current: dict) -> List[str]:
    """The differences between two preprocessing records, one line each,
    naming both values and the setting to change (empty when they agree).
    Entries missing on either side (e.g. the input size before the first
    batch) are not compared."""
    lines = []
    order1, order2 = stage1.get('channel_order'), current.get(
        'channel_order')
    if order1 and order2 and order1 != order2:
        fix = not current.get('to_rgb')
        lines.append(
            f'channel order: stage 1 {order1.upper()} ({_how(stage1)}), '
            f'this config {order2.upper()} ({_how(current)}): set '
            f'data_preprocessor.to_rgb={fix}')
    for key in ('mean', 'std'):
        if key in stage1 and key in current and not _close(
                stage1[key], current[key]):
            lines.append(f'{key}: stage 1 {stage1[key]}, this config '
                         f'{current[key]}: set data_preprocessor.{key}='
                         f'{stage1[key]}')
    size1, size2 = stage1.get('input_size'), current.get('input_size')
    if size1 and size2 and list(size1) != list(size2):
        lines.append(
            f'input size: stage 1 {size1[0]}x{size1[1]}, this config '
            f'{size2[0]}x{size2[1]}: resize / crop to {size1[0]}x{size1[1]} '
            'in the pipelines')
    return lines


@HOOKS.register_module()
class PreprocessRecordHook(Hook):
    """Record the preprocessing in every checkpoint's
    ``meta['preprocess']`` (see :func:`preprocess_record`), and a regulated
    model's emotion vocabulary (its head's ``emotion_classes``) in
    ``meta['emotion_classes']``, which tools/test.py reads when the config
    leaves it unset.

    The input size is read from the first training batch of the run; the
    rest from the model's data preprocessor and the training dataset's
    pipeline.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self.record: Optional[dict] = None

    def before_train(self, runner) -> None:
        self.record = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.record is None:
            self.record = preprocess_record(
                runner.model, runner.train_dataloader.dataset, data_batch)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        record = self.record or preprocess_record(
            runner.model, runner.train_dataloader.dataset)
        meta = checkpoint.setdefault('meta', {})
        meta['preprocess'] = record
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        emotions = getattr(getattr(model, 'head', None), 'emotion_classes',
                           None)
        if emotions is not None:
            meta['emotion_classes'] = list(emotions)
