"""Optimizers over the trainable parameters only, without weight decay on
the regulator."""
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpretrain.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                                 OPTIMIZERS)

from ..models.regulators import BaseRegulator


def regulator_parameters(module) -> set:
    """``id`` of every parameter of the module's regulators."""
    return {
        id(p)
        for m in module.modules() if isinstance(m, BaseRegulator)
        for p in m.parameters()
    }


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableParamsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, minus frozen parameters, with no
    weight decay on the regulator.

    Without a ``paramwise_cfg`` the default constructor hands every
    parameter to the optimizer, frozen ones included (they never change,
    having no gradient, but they sit in its param groups and state). This
    one passes only parameters with ``requires_grad=True``, so the frozen
    emotional encoder and emotion head are excluded from the optimizer.
    With a ``paramwise_cfg`` the default path already skips them.

    The parameters of a learned regulator (``w`` and ``b`` of
    ``learn-ereg``) get ``weight_decay=0`` in either path: decay would pull
    ``w . a + b`` toward 0, i.e. rho toward 0.5, a prior the method does not
    have.

    Args: as :class:`mmengine.optim.DefaultOptimWrapperConstructor`.
    """

    def __call__(self, model):
        module = getattr(model, 'module', model)
        no_decay = regulator_parameters(module)
        if self.paramwise_cfg:
            wrapper = super().__call__(model)
            for group in wrapper.optimizer.param_groups:
                if all(id(p) in no_decay for p in group['params']):
                    group['weight_decay'] = 0.
            return wrapper
        trainable = [p for p in module.parameters() if p.requires_grad]
        params = [p for p in trainable if id(p) not in no_decay]
        regulator = [p for p in trainable if id(p) in no_decay]
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = [dict(params=params)] + (
            [dict(params=regulator, weight_decay=0.)] if regulator else [])
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(
            wrapper_cfg,
            default_args=dict(optimizer=OPTIMIZERS.build(optimizer_cfg)))
