"""Check the datasets a config describes before a long run.

For each of the config's ``train`` / ``val`` / ``test`` dataloaders the
dataset is built as the config says (without its pipeline), then:

* counts per class and split are printed;
* every image is read and decoded: missing, unreadable and corrupt images
  are listed;
* files are hashed (SHA-1 of the bytes; of the pixels for in-memory sets
  such as CIFAR): content duplicated across splits is listed (duplicates
  within a split are only reported). Splits built from an identical
  dataset config (a common ``val = test``) are not compared;
* what the dataset itself left out while building, as its config allows
  (the affective sets' ``skipped``: images the download lacks, invalid or
  placeholder files, tied votes, labels without a class in the label
  space), is listed per reason as a note.

Exit code 0 when no problem is found, 1 otherwise (a dataset that fails to
build counts as a problem, with its error).

Example::

    python tools/analysis_tools/check_dataset.py CONFIG [--split train val]
"""
import argparse
import copy
import hashlib
import os.path as osp
import sys
from collections import Counter, defaultdict
from typing import Dict, List, Optional

SPLITS = ('train', 'val', 'test')
MAX_LISTED = 20


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
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
        '--cfg-options', nargs='+', default=None,
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


def load_config(path: str, options: Optional[List[str]],
                data_root: Optional[str] = None):
    """The config with ``--cfg-options`` (checked as tools/train.py checks
    them) and ``--data-root`` applied; a bad key exits naming it."""
    from mmengine.config import Config, DictAction

    import emoreg_mm  # noqa: F401  (`emoreg_mm::` config paths)
    from emoreg_mm.engine.runner import (ConfigKeyError, check_cfg_options,
                                         set_data_root)
    cfg = Config.fromfile(path)
    try:
        if options:
            action = DictAction(option_strings=[], dest='cfg_options')
            ns = argparse.Namespace()
            action(None, ns, options)
            check_cfg_options(cfg, ns.cfg_options)
            cfg.merge_from_dict(ns.cfg_options)
        set_data_root(cfg, data_root)
    except ConfigKeyError as err:
        sys.exit(f'check_dataset.py: error: {err}')
    return cfg


def strip_pipelines(cfg):
    """A copy of a dataset config without pipelines (wrappers included)."""
    cfg = copy.deepcopy(cfg)
    if isinstance(cfg, dict):
        if 'pipeline' in cfg:
            cfg['pipeline'] = []
        for key in ('dataset', ):
            if key in cfg:
                cfg[key] = strip_pipelines(cfg[key])
        if 'datasets' in cfg:
            cfg['datasets'] = [strip_pipelines(d) for d in cfg['datasets']]
    return cfg


def leaf_datasets(dataset) -> list:
    """The datasets inside wrappers (Concat, Repeat, ClassBalanced...)."""
    if hasattr(dataset, 'datasets'):
        return [d for ds in dataset.datasets for d in leaf_datasets(ds)]
    if hasattr(dataset, 'dataset'):
        return leaf_datasets(dataset.dataset)
    return [dataset]


def read_sample(info: dict, decode: bool):
    """``(key, hash, problem)`` of one data info; problem None when fine."""
    import numpy as np
    if 'img' in info and info['img'] is not None:
        arr = np.ascontiguousarray(info['img'])
        return 'in-memory image', hashlib.sha1(arr.tobytes()).hexdigest(), None
    path = info.get('img_path')
    if not path:
        return '?', None, 'data info without img_path or img'
    if not osp.isfile(path):
        return path, None, 'missing'
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        return path, None, f'unreadable ({e})'
    digest = hashlib.sha1(data).hexdigest()
    if decode:
        from emoreg_mm.datasets.file_checks import image_decode_problem
        problem = image_decode_problem(data)
        if problem:
            return path, digest, problem
    return path, digest, None


def check_split(dataset, decode: bool, bad_paths: Optional[list] = None):
    """Counts per class, problems and ``{hash: [keys]}`` of one split;
    the paths of the images with a problem are added to ``bad_paths``."""
    bad_paths = [] if bad_paths is None else bad_paths
    counts: Counter = Counter()
    problems: List[str] = []
    hashes: Dict[str, List[str]] = defaultdict(list)
    classes = None
    for ds in leaf_datasets(dataset):
        classes = classes or getattr(ds, 'metainfo', {}).get('classes')
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            if 'gt_label' in info:
                counts[int(info['gt_label'])] += 1
            key, digest, problem = read_sample(info, decode)
            if problem:
                problems.append(f'{key}: {problem}')
                if info.get('img_path'):
                    bad_paths.append(osp.abspath(info['img_path']))
            if digest:
                hashes[digest].append(key if key != 'in-memory image' else
                                      f'sample {i}')
    return classes, counts, problems, hashes


