"""Reading an affective set's files: early, clear errors.

Each helper turns a bad file into an error (or a report) that names the
file, the entry and what was expected: a missing file or folder, a JSON or
CSV file that does not parse, a cell that is not a number, an image that is
not an image. What a set leaves out is reported with its count and names
(:func:`report_skipped`, :func:`report_missing`).
"""
import csv
import json
import logging
import os
import os.path as osp
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from mmengine.logging import print_log

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')
MAX_LISTED = 20


def check_choice(name: str, value: Any, choices: Iterable) -> None:
    """Raise ``ValueError`` naming ``name``, ``value`` and the choices."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(
            f'{name}={value!r} is not supported; expected one of {choices}.')


def check_file(path: str, what: str) -> str:
    """Return ``path`` or raise ``FileNotFoundError`` naming it and its role.

    Args:
        path (str): The file that must exist.
        what (str): What the file is, e.g. ``"EmoSet split file"``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


def check_dir(path: str, what: str) -> str:
    """Return ``path`` or raise ``FileNotFoundError`` naming its role."""
    if not osp.isdir(path):
        raise FileNotFoundError(f'{what} (a folder) not found: {path}')
    return path


def load_json(path: str, what: str, expected: str = '') -> Any:
    """Read a JSON file; a parse error names the file, line and column.

    Args:
        path (str): JSON file to read.
        what (str): What the file is (used in the error messages).
        expected (str): A description of the expected content, added to the
            error message. Defaults to ''.
    """
    check_file(path, what)
    with open(path, encoding='utf-8') as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            hint = f' Expected {expected}.' if expected else ''
            raise ValueError(f'{what} {path} is not valid JSON: {e.msg} at '
                             f'line {e.lineno}, column {e.colno}.{hint}'
                             ) from e


def clean_cell(cell: str) -> str:
    """Strip whitespace and one layer of single or double quotes."""
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] and cell[0] in '\'"':
        cell = cell[1:-1].strip()
    return cell


def read_csv_rows(path: str,
                  what: str,
                  delimiter: str = ',') -> List[Tuple[int, List[str]]]:
    """Read a CSV defensively: ``[(line_number, cleaned_cells), ...]``.

    Tolerates a BOM, CRLF or LF line ends, blank lines, spaces after the
    delimiter and cells wrapped in single or double quotes (every cell is
    passed through :func:`clean_cell`).

    Args:
        path (str): The file to read.
        what (str): What the file is (used in the error messages).
        delimiter (str): The cell separator (``'\\t'`` for a TSV).
            Defaults to ``','``.
    """
    check_file(path, what)
    rows = []
    with open(path, encoding='utf-8-sig', newline='') as f:
        reader = csv.reader(f, delimiter=delimiter, skipinitialspace=True)
        try:
            for cells in reader:
                cells = [clean_cell(c) for c in cells]
                if any(cells):
                    rows.append((reader.line_num, cells))
        except csv.Error as e:
            raise ValueError(f'{what} {path} is not valid CSV at line '
                             f'{reader.line_num}: {e}') from e
    if not rows:
        raise ValueError(f'{what} {path} is empty.')
    return rows


def parse_number(cell: str, where: str, expected: str = 'a number') -> float:
    """Cast ``cell`` to float or raise ``ValueError`` naming ``where``."""
    try:
        return float(cell)
    except (TypeError, ValueError):
        raise ValueError(
            f'{where}: {cell!r} is not {expected}.') from None


def parse_count(cell: str, where: str) -> int:
    """Cast a vote count to a non-negative int (``'12'``, ``'12.0'``)."""
    value = parse_number(cell, where, 'a non-negative integer vote count')
    if value < 0 or not value.is_integer():
        raise ValueError(f'{where}: {cell!r} is not a non-negative integer '
                         'vote count.')
    return int(value)


def shown(names: Sequence[str]) -> str:
    """The first names of a list, comma-separated (``...`` past 20)."""
    more = ', ...' if len(names) > MAX_LISTED else ''
    return ', '.join(str(n) for n in names[:MAX_LISTED]) + more


