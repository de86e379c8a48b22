"""Predictions on disk that load without unpickling.

``tools/test.py --out FILE.npz`` writes the test predictions with
:func:`save_predictions`; the project's tools read them back with
:func:`load_predictions`. The file is a NumPy ``.npz`` archive holding only
numeric and fixed-width string arrays, read with ``allow_pickle=False``, so
opening a predictions file a colleague sent cannot run code. Keys:

==================  ========  ===============================================
key                 shape     meaning
==================  ========  ===============================================
``sample_idx``      (N,)      index of the image in the test dataset
``gt_label``        (N,)      ground-truth class
``pred_label``      (N,)      predicted class
``pred_score``      (N, C)    class scores
``rho``             (N,)      regulation weight (RegulationHead only)
``pred_score_n``    (N, C)    softmax(z_N), N's own class probabilities
                              (RegulationHead with N built)
``pred_score_i``    (N, C)    softmax(z_I), I's own class probabilities
                              (RegulationHead with I built)
``affect_score``    (N, K)    affective state a(x) (emotional encoder only)
``affect_class``    (N,)      name of the top emotion (str)
``img_path``        (N,)      image file (str), where the dataset gives one
``meta``            ()        a JSON object: what wrote the file (the
                              corruption evaluation: the checkpoint's
                              identity), where the writer gives one
==================  ========  ===============================================

Both ends check the same: at least one image and one class, labels that
are integers in ``[0, C)`` (``C`` the columns of ``pred_score``), and
finite scores (a NaN or infinite row, from a model whose outputs diverged,
is refused rather than tabled as a NaN calibration); a file that breaks one
is a :class:`PredictionsFileError` naming it, the key and the first row.

A ``.pkl`` (mmengine's ``DumpResults`` format, a pickled list of dicts) is
read only with ``trust_pickle=True``: unpickling a file runs whatever code
it holds.

The two branch keys are float32 softmaxes, not only each branch's label:
with both, ``pred_score == (1 - rho) pred_score_n + rho pred_score_i``, so
any other fusion of the same two branches (``const``'s rho = 0.5, the best
rho per image) and each branch's calibration can be recomputed from the file
(:mod:`emoreg_mm.evaluation.analysis`). Files written before these keys
existed load as before, without them.
"""
import json
import math
import os
import os.path as osp
import zipfile
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from ..fileio import MAX_INFLATION, atomic_write, over_inflated

REQUIRED_KEYS = ('sample_idx', 'gt_label', 'pred_label', 'pred_score')
OPTIONAL_KEYS = ('rho', 'pred_score_n', 'pred_score_i', 'affect_score',
                 'affect_class', 'img_path')
#: The per-branch class probabilities, each shaped like ``pred_score``.
BRANCH_KEYS = ('pred_score_n', 'pred_score_i')
PICKLE_SUFFIXES = ('.pkl', '.pickle')
#: A 0-d string array holding a JSON object: what wrote the file.
META_KEY = 'meta'
LABEL_KEYS = ('gt_label', 'pred_label')


class PredictionsFileError(ValueError):
    """A predictions file is missing, malformed or needs unpickling."""


def _np(x: Any) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_dict(sample: Any) -> Mapping:
    return sample.to_dict() if hasattr(sample, 'to_dict') else sample


def samples_to_arrays(samples: Sequence[Any]) -> Dict[str, np.ndarray]:
    """Stack prediction samples into the arrays of this module's format.

    Args:
        samples (Sequence[dict | DataSample]): What the model's
            ``predict`` returns (or ``DataSample.to_dict()`` of it), one per
            image.

    Returns:
        dict[str, numpy.ndarray]: The keys of the module docstring; optional
        keys only where every sample has them.
    """
    samples = [_as_dict(s) for s in samples]
    if not samples:
        raise PredictionsFileError('no predictions to save')
    for key in ('gt_label', 'pred_label', 'pred_score'):
        missing = [i for i, s in enumerate(samples) if key not in s]
        if missing:
            raise PredictionsFileError(
                f'{len(missing)} prediction(s) lack {key!r} (first: sample '
                f'{missing[0]}); expected DataSample predictions of a '
                'classifier.')

    def scalar(s, key, dtype):
        return _np(s[key]).reshape(-1)[0].astype(dtype)

    out = {
        'sample_idx': np.array([
            int(_np(s['sample_idx']).reshape(-1)[0]) if 'sample_idx' in s
            else i for i, s in enumerate(samples)
        ], dtype=np.int64),
        'gt_label': np.array([scalar(s, 'gt_label', np.int64)
                              for s in samples]),
        'pred_label': np.array([scalar(s, 'pred_label', np.int64)
                                for s in samples]),
        'pred_score': np.stack([_np(s['pred_score']).astype(np.float32)
                                for s in samples]),
    }
    if all('rho' in s for s in samples):
        out['rho'] = np.array([scalar(s, 'rho', np.float32)
                               for s in samples])
    for key in BRANCH_KEYS + ('affect_score', ):
        if all(key in s for s in samples):
            out[key] = np.stack(
                [_np(s[key]).astype(np.float32) for s in samples])
    for key in ('affect_class', 'img_path'):
        if all(key in s for s in samples):
            out[key] = np.array([str(s[key]) for s in samples], dtype=str)
    return out