def write_exclude(path: str, bad_paths: List[str]) -> None:
    """Write the exclude file and say how a run leaves them out."""
    from emoreg_mm.fileio import atomic_write_text
    paths = sorted(set(bad_paths))
    atomic_write_text(path, '# images check_dataset.py could not read or '
                      'decode\n' + ''.join(f'{p}\n' for p in paths))
    print(f'\nwrote {len(paths)} image path(s) to {path}. To leave them '
          'out of a run: tools/train.py CONFIG --exclude-file '
          f'{path} (each affective dataset reports what it leaves out).')


def print_skipped(split: str, dataset) -> None:
    """Notes on what the (affective) datasets left out while building."""
    for ds in leaf_datasets(dataset):
        for reason, names in getattr(ds, 'skipped', {}).items():
            print(f'[{split}] note: {type(ds).__name__} left out '
                  f'{len(names)} file(s) ({reason}):' + listed(names))


def print_counts(results: dict) -> None:
    names = list(results)
    classes = next((r[0] for r in results.values() if r[0]), None)
    labels = sorted({k for r in results.values() for k in r[1]})
    width = max([len(str(c)) for c in (classes or [])] + [8])
    print('\nSamples per class and split:')
    print(f'  {"class":<{width}}  ' + '  '.join(f'{n:>7}' for n in names))
    for label in labels:
        name = classes[label] if classes and label < len(classes) else label
        print(f'  {str(name):<{width}}  ' + '  '.join(
            f'{results[n][1].get(label, 0):>7}' for n in names))
    print(f'  {"total":<{width}}  ' + '  '.join(
        f'{sum(results[n][1].values()):>7}' for n in names))


def listed(items: List[str]) -> str:
    more = (f'\n    ... and {len(items) - MAX_LISTED} more'
            if len(items) > MAX_LISTED else '')
    return '\n    ' + '\n    '.join(items[:MAX_LISTED]) + more


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    cfg = load_config(args.config, args.cfg_options, args.data_root)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg['custom_imports'])
    import emoreg_mm  # noqa: F401  (registers the affective datasets)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmpretrain.registry import DATASETS

    problems: List[str] = []
    results, dataset_cfgs, bad_paths = {}, {}, []
    for split in args.split:
        loader = cfg.get(f'{split}_dataloader')
        if not loader or not loader.get('dataset'):
            continue
        ds_cfg = strip_pipelines(loader['dataset'])
        same = [s for s, c in dataset_cfgs.items() if c == ds_cfg]
        if same:  # e.g. val = test: counted, not checked twice
            results[split], dataset_cfgs[split] = results[same[0]], ds_cfg
            continue
        print(f'[{split}] building {ds_cfg.get("type")} ...')
        try:
            dataset = DATASETS.build(ds_cfg)
        except Exception as e:
            problems.append(f'[{split}] the dataset cannot be built: '
                            f'{type(e).__name__}: {e}')
            continue
        print_skipped(split, dataset)
        results[split] = check_split(dataset, not args.no_decode, bad_paths)
        dataset_cfgs[split] = ds_cfg
        for p in results[split][2]:
            problems.append(f'[{split}] {p}')
        within = [v for v in results[split][3].values() if len(v) > 1]
        if within:
            print(f'[{split}] note: {len(within)} groups of identical files '
                  f'within the split:' +
                  listed([' = '.join(v) for v in within]))
    if not results and not problems:
        problems.append(f'no {"/".join(args.split)} dataloader dataset in '
                        f'{args.config}')

    names = list(results)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            sa, sb = names[a], names[b]
            if dataset_cfgs[sa] == dataset_cfgs[sb]:
                print(f'note: {sb} uses the same dataset config as {sa}; '
                      'not compared for duplicates')
                continue
            ha, hb = results[sa][3], results[sb][3]
            for digest in sorted(set(ha) & set(hb)):
                problems.append(
                    f'duplicate across {sa}/{sb}: {ha[digest][0]} = '
                    f'{hb[digest][0]}')

    if results:
        print_counts(results)
    if args.write_exclude:
        write_exclude(args.write_exclude, bad_paths)
    if problems:
        print(f'\n{len(problems)} problem(s) found:' + listed(problems))
        return 1
    print('\nNo problems found.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
