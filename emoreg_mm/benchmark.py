"""Speed and memory of the regulated model against the plain classifier
(``tools/analysis_tools/benchmark.py``, docs/performance.md).

Every variant and the plain mmpretrain ``ImageClassifier`` (same backbone,
neck, ``LinearClsHead``) are built in one process, warmed up, then timed in
rounds; each round times every model once (order rotated from round to
round), with a plain step before and after each variant: a ratio is the
variant's time over the mean of the two plain steps around it; the reported
figure is the median over rounds (min-max beside it). Only such
interleaved, repeated ratios mean anything on a shared CPU.

A variant is ``MODE[:cache][:share]``: a mode of the matrix
(:data:`emoreg_mm.matrix.MODES`); ``cache``: the affect cache, filled
before timing (epochs >= 2), also for inference; ``share``: I freezes half
of its stages and shares them with E (``share_frozen_prefix``).

Peak memory (one extra step per model after timing): on CUDA
``torch.cuda.max_memory_allocated``; on CPU every tensor storage that exists
at the step's start (parameters, buffers, optimizer state, inputs) plus the
peak of the storages the step's ATen operators allocate and that are alive,
tracked by a ``TorchDispatchMode`` with weak storage references (kernel
scratch buffers and allocator overhead are not counted).

One idea (ratios against the plain model measured in the same run): model
building, timing and memory tracking are the parts of that measurement.
"""
import copy
import logging
import os.path as osp
import statistics
import tempfile
import time
from contextlib import nullcontext
from typing import List, NamedTuple, Optional, Tuple

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from . import matrix
from .config_names import packaged_configs_root

NUM_CLASSES = 10
NUM_EMOTIONS = len(matrix.MIKELS)  # the regulated heads' default vocabulary
AMP = dict(bf16='bfloat16', fp16='float16')
#: The variants timed by default: every mode, and learn-ereg's speed-ups.
DEFAULT_VARIANTS = matrix.MODES + ('learn-ereg:cache', 'learn-ereg:share',
                                   'learn-ereg:share:cache')


class Settings(NamedTuple):
    """What to measure and how (the tool's options)."""
    batch_size: int = 32
    img_size: int = 32
    reps: int = 5
    iters: int = 1  #: steps per model per round
    warmup: int = 2
    threads: int = 2
    device: str = 'cpu'
    amp: str = 'none'  #: none, bf16 or fp16
    channels_last: bool = False
    compile: bool = False
    memory: bool = True
    infer: bool = True
    figures: bool = True  #: images/s, FLOPs, MFU, dtypes, input path
    peak_tflops: Optional[float] = None  #: the device's dense bf16 peak


def matrix_backbones() -> dict:
    """``{backbone name: its stage-2 model piece}`` of every preset."""
    return {name: matrix.piece_file(preset, 'models', f'{name}_emoreg')
            for preset in matrix.PRESETS.values()
            for name in preset.backbones}


def backbone_spec(name: str, img_size: int) -> dict:
    """backbone, neck and pooled dimension of a matrix backbone (its
    stage-2 model piece) or of a stage-2 config file."""
    from mmengine.config import Config
    pieces = matrix_backbones()
    if name in pieces:
        path = osp.join(packaged_configs_root(),
                        osp.relpath(pieces[name], 'configs'))
    elif osp.isfile(name):
        path = name
    else:
        raise ValueError(f'{name}: neither a config file nor a backbone of '
                         f'the matrix ({", ".join(pieces)})')
    wrapper = Config.fromfile(path).model.backbone
    if wrapper.get('type') != 'EmotionalBackboneWrapper':
        raise ValueError(f'{path}: model.backbone is not an '
                         'EmotionalBackboneWrapper.')
    backbone = copy.deepcopy(wrapper.backbone.to_dict())
    backbone.pop('init_cfg', None)  # no downloads: speed only
    if backbone.get('type') == 'VisionTransformer':
        backbone['img_size'] = img_size
    neck = wrapper.get('neck')
    return dict(backbone=backbone,
                neck=neck.to_dict() if neck else None,
                in_channels=wrapper.in_channels)


def _classifier(spec: dict, num_classes: int) -> dict:
    return dict(type='ImageClassifier',
                backbone=copy.deepcopy(spec['backbone']),
                neck=copy.deepcopy(spec['neck']),
                head=dict(type='LinearClsHead', num_classes=num_classes,
                          in_channels=spec['in_channels']))


