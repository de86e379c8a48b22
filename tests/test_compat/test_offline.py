"""Pretrained weights from a URL: cached files load offline, uncached ones
fail at once with a message that says what to do."""
import time
import urllib.error

import pytest
import torch
from mmengine.runner.checkpoint import _load_checkpoint

from emoreg_mm.compat.offline import cached_path

URL = 'https://weights.emoreg-mm.invalid/resnet_in1k.pth'  # never resolves


@pytest.fixture
def hub_dir(tmp_path):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    yield tmp_path / 'hub'
    torch.hub.set_dir(old)


def test_unreachable_uncached_weights_fail_fast(hub_dir):
    start = time.monotonic()
    with pytest.raises(FileNotFoundError) as err:
        _load_checkpoint(URL, map_location='cpu')
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert URL in message and cached_path(URL) in message
    assert str(hub_dir) in cached_path(URL)
    assert 'init_cfg' in message
    # mmengine's own loader raises urllib's URLError offline: still caught
    assert isinstance(err.value, urllib.error.URLError)
    assert err.value.url == URL and err.value.reason == message


def test_cached_weights_load_without_network(hub_dir):
    path = cached_path(URL)
    (hub_dir / 'checkpoints').mkdir(parents=True)
    torch.save({'state_dict': {'w': torch.arange(3.)}}, path)
    checkpoint = _load_checkpoint(URL, map_location='cpu')
    assert torch.equal(checkpoint['state_dict']['w'], torch.arange(3.))
