"""torch.compile of the regulated model: graphs per training run of 6
batches, counted by a TorchDynamo backend that records every graph it is
given (graph breaks and recompilations both add graphs)."""
import copy

import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS

from conftest import make_batch, regulated_cfg, write_stage1
from emoreg_mm.engine.rng_streams import RngStream, is_stochastic, \
    run_module_in_stream

#: The tiny ViT with dropout and drop path (mmpretrain stores drop path's
#: rates as numpy floats).
STOCHASTIC_VIT = dict(drop_rate=0.1, drop_path_rate=0.1)


def model_of(arch, checkpoint, cache, streams=True):
    cfg = regulated_cfg(arch, 'learn-ereg', checkpoint)
    if arch == 'vit':
        cfg['backbone']['backbone'].update(STOCHASTIC_VIT)
    if cache:
        cfg['type'] = 'RegulatedImageClassifier'
        cfg['backbone']['affect_cache'] = True
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    model.train()
    n = model.backbone.encoder_n
    if streams and is_stochastic(n):  # as PairedInitHook does
        run_module_in_stream(n, RngStream(0, 'encoder_n'))
    return model


def graphs_of(model, batches=6):
    """Graphs TorchDynamo makes of ``batches`` training forwards and
    backwards (each batch new images and sample indices)."""
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    compiled = torch.compile(model, backend=backend)
    for step in range(batches):
        inputs, samples = make_batch(seed=step)
        for i, sample in enumerate(samples):
            sample.set_metainfo(dict(sample_idx=4 * step + i))
        compiled(inputs, samples, mode='loss')['loss'].backward()
    torch._dynamo.reset()
    return len(graphs)


#: Graphs of 6 batches: ResNet one (two with the cache: its lookup runs
#: eagerly between them); the stochastic ViT's N runs in its own RNG stream
#: (PairedInitHook), whose generator swaps are breaks around N. Before:
#: ResNet 1 / 14 with the cache (a recompilation per batch), ViT 20 / 43
#: (a break per drop-path layer, numpy rates).
MAX_GRAPHS = {('resnet', False): 1, ('resnet', True): 2,
              ('vit', False): 4, ('vit', True): 4}


@pytest.mark.parametrize('cache', [False, True])
def test_graphs_do_not_grow_with_batches(arch, stage1, cache):
    model = model_of(arch, stage1[0], cache)
    assert not any(
        isinstance(v, np.generic) for m in model.modules()
        for v in vars(m).values())
    assert graphs_of(model) <= MAX_GRAPHS[arch, cache]


def test_without_streams_the_stochastic_vit_is_one_graph(tmp_path):
    """``PairedInitHook(streams=False)``: no generator swaps around N, so
    the whole regulated ViT forward and backward is one graph."""
    path = tmp_path / 'stage1_vit.pth'
    write_stage1('vit', path)
    assert graphs_of(model_of('vit', str(path), cache=False,
                              streams=False)) == 1
