"""Catch mismatched data, heads, evaluators and stage-1 checkpoints before
training.

One idea, "refuse before the first step what would train wrongly", in one
hook: each check is a short method or function that names the config key to
change, and each can be switched off by its own argument.
"""
import copy
import os.path as osp
import random
from contextlib import contextmanager

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmpretrain.registry import HOOKS

from ...models.backbones.stage1 import stage1_classes
from .preprocess_record_hook import preprocess_mismatches, preprocess_record


@HOOKS.register_module()
class PreflightCheckHook(Hook):
    """Check, before the first step, what would otherwise fail later.

    In ``before_run`` of training (before the weights are initialised):

    - every ``init_cfg=dict(type='Pretrained', checkpoint=URL)`` in the
      model config is in torch's hub cache or its host is reachable; else
      the error names the URL, the cache path and the exact config key that
      switches it off (``model.backbone.init_cfg`` for a plain classifier,
      ``model.backbone.backbone.init_cfg`` for the emotional wrapper).

    In ``before_train`` (model weights and the stage-1 checkpoint are loaded
    by then, no step is taken yet):

    - the train and val datasets' ``metainfo['classes']`` count equals the
      head's ``num_classes`` (a dataset without class names is skipped);
    - ``Accuracy`` ``topk`` of ``val_evaluator`` and ``test_evaluator`` is
      at most the number of classes (the error names the key to set);
    - one validation sample runs through the val pipeline, the model's
      ``val_step`` and the compute step of every ``val_evaluator`` and
      ``test_evaluator`` metric, so a broken val pipeline, an input size
      the model cannot take, or a metric that cannot be computed fails now,
      not after the first epoch;
    - for a model with an emotional encoder (``EmotionalBackboneWrapper``
      with ``'E'``): the emotion classes in the stage-1 checkpoint's meta
      (``meta['dataset_meta']['classes']``) equal, in order, the head's
      ``emotion_classes`` (the affect would otherwise be read under the
      wrong names; without ``emotion_classes`` in the config, stage 2 takes
      them from the checkpoint, see
      :func:`~emoreg_mm.engine.runner.set_emotion_classes`). A checkpoint
      without class names gives a warning.

    In the first ``before_train_iter`` (the first batch is loaded, no step
    taken): the preprocessing that feeds the stage-1 encoders (channel
    order, mean, std, input size) equals what the stage-1 checkpoint
    recorded (``meta['preprocess']``, written by
    :class:`PreprocessRecordHook`); a checkpoint without the record gives a
    warning.

    A different backbone or number of emotions in stage 1 already fails when
    the wrapper loads it (missing / unexpected keys, shapes).

    Args:
        check_dataset (bool): Check the dataset classes. Defaults to True.
        check_emotions (bool): Check the stage-1 emotion classes.
            Defaults to True.
        check_eval (bool): Check the evaluators and run one validation
            sample. Defaults to True.
        check_preprocess (bool): Check the preprocessing against stage 1's.
            Defaults to True.
        check_pretrained (bool): Check that pretrained URLs can load.
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 check_dataset: bool = True,
                 check_emotions: bool = True,
                 check_eval: bool = True,
                 check_preprocess: bool = True,
                 check_pretrained: bool = True):
        self.check_dataset = check_dataset
        self.check_emotions = check_emotions
        self.check_eval = check_eval
        self.check_preprocess = check_preprocess
        self.check_pretrained = check_pretrained
        self._preprocess_checked = False

    def before_run(self, runner) -> None:
        # Only training initialises weights (test and val runs load them).
        if self.check_pretrained and isinstance(runner._train_loop,
                                                BaseLoop):
            _check_pretrained_urls(runner.cfg.get('model'), 'model')

    def before_train(self, runner) -> None:
        model = _unwrap(runner.model)
        if self.check_dataset:
            loaders = [('train_dataloader', runner.train_dataloader)]
            if runner.val_loop is not None:
                loaders.append(('val_dataloader', runner.val_dataloader))
            for name, loader in loaders:
                self._check_dataset(model, name, loader.dataset)
        if self.check_emotions:
            self._check_emotions(runner, model)
        if self.check_eval:
            _check_topk(runner.cfg, model, runner.train_dataloader.dataset)
            if runner.val_loop is not None:
                _check_val_sample(runner)
        self._preprocess_checked = not self.check_preprocess

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self._preprocess_checked:
            return
        self._preprocess_checked = True
        wrapper = _stage1_wrapper(_unwrap(runner.model))
        if wrapper is None:
            return
        path = wrapper.emotional_checkpoint
        stage1 = (getattr(wrapper, 'emotional_meta', None)
                  or {}).get('preprocess')
        if not stage1:
            runner.logger.warning(
                f"Stage-1 checkpoint '{path}' records no preprocessing "
                "(meta['preprocess'], written by PreprocessRecordHook): "
                'cannot check that this config feeds the emotional encoders '
                'the channel order, mean, std and input size of stage 1.')
            return
        lines = preprocess_mismatches(
            stage1,
            preprocess_record(runner.model, runner.train_dataloader.dataset,
                              data_batch))
        if lines:
            raise ValueError(
                'This config feeds the stage-1 encoders other images than '
                f"they were trained on (stage-1 checkpoint '{path}', its "
                "meta['preprocess']):\n  " + '\n  '.join(lines) +
                '\nChange this config, or use a stage-1 checkpoint trained '
                'with this preprocessing. To accept the difference on '
                'purpose: PreflightCheckHook(check_preprocess=False) in '
                'custom_hooks.')

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
        head = getattr(model, 'head', None)
        names = getattr(head, 'emotion_classes', None)
        wrapper = _stage1_wrapper(model)
        if wrapper is None or names is None:
            return
        names = list(names)
        # init_weights, which the Runner calls before training, read it.
        path = wrapper.emotional_checkpoint
        classes = stage1_classes(
            dict(meta=getattr(wrapper, 'emotional_meta', None)))
        if classes is None:
            runner.logger.warning(
                f"Stage-1 checkpoint '{path}' records no emotion classes "
                "(meta['dataset_meta']['classes']): cannot check them against "
                f'model.head.emotion_classes={names}.')
        elif classes != names:
            raise ValueError(
                f"The stage-1 checkpoint '{path}' was trained on the emotions "
                f'{classes}, but model.head.emotion_classes is {names}. '
                'The affect would be read under the wrong names: set '
                'model.head.emotion_classes to the stage-1 dataset\'s classes '
                '(same order), or use the stage-1 checkpoint of that emotion '
                'vocabulary.')


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _stage1_wrapper(model):
    """The model's ``EmotionalBackboneWrapper`` that reads a stage-1
    checkpoint for its emotional encoder, or None."""
    from emoreg_mm.models import EmotionalBackboneWrapper
    return next((m for m in model.modules()
                 if isinstance(m, EmotionalBackboneWrapper)
                 and m.emotion_head is not None and m.emotional_checkpoint),
                None)


def _metric_cfgs(evaluator_cfg, key: str):
    """``(config key, metric config)`` of each metric of an evaluator
    config (a dict or a list of dicts)."""
    if isinstance(evaluator_cfg, dict) and 'metrics' in evaluator_cfg:
        evaluator_cfg, key = evaluator_cfg['metrics'], key + '.metrics'
    if isinstance(evaluator_cfg, dict):
        return [(key, evaluator_cfg)]
    return [(f'{key}.{i}', m) for i, m in enumerate(evaluator_cfg or ())
            if isinstance(m, dict)]


def _check_topk(cfg, model, dataset) -> None:
    """``Accuracy(topk=...)`` of the val and test evaluators fits the number
    of classes."""
    num = getattr(getattr(model, 'head', None), 'num_classes', None)
    if num is None:
        num = len((getattr(dataset, 'metainfo', None) or {}).get(
            'classes') or ()) or None
    if num is None:
        return
    problems = []
    for name in ('val_evaluator', 'test_evaluator'):
        for key, metric in _metric_cfgs(cfg.get(name), name):
            if str(metric.get('type', '')).split('.')[-1] != 'Accuracy':
                continue
            topk = metric.get('topk', (1, ))
            topk = (topk, ) if isinstance(topk, int) else tuple(topk)
            if max(topk) > num:
                fit = tuple(k for k in topk if k <= num) or (1, )
                problems.append((f'{key}.topk', topk, fit))
    if problems:
        raise ValueError(
            f'The model predicts {num} classes, so top-k accuracy with k > '
            f'{num} cannot be computed (validation or test would fail after '
            'training): ' + ', '.join(f'{k}={topk}' for k, topk, _ in problems)
            + '. Set ' + ' '.join(f'{k}={fit!r}'.replace(' ', '')
                                  for k, _, fit in problems) +
            ' (e.g. with --cfg-options).')


@contextmanager
def _rng_kept():
    """Leave the global random states as they were (the training run's
    augmentation and shuffling do not see the check)."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def _check_val_sample(runner) -> None:
    """One validation sample through the val pipeline, the model and the
    val / test metrics."""
    loader = runner.val_dataloader
    dataset = loader.dataset
    if len(dataset) == 0:
        raise ValueError(
            f'val_dataloader: the dataset {type(dataset).__name__} is empty; '
            'validation would fail after the first epoch. Point '
            'val_dataloader.dataset at the validation data, or train with '
            '--no-validate.')
    model = _unwrap(runner.model)
    with _rng_kept():
        try:
            batch = loader.collate_fn([dataset[0]])
        except Exception as err:
            raise RuntimeError(
                'val_dataloader: the first validation sample fails in the '
                f'val pipeline ({type(err).__name__}: {err}). Check '
                'val_dataloader.dataset.pipeline.') from err
        inputs = batch.get('inputs') if isinstance(batch, dict) else None
        if inputs is None or len(inputs) == 0:
            raise RuntimeError(
                'val_dataloader: the first validation sample fails in the '
                "val pipeline: it gives no image ('inputs'). Check "
                'val_dataloader.dataset.pipeline (images from files need '
                'LoadImageFromFile first, and PackInputs last).')
        training = model.training
        model.eval()
        try:
            with torch.no_grad():
                outputs = runner.model.val_step(batch)
        except Exception as err:
            raise RuntimeError(
                'The model fails on the first validation sample '
                f'({type(err).__name__}: {err}); validation would fail after '
                'the first epoch. Check that val_dataloader\'s pipeline gives '
                'the input size and format of the training pipeline.'
            ) from err
        finally:
            model.train(training)
    for name in ('val_evaluator', 'test_evaluator'):
        cfg = runner.cfg.get(name)
        if not cfg:
            continue
        evaluator = runner.build_evaluator(copy.deepcopy(cfg))
        evaluator.dataset_meta = getattr(dataset, 'metainfo', None)
        try:
            evaluator.process(copy.deepcopy(outputs), batch)
            for metric in evaluator.metrics:
                metric.compute_metrics(metric.results)
        except Exception as err:
            raise RuntimeError(
                f'{name}: its metrics cannot be computed on the first '
                f'validation sample ({type(err).__name__}: {err}); they would '
                f'fail after the first epoch. Fix {name} (or the val data, '
                'e.g. labels); a metric that needs more than one sample can '
                'skip this check with PreflightCheckHook(check_eval=False).'
            ) from err


