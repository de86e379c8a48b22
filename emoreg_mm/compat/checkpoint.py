"""Checkpoints that load through torch's safe loader (``weights_only=True``).

mmengine 0.10.7 saves the message hub's :class:`HistoryBuffer` objects as
pickled instances, and their pickles call ``builtins.getattr``. Allow-listing
``getattr`` would let a crafted file reach any module's globals, so instead:

- :func:`save_checkpoint` (what the Runner saves through) writes the message
  hub's history and every numpy value as plain lists and numbers, so the
  checkpoints this plugin writes hold only tensors, containers and numbers
  and need no global at all; it writes atomically (temporary file in the
  same folder, fsync, rename), so a kill or a full disk never leaves a
  partial file under the checkpoint's name. ``MessageHub.state_dict()``
  itself is untouched: the conversion happens only inside the checkpoint,
  and ``MessageHub.load_state_dict`` rebuilds the :class:`HistoryBuffer`
  objects (statistics methods included);
- :func:`safe_load` (``emoreg_mm.compat.safe_load``) is the loader
  mmengine uses for local files: it keeps
  ``weights_only=True`` with no extra global (not even numpy's: a forged
  ``numpy.dtype`` can make numpy read file bytes as object pointers) and
  refuses anything else with an :class:`UnsafeCheckpointError` that names
  the globals and the file; empty, truncated or corrupted files give a
  :class:`DamagedCheckpointError` naming the file and what is wrong;
- ``Runner.resume`` never executes the config string stored in a
  checkpoint (mmengine passes ``meta['config']`` to ``Config.fromstring``):
  what it reads from it comes from the running config instead;
- ``tools/misc/convert_checkpoint.py`` rewrites a stock mmengine checkpoint
  that the user trusts into the safe form (:func:`convert_trusted`); even
  there numpy arrays and dtypes are rebuilt by checked stand-ins, never by
  numpy's own unpickling.
"""
import copy
import math
import os
import os.path as osp
from typing import Any, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from ..fileio import atomic_write
from .safe_load import (UnsafeCheckpointError, _unsafe_globals,
                        load_from_local, safe_load)

# Marker of a HistoryBuffer turned into plain data.
_HISTORY_KEY = '__history_buffer__'
# What HistoryBuffer pickles reach through `getattr` in stock checkpoints.
_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')


def history_to_plain(buffer: HistoryBuffer) -> dict:
    """Return ``buffer`` as a dict of plain lists and numbers."""
    return {
        _HISTORY_KEY: True,
        'log_history': _plain_array(buffer._log_history),
        'count_history': _plain_array(buffer._count_history),
        'max_length': int(buffer.max_length),
        'statistics': sorted(buffer._statistics_methods),
    }


def plain_to_history(value: Any) -> Any:
    """Rebuild a :class:`HistoryBuffer` from :func:`history_to_plain`,
    with the statistics methods it was saved with (those HistoryBuffer
    knows by name: its own and any registered in this process)."""
    if not (isinstance(value, dict) and value.get(_HISTORY_KEY)):
        return value
    buffer = HistoryBuffer(value['log_history'], value['count_history'],
                           value['max_length'])
    for name in value.get('statistics', ()):
        method = HistoryBuffer._statistics_methods.get(name) or getattr(
            HistoryBuffer, name, None) if isinstance(name, str) else None
        if callable(method):
            buffer._statistics_methods.setdefault(name, method)
    return buffer


def to_plain(value: Any) -> Any:
    """Turn numpy scalars and arrays and HistoryBuffers nested in containers
    into plain data."""
    if isinstance(value, HistoryBuffer):
        return history_to_plain(value)
    if isinstance(value, (np.generic, np.ndarray, _NumpyArray, _NumpyDType)):
        return _plain_array(value)
    if isinstance(value, dict):
        # A shallow copy keeps the type and its attributes (a Counter's
        # counts, a state dict's _metadata); only the values are converted.
        plain = copy.copy(value)
        for key, item in value.items():
            plain[key] = to_plain(item)
        return plain
    if isinstance(value, (list, tuple)) and not hasattr(value, '_fields'):
        return type(value)(to_plain(v) for v in value)
    return value


