"""Affect cache: the frozen emotional encoder's output, computed once per
training image and reused every epoch (``docs/performance.md``).

E and g_E never change during stage 2, so the emotion logits g_E(E(x)) of an
image are a constant of (stage-1 weights, image). The cache stores them per
sample, keyed by the sample's ``img_path`` (or ``sample_idx`` when the
dataset has no files, e.g. CIFAR), under a fingerprint of

- the stage-1 weights of E and g_E (a hash of every tensor), and
- the dataset identity (a hash of its type, length, files / image bytes and
  the clean pipeline, given by the fill pass; or the ``dataset_id`` string
  of the config for a lazily filled cache).

A different fingerprint empties the cache (or loads the file of the new
fingerprint from ``cache_dir``), so a changed checkpoint or dataset is
recomputed, never reused.

Semantics: with the fill pass (:func:`fill_affect_cache`,
:class:`AffectCacheHook`) the affect is that of the clean, un-augmented image
(the val / test pipeline), the same for every augmented view of it. Without
it (lazy fill) a sample's affect is that of the first view the model saw.
Without augmentation both equal the per-view affect, so training is
unchanged.
"""
import hashlib
import os
import os.path as osp
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.dataset import pseudo_collate
from mmengine.dist import all_gather_object, get_dist_info
from mmpretrain.registry import DATASETS

from emoreg_mm.compat.safe_load import UnsafeCheckpointError, safe_load
from emoreg_mm.fileio import atomic_write


def sample_key(data_sample) -> str:
    """The cache key of one sample: its ``img_path``, else ``sample_idx``."""
    img_path = data_sample.get('img_path', None)
    if img_path is not None:
        return f'path:{img_path}'
    idx = data_sample.get('sample_idx', None)
    if idx is None:
        raise KeyError(
            'The affect cache needs a per-sample key: the data samples carry '
            'neither img_path nor sample_idx metainfo (keep PackInputs\' '
            'default meta_keys).')
    return f'idx:{int(idx)}'


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes()


def weights_fingerprint(modules: Sequence[nn.Module]) -> str:
    """sha1 of the state dicts (names, dtypes, shapes, values)."""
    sha = hashlib.sha1()
    for i, module in enumerate(modules):
        for name, value in module.state_dict().items():
            sha.update(f'{i}.{name}:{value.dtype}:{tuple(value.shape)}'
                       .encode())
            sha.update(_tensor_bytes(value))
    return sha.hexdigest()


def dataset_fingerprint(dataset) -> str:
    """sha1 of a dataset's identity: its type, length, pipeline and, per
    sample, its file (path, size, mtime) or its in-memory image bytes."""
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    sha = hashlib.sha1()
    sha.update(f'{type(dataset).__name__}:{len(dataset)}'.encode())
    sha.update(repr(getattr(dataset, 'pipeline', None)).encode())
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        path = info.get('img_path')
        if path is not None:
            stat = os.stat(path) if osp.exists(path) else None
            sha.update(f'{path}:{stat and stat.st_size}:'
                       f'{stat and stat.st_mtime_ns}'.encode())
        img = info.get('img')
        if isinstance(img, np.ndarray):
            sha.update(np.ascontiguousarray(img).tobytes())
    return sha.hexdigest()


