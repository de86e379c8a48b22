"""Files a user is handed never run code, crash the process or load
silently wrong: each attack goes through the entry point users use, the
tools' ``main(argv)`` (in this process: a crash would end the test's
worker, which fails the test)."""
import functools
import http.server
import os
import os.path as osp
import sys
import threading

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from emoreg_mm.compat import DamagedCheckpointError, UnsafeCheckpointError
from emoreg_mm.compat.checkpoint import safe_load
from emoreg_mm.models.affect_cache import AffectCache
from launch_utils import load_tool, run_cli
from plain_config import make_plain_config


def _cli(tool, *args, **env):
    """Run ``tools/<tool>`` as users do, with ``env`` set; (exit status,
    output)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_cli(tool[len('tools/'):], *args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config, checkpoint of epoch 1) of the tiny plain classifier."""
    tmp = tmp_path_factory.mktemp('hostile')
    config = make_plain_config(tmp, max_epochs=1)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp / 'work')
    Runner.from_cfg(cfg).train()
    return config, osp.join(cfg.work_dir, 'epoch_1.pth')


def test_resume_never_executes_the_stored_config(tmp_path, trained):
    config, good = trained
    marker = tmp_path / 'code_ran'
    checkpoint = torch.load(good, weights_only=True)
    checkpoint['meta']['config'] = (
        f"import os\nos.system('touch {marker}')\ngpu_ids = [0, 1, 2]\n")
    # Only tensors and strings: the safe loader has nothing to refuse.
    forged = str(tmp_path / 'forged.pth')
    torch.save(checkpoint, forged)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(forged) == []
    # Auto-resume from a shared work dir takes the same path.
    work_auto = tmp_path / 'auto'
    work_auto.mkdir()
    torch.save(checkpoint, str(work_auto / 'epoch_1.pth'))
    (work_auto / 'last_checkpoint').write_text(str(work_auto / 'epoch_1.pth'))
    for work_dir, resume in ((tmp_path / 'file', [forged]), (work_auto, [])):
        code, out = _cli('tools/train.py', config, '--work-dir',
                         str(work_dir), '--resume', *resume, '--cfg-options',
                         'train_cfg.max_epochs=2')
        assert code == 0, out[-3000:]
        assert 'resumed epoch: 1, iter: 2' in out
    assert not marker.exists()


class _ForgedDType:
    """Pickles as numpy.dtype('i8') whose state claims object fields."""

    def __reduce__(self):
        return (np.dtype, ('i8', False, True),
                (3, '<', None, None, None, -1, -1, 0x3f))


class _ForgedArray:
    """Pickles as an ndarray of the forged dtype on 8 bytes of the file."""

    def __reduce__(self):
        return (np._core.multiarray._reconstruct, (np.ndarray, (0, ), b'b'),
                (1, (1, ), _ForgedDType(), False, b'\x41' * 8))


def test_forged_numpy_dtype_is_refused_everywhere(tmp_path, trained):
    config, good = trained
    checkpoint = torch.load(good, weights_only=True)
    checkpoint['meta']['rng'] = _ForgedArray()
    forged = str(tmp_path / 'forged_dtype.pth')
    torch.save(checkpoint, forged)
    assert 'numpy.dtype' in \
        torch.serialization.get_unsafe_globals_in_checkpoint(forged)
    with pytest.raises(UnsafeCheckpointError, match='numpy.dtype') as err:
        safe_load(forged)
    assert forged in str(err.value)
    code, out = _cli('tools/train.py', config, '--work-dir',
                     str(tmp_path / 'work'), '--resume', forged)
    assert code != 0 and 'UnsafeCheckpointError' in out
    assert forged in out and 'numpy.dtype' in out
    # Even the converter for trusted files rebuilds numpy values from
    # checked raw bytes, never through numpy's unpickling.
    code, out = _cli('tools/misc/convert_checkpoint.py', forged,
                     str(tmp_path / 'out.pth'))
    assert code == 1 and 'refusing dtype' in out
    assert not osp.exists(tmp_path / 'out.pth')


