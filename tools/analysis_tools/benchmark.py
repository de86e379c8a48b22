"""Speed and memory of the regulated model against the plain classifier.

Usage::

    python tools/analysis_tools/benchmark.py resnet18-cifar \
        [--variants baseline e-infl ereg learn-ereg learn-ereg:cache \
                    learn-ereg:share learn-ereg:share:cache] \
        [--batch-size 32] [--img-size 32] [--reps 5] [--warmup 2] \
        [--threads 2] [--device cpu|cuda] [--amp none|bf16|fp16] \
        [--channels-last] [--compile] [--no-memory]

The first argument is a backbone name (``resnet18-cifar``,
``resnet50-cifar``, ``resnet50``, ``deit-tiny``, ``deit-small``,
``vit-small``) or a stage-2 config (its ``model.backbone.backbone`` /
``neck`` / ``in_channels`` are used; the stage-1 checkpoint is replaced by a
random one, weights do not matter for speed).

Every variant and the plain mmpretrain ``ImageClassifier`` (same backbone,
neck, ``LinearClsHead``) are built in this process, warmed up, then timed in
``--reps`` rounds; each round times every model once (order rotated from
round to round) for ``--iters`` steps, with a plain step before and after
each variant: a ratio is the variant's time over the mean of the two plain
steps around it; the reported figure is the median over rounds (min-max
beside it). Only such interleaved, repeated ratios mean anything on a shared
CPU.

A variant is ``MODE[:cache][:share]``:

- ``MODE``: a regulation mode (``baseline``, ``e-infl``, ``const``,
  ``ereg``, ``learn-ereg``, ``rand-learn-ereg``);
- ``cache``: the affect cache, filled once before timing (steady state of
  epochs >= 2), also used for the inference step;
- ``share``: I freezes half of its stages (``frozen_stages_i``) and shares
  them with E (``share_frozen_prefix``).

Training step: ``model.train_step`` (data preprocessor, forward, loss,
backward, SGD with momentum over the trainable parameters). Inference step:
``model.val_step`` under ``torch.no_grad`` (predictions with affect / rho).

Peak memory (one extra step per model after timing): on CUDA
``torch.cuda.max_memory_allocated``; on CPU every tensor storage that exists
at the step's start (parameters, buffers, optimizer state, inputs) plus the
peak of the storages the step's ATen operators allocate and that are alive,
tracked by a ``TorchDispatchMode`` with weak storage references (what a
tracking allocator would see of tensors; kernel-internal scratch buffers and
allocator overhead are not counted).

One tool, one idea (ratios against the plain model measured in the same
run): model building, timing and memory tracking are the three parts of that
measurement and are not used apart.
"""
import argparse
import copy
import os.path as osp
import statistics
import tempfile
import time
from contextlib import nullcontext

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

import emoreg_mm  # noqa: F401  (registers the components)
from emoreg_mm.models import (DEFAULT_EMOTION_CLASSES,  # noqa
                              REGULATION_MODES, fill_affect_cache)
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

NUM_CLASSES = 10
NUM_EMOTIONS = len(DEFAULT_EMOTION_CLASSES)  # the regulated heads' default


def vit(arch, img_size, in_channels):
    return dict(backbone=dict(type='VisionTransformer',
                              arch=arch,
                              img_size=img_size,
                              patch_size=4 if img_size <= 64 else 16,
                              out_type='cls_token'),
                neck=None,
                in_channels=in_channels)


def backbone_spec(name: str, img_size: int) -> dict:
    """backbone, neck and pooled dimension of a name or a stage-2 config."""
    gap = dict(type='GlobalAveragePooling')
    specs = {
        'resnet18-cifar':
        lambda: dict(backbone=dict(type='ResNet_CIFAR', depth=18),
                     neck=gap, in_channels=512),
        'resnet50-cifar':
        lambda: dict(backbone=dict(type='ResNet_CIFAR', depth=50),
                     neck=gap, in_channels=2048),
        'resnet18':
        lambda: dict(backbone=dict(type='ResNet', depth=18),
                     neck=gap, in_channels=512),
        'resnet50':
        lambda: dict(backbone=dict(type='ResNet', depth=50),
                     neck=gap, in_channels=2048),
        'deit-tiny': lambda: vit('deit-tiny', img_size, 192),
        'deit-small': lambda: vit('deit-small', img_size, 384),
        'vit-small': lambda: vit('deit-small', img_size, 384),
    }
    if name in specs:
        return specs[name]()
    if not osp.isfile(name):
        raise SystemExit(f'{name}: neither a config file nor one of '
                         f'{sorted(specs)}')
    model = Config.fromfile(name).model
    wrapper = model.backbone
    if wrapper.get('type') != 'EmotionalBackboneWrapper':
        raise SystemExit(f'{name}: model.backbone is not an '
                         'EmotionalBackboneWrapper.')
    backbone = copy.deepcopy(wrapper.backbone.to_dict())
    backbone.pop('init_cfg', None)  # no downloads: speed only
    if backbone.get('type') == 'VisionTransformer':
        backbone['img_size'] = img_size
    neck = wrapper.get('neck')
    return dict(backbone=backbone,
                neck=neck.to_dict() if neck else None,
                in_channels=wrapper.in_channels)


