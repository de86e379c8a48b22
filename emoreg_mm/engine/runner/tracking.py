"""Experiment trackers: ``--tracker`` of ``tools/train.py``,
``tools/test.py`` and the sweep (docs/sweep.md).

A tracker is one of mmengine's visualization backends, added beside the
local one: ``tensorboard``, ``wandb`` and ``mlflow`` by name, or any
registered backend by its type (``ClearMLVisBackend``, ...). Each run is
named after its work dir, grouped by its row of the results table
(backbone, affective set, mode, target, and the grid point) and tagged
with the matrix's tags, its seed and its sweep (:func:`run_tags`); the
regulation monitor's scalars reach it as every logged scalar does, and the
test metrics as ``test/<metric>`` (:class:`~emoreg_mm.engine.hooks.
TrackingHook`). W&B runs offline where the machine reaches no network
(``WANDB_MODE`` set by you wins); ``wandb sync WORK_DIR/*/vis_data/wandb/
offline-run-*`` uploads them later.
"""
import importlib.util
import os
import os.path as osp
from typing import Dict, List, Sequence

from ...matrix import grid_label, grid_point

#: ``{name: (backend type, package, extra to install)}``.
TRACKERS = {
    'tensorboard': ('TensorboardVisBackend', 'tensorboard', 'tracking'),
    'wandb': ('WandbVisBackend', 'wandb', 'wandb'),
    'mlflow': ('MLflowVisBackend', 'mlflow', 'mlflow'),
}


#: What W&B uploads to: unreachable, its runs are written offline.
WANDB_URL = 'https://api.wandb.ai'


class TrackerError(ValueError):
    """A tracker that is unknown or whose package is missing."""


def run_tags(cfg) -> Dict[str, str]:
    """The tags of the run of ``cfg``: the matrix's (``emoreg_backbone``,
    ``emoreg_affective``, ``emoreg_mode``, ``emoreg_target``; those the
    config has), ``seed``, ``sweep`` (``emoreg_sweep``) and each key of the
    grid point (``emoreg_grid``)."""
    tags = {tag: str(cfg[f'emoreg_{tag}']) for tag in
            ('backbone', 'affective', 'mode', 'target')
            if cfg.get(f'emoreg_{tag}') is not None}
    seed = (cfg.get('randomness') or {}).get('seed')
    if seed is not None:
        tags['seed'] = str(seed)
    if cfg.get('emoreg_sweep'):
        tags['sweep'] = str(cfg.emoreg_sweep)
    tags.update(grid_point(cfg))
    return tags


def _backend(name: str, run: str, group: str, tags: Dict[str, str],
             offline: bool) -> dict:
    if name not in TRACKERS:
        from mmengine.registry import VISBACKENDS
        if VISBACKENDS.get(name) is None:
            raise TrackerError(
                f'--tracker {name}: neither {", ".join(TRACKERS)} nor a '
                f'registered visualization backend (mmengine has '
                f'{", ".join(sorted(VISBACKENDS.module_dict))})')
        return dict(type=name)
    kind, package, extra = TRACKERS[name]
    if importlib.util.find_spec(package) is None:
        raise TrackerError(
            f'--tracker {name}: the {package} package is not installed; '
            f'pip install -e ".[{extra}]" (or pip install {package})')
    if name == 'wandb':
        return dict(type=kind, init_kwargs=dict(
            project=tags.get('sweep', 'emoreg_mm'), name=run, group=group,
            tags=[f'{k}:{v}' for k, v in sorted(tags.items())],
            config=tags, mode=os.environ.get(
                'WANDB_MODE', 'offline' if offline else 'online')))
    if name == 'mlflow':
        return dict(type=kind, exp_name=tags.get('sweep', 'emoreg_mm'),
                    run_name=run, tags=dict(tags, group=group))
    return dict(type=kind)


def set_tracker(cfg, names: Sequence[str]) -> List[dict]:
    """Add the trackers ``names`` to the config's visualizer and the
    :class:`~emoreg_mm.engine.hooks.TrackingHook` to its hooks.

    Returns:
        list: The backend dicts added.

    Raises:
        TrackerError: An unknown tracker or a missing package, naming the
            extra to install.
    """
    if not names:
        return []
    tags = run_tags(cfg)
    run = osp.basename(osp.normpath(cfg.work_dir))
    label = grid_label(grid_point(cfg))
    group = '_'.join([tags.get(t, '-') for t in
                      ('backbone', 'affective', 'mode', 'target')] +
                     ([label.replace(' ', '_')] if label else []))
    offline = False
    if 'wandb' in names:
        from ...compat.offline import url_reachable
        offline = not url_reachable(WANDB_URL)
    added = [_backend(n, run, group, tags, offline) for n in names]
    visualizer = cfg.setdefault('visualizer', dict(
        type='UniversalVisualizer', vis_backends=[]))
    visualizer['vis_backends'] = list(visualizer.get('vis_backends') or [
        dict(type='LocalVisBackend')]) + added
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [dict(
        type='TrackingHook', name=run, group=group, tags=tags)]
    return added
