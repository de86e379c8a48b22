"""Write the mim metafiles and ``model-index.yml`` from the config tree.

Every leaf config (``configs/<collection>/*.py``, not ``_base_``) gets one
entry in ``configs/<collection>/metafile.yml``: its name, its path and the
metadata its name gives in the matrix (:mod:`emoreg_mm.metafiles`).

    python tools/misc/gen_metafiles.py           # rewrite the files
    python tools/misc/gen_metafiles.py --check   # exit 1 when out of date

``tests/test_packaging/test_metafiles.py`` runs the check.
"""
import argparse
import os.path as osp
import sys

from emoreg_mm.metafiles import outdated, write

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=ROOT, help='repository root')
    parser.add_argument(
        '--check', action='store_true',
        help='write nothing; exit 1 when a file is out of date')
    args = parser.parse_args(argv)
    if args.check:
        stale = outdated(args.root)
        for rel in stale:
            print(f'out of date: {rel}')
        if stale:
            print('run: python tools/misc/gen_metafiles.py')
        return 1 if stale else 0
    for rel in write(args.root):
        print(f'wrote {rel}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
