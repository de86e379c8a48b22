"""A ``.npy`` file holding a pickled dict of arrays, read without running
anything it holds.

``np.save(path, {...})`` stores a dict as a 0-d object array: the ``.npy``
header (``dtype('O')``, shape ``()``) and then a pickle of that array,
whose one element is the dict. ``np.load(allow_pickle=True)`` runs whatever
that pickle asks for. :func:`read_pickled_dict` unpickles it with an
unpickler that admits three globals, and lets numpy build nothing from what
the file says but plain integer arrays:

- ``numpy.core.multiarray._reconstruct`` (``numpy._core`` in numpy 2) with
  ``numpy.ndarray``: only as ``_reconstruct(ndarray, (0,), b'b')``, numpy's
  own first step of an array, and what it gives is a stand-in
  (:class:`_Array`), not an array;
- ``numpy.dtype``: only the integer kinds of :data:`DTYPES` (and the
  object dtype of the outer 0-d array), and its pickled state only as numpy
  writes it for such a dtype (a byte order; no fields, subarray or flags
  but the object dtype's). A forged state could make numpy read an array's
  bytes as object pointers, so the state never reaches numpy: the dtype is
  made from its name;
- an array's state ``(1, shape, dtype, fortran, bytes)`` must hold exactly
  ``prod(shape) x itemsize`` bytes; only then are they copied into an
  array of that dtype.

Any other global (``os.system``, ``builtins.eval``, ``copyreg``, numpy's
scalars, ...) is refused when the pickle names it, before anything is
called. Object arrays other than the outer one are refused; the dict's keys
must be ``str`` and its values such arrays or lists of ``str``. The file is
read whole with :func:`emoreg_mm.fileio.read_bytes` (a regular file, at
most ``max_bytes``), and bytes after the pickle are refused.
"""
import io
import math
import pickle
from typing import Dict, List, Union

import numpy as np

from ..fileio import UnreadableFileError, read_bytes

#: The array dtypes admitted (numpy's names, as its pickles give them).
DTYPES = ('u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8')
#: The object dtype: the outer 0-d array only.
OBJECT = 'O8'
#: numpy's pickled dtype state: (3, byte order, None, None, None, -1, -1,
#: flags); flags 63 for the object dtype, 0 for a plain one.
FLAGS = {OBJECT: 63}
RECONSTRUCT = ('numpy.core.multiarray', 'numpy._core.multiarray')


class PickledNpyError(ValueError):
    """A pickled ``.npy`` is refused; the message names it and why."""


class _Refused(pickle.UnpicklingError):
    """What the unpickler refuses, before the file is named."""


class _Dtype:
    """A dtype the pickle names: admitted by its name and its state."""
    spec, dtype = None, None

    def __init__(self, spec, align=False, copy=True):
        # numpy 1 pickled (name, 0, 1), numpy 2 (name, False, True)
        if spec not in DTYPES + (OBJECT, ) or not (
                type(align) in (bool, int) and align == 0 and
                type(copy) in (bool, int) and copy == 1):
            raise _Refused(f'dtype {str(spec)[:20]!r} (align={align!r}); '
                           f'expected one of {", ".join(DTYPES)}')
        self.spec = spec

    def __setstate__(self, state):
        one_byte = self.spec in (OBJECT, ) + DTYPES[:2]
        if self.spec is None or not (
                type(state) is tuple and len(state) == 8
                and state[0] == 3 and state[1] in (
                    ('|', ) if one_byte else ('<', '>'))
                and state[2:] == (None, None, None, -1, -1,
                                  FLAGS.get(self.spec, 0))):
            raise _Refused(f'dtype {self.spec!r} with the state '
                           f'{str(state)[:80]}, which numpy does not write '
                           'for it')
        dtype = np.dtype(self.spec)
        self.dtype = dtype if one_byte else dtype.newbyteorder(state[1])


