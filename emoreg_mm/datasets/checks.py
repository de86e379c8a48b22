"""Check the datasets a config describes before a long run
(``tools/analysis_tools/check_dataset.py``).

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

A dataset that fails to build counts as a problem, with its error.

Example::

    from emoreg_mm.datasets.checks import check_datasets, load_config
    from emoreg_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    problems = check_datasets(load_config('configs/.../my_config.py'))
"""
import copy
import hashlib
import os.path as osp
from collections import Counter, defaultdict
from typing import Dict, List, NamedTuple, Optional, Sequence

from .file_checks import MAX_LISTED, image_decode_problem

SPLITS = ('train', 'val', 'test')


class SplitReport(NamedTuple):
    """What :func:`check_split` found in one split."""
    classes: Optional[Sequence[str]]
    counts: Counter  # {label: images}
    problems: List[str]
    hashes: Dict[str, List[str]]  # {content hash: [images]}


def load_config(path: str, cfg_options: Optional[dict] = None,
                data_root: Optional[str] = None):
    """The config with ``cfg_options`` (checked as tools/train.py checks
    them) and ``data_root`` (of the train, val and test datasets) applied.

    Raises:
        ConfigKeyError: A key of ``cfg_options`` the config does not have,
            or no dataset to give ``data_root``; the message names it.
    """
    from mmengine.config import Config

    from ..cli import check_cfg_options, set_data_root
    cfg = Config.fromfile(path)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    set_data_root(cfg, data_root)
    return cfg


def strip_pipelines(cfg):
    """A copy of a dataset config without pipelines (wrappers included)."""
    cfg = copy.deepcopy(cfg)
    if isinstance(cfg, dict):
        if 'pipeline' in cfg:
            cfg['pipeline'] = []
        if 'dataset' in cfg:
            cfg['dataset'] = strip_pipelines(cfg['dataset'])
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


def read_sample(info: dict, decode: bool) -> tuple:
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
        problem = image_decode_problem(data)
        if problem:
            return path, digest, problem
    return path, digest, None


def check_split(dataset, decode: bool,
                bad_paths: Optional[list] = None) -> SplitReport:
    """Counts per class, problems and content hashes of one split; the
    paths of the images with a problem are added to ``bad_paths``."""
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
    return SplitReport(classes, counts, problems, hashes)


def check_datasets(cfg,
                   splits: Sequence[str] = SPLITS,
                   decode: bool = True,
                   exclude_file: Optional[str] = None) -> List[str]:
    """Check the datasets of ``cfg``'s ``splits`` dataloaders, printing the
    counts per class and split and notes on what the datasets left out.

    The plugin's components must be registered
    (:func:`emoreg_mm.utils.register_all_modules`); the config's
    ``custom_imports`` are imported and its ``default_scope`` is used.

    Args:
        cfg (Config): The config (:func:`load_config`).
        splits (Sequence[str]): Which dataloaders to check; those the
            config lacks are passed over. Defaults to all three.
        decode (bool): Decode each image, not only read it. Defaults to
            True.
        exclude_file (str, optional): Write the images found missing,
            unreadable or corrupt there (:func:`write_exclude`).

    Returns:
        list[str]: The problems found (printed too); empty when none.
    """
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    from mmpretrain.registry import DATASETS
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg['custom_imports'])
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))

    problems: List[str] = []
    results: Dict[str, SplitReport] = {}
    dataset_cfgs, bad_paths = {}, []
    for split in splits:
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
        results[split] = check_split(dataset, decode, bad_paths)
        dataset_cfgs[split] = ds_cfg
        problems += [f'[{split}] {p}' for p in results[split].problems]
        within = [v for v in results[split].hashes.values() if len(v) > 1]
        if within:
            print(f'[{split}] note: {len(within)} groups of identical files '
                  f'within the split:' +
                  listed([' = '.join(v) for v in within]))
    if not results and not problems:
        problems.append(f'no {"/".join(splits)} dataloader dataset in '
                        f'{cfg.filename}')
    problems += duplicates_across(results, dataset_cfgs)
    if results:
        print_counts(results)
    if exclude_file:
        write_exclude(exclude_file, bad_paths)
    if problems:
        print(f'\n{len(problems)} problem(s) found:' + listed(problems))
    else:
        print('\nNo problems found.')
    return problems


def duplicates_across(results: Dict[str, SplitReport],
                      dataset_cfgs: Dict[str, dict]) -> List[str]:
    """The files whose content is in two splits, as problems; splits of
    one dataset config are not compared (a note says so)."""
    problems, names = [], list(results)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            sa, sb = names[a], names[b]
            if dataset_cfgs[sa] == dataset_cfgs[sb]:
                print(f'note: {sb} uses the same dataset config as {sa}; '
                      'not compared for duplicates')
                continue
            ha, hb = results[sa].hashes, results[sb].hashes
            for digest in sorted(set(ha) & set(hb)):
                problems.append(
                    f'duplicate across {sa}/{sb}: {ha[digest][0]} = '
                    f'{hb[digest][0]}')
    return problems


def write_exclude(path: str, bad_paths: List[str]) -> None:
    """Write the exclude file and say how a run leaves them out."""
    from ..fileio import atomic_write_text
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


def print_counts(results: Dict[str, SplitReport]) -> None:
    """The table of images per class (rows) and split (columns)."""
    names = list(results)
    classes = next((r.classes for r in results.values() if r.classes), None)
    labels = sorted({k for r in results.values() for k in r.counts})
    width = max([len(str(c)) for c in (classes or [])] + [8])
    print('\nSamples per class and split:')
    print(f'  {"class":<{width}}  ' + '  '.join(f'{n:>7}' for n in names))
    for label in labels:
        name = classes[label] if classes and label < len(classes) else label
        print(f'  {str(name):<{width}}  ' + '  '.join(
            f'{results[n].counts.get(label, 0):>7}' for n in names))
    print(f'  {"total":<{width}}  ' + '  '.join(
        f'{sum(results[n].counts.values()):>7}' for n in names))


def listed(items: List[str]) -> str:
    """``items`` one per line, indented; at most :data:`MAX_LISTED`."""
    more = (f'\n    ... and {len(items) - MAX_LISTED} more'
            if len(items) > MAX_LISTED else '')
    return '\n    ' + '\n    '.join(items[:MAX_LISTED]) + more