def _plain_array(value: Any) -> Any:
    if isinstance(value, _NumpyArray):
        value = value.array
    if isinstance(value, _NumpyDType):
        return value.dtype.str
    if isinstance(value, (np.generic, np.ndarray)):
        if value.dtype.kind in 'OV':
            raise UnsafeCheckpointError(
                f'refusing a numpy value of dtype {value.dtype}')
        return value.tolist()
    return np.asarray(value).tolist()


def save_checkpoint(checkpoint: dict,
                    filename: str,
                    file_client_args: Optional[dict] = None,
                    backend_args: Optional[dict] = None) -> None:
    """What the Runner saves checkpoints through: plain data, atomically.

    Local files are written with :func:`atomic_write` after
    :func:`to_plain`; other backends (``s3://`` ...) go through mmengine's
    own ``save_checkpoint`` (still with plain data).

    Args:
        checkpoint (dict): The checkpoint.
        filename (str): Where to write it.
        file_client_args (dict, optional): Deprecated mmengine argument.
            Defaults to None.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
    """
    from mmengine.runner import checkpoint as mm_checkpoint
    checkpoint = to_plain(checkpoint)
    if file_client_args or backend_args or '://' in filename:
        return mm_checkpoint.save_checkpoint(checkpoint, filename,
                                             file_client_args, backend_args)
    os.makedirs(osp.dirname(osp.abspath(filename)), exist_ok=True)
    atomic_write(filename, lambda f: torch.save(checkpoint, f))


def _refuse(what: str):
    raise UnsafeCheckpointError(
        f'convert_checkpoint: refusing {what}; only plain numeric numpy '
        'arrays, scalars and dtypes and HistoryBuffer statistics are '
        'rebuilt.')


class _NumpyDType:
    """Stands for ``numpy.dtype`` while converting: only plain numeric and
    string dtypes, with the flags numpy itself gives them."""

    def __init__(self, spec: Any = None, align: bool = False,
                 copy: bool = False):
        if not isinstance(spec, str):
            _refuse(f'numpy.dtype({spec!r})')
        try:
            self.dtype = np.dtype(spec)
        except TypeError:
            _refuse(f'numpy.dtype({spec!r})')
        if self.dtype.kind not in 'biufcUSmM' or self.dtype.fields or \
                self.dtype.subdtype:
            _refuse(f'numpy.dtype({spec!r})')

    def __setstate__(self, state: tuple) -> None:
        if not isinstance(state, tuple) or len(state) < 8:
            _refuse(f'dtype state {state!r}')
        _, order, subarray, names, fields, elsize, align, flags = state[:8]
        if (subarray, names, fields) != (None, None, None) or \
                flags != self.dtype.flags or \
                elsize not in (-1, self.dtype.itemsize) or \
                order not in ('<', '>', '|', '='):
            _refuse(f'dtype {self.dtype} with state {state!r}')
        if order in '<>':
            self.dtype = self.dtype.newbyteorder(order)


class _NumpyArray:
    """Stands for ``numpy.ndarray`` while converting; the array is built
    from raw bytes of a checked dtype, never from pickled objects."""

    array = None

    def __setstate__(self, state: tuple) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            _refuse(f'array state of {len(state)} items')
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _NumpyDType) or not isinstance(
                raw, (bytes, bytearray)) or not isinstance(
                    shape, tuple) or not all(
                        isinstance(n, int) and n >= 0 for n in shape):
            _refuse('an array that is not raw bytes of a plain dtype')
        count = math.prod(shape)  # Python ints: no overflow
        if count * dtype.dtype.itemsize != len(raw):
            _refuse(f'an array of shape {shape} on {len(raw)} bytes')
        self.array = np.frombuffer(bytes(raw), dtype=dtype.dtype).reshape(
            shape, order='F' if fortran else 'C').copy()


def _reconstruct(cls: Any, shape: Any = (0, ), code: Any = b'b'):
    if cls is not _NumpyArray:
        _refuse(f'numpy reconstruction of {cls!r}')
    return _NumpyArray()


def _scalar(dtype: Any, raw: Any = b''):
    if not isinstance(dtype, _NumpyDType) or not isinstance(
            raw, (bytes, bytearray)) or len(raw) != dtype.dtype.itemsize:
        _refuse('a numpy scalar that is not raw bytes of a plain dtype')
    return np.frombuffer(bytes(raw), dtype=dtype.dtype)[0].item()