class _HugeArray:
    """Pickles as an ndarray of float64 declaring 2**70 elements."""

    def __reduce__(self):
        return (np._core.multiarray._reconstruct, (np.ndarray, (0, ), b'b'),
                (1, (2**70, ), np.dtype('f8'), False, b'\0' * 8))


def _deflated(src, dst):
    """``src`` rewritten with every record DEFLATE-compressed."""
    import zipfile
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(
            dst, 'w', compression=zipfile.ZIP_DEFLATED) as b:
        for info in a.infolist():
            b.writestr(info.filename, a.read(info))
    return dst


def test_files_that_would_allocate_without_bound_are_refused(
        tmp_path, trained):
    """Small files whose content would make the process allocate far more
    than their size: an error naming the file and the limit, no
    MemoryError or OverflowError, through resume, test and the converter."""
    config, good = trained
    checkpoint = torch.load(good, weights_only=True)
    history = next(iter(checkpoint['message_hub']['log_scalars'].values()))
    assert 'log_history' in history  # the plain form the plugin saves
    shared = [0.5] * 1000
    history['log_history'] = [shared] * 10**6  # 10**9 floats as arrays
    shared_refs = str(tmp_path / 'shared_refs.pth')
    torch.save(checkpoint, shared_refs)
    assert os.path.getsize(shared_refs) < 8 << 20
    code, out = _cli('tools/train.py', config, '--work-dir',
                     str(tmp_path / 'work'), '--resume', shared_refs)
    assert code == 1 and shared_refs in out, out[-3000:]
    assert 'expands to more than' in out and 'per byte of the file' in out
    code, out = _cli('tools/misc/convert_checkpoint.py', shared_refs,
                     str(tmp_path / 'out.pth'))
    assert code == 1 and shared_refs in out and 'expands to more than' in \
        out, out[-3000:]
    for word in ('MemoryError', 'OverflowError', 'Traceback'):
        assert word not in out

    checkpoint = torch.load(good, weights_only=True)
    checkpoint['meta']['zeros'] = torch.zeros(2**22)  # 16 MiB of zeros
    plain = str(tmp_path / 'zeros.pth')
    torch.save(checkpoint, plain)
    deflated = _deflated(plain, str(tmp_path / 'deflated.pth'))
    assert os.path.getsize(deflated) < 1 << 20
    code, out = _cli('tools/test.py', config, '--checkpoint', deflated,
                     '--work-dir', str(tmp_path / 'test'))
    assert code == 1 and deflated in out, out[-3000:]
    assert 'is compressed and declares 16777216 bytes' in out
    assert 'limit: 100 times' in out

    checkpoint = torch.load(good, weights_only=True)
    checkpoint['meta']['huge'] = _HugeArray()
    huge = str(tmp_path / 'huge.pth')
    torch.save(checkpoint, huge)
    code, out = _cli('tools/misc/convert_checkpoint.py', huge,
                     str(tmp_path / 'out.pth'))
    assert code == 1 and 'refusing an array of shape (1180591620717411303424,'\
        ') on 8 bytes' in out, out[-3000:]
    assert 'OverflowError' not in out and not osp.exists(tmp_path / 'out.pth')


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture
def http_dir(tmp_path):
    """(folder served over http://127.0.0.1, its base URL)."""
    folder = tmp_path / 'served'
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()


