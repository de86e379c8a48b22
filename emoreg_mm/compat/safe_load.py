"""Loading a checkpoint file with torch's safe loader, and nothing else.

:func:`safe_load` keeps ``weights_only=True`` with no extra global (not even
numpy's: a forged ``numpy.dtype`` can make numpy read file bytes as object
pointers) and refuses anything else with an :class:`UnsafeCheckpointError`
that names the globals and the file; empty, truncated or corrupted files,
records that inflate past :data:`~emoreg_mm.fileio.MAX_INFLATION` and plain
data that expands past :data:`MAX_ITEMS_PER_BYTE` give a
:class:`DamagedCheckpointError` naming the file and what is wrong. ``emoreg_mm.compat.checkpoint`` makes it the
loader mmengine uses for local files.
"""
import os.path as osp
import pickle
import zipfile
from typing import Any, Dict, List, Optional

import torch

from ..fileio import MAX_INFLATION, over_inflated
#: Items of plain data (list, tuple, dict entries, shared references
#: counted each time) per byte of the checkpoint file.
MAX_ITEMS_PER_BYTE = 1


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint asks for globals that the safe loader does not allow."""


class DamagedCheckpointError(ValueError):
    """A checkpoint file is empty, truncated or corrupted."""


def _describe_damage(filename: str) -> Optional[str]:
    """What is wrong with the file, or None if it looks like an intact
    torch checkpoint."""
    size = osp.getsize(filename)
    if size == 0:
        return 'the file is empty (0 bytes; an interrupted save?)'
    with open(filename, 'rb') as f:
        head = f.read(4)
    if head[:2] == b'PK':
        try:
            with zipfile.ZipFile(filename) as archive:
                for info in archive.infolist():  # before inflating any
                    if info.compress_type != zipfile.ZIP_STORED and \
                            over_inflated(info):
                        return (f'its record {info.filename} is compressed '
                                f'and declares {info.file_size} bytes from '
                                f'{info.compress_size} (limit: '
                                f'{MAX_INFLATION} times; torch writes its '
                                'records uncompressed)')
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            return (f'it is a truncated or damaged zip archive ({size} '
                    f'bytes; {err}); an interrupted copy or save?')
        if bad is not None:
            return (f'its member {bad} fails its CRC check (the file is '
                    'corrupted)')
        return None
    if head[:1] != b'\x80':  # neither zip nor a legacy torch pickle
        return (f'it is not a PyTorch checkpoint (starts with bytes '
                f'{head!r}, expected a zip archive)')
    return None


def check_intact(filename: str) -> Optional[str]:
    """Why ``filename`` is not a complete checkpoint, or None.

    Checks without unpickling: the file exists, is not empty, and is a zip
    archive whose members pass their CRC checks.
    """
    if not osp.isfile(filename):
        return 'the file does not exist'
    try:
        return _describe_damage(filename)
    except OSError as err:
        return f'it cannot be read ({err})'


def _unsafe_globals(filename: str,
                    allowed_extra: Optional[list] = None) -> List[str]:
    allowed = set()
    for g in allowed_extra or []:
        allowed.add(g[1] if isinstance(g, tuple) else
                    f'{g.__module__}.{g.__qualname__}')
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
        DamagedCheckpointError: the file is empty, truncated or corrupted;
            the message names the file and the damage.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file not found: {filename}')
    damage = _describe_damage(filename)
    if damage is not None:
        raise DamagedCheckpointError(
            f'Cannot load checkpoint {filename}: {damage}.')
    try:
        with torch.serialization.safe_globals(extra_safe_globals or []):
            checkpoint = torch.load(
                filename, map_location=map_location, weights_only=True)
    except UnsafeCheckpointError:
        raise
    except pickle.UnpicklingError as err:
        refused = [line[line.index('convert_checkpoint: refusing'):]
                   for line in str(err).splitlines()
                   if 'convert_checkpoint: refusing' in line]
        if refused:  # a stand-in of convert_trusted said no
            raise UnsafeCheckpointError(
                f'Refusing to convert checkpoint {filename}: '
                f'{refused[0]}') from None
        names = _unsafe_globals(filename, extra_safe_globals) or [
            line.strip() for line in str(err).splitlines()
            if 'Unsupported global' in line or 'Unsupported operand' in line
        ] or ['(unknown: not a torch zip checkpoint?)']
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: it needs the global(s) '
            f'{", ".join(names)}, which the safe loader (weights_only=True) '
            'does not allow, since unpickling them can run code or read '
            'forged data. Checkpoints written with emoreg_mm imported hold '
            'only tensors and plain data. If you trust this file (e.g. '
            'written by stock mmengine), convert it once with: python '
            f'tools/misc/convert_checkpoint.py {filename} OUT.pth (with the '
            'package installed by pip or mim: mim run emoreg_mm '
            f'convert_checkpoint {filename} OUT.pth)') from None
    except (RuntimeError, OSError, EOFError, ValueError, KeyError,
            zipfile.BadZipFile, OverflowError, MemoryError) as err:
        raise DamagedCheckpointError(
            f'Cannot load checkpoint {filename}: it is damaged or not a '
            f'PyTorch checkpoint ({type(err).__name__}: '
            f'{str(err)[:300]}).') from None
    _check_expansion(checkpoint, filename)
    return checkpoint


def _check_expansion(checkpoint: Any, filename: str) -> None:
    """Refuse a checkpoint whose plain data, with shared references counted
    each time they occur, holds more items than ``MAX_ITEMS_PER_BYTE`` per
    byte of the file (at least 2**20): a pickle can reference one list a
    million times in a few bytes each, and converting the message hub's
    history to arrays would then allocate for every reference."""
    limit = MAX_ITEMS_PER_BYTE * max(osp.getsize(filename), 1 << 20)
    count, stack = 0, [checkpoint]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            count += len(value)
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            count += len(value)
            stack.extend(value)
        else:
            continue
        if count > limit:
            raise DamagedCheckpointError(
                f'Cannot load checkpoint {filename}: its plain data expands '
                f'to more than {limit} items ({MAX_ITEMS_PER_BYTE} per byte '
                'of the file; shared references counted each time), which '
                'no checkpoint written by training holds. Not loaded.')


def load_from_local(filename: str, map_location: Optional[Any] = None):
    """mmengine's local-file checkpoint loader, through :func:`safe_load`."""
    return safe_load(filename, map_location)
