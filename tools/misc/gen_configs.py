"""Write the leaf configs of the experiment matrix from the ``_base_`` pieces.

Usage: ``python tools/misc/gen_configs.py [--check] [--root DIR]``

The leaves of every preset of ``emoreg_mm/matrix.py`` (the paper's
``configs/emoreg_pretrain`` and ``configs/emoreg``, the demo's
``configs/demo``) are written by :mod:`emoreg_mm.leaf_configs`; ``--check``
writes nothing and fails when a leaf on disk differs from what would be
written, or when a leaf folder holds a config the matrix does not name
(the test suite runs it), so the leaves never drift apart.
"""
import argparse
import os.path as osp
import sys

from emoreg_mm.leaf_configs import sync

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='only report leaves that differ or are missing')
    parser.add_argument('--root', default=ROOT,
                        help='the checkout (default: this one)')
    args = parser.parse_args(argv)
    result = sync(args.root, check=args.check)
    if args.check:
        if result.stale or result.extra:
            print('Leaf configs out of date (run python tools/misc/'
                  f'gen_configs.py): differ or missing: {result.stale}; '
                  f'not in the matrix: {result.extra}', file=sys.stderr)
            return 1
        print(f'{result.expected} leaf configs up to date.')
    else:
        print(f'Wrote {len(result.stale)} of {result.expected} leaf '
              'configs.' + (f' Not in the matrix (left as they are): '
                            f'{result.extra}' if result.extra else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