class _Array:
    """An array the pickle builds: its bytes become an array of its dtype
    once their length fits its shape."""
    built, is_object, value = False, False, None

    def __setstate__(self, state):
        if not (type(state) is tuple and len(state) == 5 and state[0] == 1):
            raise _Refused(f'array state {str(state)[:80]}; expected (1, '
                           'shape, dtype, fortran, data)')
        _, shape, dtype, fortran, data = state
        if not (isinstance(dtype, _Dtype) and dtype.dtype is not None
                and type(shape) is tuple and type(fortran) is bool
                and all(type(n) is int and n >= 0 for n in shape)):
            raise _Refused(f'array of shape {str(shape)[:40]} and dtype '
                           f'{getattr(dtype, "spec", dtype)!r}, not as numpy '
                           'pickles one')
        if dtype.spec == OBJECT:
            if shape != () or type(data) is not list or len(data) != 1:
                raise _Refused(f'an object array of shape {shape}; only the '
                               'outer 0-d one holding the dict is admitted')
            self.value, self.is_object = data[0], True
        else:
            size = math.prod(shape) * dtype.dtype.itemsize
            if type(data) is not bytes or len(data) != size:
                raise _Refused(f'{dtype.spec} array of shape {shape} with '
                               f'{len(data) if type(data) is bytes else "no"}'
                               f' bytes of data; expected {size}')
            self.value = np.ndarray(shape, dtype.dtype, buffer=data,
                                    order='F' if fortran else 'C').copy()
        self.built = True


class _Unpickler(pickle.Unpickler):
    """Admits the three globals of the module docstring. What it gives for
    ``numpy.ndarray`` (a bare ``object()``) and ``_reconstruct`` (a
    function) are made for this reading: a pickle that sets attributes on
    them changes nothing another reading sees."""

    def __init__(self, file):
        super().__init__(file)
        ndarray = object()

        def reconstruct(cls, shape, typecode):
            if cls is not ndarray or shape != (0, ) or typecode != b'b':
                raise _Refused('_reconstruct with other arguments than '
                               'numpy gives it')
            return _Array()

        self.admitted = {('numpy', 'ndarray'): ndarray,
                         ('numpy', 'dtype'): _Dtype}
        self.admitted.update({(m, '_reconstruct'): reconstruct
                              for m in RECONSTRUCT})

    def find_class(self, module, name):
        found = self.admitted.get((module, name))
        if found is None:
            raise _Refused(f'the pickle asks for {str(module)[:60]}.'
                           f'{str(name)[:60]}, which a dict of integer '
                           'arrays never needs; nothing it holds was run')
        return found


def _header(path: str, stream) -> None:
    """Refuse anything but the header of a pickled 0-d object array."""
    try:
        version = np.lib.format.read_magic(stream)
        read = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f'.npy format {version} unknown')
        shape, _, dtype = read(stream)
    except ValueError as err:
        raise PickledNpyError(f'{path}: not a .npy file ({err})') from None
    if dtype != np.dtype(object) or shape != ():
        raise PickledNpyError(
            f'{path}: a .npy of {dtype} and shape {shape}; expected the '
            'pickled dict np.save writes (dtype object, shape ())')


def read_pickled_dict(path: str, max_bytes: int
                      ) -> Dict[str, Union[np.ndarray, List[str]]]:
    """The dict a ``.npy`` holds, each array of an integer dtype.

    Args:
        path (str): The file, as ``np.save(path, dict)`` writes it.
        max_bytes (int): Larger files are refused before they are read.

    Returns:
        dict: ``str`` keys; integer arrays and lists of ``str``.

    Raises:
        PickledNpyError: Anything else (module docstring), a truncated or
            damaged file; the message names the file and what is wrong.
    """
    try:
        stream = io.BytesIO(read_bytes(path, max_bytes))
    except UnreadableFileError as err:
        raise PickledNpyError(str(err)) from None
    _header(path, stream)
    try:
        top = _Unpickler(stream).load()
    except _Refused as err:
        raise PickledNpyError(f'{path}: refused: {err}') from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError, KeyError, MemoryError,
            RecursionError, OverflowError) as err:
        raise PickledNpyError(
            f'{path}: not a whole pickle of a dict of arrays '
            f'({type(err).__name__}: {str(err)[:100]}); truncated or '
            'damaged?') from None
    if stream.read(1):
        raise PickledNpyError(f'{path}: bytes after the pickle (at '
                              f'{stream.tell() - 1}); not a file np.save '
                              'writes')
    value = top.value if isinstance(top, _Array) and top.is_object else None
    if type(value) is not dict:
        raise PickledNpyError(f'{path}: holds {type(value).__name__}; '
                              'expected a dict in a 0-d object array')
    out = {}
    for key, item in value.items():
        if type(key) is not str:
            raise PickledNpyError(f'{path}: a key {str(key)[:40]!r}; '
                                  'expected str keys')
        if isinstance(item, _Array) and item.built and not item.is_object:
            out[key] = item.value
        elif type(item) is list and all(type(s) is str for s in item):
            out[key] = list(item)
        else:
            raise PickledNpyError(
                f'{path}: {key!r} holds {type(item).__name__}; expected an '
                f'integer array ({", ".join(DTYPES)}) or a list of str')
    return out