def half_stages(spec) -> int:
    backbone = MODELS.build(copy.deepcopy(spec['backbone']))
    from emoreg_mm.models.backbones.staged import num_stages
    return num_stages(backbone) // 2


def write_stage1(spec, path):
    model = MODELS.build(
        dict(type='ImageClassifier',
             backbone=copy.deepcopy(spec['backbone']),
             neck=copy.deepcopy(spec['neck']),
             head=dict(type='LinearClsHead', num_classes=NUM_EMOTIONS,
                       in_channels=spec['in_channels'])))
    model.init_weights()
    torch.save({'state_dict': model.state_dict()}, path)


def plain_cfg(spec):
    return dict(type='ImageClassifier',
                backbone=copy.deepcopy(spec['backbone']),
                neck=copy.deepcopy(spec['neck']),
                head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                          in_channels=spec['in_channels']))


def regulated_cfg(spec, variant, checkpoint, channels_last):
    mode, *flags = variant.split(':')
    unknown = set(flags) - {'cache', 'share'}
    if mode not in REGULATION_MODES or unknown:
        raise SystemExit(f'Unknown variant {variant!r}: MODE[:cache][:share]'
                         f' with MODE in {sorted(REGULATION_MODES)}.')
    # branches and the number of emotions follow from the head
    wrapper = dict(type='EmotionalBackboneWrapper',
                   backbone=copy.deepcopy(spec['backbone']),
                   neck=copy.deepcopy(spec['neck']),
                   emotional_checkpoint=checkpoint,
                   in_channels=spec['in_channels'],
                   channels_last=channels_last)
    if 'share' in flags:
        wrapper.update(frozen_stages_i=half_stages(spec),
                       share_frozen_prefix=True)
    if 'cache' in flags:
        wrapper.update(affect_cache=dict(eval=True))
    return dict(type='RegulatedImageClassifier',
                backbone=wrapper,
                head=dict(type='RegulationHead', num_classes=NUM_CLASSES,
                          in_channels=spec['in_channels'],
                          regulator=mode))


class StorageTracker(TorchDispatchMode):
    """Bytes of the live tensor storages the ATen ops allocate (outputs,
    including autograd's saved tensors and gradients); ``peak`` is their
    maximum over the tracked region."""

    def __init__(self, existing):
        super().__init__()
        self.existing = {StorageWeakRef(t.untyped_storage())
                         for t in existing}
        self.live = {}
        self.current = self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        for ref in [r for r in self.live if r.expired()]:
            self.current -= self.live.pop(ref)
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                ref = StorageWeakRef(storage)
                if ref not in self.live and ref not in self.existing:
                    self.live[ref] = storage.nbytes()
                    self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


def state_tensors(model, optim_wrapper, data):
    tensors = list(model.parameters()) + list(model.buffers())
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    if optim_wrapper is not None:
        for state in optim_wrapper.optimizer.state.values():
            tensors += [v for v in state.values() if torch.is_tensor(v)]
    tensors.append(data['inputs'])
    unique = {}
    for t in tensors:
        unique[StorageWeakRef(t.untyped_storage())] = t
    return list(unique.values())


class Bench:
    """One model with its optimizer, steps and measurements."""

    def __init__(self, name, model, args, data):
        self.name, self.model, self.args, self.data = name, model, args, data
        self.device = args.device
        init_default_scope('mmpretrain')
        optim = dict(constructor='TrainableParamsOptimWrapperConstructor',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                                    weight_decay=5e-4))
        if args.amp != 'none' and self.device == 'cuda':
            optim.update(type='AmpOptimWrapper', dtype=AMP[args.amp])
        self.optim_wrapper = build_optim_wrapper(model, optim)
        self.autocast = (lambda: torch.autocast(
            self.device, dtype=getattr(torch, AMP[args.amp]))) \
            if args.amp != 'none' and self.device == 'cpu' else nullcontext
        self.train_step, self.val_step = model.train_step, model.val_step
        if args.compile:
            self.train_step = torch.compile(model.train_step)
            self.val_step = torch.compile(model.val_step)
        self.times = dict(train=[], infer=[])
        self.memory = {}

    def sync(self):
        if self.device == 'cuda':
            torch.cuda.synchronize()

    def run_train(self):
        self.model.train()
        with self.autocast():
            self.train_step(self.data, self.optim_wrapper)

    def run_infer(self):
        self.model.eval()
        with torch.no_grad(), self.autocast():
            self.val_step(self.data)

    def time(self, kind, iters):
        step = self.run_train if kind == 'train' else self.run_infer
        self.sync()
        start = time.perf_counter()
        for _ in range(iters):
            step()
        self.sync()
        self.times[kind].append((time.perf_counter() - start) / iters)

    def measure_memory(self):
        for kind, step in (('train', self.run_train),
                           ('infer', self.run_infer)):
            step()  # settle (e.g. optimizer state exists)
            if self.device == 'cuda':
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                step()
                torch.cuda.synchronize()
                self.memory[kind] = torch.cuda.max_memory_allocated()
            else:
                existing = state_tensors(
                    self.model,
                    self.optim_wrapper if kind == 'train' else None,
                    self.data)
                base = sum(t.untyped_storage().nbytes() for t in existing)
                with StorageTracker(existing) as tracker:
                    step()
                self.memory[kind] = base + tracker.peak