def write_stage1(spec: dict, path: str) -> None:
    """A random stage-1 checkpoint of the backbone (weights do not matter
    for speed)."""
    from mmpretrain.registry import MODELS
    model = MODELS.build(_classifier(spec, NUM_EMOTIONS))
    model.init_weights()
    torch.save({'state_dict': model.state_dict()}, path)


def half_stages(spec: dict) -> int:
    from mmpretrain.registry import MODELS

    from .models.backbones.staged import num_stages
    return num_stages(MODELS.build(copy.deepcopy(spec['backbone']))) // 2


def regulated_cfg(spec: dict, variant: str, checkpoint: str,
                  channels_last: bool) -> dict:
    """The model config of ``variant`` (``MODE[:cache][:share]``)."""
    mode, *flags = variant.split(':')
    if mode not in matrix.MODES or set(flags) - {'cache', 'share'}:
        raise ValueError(f'Unknown variant {variant!r}: MODE[:cache][:share]'
                         f' with MODE in {", ".join(matrix.MODES)}.')
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


def state_tensors(model, optim_wrapper, data) -> list:
    """The distinct tensors alive at a step's start."""
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

    def __init__(self, name: str, model, settings: Settings, data: dict):
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import init_default_scope
        self.name, self.model, self.data = name, model, data
        self.device = settings.device
        init_default_scope('mmpretrain')
        optim = dict(constructor='TrainableParamsOptimWrapperConstructor',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                                    weight_decay=5e-4))
        amp = settings.amp
        if amp != 'none' and self.device == 'cuda':
            optim.update(type='AmpOptimWrapper', dtype=AMP[amp])
        self.optim_wrapper = build_optim_wrapper(model, optim)
        self.autocast = (lambda: torch.autocast(
            self.device, dtype=getattr(torch, AMP[amp]))) \
            if amp != 'none' and self.device == 'cpu' else nullcontext
        self.train_step, self.val_step = model.train_step, model.val_step
        if settings.compile:
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

    def time(self, kind: str, iters: int):
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


def make_data(settings: Settings) -> dict:
    """A seeded batch of random images and labels."""
    from mmpretrain.structures import DataSample
    gen, n, size = torch.Generator().manual_seed(0), settings.batch_size, \
        settings.img_size
    inputs = torch.randn(n, 3, size, size, generator=gen).to(settings.device)
    labels = torch.randint(NUM_CLASSES, (n, ), generator=gen)
    samples = [DataSample(metainfo=dict(sample_idx=i)).set_gt_label(int(y))
               for i, y in enumerate(labels)]
    if settings.channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return dict(inputs=inputs, data_samples=samples)


def build_benches(backbone: str, variants: List[str], settings: Settings,
                  workdir: str) -> List[Bench]:
    """The plain model, then one :class:`Bench` per variant."""
    from mmpretrain.registry import MODELS
    spec = backbone_spec(backbone, settings.img_size)
    data = make_data(settings)
    checkpoint = osp.join(workdir, 'stage1.pth')
    write_stage1(spec, checkpoint)

    def build(cfg):
        model = MODELS.build(cfg)
        model.init_weights()
        model = model.to(settings.device)
        if settings.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    benches = [Bench('plain', build(_classifier(spec, NUM_CLASSES)),
                     settings, data)]
    for variant in variants:
        cfg = regulated_cfg(spec, variant, checkpoint, settings.channels_last)
        benches.append(Bench(variant, build(cfg), settings, data))
    return benches


def measure(benches: List[Bench], settings: Settings) -> dict:
    """Warm up, time in interleaved rounds, then measure memory;
    ``{(variant, kind): [ratio per round]}``."""
    kinds = ['train'] + (['infer'] if settings.infer else [])
    for bench in benches:  # warm-up (and the cache's fill)
        for _ in range(settings.warmup):
            for kind in kinds:
                (bench.run_train if kind == 'train' else bench.run_infer)()
    # Each round: plain, v1, plain, v2, ..., plain (order of the variants
    # rotated per round); a variant's ratio divides its time by the mean of
    # the two plain steps around it, so a load change on the shared machine
    # affects both sides of a ratio.
    plain, variants = benches[0], benches[1:]
    ratios = {(b.name, k): [] for b in variants for k in kinds}
    for rep in range(settings.reps):
        shift = rep % len(variants)
        for kind in kinds:
            plain.time(kind, settings.iters)
            for bench in variants[shift:] + variants[:shift]:
                before = plain.times[kind][-1]
                bench.time(kind, settings.iters)
                plain.time(kind, settings.iters)
                ratios[bench.name, kind].append(
                    bench.times[kind][-1] /
                    ((before + plain.times[kind][-1]) / 2))
    if settings.memory and not settings.compile:
        for bench in benches:
            bench.measure_memory()
    return ratios