class AffectCache:
    """Sample key -> emotion logits (float32, CPU), valid for one
    fingerprint, optionally persisted in ``cache_dir``.

    Args:
        cache_dir (str, optional): Directory of the ``affect-<hash>.pth``
            files; None keeps the cache in memory only.
        dataset_id (str): Dataset identity of a lazily filled cache (the
            fill pass replaces it by the dataset's own fingerprint).
    """

    def __init__(self, cache_dir: Optional[str] = None, dataset_id: str = ''):
        self.cache_dir = cache_dir
        self.dataset_id = dataset_id
        self.fingerprint: Optional[Tuple[str, str]] = None
        self.rows: Dict[str, torch.Tensor] = {}
        self.computed = 0  # logits computed by E since the last bind

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def path(self) -> Optional[str]:
        if self.cache_dir is None or self.fingerprint is None:
            return None
        digest = hashlib.sha1('/'.join(self.fingerprint).encode())
        return osp.join(self.cache_dir, f'affect-{digest.hexdigest()}.pth')

    def bind(self, weights_fp: str, dataset_fp: Optional[str] = None) -> bool:
        """Make the cache valid for ``(weights_fp, dataset_fp)``; a changed
        fingerprint empties it, then loads that fingerprint's file if any.
        Returns whether it changed."""
        if dataset_fp is not None:
            self.dataset_id = dataset_fp
        fingerprint = (weights_fp, self.dataset_id)
        if fingerprint == self.fingerprint:
            return False
        self.fingerprint = fingerprint
        self.rows = {}
        self.computed = 0
        path = self.path
        if path is not None and osp.isfile(path):
            self.rows = self._read(path, fingerprint)
        return True

    @staticmethod
    def _read(path: str, fingerprint: Tuple[str, str]) -> dict:
        """The rows of the cache file ``path``; a damaged file is reported
        and recomputed (an empty cache)."""
        try:
            saved = safe_load(path, map_location='cpu')
            keys, logits = saved['keys'], saved['logits']
            if not (isinstance(keys, list) and torch.is_tensor(logits) and
                    len(keys) == len(logits) and
                    all(isinstance(k, str) for k in keys)):
                raise ValueError('keys and logits do not match')
            if tuple(saved['fingerprint']) != fingerprint:
                return {}
        except (OSError, ValueError, KeyError, TypeError,
                UnsafeCheckpointError) as err:
            warnings.warn(f'Affect cache file {path} is unreadable '
                          f'({type(err).__name__}: {err}); recomputing it.')
            return {}
        return dict(zip(keys, logits))

    def lookup(self, keys: List[str]) -> Tuple[List[int], List[int]]:
        """Indices of ``keys`` found and missing."""
        hit = [i for i, k in enumerate(keys) if k in self.rows]
        miss = [i for i, k in enumerate(keys) if k not in self.rows]
        return hit, miss

    def get(self, keys: List[str]) -> torch.Tensor:
        return torch.stack([self.rows[k] for k in keys])

    def fetch(self, keys: List[str],
              compute: Callable[[Optional[List[int]]], torch.Tensor]
              ) -> torch.Tensor:
        """The logits of ``keys``; the missing ones computed by
        ``compute(indices)`` (``None``: all of the batch) and stored."""
        _, miss = self.lookup(keys)
        if miss:
            logits = compute(None if len(miss) == len(keys) else miss)
            self.store([keys[i] for i in miss], logits)
        return self.get(keys)

    def store(self, keys: List[str], logits: torch.Tensor) -> None:
        logits = logits.detach().float().cpu()
        for key, row in zip(keys, logits):
            self.rows[key] = row.clone()
        self.computed += len(keys)

    def save(self) -> Optional[str]:
        """Write the cache to ``cache_dir`` (no-op without one)."""
        path = self.path
        if path is None:
            return None
        os.makedirs(self.cache_dir, exist_ok=True)
        keys = sorted(self.rows)
        logits = torch.stack([self.rows[k] for k in keys]) if keys else \
            torch.zeros(0)
        return atomic_write(
            path, lambda f: torch.save(
                dict(fingerprint=list(self.fingerprint), keys=keys,
                     logits=logits), f))


def _unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, 'module', model)


@torch.no_grad()
def fill_affect_cache(model: nn.Module,
                      dataset,
                      batch_size: int = 64,
                      num_workers: int = 0,
                      dtype: Optional[torch.dtype] = None) -> int:
    """Fill the affect cache of ``model`` (a classifier whose backbone is an
    :class:`EmotionalBackboneWrapper` with ``affect_cache``) from
    ``dataset`` (a dataset or its config, with the clean pipeline).

    Binds the cache to the dataset's fingerprint (a changed dataset or
    checkpoint empties it), computes the missing samples with E and g_E in
    eval mode, saves to ``cache_dir``. Returns the number computed.

    Distributed: each rank computes a share of the samples and the ranks
    gather them (one ``all_gather_object``), so every rank holds the whole
    cache; rank 0 writes the file. Returns the number computed by all.

    ``dtype`` (e.g. ``torch.bfloat16``): E runs under autocast in it, as in
    mixed-precision training without the cache, so the cached logits are
    those training would compute (kept in float32); the dtype is part of
    the cache's fingerprint. None: float32.
    """
    model = _unwrap(model)
    wrapper = model.backbone
    if getattr(wrapper, 'affect_cache', None) is None:
        raise ValueError('The model has no affect cache: set '
                         'model.backbone.affect_cache=dict(...).')
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
    fingerprint = dataset_fingerprint(dataset)
    if dtype is not None:
        fingerprint += f'|autocast:{str(dtype).replace("torch.", "")}'
    wrapper.bind_affect_cache(fingerprint)
    cache = wrapper.affect_cache
    rank, world_size = get_dist_info()
    # Each rank computes every world_size-th sample; the ranks then gather.
    shard = torch.utils.data.Subset(dataset,
                                    range(rank, len(dataset), world_size))
    loader = torch.utils.data.DataLoader(shard,
                                         batch_size=batch_size,
                                         num_workers=num_workers,
                                         collate_fn=pseudo_collate)
    device = next(wrapper.parameters()).device.type
    keys_done, logits_done = [], []
    for data in loader:
        keys = [sample_key(s) for s in data['data_samples']]
        _, miss = cache.lookup(keys)
        if not miss:
            continue
        data = model.data_preprocessor(data, False)
        inputs = data['inputs'][miss]
        with torch.autocast(device, dtype=dtype, enabled=dtype is not None):
            logits = wrapper.emotion_logits(inputs)
        keys_done += [keys[i] for i in miss]
        logits_done.append(logits.detach().float().cpu())
    local = (keys_done, torch.cat(logits_done) if logits_done else None)
    computed = 0
    for keys, logits in (all_gather_object(local) if world_size > 1 else
                         [local]):
        if keys:
            cache.store(keys, logits)
            computed += len(keys)
    if rank == 0:
        cache.save()
    return computed