def test_first_http_download_goes_through_the_safe_loader(
        tmp_path, trained, http_dir):
    config, good = trained
    folder, url = http_dir
    marker = tmp_path / 'code_ran'
    torch.save({'state_dict': {}, 'x': _RunsCode(marker)},
               str(folder / 'evil.pth'))
    os.link(good, folder / 'good.pth')
    hub = str(tmp_path / 'torch_home')
    code, out = _cli(
        'tools/test.py', config, '--checkpoint', f'{url}/evil.pth',
        '--work-dir', str(tmp_path / 'test'), TORCH_HOME=hub,
        no_proxy='127.0.0.1', NO_PROXY='127.0.0.1')
    assert code == 1, out[-3000:]
    assert 'Refusing to load checkpoint' in out and 'evil.pth' in out
    assert 'posix.system' in out or 'os.system' in out
    assert not marker.exists()
    # A good file downloads once and loads through the same path.
    code, out = _cli(
        'tools/test.py', config, '--checkpoint', f'{url}/good.pth',
        '--work-dir', str(tmp_path / 'test2'), TORCH_HOME=hub,
        no_proxy='127.0.0.1', NO_PROXY='127.0.0.1')
    assert code == 0 and 'accuracy/top1' in out, out[-3000:]
    assert osp.isfile(osp.join(hub, 'hub', 'checkpoints', 'good.pth'))


def _damage(path, how, good):
    if how == 'zero-byte':
        open(path, 'wb').close()
        return 'the file is empty'
    if how == 'truncated':
        data = open(good, 'rb').read()
        open(path, 'wb').write(data[:len(data) // 2])
        return 'truncated or damaged zip archive'
    if how == 'random bytes':
        open(path, 'wb').write(np.random.default_rng(0).bytes(4096))
        return 'not a PyTorch checkpoint'
    raise ValueError(how)


@pytest.mark.parametrize('how', ['zero-byte', 'truncated', 'random bytes'])
def test_damaged_checkpoint_names_file_and_damage(tmp_path, trained,
                                                  monkeypatch, how):
    config, good = trained
    path = str(tmp_path / 'damaged.pth')
    reason = _damage(path, how, good)
    with pytest.raises(DamagedCheckpointError, match=reason) as err:
        safe_load(path)
    assert path in str(err.value)
    tool = load_tool('test.py')
    monkeypatch.setattr(sys, 'argv', [
        'test.py', config, '--checkpoint', path, '--work-dir',
        str(tmp_path / 'test')])
    with pytest.raises(SystemExit) as exc:
        tool.main()
    assert path in str(exc.value.code) and reason in str(exc.value.code)


def test_another_models_checkpoint_is_an_error(tmp_path, trained):
    config, good = trained
    other = make_plain_config(tmp_path)
    text = open(other).read()
    head = "type='LinearClsHead', num_classes=2,"
    assert text.count(head) == 1, 'the plain config has no 2-class head'
    open(other, 'w').write(text.replace(head, head.replace('=2', '=3')))
    code, out = _cli('tools/test.py', other, '--checkpoint', good,
                     '--work-dir', str(tmp_path / 'strict'))
    assert code == 1, out[-3000:]
    assert f'checkpoint {good} does not fit the model of {other}' in out
    assert 'head.fc.weight' in out and '--non-strict' in out
    assert 'accuracy/top1' not in out
    # On request, it evaluates with the weights that fit.
    code, out = _cli('tools/test.py', other, '--checkpoint', good,
                     '--work-dir', str(tmp_path / 'loose'), '--non-strict')
    assert code == 0 and 'accuracy/top1' in out, out[-3000:]


def test_damaged_affect_cache_is_recomputed(tmp_path):
    cache = AffectCache(str(tmp_path))
    cache.bind('weights', 'data')
    cache.store(['a', 'b'], torch.ones(2, 3))
    path = cache.save()
    assert [f for f in os.listdir(tmp_path)] == [osp.basename(path)]
    open(path, 'wb').write(open(path, 'rb').read()[:50])
    again = AffectCache(str(tmp_path))
    with pytest.warns(UserWarning, match='Affect cache file .* is '
                      'unreadable.*recomputing') as record:
        again.bind('weights', 'data')
    assert path in str(record[0].message)
    assert len(again) == 0
    again.store(['a'], torch.zeros(1, 3))
    again.save()
    third = AffectCache(str(tmp_path))
    third.bind('weights', 'data')
    assert torch.equal(third.get(['a']), torch.zeros(1, 3))
