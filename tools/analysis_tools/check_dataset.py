"""Check the datasets a config describes before a long run.

Counts per class and split; missing, unreadable and corrupt images;
content duplicated across splits; notes on what the datasets themselves
left out (:mod:`emoreg_mm.datasets.checks`). Exit code 0 when no problem is
found, 1 otherwise (a dataset that fails to build counts as a problem, with
its error).

Example::

    python tools/analysis_tools/check_dataset.py CONFIG [--split train val]
"""
import argparse
import sys
from typing import List, Optional

from emoreg_mm.cli import ConfigKeyError
from emoreg_mm.datasets.checks import SPLITS, check_datasets, load_config
from emoreg_mm.utils import register_all_modules


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Check the datasets of a config: counts per class and '
        'split, missing / unreadable / corrupt images, duplicates across '
        'splits. Exits 1 on problems.')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--split', nargs='+', choices=SPLITS, default=list(SPLITS),
        help='which dataloaders to check (default: all the config has)')
    parser.add_argument(
        '--no-decode', action='store_true',
        help='only check that images exist and are readable (faster)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, as in tools/train.py (key=value; '
        'each dotted key must exist in the config, a typo fails naming the '
        'closest)')
    parser.add_argument(
        '--write-exclude', metavar='FILE',
        help='write the images found missing, unreadable or corrupt to FILE '
        '(one path per line): an affective dataset given '
        'exclude_file=FILE leaves them out, reported')
    parser.add_argument(
        '--data-root', metavar='PATH',
        help='the data folder of the train, val and test datasets instead of '
        'the config\'s, as in tools/train.py')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    try:
        cfg = load_config(args.config, args.cfg_options, args.data_root)
    except ConfigKeyError as err:
        sys.exit(f'check_dataset.py: error: {err}')
    problems = check_datasets(cfg, args.split, decode=not args.no_decode,
                              exclude_file=args.write_exclude)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
