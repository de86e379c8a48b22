"""Fail fast and clearly where a download cannot work (offline machines).

:func:`url_reachable` probes a URL's host (or its proxy) with a bounded
timeout; the CIFAR guard in :mod:`emoreg_mm.datasets.cifar_offline` and the
checkpoint loader below use it. mmengine's ``http(s)://`` checkpoint loader
(``init_cfg=dict(type='Pretrained', checkpoint=URL)``: the configs' ImageNet
weights) is wrapped so that a file already in torch's hub cache loads through
:func:`~emoreg_mm.compat.checkpoint.safe_load` without any network, and an
uncached file on an unreachable host fails at once, naming the URL, where to
put the file and how to do without it.
"""
import os.path as osp
import socket
import threading
import urllib.parse
import urllib.request

import torch

from .checkpoint import safe_load

PROBE_TIMEOUT = 3.0  # seconds


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


def apply() -> None:
    """Wrap mmengine's ``http://`` / ``https://`` checkpoint loader."""
    from mmengine.runner.checkpoint import CheckpointLoader
    download = CheckpointLoader._schemes['https://']
    if getattr(download, '_emoreg_offline_aware', False):
        return

    def load_from_http(filename, map_location=None, model_dir=None,
                       **kwargs):
        cached = cached_path(filename, model_dir)
        if osp.isfile(cached):
            return safe_load(cached, map_location)
        if not url_reachable(filename):
            raise FileNotFoundError(
                f'Cannot download the checkpoint {filename}: its host is '
                f'unreachable within {PROBE_TIMEOUT:.0f} s (offline?). Put '
                f'the file at {cached}, or point the config at a local copy '
                "(init_cfg=dict(type='Pretrained', checkpoint=PATH)), or "
                'train from scratch (init_cfg=None).')
        return download(filename, map_location, model_dir, **kwargs)

    load_from_http._emoreg_offline_aware = True
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_from_http, force=True)
