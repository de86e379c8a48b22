"""Catch mismatched data, heads and stage-1 checkpoints before training."""
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


def stage1_classes(checkpoint: dict) -> Optional[List[str]]:
    """The emotion classes recorded in a stage-1 checkpoint's meta, or None.

    A Runner checkpoint stores them in ``meta['dataset_meta']['classes']``;
    ``meta['emotion_classes']`` is accepted too.
    """
    meta = checkpoint.get('meta') or {}
    classes = (meta.get('dataset_meta') or {}).get('classes') or \
        meta.get('emotion_classes')
    return list(classes) if classes is not None else None


@HOOKS.register_module()
class PreflightCheckHook(Hook):
    """Check, before the first step, that data, head and stage 1 agree.

    In ``before_train`` (model weights and the stage-1 checkpoint are loaded
    by then, no step is taken yet):

    - the train and val datasets' ``metainfo['classes']`` count equals the
      head's ``num_classes`` (a dataset without class names is skipped);
    - for a model with an emotional encoder (``EmotionalBackboneWrapper``
      with ``'E'``), the emotion classes in the stage-1 checkpoint's meta
      (``meta['dataset_meta']['classes']``) equal, in order, the head's
      ``emotion_classes``: the affect would otherwise be read under the wrong
      names. A checkpoint without class names gives a warning.

    A different backbone or number of emotions in stage 1 already fails when
    the wrapper loads it (missing / unexpected keys).

    Args:
        check_dataset (bool): Check the dataset classes. Defaults to True.
        check_emotions (bool): Check the stage-1 emotion classes.
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, check_dataset: bool = True,
                 check_emotions: bool = True):
        self.check_dataset = check_dataset
        self.check_emotions = check_emotions

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        if self.check_dataset:
            loaders = [('train_dataloader', runner.train_dataloader)]
            if runner.val_loop is not None:
                loaders.append(('val_dataloader', runner.val_dataloader))
            for name, loader in loaders:
                self._check_dataset(model, name, loader.dataset)
        if self.check_emotions:
            self._check_emotions(runner, model)

    @staticmethod
    def _check_dataset(model, name: str, dataset) -> None:
        head = getattr(model, 'head', None)
        num_classes = getattr(head, 'num_classes', None)
        classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
        if num_classes is None or classes is None:
            return
        if len(classes) != num_classes:
            raise ValueError(
                f'{name}: the dataset {type(dataset).__name__} has '
                f'{len(classes)} classes {_short(classes)}, but the head '
                f'{type(head).__name__} predicts num_classes={num_classes}. '
                'Set model.head.num_classes (and data_preprocessor.'
                'num_classes) to the dataset\'s, or use the intended data.')

    @staticmethod
    def _check_emotions(runner, model) -> None:
        from emoreg_mm.models import EmotionalBackboneWrapper
        wrappers = [
            m for m in model.modules()
            if isinstance(m, EmotionalBackboneWrapper)
            and m.emotion_head is not None and m.emotional_checkpoint
        ]
        names = getattr(getattr(model, 'head', None), 'emotion_classes', None)
        if not wrappers or names is None:
            return
        # init_weights, which the Runner calls before training, read it.
        path = wrappers[0].emotional_checkpoint
        classes = stage1_classes(
            dict(meta=getattr(wrappers[0], 'emotional_meta', None)))
        if classes is None:
            runner.logger.warning(
                f"Stage-1 checkpoint '{path}' records no emotion classes "
                "(meta['dataset_meta']['classes']): cannot check them against "
                f'model.head.emotion_classes={list(names)}.')
        elif classes != list(names):
            raise ValueError(
                f"The stage-1 checkpoint '{path}' was trained on the emotions "
                f'{classes}, but model.head.emotion_classes is {list(names)}. '
                'The affect would be read under the wrong names: set '
                'model.head.emotion_classes to the stage-1 dataset\'s classes '
                '(same order), or use the stage-1 checkpoint of that '
                'emotion vocabulary.')


def _short(classes, n: int = 10) -> str:
    classes = list(classes)
    return str(classes[:n])[:-1] + (', ...]' if len(classes) > n else ']')
