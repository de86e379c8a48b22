"""Checkpoints load through torch's safe loader, and hostile ones do not."""
import glob
import os
import os.path as osp
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from mmengine.logging import history_buffer
from mmengine.runner.checkpoint import _load_checkpoint

from emoreg_mm.compat import UnsafeCheckpointError, convert_trusted, to_plain
from launch_utils import run_tool
from plain_config import plain_config  # noqa: F401  (fixture)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _replace_pickle(path, payload):
    """Swap the pickle inside a torch zip checkpoint for ``payload``."""
    with zipfile.ZipFile(path) as src:
        entries = {n: src.read(n) for n in src.namelist()}
    name = next(n for n in entries if n.endswith('/data.pkl'))
    entries[name] = payload
    with zipfile.ZipFile(path, 'w') as dst:
        for n, data in entries.items():
            dst.writestr(n, data)


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / 'code_ran'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'x': _RunsCode(marker)}, path)
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(path, map_location='cpu')
    assert path in str(err.value) and 'system' in str(err.value)
    assert not marker.exists()


def _getattr_attack(key):
    """getattr(getattr(HistoryBuffer, '__init__'), '__globals__')[key] = 1."""
    def unicode(s):
        data = s.encode()
        return pickle.BINUNICODE + len(data).to_bytes(4, 'little') + data

    return (pickle.PROTO + b'\x02' + pickle.GLOBAL + b'builtins\ngetattr\n' +
            pickle.GLOBAL + b'builtins\ngetattr\n' + pickle.GLOBAL +
            b'mmengine.logging.history_buffer\nHistoryBuffer\n' +
            unicode('__init__') + pickle.TUPLE2 + pickle.REDUCE +
            unicode('__globals__') + pickle.TUPLE2 + pickle.REDUCE +
            unicode(key) + pickle.BININT1 + b'\x01' + pickle.SETITEM +
            pickle.STOP)


@pytest.mark.parametrize('force_no_weights_only', ['', '1'])
@pytest.mark.parametrize('loader', ['safe_load', 'convert_trusted'])
def test_getattr_attack_cannot_overwrite_globals(tmp_path, loader,
                                                 force_no_weights_only,
                                                 monkeypatch):
    """Refused, also with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (torch lets it
    override only calls that leave ``weights_only`` unset; README)."""
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD',
                       force_no_weights_only)
    key = 'EMOREG_TEST_OVERWRITTEN'
    path = str(tmp_path / 'attack.pth')
    torch.save({}, path)
    _replace_pickle(path, _getattr_attack(key))
    # The payload really is the attack: plain pickle would run it.
    assert 'builtins.getattr' in \
        torch.serialization.get_unsafe_globals_in_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError) as err:
        if loader == 'safe_load':
            _load_checkpoint(path, map_location='cpu')
        else:
            convert_trusted(path, str(tmp_path / 'out.pth'))
    assert key not in vars(history_buffer)
    assert ('getattr' in str(err.value) or '__init__' in str(err.value))


def _newest_log(work_dir):
    """The log of the newest run in ``work_dir`` (mmengine writes
    ``<work_dir>/<timestamp>/<timestamp>.log``)."""
    with open(sorted(glob.glob(osp.join(work_dir, '2*', '2*.log')))[-1]) as f:
        return f.read()


def _train(config, work_dir, *args):
    """tools/train.py in this process; the run's log."""
    run_tool('train.py', config, '--work-dir', work_dir, *args)
    return _newest_log(work_dir)


def test_runner_checkpoints_resume_load_and_test(tmp_path, plain_config):
    work_dir = str(tmp_path / 'work')
    _train(plain_config, work_dir, '--cfg-options', 'train_cfg.max_epochs=1')
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    # Only tensors and plain data: nothing for the safe loader to refuse.
    assert torch.serialization.get_unsafe_globals_in_checkpoint(ckpt) == []
    saved = torch.load(ckpt, weights_only=True)
    assert saved['meta']['epoch'] == 1

    log = _train(plain_config, work_dir, '--resume')
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [2]' in log and 'Epoch(train) [1]' not in log
    resumed = torch.load(
        osp.join(work_dir, 'epoch_2.pth'), weights_only=True)
    # The scheduler's state came back: milestone 1 halved the lr at epoch 2.
    assert resumed['optimizer']['param_groups'][0]['lr'] == pytest.approx(
        0.05)
    assert resumed['param_schedulers'][0]['last_step'] == 2
    hub = resumed['message_hub']['log_scalars']['train/loss']
    assert len(hub['log_history']) == 4  # 2 iters/epoch, both epochs
    # Momentum buffers and schedule were restored: the resumed run ends
    # with the weights of an uninterrupted one.
    straight = str(tmp_path / 'straight')
    _train(plain_config, straight)
    expected = torch.load(
        osp.join(straight, 'epoch_2.pth'), weights_only=True)
    for key, value in expected['state_dict'].items():
        torch.testing.assert_close(resumed['state_dict'][key], value)

    log = _train(plain_config, str(tmp_path / 'from'), '--cfg-options',
                 f'load_from={ckpt}', 'train_cfg.max_epochs=1')
    assert f'Load checkpoint from {ckpt}' in log

    run_tool('test.py', plain_config, '--checkpoint', ckpt, '--work-dir',
             str(tmp_path / 'test'))
    assert 'accuracy/top1' in _newest_log(str(tmp_path / 'test'))


