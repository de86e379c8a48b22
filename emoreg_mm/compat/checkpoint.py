"""Checkpoints that load through torch's safe loader (``weights_only=True``).

mmengine 0.10.7 saves the message hub's :class:`HistoryBuffer` objects as
pickled instances, and their pickles call ``builtins.getattr``. Allow-listing
``getattr`` would let a crafted file reach any module's globals, so instead:

- :func:`history_to_plain` / :func:`plain_to_history` turn the message hub's
  history into plain lists when a checkpoint is saved and back when it is
  loaded, so the checkpoints the Runner writes hold only tensors, containers
  and numbers;
- :func:`safe_load` is the loader mmengine uses for local files: it keeps
  ``weights_only=True``, allows a few inert numpy types and refuses anything
  else with an :class:`UnsafeCheckpointError` that names the globals and the
  file;
- ``tools/misc/convert_checkpoint.py`` rewrites a stock mmengine checkpoint
  that the user trusts into the safe form (:func:`convert_trusted`).
"""
import os.path as osp
import pickle
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, MessageHub

# Inert numpy types: constructing them runs no user-chosen code.
_NUMPY_SAFE = [np.ndarray, np.dtype, np._core.multiarray._reconstruct,
               np._core.multiarray.scalar] + [
                   getattr(np.dtypes, name) for name in np.dtypes.__all__]

# Marker of a HistoryBuffer turned into plain data.
_HISTORY_KEY = '__history_buffer__'
# What HistoryBuffer pickles reach through `getattr` in stock checkpoints.
_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint asks for globals that the safe loader does not allow."""


def history_to_plain(buffer: HistoryBuffer) -> dict:
    """Return ``buffer`` as a dict of plain lists and numbers."""
    return {
        _HISTORY_KEY: True,
        'log_history': np.asarray(buffer._log_history).tolist(),
        'count_history': np.asarray(buffer._count_history).tolist(),
        'max_length': int(buffer.max_length),
    }


def plain_to_history(value: Any) -> Any:
    """Rebuild a :class:`HistoryBuffer` from :func:`history_to_plain`."""
    if isinstance(value, dict) and value.get(_HISTORY_KEY):
        return HistoryBuffer(value['log_history'], value['count_history'],
                             value['max_length'])
    return value


def to_plain(value: Any) -> Any:
    """Turn numpy scalars and arrays nested in containers into plain data."""
    if isinstance(value, HistoryBuffer):
        return history_to_plain(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return type(value)((k, to_plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)) and not hasattr(value, '_fields'):
        return type(value)(to_plain(v) for v in value)
    return value


def _unsafe_globals(filename: str) -> List[str]:
    allowed = {f'{g.__module__}.{g.__qualname__}' for g in _NUMPY_SAFE}
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: the load error says more
        return []
    return [name for name in found if name not in allowed]


def safe_load(filename: str,
              map_location: Optional[Any] = None,
              extra_safe_globals: Optional[list] = None) -> Dict:
    """Load a checkpoint file with torch's safe loader.

    Args:
        filename (str): Path of the checkpoint file.
        map_location (optional): Same as :func:`torch.load`.
            Defaults to None.
        extra_safe_globals (list, optional): Further globals for
            :func:`torch.serialization.safe_globals`. Only
            :func:`convert_trusted` uses it. Defaults to None.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: the pickle asks for a global outside the
            allowed set; the message names the globals and the file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file not found: {filename}')
    try:
        with torch.serialization.safe_globals(_NUMPY_SAFE +
                                              (extra_safe_globals or [])):
            checkpoint = torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        names = _unsafe_globals(filename) or [
            line.strip() for line in str(err).splitlines()
            if 'Unsupported global' in line or 'Unsupported operand' in line
        ] or ['(unknown: not a torch zip checkpoint?)']
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: it needs the global(s) '
            f'{", ".join(names)}, which the safe loader (weights_only=True) '
            'does not allow, since unpickling them can run code. Checkpoints '
            'written with emoreg_mm imported hold only tensors and plain '
            'data. If you trust this file (e.g. written by stock mmengine), '
            'convert it once with: python tools/misc/convert_checkpoint.py '
            f'{filename} OUT.pth') from None
    return checkpoint


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


def convert_trusted(src: str, dst: str) -> List[str]:
    """Rewrite a stock mmengine checkpoint into the safe form.

    The pickle's ``builtins.getattr`` is served by a stand-in that resolves
    only HistoryBuffer's statistic methods, so even this path never grants
    general attribute access. Any other unknown global is still refused.

    Args:
        src (str): The checkpoint to convert (a file you trust).
        dst (str): Where to write the converted checkpoint.

    Returns:
        list[str]: The globals the source file needed.
    """
    needed = _unsafe_globals(src)
    checkpoint = safe_load(
        src,
        map_location='cpu',
        extra_safe_globals=[HistoryBuffer,
                            (_history_getattr, 'builtins.getattr')])
    torch.save(to_plain(checkpoint), dst)
    safe_load(dst, map_location='cpu')  # the result must load strictly
    return needed


def apply() -> None:
    """Make mmengine save plain message hubs and load through
    :func:`safe_load`."""
    from mmengine.runner.checkpoint import CheckpointLoader

    if getattr(MessageHub, '_emoreg_safe', False):
        return
    state_dict, load_state_dict = MessageHub.state_dict, \
        MessageHub.load_state_dict

    def plain_state_dict(self):
        return to_plain(state_dict(self))

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

    MessageHub.state_dict = plain_state_dict
    MessageHub.load_state_dict = rebuilding_load_state_dict
    MessageHub._emoreg_safe = True
    CheckpointLoader.register_scheme(
        prefixes='', loader=lambda filename, map_location: safe_load(
            filename, map_location), force=True)
