"""The tools' shared command-line options, and the config settings they
make (torch-free: the sweep plans with them too).

Checks that ``tools/train.py`` runs before building anything heavy:

- :func:`check_cfg_options`: every ``--cfg-options`` key must name a setting
  that the config has, so a typo fails at once, naming the closest key.
- :func:`check_work_dir`: the work directory can be created and written.
- :func:`add_stage1_args` / :func:`set_stage1`: ``--emotional-checkpoint``
  and ``--emotional-checkpoint-config`` of tools/train.py and tools/test.py,
  which set stage 2's stage-1 paths exactly as given (``--cfg-options``
  splits values at commas and drops their spaces).
"""
import difflib
import os
import tempfile
from typing import Iterable, List, Mapping, Sequence


class ConfigKeyError(ValueError):
    """A ``--cfg-options`` key that the config does not have."""


class WorkDirError(OSError):
    """The work directory cannot be created or written."""


def _closest(name: str, candidates: Iterable[str], prefix: str) -> List[str]:
    candidates = [str(c) for c in candidates]
    return [prefix + c for c in difflib.get_close_matches(
        name, candidates, n=3, cutoff=0.6)]


def _resolves(node, parts: Sequence[str]) -> bool:
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _nested(node: Mapping, parts: Sequence[str], path: str,
            depth: int = 2) -> List[str]:
    """Where the unknown key tail ``parts`` exists one or two dicts deeper
    (e.g. ``model.backbone.backbone.init_cfg`` for
    ``model.backbone.init_cfg`` in a stage-2 config), or one level up
    without its first part (the reverse); full keys."""
    found = [path + '.'.join(parts[1:])] if len(parts) > 1 and _resolves(
        node, parts[1:]) else []
    level = [('', node)]
    for _ in range(depth):
        level = [(prefix + name + '.', child)
                 for prefix, parent in level for name, child in
                 parent.items() if isinstance(child, Mapping)]
        found += [path + prefix + '.'.join(parts)
                  for prefix, child in level if _resolves(child, parts)]
        if found:
            break
    return found


def check_cfg_options(cfg: Mapping, keys: Iterable[str],
                      flag: str = '--cfg-options',
                      add_flag: str = '--cfg-add') -> None:
    """Check that each dotted key overrides a setting the config has.

    The rule: every part of a key must exist in the config (list parts are
    indices in range), with one exception: a key of one part (no dot) may
    add a new top-level variable, which configs use freely (e.g. metadata
    that tools read). A new key under an existing dict, e.g. a constructor
    argument that the config does not set yet, must be passed on purpose
    with ``add_flag`` (merged unchecked).

    Args:
        cfg (Config | Mapping): The config (after ``_base_``
            inheritance).
        keys (Iterable[str]): The dotted keys, e.g.
            ``'train_cfg.max_epochs'``.
        flag (str): The option named in the error. Defaults to
            ``'--cfg-options'``.
        add_flag (str): The option that adds new keys, named in the error.
            Defaults to ``'--cfg-add'``.

    Raises:
        ConfigKeyError: A key the config does not have; the message names
            the same key one or two dicts deeper (or one level up) where it
            exists, e.g. ``model.backbone.backbone.init_cfg`` for
            ``model.backbone.init_cfg`` in a stage-2 config, else the
            closest existing keys.
    """
    if not isinstance(cfg, Mapping):  # an mmengine Config
        cfg = cfg.to_dict()
    for key in keys:
        parts = key.split('.')
        if parts[-1] == 'data_root' and not parts[0].endswith('_dataloader'):
            # a _base_ piece's variable (data_root, dataset.data_root): the
            # dataloaders copied it when the config was read
            raise ConfigKeyError(
                f'{flag} {key}: a variable the dataloaders copied when the '
                'config was read; setting it changes no dataset. Use '
                '--data-root PATH (train, val and test) or '
                '{train,val,test}_dataloader.dataset.data_root=PATH.')
        if len(parts) == 1:
            continue
        node, path = cfg, ''
        for i, part in enumerate(parts):
            if isinstance(node, Mapping):
                if part in node:
                    node, path = node[part], path + part + '.'
                    continue
                hint = _nested(node, parts[i:], path) or _closest(
                    part, node.keys(), path)
            elif isinstance(node, Sequence) and not isinstance(node, str):
                if part.lstrip('-').isdigit() and \
                        -len(node) <= int(part) < len(node):
                    node, path = node[int(part)], path + part + '.'
                    continue
                hint = [f'{path}0 ... {path}{len(node) - 1}'] if node else []
            else:
                raise ConfigKeyError(
                    f"{flag} {key}: '{path.rstrip('.')}' is a value "
                    f'({repr(node)[:60]}), not a dict or list.')
            did_you_mean = f' Did you mean {" or ".join(hint)}?' \
                if hint else ''
            raise ConfigKeyError(
                f"{flag} {key}: the config has no '{path + part}'."
                f'{did_you_mean} To add a new key on purpose (e.g. a '
                'constructor argument the config does not set), pass it '
                f'with {add_flag}.')


