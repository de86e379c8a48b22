"""Run mmengine's and mmpretrain's own tests without and with emoreg_mm.

Each chosen upstream test module runs twice in a fresh copy of the tests,
plain and with the plugin imported first, with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` unset and/or set (``--torch-env``);
every test whose outcome differs is printed, with the reason where the
difference is a listed deliberate one (``KNOWN`` in
:mod:`emoreg_mm.upstream_contracts`, the table in docs/advanced.md).

    python tools/misc/upstream_contracts.py \\
        --mmengine-tests ~/src/mmengine --mmpretrain-tests ~/src/mmpretrain

The tests come from ``--mmengine-tests DIR`` / ``--mmpretrain-tests DIR``
(a checkout at the installed version's tag, e.g. ``git clone --depth 1
--branch v0.10.7 https://github.com/open-mmlab/mmengine``, or its
``tests/`` folder); without a folder the sdist of the installed version is
fetched with pip into ``--cache-dir`` (mmengine 0.10.7's and mmpretrain
1.2.0's ship without ``tests/``: then the tool says to give a checkout).
Upstream's test requirements (mmengine's ``parameterized``, ...) must be
importable; a module that cannot be collected counts as an error in both
runs.

Exit status: 1 when the plugin makes a test fail that passes (or is
skipped) without it and the difference is not listed; 2 on bad input; 0
otherwise (fixes and listed differences included).
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

from emoreg_mm import upstream_contracts as uc

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for package in uc.DEFAULT_MODULES:
        parser.add_argument(
            f'--{package}-tests', metavar='DIR',
            help=f'a {package} checkout at the installed version (or its '
            'tests/ folder); default: the sdist, when it has tests/')
        parser.add_argument(
            f'--{package}-modules', nargs='*', metavar='PATH',
            help='test files / folders / node ids under the checkout '
            '(default: '
            f'{" ".join(uc.DEFAULT_MODULES[package])}); none: skip {package}')
    parser.add_argument(
        '--torch-env', choices=('unset', 'set', 'both'), default='unset',
        help=f'run with {uc.ENV} unset, set to 1, or both (default: unset)')
    parser.add_argument('--plugin', default='emoreg_mm',
                        help='the module imported first (default: emoreg_mm)')
    parser.add_argument(
        '--work-dir', help='where the copies, junit files and logs go '
        '(default: a new temporary folder)')
    parser.add_argument('--cache-dir', default=uc.CACHE_DIR,
                        help='where fetched sdists are kept')
    parser.add_argument('--timeout', type=float, default=3600,
                        help='seconds per pytest run (default: 3600)')
    parser.add_argument('--out', help='also write the tables to this file')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    work = args.work_dir or tempfile.mkdtemp(prefix='upstream_contracts_')
    if osp.abspath(work).startswith(ROOT + os.sep):
        uc.fail(f'--work-dir {work}: choose a folder outside the '
                'repository (its pytest config and conftest would apply to '
                'upstream tests)')
    suites = [uc.Suite(package, getattr(args, f'{package}_tests'),
                       getattr(args, f'{package}_modules'))
              for package in uc.DEFAULT_MODULES]
    envs = ['unset', 'set'] if args.torch_env == 'both' else [args.torch_env]
    return uc.run(suites, work, envs, plugin=args.plugin,
                  cache_dir=args.cache_dir, timeout=args.timeout,
                  out=args.out)


if __name__ == '__main__':
    sys.exit(main())
