"""Optimizers over the trainable parameters only."""
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpretrain.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                                 OPTIMIZERS)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableParamsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, minus frozen parameters.

    Without a ``paramwise_cfg`` the default constructor hands every
    parameter to the optimizer, frozen ones included (they never change,
    having no gradient, but they sit in its param groups and state). This
    one passes only parameters with ``requires_grad=True``, so the frozen
    emotional encoder and emotion head are excluded from the optimizer.
    With a ``paramwise_cfg`` the default path already skips them.

    Args: as :class:`mmengine.optim.DefaultOptimWrapperConstructor`.
    """

    def __call__(self, model):
        if self.paramwise_cfg:
            return super().__call__(model)
        module = getattr(model, 'module', model)
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = [
            p for p in module.parameters() if p.requires_grad
        ]
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(
            wrapper_cfg,
            default_args=dict(optimizer=OPTIMIZERS.build(optimizer_cfg)))
