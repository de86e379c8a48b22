"""Log what the regulation does: rho and the affective state."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.hooks import Hook, LoggerHook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


def regulation_stats(rho: torch.Tensor,
                     affect: Optional[torch.Tensor],
                     emotion_classes: Sequence[str],
                     prefix: str = '',
                     top: bool = True) -> Dict[str, float]:
    """Summary scalars of a set of predictions.

    Args:
        rho (Tensor): Regulation weights, ``(N, )``.
        affect (Tensor, optional): Affective states, ``(N, K)``.
        emotion_classes (Sequence[str]): The K emotion names (the
            dimensions' of a dimensional state: valence, arousal).
        prefix (str): Prepended to every key, e.g. ``'val_'``.
        top (bool): Also the share of each top emotion; False for a
            dimensional state, whose largest coordinate names no emotion.

    Returns:
        dict: ``{prefix}rho/mean``, ``/std``, ``/min``, ``/max`` and, with
        ``affect``, ``{prefix}affect/<emotion>`` (mean affect score; for a
        dimensional state the mean valence, arousal) and, with ``top``,
        ``{prefix}affect_top/<emotion>`` (share of images whose top emotion
        it is).
    """
    keys, values = regulation_stat_tensor(rho, affect, emotion_classes,
                                          prefix, top)
    return dict(zip(keys, values.tolist()))


def regulation_stat_tensor(rho: torch.Tensor,
                           affect: Optional[torch.Tensor],
                           emotion_classes: Sequence[str],
                           prefix: str = '',
                           top: bool = True
                           ) -> Tuple[List[str], torch.Tensor]:
    """The keys and values of :func:`regulation_stats`, the values as one
    float32 tensor on the inputs' device (nothing read on the host)."""
    rho = rho.detach().float().flatten()
    spread = rho.std(unbiased=False) if rho.numel() > 1 else rho.new_zeros(())
    keys = [f'{prefix}rho/{s}' for s in ('mean', 'std', 'min', 'max')]
    values = [torch.stack([rho.mean(), spread, rho.min(), rho.max()])]
    if affect is not None:
        affect = affect.detach().float()
        num = affect.size(1)
        names = list(emotion_classes) if emotion_classes and len(
            emotion_classes) == num else [str(k) for k in range(num)]
        keys += [f'{prefix}affect/{name}' for name in names]
        values.append(affect.mean(0))
        if top:
            keys += [f'{prefix}affect_top/{name}' for name in names]
            values.append(
                torch.bincount(affect.argmax(1), minlength=num).float() /
                len(affect))
    return keys, torch.cat(values)


#: Statistics that stay in the log line (with the prefix); the rest of
#: :func:`regulation_stats` goes only to the visualizer backends.
LINE_STATS = ('rho/mean', 'rho/std')


@HOOKS.register_module()
class RegulationMonitorHook(Hook):
    """Log rho and the affective state during training, validation, test.

    The log line keeps what is read at a glance, the mean and spread of rho;
    every statistic of :func:`regulation_stats` goes to the visualizer
    backends (``vis_data/scalars.json``, TensorBoard, ...):

    * training: per iteration (read from a forward hook on the head's
      regulator, no change to the model) ``rho/mean``, ``rho/std``,
      ``rho/min``, ``rho/max`` of the batch and, when the model has an
      emotional encoder, ``affect/<emotion>`` (mean affect score) and
      ``affect_top/<emotion>`` (share of the batch whose top emotion it
      is). They are computed and kept on the model's device and read on the
      host once per LoggerHook interval (one copy, at the LoggerHook's
      steps): averaged over the interval, ``rho`` (the mean) and
      ``rho/std`` go to the log line, the others to the visualizer. No
      iteration in between reads anything from the device.
    * validation / test, once per evaluation over all images: the same with
      the prefix ``val_`` / ``test_``, from the predictions' ``rho`` and
      ``affect_score``; the line shows ``val_rho/mean`` and ``val_rho/std``
      (``test_`` ...).

    Models without a ``RegulationHead`` (``baseline``) log nothing.

    Args:
        log_train (bool): Log during training. Defaults to True.
        log_eval (bool): Log during validation and test. Defaults to True.
    """

    priority = 'NORMAL'  # after RuntimeInfoHook, before LoggerHook

    def __init__(self, log_train: bool = True, log_eval: bool = True):
        self.log_train = log_train
        self.log_eval = log_eval
        self._handle = None
        self._batch: Optional[tuple] = None
        self._rho: List[torch.Tensor] = []
        self._affect: List[torch.Tensor] = []
        self._pending: List[torch.Tensor] = []
        self._keys: List[str] = []
        self._interval, self._by_epoch = 1, True
        self.emotion_classes: Sequence[str] = ()
        self.top = True  # a categorical state's top emotion

    @staticmethod
    def _head(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, 'head', None)
        return head if hasattr(head, 'regulator') else None

    def before_run(self, runner) -> None:
        # Write the visualizer-only statistics at the LoggerHook's steps.
        logger = next(
            (h for h in runner.hooks if isinstance(h, LoggerHook)), None)
        if logger is not None:
            self._interval = logger.interval
            self._by_epoch = logger.log_metric_by_epoch
        head = self._head(runner)
        if head is None:
            return
        self.emotion_classes = tuple(getattr(head, 'emotion_classes', ()))
        self.top = getattr(head, 'affect_space', None) != 'dimensional'
        if self.log_train:
            self._handle = head.regulator.register_forward_hook(
                self._capture)

    def after_run(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _capture(self, module, inputs, output) -> None:
        if module.training:
            affect = inputs[0] if inputs else None
            self._batch = (output.detach(), affect.detach()
                           if isinstance(affect, torch.Tensor) else None)

    # training ------------------------------------------------------------
    def before_train_epoch(self, runner) -> None:
        self._pending, self._keys = [], []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._batch = None

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if self._batch is not None:
            rho, affect = self._batch
            self._batch = None
            keys, values = regulation_stat_tensor(
                rho, affect, self.emotion_classes, top=self.top)
            if keys != self._keys:
                self._flush(runner)
                self._keys = keys
            self._pending.append(values)
        if self.every_n_inner_iters(batch_idx, self._interval) or \
                self.end_of_epoch(runner.train_dataloader, batch_idx):
            self._flush(runner)

    def _flush(self, runner) -> None:
        """Read the interval's statistics (one copy to the host) and write
        them at this step."""
        if not self._pending:
            return
        stats = dict(
            zip(self._keys,
                torch.stack(self._pending).mean(0).tolist()))
        self._pending = []
        runner.message_hub.update_scalar('train/rho', stats['rho/mean'])
        runner.message_hub.update_scalar('train/rho/std', stats['rho/std'])
        # Keys as the LoggerHook writes them: without 'train/'.
        runner.visualizer.add_scalars(
            {k: v
             for k, v in stats.items() if k != 'rho/std'},
            step=runner.iter + 1)

    # validation / test ---------------------------------------------------
    def _reset(self, runner) -> None:
        self._rho, self._affect = [], []

    def _collect(self, outputs) -> None:
        if not self.log_eval:
            return
        for sample in outputs or ():
            if 'rho' not in sample:
                return
            self._rho.append(torch.as_tensor(sample.rho).reshape(1))
            if 'affect_score' in sample:
                self._affect.append(sample.affect_score.reshape(1, -1))

    def _publish(self, runner, mode: str) -> None:
        if not self._rho:
            return
        rho = torch.cat(self._rho)
        affect = torch.cat(self._affect) if len(self._affect) == len(
            self._rho) else None
        self._reset(runner)
        stats = regulation_stats(rho, affect, self.emotion_classes,
                                 f'{mode}_', self.top)
        line = [f'{mode}_{key}' for key in LINE_STATS]
        for key in line:
            runner.message_hub.update_scalar(f'{mode}/{key}', stats[key])
        # The step of the LoggerHook's record of this evaluation.
        loop = runner._train_loop
        step = 0 if mode == 'test' or loop is None or isinstance(
            loop, dict) else runner.epoch if self._by_epoch else runner.iter
        runner.visualizer.add_scalars(
            {k: v for k, v in stats.items() if k not in line}, step=step)

    def before_val_epoch(self, runner) -> None:
        self._reset(runner)

    def after_val_iter(self,
                       runner,
                       batch_idx,
                       data_batch=None,
                       outputs=None) -> None:
        self._collect(outputs)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._publish(runner, 'val')

    def before_test_epoch(self, runner) -> None:
        self._reset(runner)

    def after_test_iter(self,
                        runner,
                        batch_idx,
                        data_batch=None,
                        outputs=None) -> None:
        self._collect(outputs)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._publish(runner, 'test')
