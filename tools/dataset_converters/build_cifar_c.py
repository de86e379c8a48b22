"""Re-create CIFAR-10-C / CIFAR-100-C from the CIFAR test set.

Writes the layout of the official files (Hendrycks & Dietterich, ICLR
2019), which :class:`emoreg_mm.datasets.CIFAR10C` reads, with the
CIFAR-specific constants of the published generator (``--parameters
cifar``, the default) or imagecorruptions' ImageNet-C ones (``--parameters
imagenet``): a re-creation, not the official files
(:mod:`emoreg_mm.datasets.builders.cifar_c` says how they differ).

Usage::

    python tools/dataset_converters/build_cifar_c.py --cifar-root DIR \
        --out DIR [--dataset cifar10|cifar100] [--corruptions ...] \
        [--severities 1 2 3 4 5] [--num-images N] [--seed 0] \
        [--parameters cifar|imagenet]

``--cifar-root`` is the folder mmpretrain's ``CIFAR10`` / ``CIFAR100``
reads (``cifar-10-batches-py`` / ``cifar-100-python`` in it). The first
``--num-images`` test images (default: all 10,000) are corrupted;
``--workers N`` builds N corruptions at once (for all 19 corruptions x 5
severities, about 0.1 s of CPU per image with ``cifar``, 2 s with
``imagenet``; glass_blur the most of it). Severities
left out by ``--severities`` are written as black images and recorded as
not built in ``build.json``; the reader refuses them. A run again with the
same settings skips the corruptions already written.

Needs the ``corruptions`` extra: ``pip install -e ".[corruptions]"``.
"""
import argparse
import sys
from typing import List, Optional

from emoreg_mm.datasets.builders import BuildError
from emoreg_mm.datasets.builders.cifar_c import (PARAMETERS, SOURCES,
                                                 build_cifar_c,
                                                 check_request)
from emoreg_mm.evaluation.robustness import ALL_CORRUPTIONS, SEVERITIES
from emoreg_mm.utils import register_all_modules


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Re-create CIFAR-10-C / CIFAR-100-C from the CIFAR test '
        'set, in the layout of the official files.')
    p.add_argument('--cifar-root', required=True,
                   help='folder holding cifar-10-batches-py (or '
                   'cifar-100-python)')
    p.add_argument('--out', required=True, help='output folder, e.g. '
                   'data/CIFAR-10-C')
    p.add_argument('--dataset', choices=tuple(SOURCES), default='cifar10')
    p.add_argument('--corruptions', nargs='+', default=list(ALL_CORRUPTIONS),
                   metavar='NAME', help='default: all 19')
    p.add_argument('--severities', nargs='+', type=int,
                   default=list(SEVERITIES), help='default: 1 to 5')
    p.add_argument('--num-images', type=int, default=None,
                   help='the first N test images (default: all)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--workers', type=int, default=1,
                   help='corruptions built at once, one process each')
    p.add_argument('--parameters', choices=tuple(PARAMETERS),
                   default='cifar', help='cifar: the constants of the '
                   'published CIFAR generator (default); imagenet: '
                   'imagecorruptions, ImageNet-C constants')
    args = p.parse_args(argv)
    try:
        args.corruptions, args.severities = check_request(
            args.corruptions, args.severities, args.num_images, args.workers)
    except ValueError as err:
        p.error(str(err))
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    try:
        s = build_cifar_c(**vars(args))
    except (BuildError, FileNotFoundError, ValueError) as e:
        print(f'[build_cifar_c] error: {e}', file=sys.stderr, flush=True)
        return 1
    print(f"[build_cifar_c] {len(s['built'])} corruption(s) built, "
          f"{len(s['skipped'])} already done, {s['images']} images per "
          f"severity, in {s['out']} (a re-creation: see README.txt there).",
          flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
