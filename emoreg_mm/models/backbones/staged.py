"""A backbone's forward split in two at a stage boundary.

``prefix(backbone, x, k)`` runs the input layers and the first ``k`` stages,
``suffix(backbone, state, k)`` the rest; ``suffix(prefix(x))`` is exactly
``backbone(x)``. :class:`EmotionalBackboneWrapper` uses them to compute the
stages that E and I both hold frozen (``frozen_stages``) once for both.

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

