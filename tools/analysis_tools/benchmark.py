"""Speed and memory of the regulated model against the plain classifier.

Usage::

    python tools/analysis_tools/benchmark.py BACKBONE \
        [--variants baseline e-infl ereg learn-ereg learn-ereg:cache \
                    learn-ereg:share learn-ereg:share:cache] \
        [--batch-size 32] [--img-size 32] [--reps 5] [--warmup 2] \
        [--threads 2] [--device cpu|cuda] [--amp none|bf16|fp16] \
        [--channels-last] [--compile] [--no-memory] [--no-infer]

BACKBONE is a backbone of the matrix (``resnet50``, ``vit-b16``,
``resnet18-cifar``, the demo's ``tiny-resnet``: its stage-2 model piece is
used) or a stage-2 config (its ``model.backbone.backbone`` / ``neck`` /
``in_channels``); the stage-1 checkpoint is a random one, weights do not
matter for speed. A variant is ``MODE[:cache][:share]`` (default: every
mode, and learn-ereg with the affect cache and the shared frozen prefix).
Training step: ``model.train_step``; inference step: ``model.val_step``
under ``torch.no_grad``. The measurement: :mod:`emoreg_mm.benchmark`.
"""
import argparse
import sys

from emoreg_mm import benchmark


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('backbone', help='backbone name or stage-2 config')
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
    return parser.parse_args(argv)


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
        infer=not args.no_infer)
    try:
        benchmark.run(args.backbone, args.variants, settings)
    except ValueError as err:
        print(f'benchmark.py: error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
