"""A backbone's forward split in two at a stage boundary.

``prefix(backbone, x, k)`` runs the input layers and the first ``k`` stages,
``suffix(backbone, state, k)`` the rest; ``suffix(prefix(x))`` is exactly
``backbone(x)``. :class:`EmotionalBackboneWrapper` uses them to compute the
stages that E and I both hold frozen (``frozen_stages``) once for both
(``share_frozen_prefix``): :func:`shared_stages` validates the setting,
:func:`check_shared` that the sharing is exact.

Supported: mmpretrain's ``ResNet`` family (``ResNet``, ``ResNet_CIFAR``,
``ResNetV1c``, ``ResNetV1d``: stages = stem + ``layer1..k``) and
``VisionTransformer`` (stages = patch embedding, class token, position
embedding + the first ``k`` encoder layers), the backbones whose
``frozen_stages`` freezes exactly those modules.
"""
from typing import Any, Iterable, List

import torch
import torch.nn as nn
from mmpretrain.models.backbones import ResNet, ResNet_CIFAR, VisionTransformer
from mmpretrain.models.utils import resize_pos_embed


def num_stages(backbone: nn.Module) -> int:
    """Number of stages of a supported backbone (raises otherwise)."""
    if isinstance(backbone, ResNet):
        return len(backbone.res_layers)
    if isinstance(backbone, VisionTransformer):
        return len(backbone.layers)
    raise NotImplementedError(
        f'share_frozen_prefix supports ResNet-family and VisionTransformer '
        f'backbones, not {type(backbone).__name__}.')


def prefix_modules(backbone: nn.Module, k: int) -> List[nn.Module]:
    """The modules (and, for ViT, the module holding the free parameters
    cls_token / pos_embed) run by :func:`prefix`."""
    if isinstance(backbone, ResNet):
        mods = [backbone.stem] if backbone.deep_stem else \
            [backbone.conv1, backbone.norm1]
        return mods + [getattr(backbone, n) for n in backbone.res_layers[:k]]
    if isinstance(backbone, VisionTransformer):
        return [backbone.patch_embed, backbone.drop_after_pos,
                backbone.pre_norm] + list(backbone.layers[:k])
    num_stages(backbone)  # raises
    return []


def prefix_parameters(backbone: nn.Module, k: int) -> Iterable[nn.Parameter]:
    """Every parameter that :func:`prefix` reads."""
    for mod in prefix_modules(backbone, k):
        yield from mod.parameters()
    if isinstance(backbone, VisionTransformer):
        for param in (backbone.cls_token, backbone.pos_embed):
            if param is not None:
                yield param


def prefix(backbone: nn.Module, x, k: int) -> Any:
    """Input layers + the first ``k`` stages; returns the state
    :func:`suffix` takes."""
    if isinstance(backbone, ResNet):
        if backbone.deep_stem:
            x = backbone.stem(x)
        else:
            x = backbone.relu(backbone.norm1(backbone.conv1(x)))
        if not isinstance(backbone, ResNet_CIFAR):  # CIFAR: no max-pool
            x = backbone.maxpool(x)
        for name in backbone.res_layers[:k]:
            x = getattr(backbone, name)(x)
        return x
    if isinstance(backbone, VisionTransformer):
        B = x.shape[0]
        x, patch_resolution = backbone.patch_embed(x)
        if backbone.cls_token is not None:
            x = torch.cat((backbone.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + resize_pos_embed(
            backbone.pos_embed,
            backbone.patch_resolution,
            patch_resolution,
            mode=backbone.interpolate_mode,
            num_extra_tokens=backbone.num_extra_tokens)
        x = backbone.pre_norm(backbone.drop_after_pos(x))
        for layer in backbone.layers[:k]:
            x = layer(x)
        return x, patch_resolution
    num_stages(backbone)  # raises


def out_indices(backbone: nn.Module) -> List[int]:
    """The stages whose output the backbone returns."""
    return list(backbone.out_indices)


def suffix(backbone: nn.Module, state, k: int) -> tuple:
    """The stages after the first ``k``: the backbone's output tuple (every
    out index must be >= k - 1)."""
    outs = []
    if isinstance(backbone, ResNet):
        x = state
        for i, name in enumerate(backbone.res_layers):
            if i >= k:
                x = getattr(backbone, name)(x)
            if i in backbone.out_indices:
                outs.append(x)
        return tuple(outs)
    x, patch_resolution = state
    layers = backbone.layers
    for i, layer in enumerate(layers):
        if i >= k:
            x = layer(x)
            if i == len(layers) - 1 and backbone.final_norm:
                x = backbone.ln1(x)
        if i in backbone.out_indices:
            outs.append(backbone._format_output(x, patch_resolution))
    return tuple(outs)



def shared_stages(backbone_i: nn.Module) -> int:
    """The number of stages I holds frozen, which E can compute for both.

    Raises:
        ValueError: I freezes no stage, or returns an output from inside the
            frozen prefix (``out_indices`` < ``frozen_stages`` - 1).
    """
    total = num_stages(backbone_i)  # raises if unsupported
    k = getattr(backbone_i, 'frozen_stages', -1)
    # ResNet: frozen_stages=0 freezes the stem; ViT freezes only > 0.
    minimum = 0 if isinstance(backbone_i, ResNet) else 1
    if k < minimum or k > total:
        raise ValueError(
            'share_frozen_prefix needs I to freeze its first stages: set '
            "frozen_stages_i (or the backbone's frozen_stages) to 1.."
            f'{total}, got {k}.')
    if min(out_indices(backbone_i)) < k - 1:
        raise ValueError('share_frozen_prefix needs out_indices >= '
                         f'frozen_stages - 1 = {k - 1}.')
    return k


def check_shared(backbone_i: nn.Module, backbone_e: nn.Module,
                 k: int) -> None:
    """I's first ``k`` stages must be frozen and hold E's weights and
    buffers (stage 1's), else computing them once for both is not exact."""
    tensors_i = list(prefix_parameters(backbone_i, k))
    tensors_e = list(prefix_parameters(backbone_e, k))
    for mi, me in zip(prefix_modules(backbone_i, k),
                      prefix_modules(backbone_e, k)):
        tensors_i += list(mi.buffers())
        tensors_e += list(me.buffers())
    if any(t.requires_grad for t in tensors_i) or not all(
            torch.equal(a, b) for a, b in zip(tensors_i, tensors_e)):
        raise RuntimeError(
            f"share_frozen_prefix: the first {k} stages of I differ from "
            "E's or are trainable; they must be frozen and hold the stage-1 "
            'weights.')
