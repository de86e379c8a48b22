"""A CheckpointHook that never leaves a run without a complete checkpoint."""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS

from emoreg_mm.fileio import atomic_write_text

#: Message-hub key of the checkpoint :class:`PreemptionHook` saved last.
PREEMPTION_KEY = 'preemption_ckpt'


def remove_checkpoint(path: str) -> None:
    """Remove a checkpoint file (or a DeepSpeed checkpoint folder)."""
    if osp.isfile(path):
        os.remove(path)
    elif osp.isdir(path):
        import shutil
        shutil.rmtree(path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's :class:`CheckpointHook`, saving before it removes.

    mmengine 0.10.7 removes the oldest kept checkpoint (``max_keep_ckpts``)
    *before* writing the new one, so with ``max_keep_ckpts=1`` a kill, a
    full disk or an error during the save leaves no checkpoint and
    ``last_checkpoint`` names a deleted file. This hook keeps the order
    safe:

    1. the new checkpoint is written atomically (temporary file, fsync,
       rename: see :func:`emoreg_mm.compat.checkpoint.save_checkpoint`);
    2. ``last_checkpoint`` is replaced atomically, only then;
    3. only then are the checkpoints beyond ``max_keep_ckpts`` and an
       earlier pre-emption checkpoint (``iter_N.pth`` of
       :class:`PreemptionHook`) removed.

    The same holds for ``save_best``: the previous ``best_*.pth`` is removed
    only once the new one is complete.

    A kill at any point leaves ``last_checkpoint`` naming a complete file.
    Arguments are those of :class:`mmengine.hooks.CheckpointHook`; local
    work dirs only (other backends fall back to the parent's behaviour).
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids[0])  # dropped on append
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        preempted = runner.message_hub.get_info(PREEMPTION_KEY)
        if preempted:
            runner.message_hub.update_info(PREEMPTION_KEY, None)

        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'),
                          self.last_ckpt)
        old = [self.file_backend.join_path(self.out_dir,
                                           self.filename_tmpl.format(s))
               for s in outdated]
        if preempted:
            old.append(preempted)
        for path in old:
            if osp.abspath(path) != osp.abspath(self.last_ckpt):
                remove_checkpoint(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """Save a new best checkpoint, then remove the previous one.

        mmengine removes the previous ``best_*.pth`` before it writes the new
        one; its removal is deferred here until the new file is complete, so
        an error or a kill in between leaves the previous best in place.
        """
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_best_checkpoint(runner, metrics)
        previous = []
        self.file_backend.remove = previous.append  # deferred until saved
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            del self.file_backend.remove
        if not previous:
            return
        current = [self.best_ckpt_path] if len(self.key_indicators) == 1 \
            else list(self.best_ckpt_path_dict.values())
        current = {osp.abspath(p) for p in current if p}
        for path in previous:
            if osp.abspath(path) not in current:
                remove_checkpoint(path)