def _check_pretrained_urls(node, key: str) -> None:
    """Every ``Pretrained`` URL under ``node`` is cached or reachable."""
    from emoreg_mm.compat.offline import (PROBE_TIMEOUT, cached_path,
                                          url_reachable)
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _check_pretrained_urls(item, f'{key}.{i}')
        return
    if not isinstance(node, dict):
        return
    for name, value in node.items():
        _check_pretrained_urls(value, f'{key}.{name}')
    url = node.get('checkpoint')
    if node.get('type') != 'Pretrained' or not isinstance(url, str) or \
            not url.startswith(('http://', 'https://')):
        return
    cached = cached_path(url)
    if not osp.isfile(cached) and not url_reachable(url):
        owner = key[:key.rindex('.init_cfg')] if '.init_cfg' in key else key
        raise FileNotFoundError(
            f'{key}: cannot download the checkpoint {url}: its host is '
            f'unreachable within {PROBE_TIMEOUT:.0f} s (offline?). Put the '
            f'file at {cached}, or point {key}.checkpoint at a local copy, or'
            f' train {owner} from scratch: --cfg-options '
            f'{owner}.init_cfg=None')


def _short(classes, n: int = 10) -> str:
    classes = list(classes)
    return str(classes[:n])[:-1] + (', ...]' if len(classes) > n else ']')