def test_stock_checkpoint_is_refused_then_converted(tmp_path, plain_config):
    # Written by mmengine alone, without the plugin's plain message hub.
    script = (
        'from mmengine.config import Config\n'
        'from mmengine.runner import Runner\n'
        f'cfg = Config.fromfile({plain_config!r}, '
        'import_custom_modules=False)\n'
        'cfg.pop("custom_imports")\n'
        f'cfg.work_dir = {str(tmp_path / "stock")!r}\n'
        'cfg.train_cfg.max_epochs = 1\n'
        'runner = Runner.from_cfg(cfg)\n'
        'runner.train()\n'
        'import sys, torch; assert "emoreg_mm" not in sys.modules\n'
        'torch.save(runner.model.state_dict(), "weights.pth")\n')
    out = subprocess.run([sys.executable, '-c', script],
                         capture_output=True, text=True, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    stock = str(tmp_path / 'stock' / 'epoch_1.pth')
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(stock, map_location='cpu')
    assert 'builtins.getattr' in str(err.value) and stock in str(err.value)
    assert 'convert_checkpoint.py' in str(err.value)

    safe = str(tmp_path / 'safe.pth')
    out = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'misc', 'convert_checkpoint.py'), stock, safe
    ], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    assert torch.serialization.get_unsafe_globals_in_checkpoint(safe) == []
    converted = _load_checkpoint(safe, map_location='cpu')
    weights = torch.load(str(tmp_path / 'weights.pth'), weights_only=True)
    for key, value in weights.items():
        assert torch.equal(converted['state_dict'][key], value)
    losses = converted['message_hub']['log_scalars']['train/loss']
    assert len(losses['log_history']) == 2  # one epoch of 2 iterations


def test_missing_checkpoint_names_the_file(tmp_path):
    path = str(tmp_path / 'nowhere.pth')
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        _load_checkpoint(path, map_location='cpu')


def test_message_hub_api_is_stock_and_round_trip_keeps_statistics(
        tmp_path, plain_config, capsys):
    from mmengine.config import Config
    from mmengine.logging import HistoryBuffer, MessageHub
    from mmengine.runner import Runner
    from mmengine.runner.checkpoint import CheckpointLoader

    from emoreg_mm.compat.checkpoint import load_from_local

    # The loader is a named function: mmengine logs its name.
    assert CheckpointLoader._schemes[''] is load_from_local
    assert CheckpointLoader._schemes[''].__name__ == 'load_from_local'

    def runner(name, **changes):
        cfg = Config.fromfile(plain_config)
        cfg.work_dir = str(tmp_path / name)
        cfg.experiment_name = name
        cfg.merge_from_dict(changes)
        return Runner.from_cfg(cfg)

    first = runner('first', train_cfg=dict(max_epochs=1))
    first.train()
    # In memory, state_dict() is what stock mmengine returns.
    state = first.message_hub.state_dict()
    assert isinstance(state['log_scalars']['train/loss'], HistoryBuffer)
    assert state['log_scalars']['train/loss'].data[0].shape == (2, )

    ckpt = osp.join(first.work_dir, 'epoch_1.pth')
    # Inside the checkpoint: plain data, no global at all.
    assert torch.serialization.get_unsafe_globals_in_checkpoint(ckpt) == []
    second = runner('second', resume=True, load_from=ckpt)
    capsys.readouterr()
    second.load_or_resume()
    assert f'Loads checkpoint by local backend from path: {ckpt}' in \
        capsys.readouterr().out
    hub = second.message_hub
    # Every history saved (the train ones: the checkpoint precedes the
    # epoch's validation) is back, with every statistic.
    in_file = torch.load(ckpt, weights_only=True)['message_hub']
    assert set(hub.log_scalars) == set(in_file['log_scalars']) >= {
        'train/loss', 'train/lr'}
    for key, buffer in hub.log_scalars.items():
        old = state['log_scalars'][key]
        for mine, theirs in zip(buffer.data, old.data):
            np.testing.assert_array_equal(mine, theirs)
        for name in ('min', 'max', 'current', 'mean'):
            assert buffer.statistics(name) == old.statistics(name), (key,
                                                                     name)
    # A custom statistic registered in this process comes back too.
    fresh = MessageHub.get_instance('emoreg_contract_hub')
    fresh.update_scalar('x', 1.)
    fresh.update_scalar('x', 3.)
    HistoryBuffer.register_statistics(_spread)
    plain = to_plain(fresh.state_dict())
    back = MessageHub.get_instance('emoreg_contract_back')
    back.load_state_dict(plain)
    assert back.get_scalar('x').statistics('_spread') == 2.
    assert back.get_scalar('x').mean() == 2.


def _spread(self):
    return float(self._log_history.max() - self._log_history.min())


def test_to_plain_keeps_container_types():
    """Only numpy values change: a scheduler's Counter of milestones and a
    state dict's version metadata survive (a lost milestone would resume
    with the wrong learning rate)."""
    from collections import Counter, OrderedDict
    weights = OrderedDict(w=torch.ones(1))
    weights._metadata = OrderedDict({'': {'version': 2}})
    plain = to_plain({'milestones': Counter({2: 1, 5: 1}), 'w': weights,
                      'n': np.float32(0.5), 'a': np.arange(2)})
    assert plain['milestones'] == Counter({2: 1, 5: 1})
    assert type(plain['milestones']) is Counter
    assert plain['w']._metadata == {'': {'version': 2}}
    assert plain['n'] == 0.5 and type(plain['n']) is float
    assert plain['a'] == [0, 1]