AMP = dict(bf16='bfloat16', fp16='float16')


def make_data(args):
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(args.batch_size, 3, args.img_size, args.img_size,
                         generator=gen).to(args.device)
    labels = torch.randint(NUM_CLASSES, (args.batch_size, ), generator=gen)
    samples = [
        DataSample(metainfo=dict(sample_idx=i)).set_gt_label(int(label))
        for i, label in enumerate(labels)
    ]
    if args.channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return dict(inputs=inputs, data_samples=samples)


def fmt_ratio(values):
    return (f'{statistics.median(values):5.2f}x '
            f'[{min(values):.2f}-{max(values):.2f}]')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('backbone', help='backbone name or stage-2 config')
    parser.add_argument('--variants', nargs='+', default=[
        'baseline', 'e-infl', 'const', 'ereg', 'learn-ereg',
        'learn-ereg:cache', 'learn-ereg:share', 'learn-ereg:share:cache'
    ])
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--img-size', type=int, default=32)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--iters', type=int, default=1,
                        help='steps per model per round')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cuda'
                        if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', choices=['none', 'bf16', 'fp16'],
                        default='none')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--compile', action='store_true')
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--no-infer', action='store_true')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import logging
    from mmengine.logging import MMLogger
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    spec = backbone_spec(args.backbone, args.img_size)
    data = make_data(args)
    tmp = tempfile.TemporaryDirectory()
    checkpoint = osp.join(tmp.name, 'stage1.pth')
    write_stage1(spec, checkpoint)

    def build(cfg):
        model = MODELS.build(cfg)
        model.init_weights()
        model = model.to(args.device)
        if args.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    benches = [Bench('plain', build(plain_cfg(spec)), args, data)]
    for variant in args.variants:
        cfg = regulated_cfg(spec, variant, checkpoint, args.channels_last)
        benches.append(Bench(variant, build(cfg), args, data))
    kinds = ['train'] + ([] if args.no_infer else ['infer'])
    for bench in benches:  # warm-up (and the cache's fill)
        for _ in range(args.warmup):
            bench.run_train()
            if not args.no_infer:
                bench.run_infer()
    # Each round: plain, v1, plain, v2, ..., plain (order of the variants
    # rotated per round); a variant's ratio divides its time by the mean of
    # the two plain steps around it, so a load change on the shared machine
    # affects both sides of a ratio.
    plain, variants = benches[0], benches[1:]
    ratios = {(b.name, k): [] for b in variants for k in kinds}
    for rep in range(args.reps):
        shift = rep % len(variants)
        for kind in kinds:
            plain.time(kind, args.iters)
            for bench in variants[shift:] + variants[:shift]:
                before = plain.times[kind][-1]
                bench.time(kind, args.iters)
                plain.time(kind, args.iters)
                ratios[bench.name, kind].append(
                    bench.times[kind][-1] /
                    ((before + plain.times[kind][-1]) / 2))
    if not args.no_memory and not args.compile:
        for bench in benches:
            bench.measure_memory()

    print(f'backbone={args.backbone} device={args.device} '
          f'threads={torch.get_num_threads()} batch={args.batch_size} '
          f'img={args.img_size} amp={args.amp} '
          f'channels_last={args.channels_last} compile={args.compile} '
          f'reps={args.reps} iters={args.iters} torch={torch.__version__}')
    header = f'{"model":26s}'
    for kind in kinds:
        header += f' | {kind + " ms":>9s} {"ratio [min-max]":>18s}'
    if plain.memory:
        for kind in kinds:
            header += f' | {"peak MB " + kind:>14s} {"ratio":>6s}'
    print(header)
    for bench in benches:
        line = f'{bench.name:26s}'
        for kind in kinds:
            ms = statistics.median(bench.times[kind]) * 1e3
            ratio = ratios.get((bench.name, kind), [1.])
            line += f' | {ms:9.1f} {fmt_ratio(ratio):>18s}'
        if bench.memory:
            for kind in kinds:
                mem = bench.memory[kind]
                line += (f' | {mem / 2**20:14.1f} '
                         f'{mem / plain.memory[kind]:5.2f}x')
        print(line, flush=True)


if __name__ == '__main__':
    main()