def fmt_ratio(values: List[float]) -> str:
    return (f'{statistics.median(values):5.2f}x '
            f'[{min(values):.2f}-{max(values):.2f}]')


def report(backbone: str, benches: List[Bench], ratios: dict,
           settings: Settings) -> Tuple[str, ...]:
    """The lines of the table: settings, header, one row per model."""
    kinds = ['train'] + (['infer'] if settings.infer else [])
    plain = benches[0]
    lines = [f'backbone={backbone} device={settings.device} '
             f'threads={torch.get_num_threads()} '
             f'batch={settings.batch_size} img={settings.img_size} '
             f'amp={settings.amp} channels_last={settings.channels_last} '
             f'compile={settings.compile} reps={settings.reps} '
             f'iters={settings.iters} torch={torch.__version__}']
    header = f'{"model":26s}'
    for kind in kinds:
        header += f' | {kind + " ms":>9s} {"ratio [min-max]":>18s}'
    if plain.memory:
        for kind in kinds:
            header += f' | {"peak MB " + kind:>14s} {"ratio":>6s}'
    lines.append(header)
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
        lines.append(line)
    return tuple(lines)


def run(backbone: str, variants: List[str], settings: Settings,
        print_fn=print) -> Tuple[str, ...]:
    """Measure ``variants`` of ``backbone`` against the plain model and
    print the table (also returned).

    Args:
        backbone (str): A backbone of the matrix (any preset's) or a
            stage-2 config (its ``model.backbone.backbone`` / ``neck`` /
            ``in_channels``; the stage-1 checkpoint is a random one).
        variants (list[str]): ``MODE[:cache][:share]`` each.
        settings (Settings): What to measure and how.
        print_fn: Where the lines go.

    Returns:
        tuple: The lines, and with ``settings.figures`` the record of
        :func:`absolute_figures` (else None).
    """
    from mmengine.logging import MMLogger

    from .utils import register_all_modules
    register_all_modules(init_default_scope=False)
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)
    torch.set_num_threads(settings.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as workdir:
        benches = build_benches(backbone, variants, settings, workdir)
        ratios = measure(benches, settings)
        lines = report(backbone, benches, ratios, settings)
        if settings.figures:
            result = absolute_figures(benches, ratios, settings)
            lines += figure_lines(result)
    for line in lines:
        print_fn(line, flush=True)
    return (lines, result) if settings.figures else (lines, None)


def absolute_figures(benches: List[Bench], ratios: dict,
                     settings: Settings) -> dict:
    """The JSON record: settings, device, per model images/s, FLOPs, MFU,
    peak memory, ratio to plain and dtypes, and the input path."""
    from . import throughput
    device, peak = throughput.peak_tflops(settings.device,
                                          settings.peak_tflops)
    models = throughput.figures(benches, settings, peak)
    for row in models:
        row['train_ratio'] = statistics.median(
            ratios.get((row['model'], 'train'), [1.]))
    return dict(settings=settings._asdict(), device=device,
                bf16_peak_tflops=peak, torch=torch.__version__,
                models=models, input_path=throughput.input_path())


def figure_lines(result: dict) -> Tuple[str, ...]:
    """The absolute figures as lines under the ratios' table."""
    lines = [f'device={result["device"]} '
             f'bf16_peak_tflops={result["bf16_peak_tflops"]}',
             f'{"model":26s} | {"images/s":>9s} | {"GFLOP/img":>9s} | '
             f'{"MFU":>6s} | {"rho dtype":>14s} | loss dtype']
    for row in result['models']:
        mfu = f'{row["mfu"]:6.1%}' if row['mfu'] is not None else '     -'
        lines.append(
            f'{row["model"]:26s} | {row["images_per_s"]:9.1f} | '
            f'{row["gflops_per_image"]:9.3f} | {mfu} | '
            f'{str(row["dtypes"]["rho"]):>14s} | {row["dtypes"]["loss"]}')
    path = result['input_path']
    lines.append(f'input path ({path["pipeline"]} train_pipeline, one '
                 f'worker): {path["images_per_s_per_worker"]:.0f} images/s, '
                 f'{path["bytes_per_image"] / 1024:.0f} KiB an image')
    return tuple(lines)