def check_work_dir(work_dir: str) -> None:
    """Create ``work_dir`` if needed and check that files can be written.

    Args:
        work_dir (str): The work directory.

    Raises:
        WorkDirError: It cannot be created or written; the message names it.
    """
    try:
        os.makedirs(work_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=work_dir) as probe:
            probe.write(b'ok')
    except OSError as err:
        raise WorkDirError(
            f"Work dir '{work_dir}' is not writable ({err.strerror or err}). "
            'Choose another with --work-dir (or work_dir in the config), or '
            'fix its permissions.') from None


def set_work_dir(cfg, work_dir, config: str) -> None:
    """The run's work dir: ``work_dir`` (``--work-dir``) > the config's own
    > ``./work_dirs/<config name>``, as mmpretrain's tools choose it."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join(
            './work_dirs', os.path.splitext(os.path.basename(config))[0])


def add_checkpoint_args(parser, config_help: str) -> None:
    """Add a tool's ``config`` and its checkpoint, given positionally or as
    ``--checkpoint`` (:func:`resolve_checkpoint_args` reads them)."""
    parser.add_argument('config', help=config_help)
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument('--checkpoint', dest='checkpoint_opt',
                        help='checkpoint file')


def resolve_checkpoint_args(parser, args) -> None:
    """Resolve ``args.config`` (a path or a config name) and the one
    checkpoint of :func:`add_checkpoint_args`; a parser error otherwise."""
    from .config_names import resolve_config
    try:
        args.config = resolve_config(args.config)
    except FileNotFoundError as err:
        parser.error(str(err))
    if args.checkpoint and args.checkpoint_opt:
        parser.error('give the checkpoint once, positionally or with '
                     '--checkpoint')
    args.checkpoint = args.checkpoint or args.checkpoint_opt
    if args.checkpoint is None:
        parser.error('a checkpoint is required (--checkpoint PATH)')


def add_stage1_args(parser) -> None:
    """Add ``--emotional-checkpoint`` and ``--emotional-checkpoint-config``
    to a tool's argument parser."""
    parser.add_argument(
        '--emotional-checkpoint', metavar='PATH',
        help='stage 2: the stage-1 work dir or checkpoint to read, set as '
        'model.backbone.emotional_checkpoint exactly as given (spaces and '
        'commas kept, which --cfg-options would split or drop)')
    parser.add_argument(
        '--emotional-checkpoint-config', metavar='CONFIG',
        help='stage 2: the stage-1 config, set as '
        'model.backbone.emotional_checkpoint_config exactly as given')


def set_stage1(cfg, args) -> None:
    """Apply :func:`add_stage1_args`'s options to ``cfg``.

    Raises:
        ConfigKeyError: An option is given but the model has no emotional
            encoder (``model.backbone`` is not EmotionalBackboneWrapper).
    """
    for key in ('emotional_checkpoint', 'emotional_checkpoint_config'):
        value = getattr(args, key, None)
        if value is None:
            continue
        backbone = (cfg.get('model') or {}).get('backbone') or {}
        if backbone.get('type') != 'EmotionalBackboneWrapper':
            raise ConfigKeyError(
                f'--{key.replace("_", "-")}: the model of this config has no '
                'stage-1 encoder to read (model.backbone.type is '
                f'{backbone.get("type")!r}, not EmotionalBackboneWrapper).')
        backbone[key] = value


def add_data_root_arg(parser) -> None:
    """Add ``--data-root`` and ``--exclude-file`` to a tool's argument
    parser."""
    parser.add_argument(
        '--data-root', metavar='PATH',
        help='the data folder of the train, val and test datasets (each '
        'dataloader\'s dataset.data_root, wrapped datasets included), '
        'instead of the config\'s; one option for what --cfg-options would '
        'set three times')
    parser.add_argument(
        '--exclude-file', metavar='FILE',
        help='leave out of every affective dataset the images FILE lists '
        '(check_dataset.py --write-exclude writes it); each dataset '
        'reports what it left out')


def dataset_dicts(cfg, splits: Sequence[str] = ('train', 'val', 'test')
                  ) -> list:
    """The dataset dicts of the config's ``splits`` dataloaders (train /
    val / test), inside ``dataset`` / ``datasets`` wrappers too (the
    wrappers included)."""
    found = []

    def walk(node):
        if not isinstance(node, dict):
            return
        found.append(node)
        walk(node.get('dataset'))
        for child in node.get('datasets') or ():
            walk(child)

    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict):
            walk(loader.get('dataset'))
    return found


def set_data_root(cfg, data_root) -> int:
    """Set ``data_root`` on every dataset of the config's train / val /
    test dataloaders that has one (through wrappers).

    Returns:
        int: How many dataset dicts were changed (0 when ``data_root`` is
        None).

    Raises:
        ConfigKeyError: No dataloader's dataset has a ``data_root``.
    """
    if data_root is None:
        return 0
    changed = [d for d in dataset_dicts(cfg) if 'data_root' in d]
    if not changed:
        raise ConfigKeyError(
            '--data-root: no dataset of this config\'s train / val / test '
            'dataloaders has a data_root to set.')
    for d in changed:
        d['data_root'] = data_root
    return len(changed)