def save_predictions(path: str, samples: Sequence[Any],
                     meta: Optional[dict] = None) -> str:
    """Write predictions to ``path`` (``.npz``), atomically.

    The archive is written under a temporary name in the same folder,
    flushed to disk and renamed over ``path``, so a reader never sees a
    partial file. What :func:`load_predictions` would refuse is refused
    here, before anything is written.

    Args:
        path (str): Output file; must end with ``.npz``.
        samples (Sequence[dict | DataSample]): Predictions, one per image.
        meta (dict, optional): What wrote the file, stored as JSON under
            ``meta`` (:func:`predictions_meta` reads it back).

    Returns:
        str: ``path``.
    """
    if not path.endswith('.npz'):
        raise PredictionsFileError(
            f'{path}: predictions are saved as .npz (loads without '
            'unpickling); give a file name ending in .npz')
    arrays = samples_to_arrays(samples)
    if meta is not None:
        arrays[META_KEY] = np.array(json.dumps(meta))
    check_predictions(path, arrays)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    # A full disk is an OSError(ENOSPC) naming the file; the old one stays.
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def predictions_meta(arrays: Mapping[str, np.ndarray]) -> dict:
    """The ``meta`` object of loaded predictions (``{}`` without one)."""
    meta = arrays.get(META_KEY)
    return {} if meta is None else json.loads(str(meta))


def _check_meta(path: str, meta: np.ndarray) -> None:
    try:
        ok = meta.ndim == 0 and meta.dtype.kind == 'U' and isinstance(
            json.loads(str(meta)), dict)
    except (ValueError, RecursionError):
        ok = False
    if not ok:
        raise PredictionsFileError(
            f'{path}: {META_KEY!r} is not a JSON object in one string '
            f'({meta.dtype}, shape {meta.shape})')


def _first_bad(path: str, key: str, bad: np.ndarray, what: str) -> None:
    """Refuse ``key`` where the row mask ``bad`` holds a row."""
    if bad.any():
        first = int(np.argmax(bad))
        raise PredictionsFileError(
            f'{path}: {key!r} {what} in {int(bad.sum())} of {len(bad)} '
            f'rows (first: row {first})')


