"""Speed and memory of the regulated model against the plain classifier.

Usage::

    python tools/analysis_tools/benchmark.py BACKBONE \
        [--variants baseline e-infl ereg learn-ereg learn-ereg:cache \
                    learn-ereg:share learn-ereg:share:cache] \
        [--batch-size 32] [--img-size 32] [--reps 5] [--warmup 2] \
        [--threads 2] [--device cpu|cuda] [--amp none|bf16|fp16] \
        [--channels-last] [--compile] [--no-memory] [--no-infer] \
        [--peak-tflops TFLOPS] [--no-figures] [--json OUT.json] [--smoke]

On a GPU, e.g. ResNet-50 and ViT-B/16 at 224 px in bf16 (a few minutes)::

    python tools/analysis_tools/benchmark.py resnet50 --device cuda \
        --amp bf16 --img-size 224 --batch-size 64 --threads 8 \
        --variants baseline learn-ereg learn-ereg:cache learn-ereg:share \
                   learn-ereg:share:cache --json resnet50.json

BACKBONE is a backbone of the matrix (``resnet50``, ``vit-b16``,
``resnet18-cifar``, the demo's ``tiny-resnet``: its stage-2 model piece is
used) or a stage-2 config (its ``model.backbone.backbone`` / ``neck`` /
``in_channels``); the stage-1 checkpoint is a random one, weights do not
matter for speed. A variant is ``MODE[:cache][:share]`` (default: every
mode, and learn-ereg with the affect cache and the shared frozen prefix).
Training step: ``model.train_step``; inference step: ``model.val_step``
under ``torch.no_grad``. The measurement: :mod:`emoreg_mm.benchmark`.
Below the ratios: images/s, FLOPs per image, MFU (against the device's
dense bf16 peak, looked up by name or ``--peak-tflops``), the loss path's
dtypes and the input path's images/s per data worker
(:mod:`emoreg_mm.throughput`); ``--json`` writes them. ``--smoke`` runs
the whole tool on the CPU in seconds (the demo's tiny ResNet, batch 2).
"""
import argparse
import json
import sys

from emoreg_mm import benchmark


#: The arguments --smoke stands for (those given after it win).
SMOKE = ['tiny-resnet', '--device', 'cpu', '--batch-size', '2', '--reps',
         '1', '--warmup', '1', '--threads', '1', '--variants', 'baseline',
         'learn-ereg', 'learn-ereg:cache']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('backbone', nargs='?',
                        help='backbone name or stage-2 config')
    parser.add_argument('--variants', nargs='+',
                        default=list(benchmark.DEFAULT_VARIANTS))
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--img-size', type=int, default=32)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--iters', type=int, default=1,
                        help='steps per model per round')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', help='default: cuda where available, '
                        'else cpu')
    parser.add_argument('--amp', choices=['none', 'bf16', 'fp16'],
                        default='none')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--compile', action='store_true')
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--no-infer', action='store_true')
    parser.add_argument('--peak-tflops', type=float,
                        help="the device's dense bf16 peak (default: by "
                        'its name, for the GPUs emoreg_mm.throughput lists)')
    parser.add_argument('--no-figures', action='store_true',
                        help='ratios only')
    parser.add_argument('--json', help='write the figures to this file')
    parser.add_argument('--smoke', action='store_true',
                        help='a few seconds on the CPU: ' + ' '.join(SMOKE))
    args = parser.parse_args(argv)
    if args.smoke:
        args = parser.parse_args(SMOKE + [a for a in argv or sys.argv[1:]
                                          if a != '--smoke'])
    if args.backbone is None:
        parser.error('the backbone is required (or --smoke)')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device is None:
        import torch
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    settings = benchmark.Settings(
        batch_size=args.batch_size, img_size=args.img_size, reps=args.reps,
        iters=args.iters, warmup=args.warmup, threads=args.threads,
        device=args.device, amp=args.amp, channels_last=args.channels_last,
        compile=args.compile, memory=not args.no_memory,
        infer=not args.no_infer, figures=not args.no_figures,
        peak_tflops=args.peak_tflops)
    try:
        _, result = benchmark.run(args.backbone, args.variants, settings)
    except ValueError as err:
        print(f'benchmark.py: error: {err}', file=sys.stderr)
        return 2
    if args.json and result is not None:
        with open(args.json, 'w') as f:
            json.dump(dict(result, backbone=args.backbone), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
