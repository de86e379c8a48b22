"""Fail fast and clearly where a download cannot work (offline machines).

:func:`url_reachable` probes a URL's host (or its proxy) with a bounded
timeout; the CIFAR guard in :mod:`emoreg_mm.datasets.cifar_offline` and the
checkpoint loader below use it. mmengine's ``http(s)://`` checkpoint loader
(``init_cfg=dict(type='Pretrained', checkpoint=URL)``: the configs' ImageNet
weights; ``load_from``; ``tools/test.py --checkpoint URL``) is replaced so
that every load, the first download included, goes through
:func:`~emoreg_mm.compat.safe_load.safe_load` (torch.hub would unpickle a
first download with the full pickle loader): a file already in torch's hub
cache loads without any network, an uncached one is downloaded into the
cache and then loaded safely, and on an unreachable host the load fails at
once, naming the URL, where to put the file and how to do without it, with
a :class:`DownloadUnreachable`: a ``FileNotFoundError`` and the
``urllib.error.URLError`` that mmengine's own loader raises offline.
"""
import os
import os.path as osp
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

import torch

from .safe_load import safe_load

PROBE_TIMEOUT = 3.0  # seconds


class DownloadUnreachable(FileNotFoundError, urllib.error.URLError):
    """A file to download is not there and its host cannot be reached.

    Both a ``FileNotFoundError`` and the ``urllib.error.URLError`` urllib
    raises offline (what mmengine's and mmpretrain's downloads raise), so
    handlers written for either keep catching it; ``str()`` is the message
    itself (not urllib's ``<urlopen error ...>``).

    Args:
        message (str): What is missing and what to do.
        url (str, optional): The URL that could not be reached.
    """

    def __init__(self, message: str, url: str = None):
        super().__init__(message)
        self.reason = message
        self.url = url

    def __str__(self) -> str:
        return str(self.reason)


def url_reachable(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a TCP connection to ``url``'s host (or its proxy) opens
    within ``timeout`` seconds (name resolution included)."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy:
        parts = urllib.parse.urlsplit(proxy if '//' in proxy else
                                      '//' + proxy)
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == 'https' else 80)
    result = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    # getaddrinfo ignores socket timeouts; bound the whole probe.
    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(result)


def cached_path(url: str, model_dir: str = None) -> str:
    """Where mmengine / torch.hub keep the download of ``url``."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    return osp.join(model_dir, osp.basename(urllib.parse.urlsplit(url).path))


def download(url: str, dst: str, progress: bool = False) -> str:
    """Download ``url`` to ``dst`` (through a temporary file in the same
    folder, so ``dst`` is never partial); fail at once, clearly, when the
    host is unreachable."""
    if not url_reachable(url):
        raise DownloadUnreachable(
            f'Cannot download the checkpoint {url}: its host is '
            f'unreachable within {PROBE_TIMEOUT:.0f} s (offline?). Put '
            f'the file at {dst}, or point the config at a local copy '
            "(init_cfg=dict(type='Pretrained', checkpoint=PATH)), or "
            'train from scratch: --cfg-options model.backbone.init_cfg=None '
            '(a plain classifier, stage 1) or '
            'model.backbone.backbone.init_cfg=None (the '
            'EmotionalBackboneWrapper, stage 2).', url)
    os.makedirs(osp.dirname(dst), exist_ok=True)
    torch.hub.download_url_to_file(url, dst, progress=progress)
    return dst


def load_from_http(filename: str,
                   map_location=None,
                   model_dir: str = None,
                   progress: bool = False,
                   **kwargs):
    """mmengine's ``http(s)://`` checkpoint loader, safe on every load.

    torch.hub unpickles a first download with the full pickle loader; here
    the file is downloaded into the hub cache first (rank 0, the other
    ranks wait) and then, like every later load, read by
    :func:`~emoreg_mm.compat.safe_load.safe_load`.
    """
    from mmengine.dist import get_dist_info
    cached = cached_path(filename, model_dir)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(cached):
        download(filename, cached, progress)
    if world_size > 1:
        torch.distributed.barrier()
    if not osp.isfile(cached):  # another node's rank 0 downloaded it
        download(filename, cached, progress)
    return safe_load(cached, map_location)


def apply() -> None:
    """Route mmengine's ``http://`` / ``https://`` checkpoint loading (also
    what ``torchvision://`` and ``open-mmlab://`` resolve to) through
    :func:`load_from_http`."""
    from mmengine.runner import checkpoint as mm_checkpoint
    if mm_checkpoint.load_from_http is load_from_http:
        return
    mm_checkpoint.load_from_http = load_from_http
    mm_checkpoint.CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_from_http, force=True)