def report_skipped(names: Sequence[str], message: str,
                   level: int = logging.WARNING) -> None:
    """Log ``'<count> <message>: <names>'`` when ``names`` is not empty."""
    if names:
        print_log(f'{len(names)} {message}: {shown(names)}',
                  logger='current', level=level)


def report_missing(missing: Sequence[str], what: str, skip_missing: bool,
                   where: str) -> None:
    """Report images an annotation names but the disk lacks.

    Raises ``FileNotFoundError`` with the count and names unless
    ``skip_missing``, in which case it logs the same as a warning.
    """
    if not missing:
        return
    msg = (f'image(s) named by {what} are missing under {where}')
    if not skip_missing:
        raise FileNotFoundError(
            f'{len(missing)} {msg}: {shown(missing)}. Set skip_missing=True '
            'to skip them.')
    report_skipped(missing, msg + ' (skipped: skip_missing=True)')


# Leading bytes of the image formats mmcv / OpenCV decode.
_IMAGE_SIGNATURES = (b'\xff\xd8\xff', b'\x89PNG\r\n\x1a\n', b'GIF87a',
                     b'GIF89a', b'BM', b'II*\x00', b'MM\x00*', b'RIFF')


def image_file_problem(path: str) -> Optional[str]:
    """Why ``path`` is not an image file (None when it looks like one).

    Only the first bytes are read: an empty file, or one whose bytes are
    not a JPEG / PNG / GIF / BMP / TIFF / WebP signature (an HTML error
    page saved under an image name, say), is reported; a truncated image
    with a valid header is left to the decoder (see ``check_dataset``).
    """
    try:
        with open(path, 'rb') as f:
            head = f.read(12)
    except OSError as e:
        return f'unreadable ({e.strerror})'
    if not head:
        return 'empty file'
    if not head.startswith(_IMAGE_SIGNATURES) or (
            head.startswith(b'RIFF') and head[8:12] != b'WEBP'):
        return f'not an image (starts with {head[:8]!r})'
    return None


def image_decode_problem(data: bytes) -> Optional[str]:
    """Why the bytes of an image file do not decode (None when they do),
    with the decoder the pipeline's ``LoadImageFromFile`` uses (mmcv)."""
    import mmcv
    try:
        img = mmcv.imfrombytes(data)
    except Exception as e:  # cv2 raises on empty buffers
        img, err = None, f'{type(e).__name__}: {e}'
    else:
        err = 'the decoder returned nothing'
    if img is None:
        return f'corrupt ({err.splitlines()[0]})'
    return None


def read_exclude_file(path: str, root: str) -> List[str]:
    """The image paths an exclude file lists (``check_dataset.py
    --write-exclude``): one per line, absolute or relative to ``root``;
    blank lines and ``#`` comments ignored. Returns absolute, normalised
    paths."""
    check_file(path, 'exclude file')
    with open(path, encoding='utf-8') as f:
        lines = [line.strip() for line in f]
    return [osp.abspath(osp.join(root, line))  # an absolute line stays
            for line in lines if line and not line.startswith('#')]


def visible_files(folder: str) -> List[str]:
    """Sorted names in ``folder``, without hidden ones (``.DS_Store``,
    ``._*``) and macOS ``__MACOSX`` folders."""
    return sorted(n for n in os.listdir(folder)
                  if not n.startswith('.') and n != '__MACOSX')


def one_level_down(root: str, expected: Sequence[str],
                   prefixes: bool = False) -> str:
    """A hint for a ``data_root`` one folder too high: ``' Did you mean
    data_root=<root>/<sub>? ...'`` when exactly one folder directly in
    ``root`` holds what ``root`` should: more than half of the ``expected``
    names (any case), or with ``prefixes`` a name starting with one of
    them; else ''."""
    want = tuple(e.lower() for e in expected)

    def holds(path):
        names = [n.lower() for n in visible_files(path)]
        if prefixes:
            return any(n.startswith(want) for n in names)
        return len(set(names) & set(want)) * 2 > len(want)

    hits = [osp.join(root, sub) for sub in
            (visible_files(root) if osp.isdir(root) else ())
            if osp.isdir(osp.join(root, sub)) and holds(osp.join(root, sub))]
    if len(hits) != 1:
        return ''
    return (f' Did you mean data_root={hits[0]!r}? It holds the expected '
            'entries.')
