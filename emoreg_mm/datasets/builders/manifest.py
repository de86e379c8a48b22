"""The manifest of a Diffused-EMOd build: one CSV row per image, merged by
several processes.

Every row holds what rebuilds its image (:data:`COLUMNS`). A process adds
its rows with :func:`merge_rows`: under an exclusive file lock the manifest
is read, the rows added (by image name) and the file replaced atomically, so
the processes of a sharded build (and a build killed between two writes)
lose no row.
"""
import contextlib
import csv
import fcntl
import io
import os
import os.path as osp
from typing import Dict, Iterator, Sequence

from ...fileio import atomic_write_bytes
from . import BuildError

COLUMNS = ('image', 'source_id', 'strength', 'variant', 'seed', 'prompt',
           'negative_prompt', 'guidance_scale', 'steps', 'resolution', 'size',
           'dtype', 'model', 'model_revision')


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """An exclusive lock (``fcntl.flock``) on ``path + '.lock'``."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path + '.lock', 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_rows(path: str) -> Dict[str, dict]:
    """``{image: row}`` of a manifest written by the builder (empty if
    none).

    Raises:
        BuildError: The file is not such a manifest, or a line is not a row
            of it; the message names the file (and line).
    """
    if not osp.isfile(path):
        return {}
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            return {}
        missing = [c for c in ('image', 'source_id')
                   if c not in reader.fieldnames]
        if missing:
            raise BuildError(f'{path}: header {reader.fieldnames} lacks '
                             f'{missing}; is this folder a Diffused-EMOd '
                             'set written by this tool?')
        try:
            return {r['image']: r for r in reader}
        except csv.Error as err:  # e.g. a field over csv.field_size_limit
            raise BuildError(
                f'{path}, line {reader.line_num + 1}: not a manifest row '
                f'({err}; the limit is {csv.field_size_limit()} characters '
                'a field). Remove or repair that line, or the manifest, and '
                'run the build again.') from None


def merge_rows(path: str, rows: Sequence[dict]) -> Dict[str, dict]:
    """Add ``rows`` to the CSV at ``path`` under its lock, atomically;
    return the merged ``{image: row}``."""
    with locked(path):
        merged = read_rows(path)
        merged.update({r['image']: r for r in rows})
        header = list(COLUMNS) + sorted(
            {k for r in merged.values() for k in r} - set(COLUMNS))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=header, restval='',
                                lineterminator='\n')
        writer.writeheader()
        writer.writerows(merged[k] for k in sorted(merged))
        atomic_write_bytes(path, buf.getvalue().encode('utf-8'))
    return merged


def check_settings(row: dict, done: dict, manifest: str) -> None:
    """An image already listed with other settings is an error.

    Raises:
        BuildError: Naming the image and the first setting that differs.
    """
    diff = [k for k in COLUMNS
            if k in row and k in done and done[k] != row[k]]
    if diff:
        k = diff[0]
        raise BuildError(
            f'{manifest}: {row["image"]} was built with {k}={done[k]!r}, '
            f'this run asks for {k}={row[k]!r} (differing: {diff}). Build '
            'into another folder, or delete the folder to rebuild it.')