def _check_values(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """Images and classes there, labels in range, scores finite; labels
    given as integral floats become int64."""
    n, classes = arrays['pred_score'].shape
    if n == 0 or classes == 0:
        raise PredictionsFileError(
            f'{path}: pred_score has shape {(n, classes)}; expected at least '
            'one image and one class')
    for key, value in arrays.items():
        if value.dtype.kind == 'f' and key not in (META_KEY, ) + LABEL_KEYS:
            _first_bad(path, key, ~np.isfinite(value.reshape(n, -1)).all(1),
                       'has NaN or infinite values (diverged outputs?)')
    for key in LABEL_KEYS:
        value = arrays[key]
        if value.dtype.kind == 'f':
            _first_bad(path, key, ~np.isfinite(value),
                       'is NaN or infinite, not a class index,')
            _first_bad(path, key, value != np.round(value),
                       'holds values that are not class indices')
            value = arrays[key] = value.astype(np.int64)
        elif value.dtype.kind not in 'iu':
            raise PredictionsFileError(
                f'{path}: {key!r} has dtype {value.dtype}; expected integer '
                'class indices')
        bad = (value < 0) | (value >= classes)
        if bad.any():
            first = int(np.argmax(bad))
            _first_bad(path, key, bad,
                       f'is {value[first]} (outside the classes 0..'
                       f'{classes - 1} of pred_score)')


def check_predictions(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """Refuse predictions arrays that break the format (module docstring):
    a :class:`PredictionsFileError` naming ``path`` (the file, or where
    the arrays come from), the key and the first bad row. Labels given as
    integral floats become int64 in ``arrays``."""
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise PredictionsFileError(
            f'{path}: not a predictions file: missing key(s) {missing} '
            f'(expected {list(REQUIRED_KEYS)})')
    for key in ('gt_label', 'pred_label', 'sample_idx'):
        if key in arrays and arrays[key].ndim != 1:
            raise PredictionsFileError(
                f'{path}: {key!r} has shape {arrays[key].shape}; expected '
                'one value per image (N,)')
    if META_KEY in arrays:
        _check_meta(path, arrays[META_KEY])
    n = len(arrays['gt_label'])
    for key, value in arrays.items():
        if key == META_KEY:
            continue
        if value.dtype.kind not in 'biufU':
            raise PredictionsFileError(
                f'{path}: {key!r} has dtype {value.dtype}; expected numbers '
                'or strings')
        if value.ndim == 0 or value.shape[0] != n:
            raise PredictionsFileError(
                f'{path}: {key!r} has shape {value.shape}; expected {n} rows '
                'like gt_label')
    if arrays['pred_score'].ndim != 2:
        raise PredictionsFileError(
            f'{path}: pred_score has shape {arrays["pred_score"].shape}; '
            'expected (N, C)')
    for key in BRANCH_KEYS:
        if key in arrays and arrays[key].shape != arrays['pred_score'].shape:
            raise PredictionsFileError(
                f'{path}: {key!r} has shape {arrays[key].shape}; expected '
                f'{arrays["pred_score"].shape} like pred_score (one branch\'s'
                ' class probabilities per image)')
    _check_values(path, arrays)


def _check_npz_sizes(path: str) -> None:
    """Refuse, before anything is inflated or allocated, an archive whose
    members declare more data than they hold: each ``.npy`` header's shape
    and dtype must match the member's size, and a compressed member may
    inflate at most ``MAX_INFLATION`` times."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if over_inflated(info):
                    raise PredictionsFileError(
                        f'{path}: member {info.filename} declares '
                        f'{info.file_size} bytes from {info.compress_size} '
                        f'compressed (limit: {MAX_INFLATION} times); not '
                        'read.')
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = {
                        (1, 0): np.lib.format.read_array_header_1_0,
                        (2, 0): np.lib.format.read_array_header_2_0,
                    }.get(version)
                    if read_header is None:
                        raise ValueError(f'member {info.filename}: .npy '
                                         f'format {version} unknown')
                    shape, _, dtype = read_header(member)
                    header = member.tell()
                if dtype.hasobject:
                    continue  # refused by np.load(allow_pickle=False)
                need = math.prod(shape) * dtype.itemsize
                if need != info.file_size - header:
                    raise PredictionsFileError(
                        f'{path}: member {info.filename} declares shape '
                        f'{shape} of {dtype} ({need} bytes) but holds '
                        f'{info.file_size - header}; not read.')
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        if isinstance(err, PredictionsFileError):
            raise
        raise PredictionsFileError(
            f'{path}: not a predictions .npz archive readable without '
            f'unpickling ({type(err).__name__}: {err})') from None


def load_predictions(path: str,
                     trust_pickle: bool = False) -> Dict[str, np.ndarray]:
    """Read predictions written by :func:`save_predictions`.

    Args:
        path (str): A ``.npz`` file of :func:`save_predictions`, or a
            ``.pkl`` of mmengine's ``DumpResults`` (only with
            ``trust_pickle``).
        trust_pickle (bool): Unpickle a ``.pkl``/``.pickle`` file. Only for
            files you trust: unpickling runs the code a file holds.
            Defaults to False.

    Returns:
        dict[str, numpy.ndarray]: The arrays of the module docstring.

    Raises:
        PredictionsFileError: the file is missing, malformed, or a pickle
            without ``trust_pickle``; the message names the file.
    """
    if not osp.isfile(path):
        raise PredictionsFileError(f'{path}: predictions file not found')
    if path.endswith(PICKLE_SUFFIXES):
        if not trust_pickle:
            raise PredictionsFileError(
                f'{path}: a pickle file; reading it would run any code it '
                'holds. Write predictions as .npz (tools/test.py --out '
                'FILE.npz), or, for a file you trust, pass trust_pickle=True '
                '(--trust-pickle on the command line).')
        import mmengine
        try:
            samples = mmengine.load(path, file_format='pkl')
        except Exception as err:
            raise PredictionsFileError(
                f'{path}: not a readable pickle of predictions '
                f'({type(err).__name__}: {err})') from None
        if not isinstance(samples, list):
            raise PredictionsFileError(
                f'{path}: holds {type(samples).__name__}; expected the list '
                'of prediction dicts that DumpResults writes')
        try:
            arrays = samples_to_arrays(samples)
        except PredictionsFileError as err:
            raise PredictionsFileError(f'{path}: {err}') from None
    else:
        _check_npz_sizes(path)
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile,
                KeyError) as err:
            raise PredictionsFileError(
                f'{path}: not a predictions .npz archive readable without '
                f'unpickling ({type(err).__name__}: {err})') from None
    check_predictions(path, arrays)
    return arrays