def fit_dataloaders(cfg) -> List[str]:
    """Make the train / val / test dataloader dicts buildable as given on
    the command line or inherited:

    - with ``num_workers=0`` the worker-only options (``persistent_workers``,
      ``prefetch_factor``) are dropped: the recipes keep their workers
      alive, and ``--cfg-options train_dataloader.num_workers=0``
      (debugging in one process) would otherwise stop in torch's
      ``DataLoader``;
    - a ``collate_fn`` dict loses its ``_scope_``: a config inheriting
      ``emoreg_mm::`` carries one in every dict with a ``type``, and
      mmengine passes the rest of the dict to the function as arguments
      (``default_collate(batch, _scope_=...)`` fails).

    Returns:
        list: The dataloaders changed, e.g. ``['train_dataloader']``.
    """
    changed = []
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not isinstance(loader, dict):
            continue
        dropped = [] if loader.get('num_workers', 0) else [
            loader.pop(key) for key in ('persistent_workers',
                                        'prefetch_factor') if key in loader]
        collate = loader.get('collate_fn')
        if isinstance(collate, dict) and '_scope_' in collate:
            dropped.append(collate.pop('_scope_'))
        if dropped:
            changed.append(f'{split}_dataloader')
    return changed


def set_exclude_file(cfg, path, takes_it) -> int:
    """Set ``exclude_file=path`` on the datasets ``takes_it(dataset_dict)``
    accepts (the affective ones). Returns how many; 0 for no ``path``.

    Raises:
        ConfigKeyError: None of the dataloaders' datasets takes it.
    """
    if path is None:
        return 0
    changed = [d for d in dataset_dicts(cfg) if takes_it(d)]
    if not changed:
        raise ConfigKeyError(
            '--exclude-file: no dataset of this config\'s dataloaders '
            'takes an exclude file (the affective sets do; a target such '
            'as CIFAR or an image folder does not).')
    for d in changed:
        d['exclude_file'] = path
    return len(changed)


def add_tracker_arg(parser) -> None:
    """``--tracker NAME ...``
    (:mod:`emoreg_mm.engine.runner.tracking`)."""
    parser.add_argument(
        '--tracker', nargs='+', metavar='NAME', default=[],
        help='also log to these trackers: tensorboard, wandb, mlflow, or a '
        'registered mmengine visualization backend type; the run is named, '
        'grouped and tagged from the config (docs/sweep.md)')


def add_show_and_tta_args(parser) -> None:
    """mmpretrain ``tools/test.py``'s ``--show``, ``--show-dir``,
    ``--interval``, ``--wait-time`` and ``--tta``."""
    parser.add_argument(
        '--show-dir',
        help='draw every --interval-th test image with its prediction into '
        'this folder (mmpretrain\'s VisualizationHook)')
    parser.add_argument(
        '--show', action='store_true',
        help='show the drawn predictions in a window')
    parser.add_argument(
        '--interval', type=int, default=1,
        help='draw one test image in this many (default 1)')
    parser.add_argument(
        '--wait-time', type=float, default=2,
        help='seconds each window is shown with --show (default 2)')
    parser.add_argument(
        '--tta', action='store_true',
        help='test-time augmentation: the config\'s tta_model and '
        'tta_pipeline, else the mean over the image and its horizontal '
        'flip (emoreg_mm.models.tta: a regulated model averages its '
        'branches, rho and affect, and fuses those)')


def set_show(cfg, args) -> None:
    """Turn the config's ``default_hooks.visualization`` on for
    ``--show`` / ``--show-dir``, as mmpretrain's test.py does.

    Raises:
        ConfigKeyError: The config has no ``default_hooks.visualization``.
    """
    if not (args.show or args.show_dir):
        return
    if args.interval < 1:
        raise ConfigKeyError(f'--interval {args.interval}: expected a '
                             'positive number of images')
    if 'visualization' not in cfg.get('default_hooks', {}):
        raise ConfigKeyError(
            '--show / --show-dir need default_hooks.visualization (e.g. '
            "dict(type='VisualizationHook')), which the config lacks")
    cfg.default_hooks.visualization.update(
        enable=True, show=args.show, wait_time=args.wait_time,
        out_dir=args.show_dir, interval=args.interval)


def set_tta(cfg) -> None:
    """Wrap the model for test-time augmentation (``--tta``): the config's
    ``tta_model`` (default :class:`emoreg_mm.models.tta.RegulatedAverageTTA`)
    around ``model``, and its ``tta_pipeline`` (default: the test pipeline
    with its last step run on the image flipped and as it is) as the test
    pipeline."""
    from copy import deepcopy
    from mmengine.config import ConfigDict
    tta_model = cfg.get('tta_model') or dict(type='RegulatedAverageTTA')
    if 'tta_pipeline' not in cfg:
        pipeline = cfg.test_dataloader.dataset.pipeline
        cfg.tta_pipeline = deepcopy(pipeline)
        cfg.tta_pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[[dict(type='RandomFlip', prob=1.),
                         dict(type='RandomFlip', prob=0.)],
                        [pipeline[-1]]])
    cfg.model = ConfigDict(**tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