def _history_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` when converting a trusted file.

    Reaches only HistoryBuffer's statistic methods; anything else raises.
    """
    if (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) \
            and name in _HISTORY_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise UnsafeCheckpointError(
        f'convert_checkpoint: refusing attribute access {name!r} on '
        f'{type(obj).__name__}; only HistoryBuffer statistics '
        f'{_HISTORY_STATISTICS} are rebuilt.')


_CONVERT_GLOBALS = [
    HistoryBuffer,
    (_history_getattr, 'builtins.getattr'),
    (_NumpyDType, 'numpy.dtype'),
    (_NumpyArray, 'numpy.ndarray'),
    (_reconstruct, 'numpy._core.multiarray._reconstruct'),
    (_reconstruct, 'numpy.core.multiarray._reconstruct'),
    (_scalar, 'numpy._core.multiarray.scalar'),
    (_scalar, 'numpy.core.multiarray.scalar'),
]


def convert_trusted(src: str, dst: str) -> List[str]:
    """Rewrite a stock mmengine checkpoint into the safe form.

    The pickle's ``builtins.getattr`` is served by a stand-in that resolves
    only HistoryBuffer's statistic methods, and numpy's ``dtype``,
    ``ndarray`` and scalars by stand-ins that accept only plain numeric or
    string data (a forged dtype is refused, not handed to numpy), so even
    this path never grants general attribute access or reads file bytes as
    objects. Any other unknown global is still refused. The output is
    written atomically.

    Args:
        src (str): The checkpoint to convert (a file you trust).
        dst (str): Where to write the converted checkpoint.

    Returns:
        list[str]: The globals the source file needed.
    """
    needed = _unsafe_globals(src)
    checkpoint = safe_load(
        src, map_location='cpu', extra_safe_globals=_CONVERT_GLOBALS)
    save_checkpoint(checkpoint, dst)
    safe_load(dst, map_location='cpu')  # the result must load strictly
    return needed


def _config_from_running(runner) -> Optional[str]:
    """The part of a checkpoint's ``meta['config']`` that
    ``Runner.resume`` reads (``gpu_ids``), from the running config."""
    gpu_ids = runner.cfg.get('gpu_ids') if runner.cfg is not None else None
    if isinstance(gpu_ids, (list, tuple)) and all(
            isinstance(i, int) for i in gpu_ids):
        return f'gpu_ids = {list(gpu_ids)!r}\n'
    return None


def apply() -> None:
    """Make mmengine's Runner save plain, atomic checkpoints, load through
    :func:`safe_load` and resume without executing stored configs."""
    from mmengine.runner import Runner
    from mmengine.runner import runner as runner_module
    from mmengine.runner.checkpoint import CheckpointLoader

    if getattr(MessageHub, '_emoreg_safe', False):
        return
    load_state_dict = MessageHub.load_state_dict

    def rebuilding_load_state_dict(self, state):
        if isinstance(state, dict) and isinstance(
                state.get('log_scalars'), dict):
            state = dict(
                state,
                log_scalars={
                    k: plain_to_history(v)
                    for k, v in state['log_scalars'].items()
                })
        return load_state_dict(self, state)

    rebuilding_load_state_dict.__doc__ = load_state_dict.__doc__
    MessageHub.load_state_dict = rebuilding_load_state_dict
    MessageHub._emoreg_safe = True

    # Runner.save_checkpoint calls this module-level name.
    runner_module.save_checkpoint = save_checkpoint

    resume = Runner.resume

    def resume_without_stored_config(self, filename, *args, **kwargs):
        load = self.load_checkpoint

        def load_checkpoint(*a, **k):
            checkpoint = load(*a, **k)
            meta = checkpoint.get('meta') if isinstance(checkpoint,
                                                        dict) else None
            if isinstance(meta, dict) and 'config' in meta:
                running = _config_from_running(self)
                if running is None:
                    meta.pop('config')
                else:
                    meta['config'] = running
            return checkpoint

        self.load_checkpoint = load_checkpoint
        try:
            return resume(self, filename, *args, **kwargs)
        finally:
            del self.load_checkpoint

    resume_without_stored_config.__doc__ = resume.__doc__
    Runner.resume = resume_without_stored_config

    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
