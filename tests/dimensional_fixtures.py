"""Tiny valence / arousal sets in their published layouts (real images).

Plain functions like :mod:`affective_fixtures` (whose ``write_image`` they
use); each returns the dataset root. The rows' expected normalised values
are worked out by hand in the tests.
"""
import os.path as osp
from typing import Sequence, Tuple

from affective_fixtures import write_image

OASIS_HEADER = ('', 'Theme', 'Category', 'Source', 'Valence_mean',
                'Valence_SD', 'Valence_N', 'Arousal_mean', 'Arousal_SD',
                'Arousal_N')
OASIS_ROWS = (
    # id, Theme, Category, Source, valence mean, arousal mean
    ('I1', 'Acorns 1', 'Object', 'Pixabay', '4.686', '2.446'),
    ('I2', 'Alcohol 2', 'Object', 'Pixabay', '1', '7'),
    ('I3', 'Beach 3 ', 'Scene', 'Pixabay', '6.5', '4'),
    ('I4', 'Dog 5', 'Animal', 'Pixabay', '4', '1'),
)
"""``Beach 3 `` ends in a space in the CSV; its file is ``Beach 3.jpg``."""


def make_oasis(root: str, rows: Sequence[tuple] = OASIS_ROWS,
               size: int = 16) -> str:
    """``OASIS_database_2016`` layout: ``OASIS.csv`` (first header cell
    empty, CRLF) and ``images/<Theme>.jpg``. Returns the root."""
    lines = [','.join(OASIS_HEADER)]
    for sid, theme, cat, src, val, aro in rows:
        lines.append(','.join(
            [sid, theme, cat, src, val, '1.2', '100', aro, '1.5', '101']))
        write_image(osp.join(root, 'images', theme.strip() + '.jpg'), size)
    with open(osp.join(root, 'OASIS.csv'), 'w', newline='') as f:
        f.write('\r\n'.join(lines) + '\r\n')
    return root


GAPED_ROWS = {
    # category: [(name as written, valence, arousal)]
    'A': [('A001.jpg', '30.5', '60.25'), ('A002.jpg', '0', '100')],
    'H': [('H001.jpg', '10', '70')],
    'N': [('N001.jpg', '50', '20')],
    'P': [('P001.jpg', '90', '45.5')],
    'Sn': [('Sn001.jpg', '25', '65')],
    'Sp': [('Sp001.jpg', '20', '75')],
}


def make_gaped(root: str, rows=None, size: int = 16) -> str:
    """``GAPED`` layout: ``<category>/<name>.bmp`` and tab-separated
    ``<category>_with SD.txt`` (header, then name written ``.jpg``,
    valence, ``(SD)``, arousal, ``(SD)``, a doubled tab in places).
    Returns the root."""
    rows = GAPED_ROWS if rows is None else rows
    for cat, items in rows.items():
        lines = ['Valence\t(SD)\tArousal\t(SD)']
        for name, val, aro in items:
            lines.append(f'{name}\t{val}\t(12.3)\t\t{aro}\t(20.1)')
            write_image(osp.join(root, cat, name[:-4] + '.bmp'), size)
        with open(osp.join(root, f'{cat}_with SD.txt'), 'w',
                  newline='') as f:
            f.write('\r\n'.join(lines) + '\r\n')
    return root


def make_ratings(root: str, rows: Sequence[Tuple[str, ...]],
                 header: Sequence[str] = ('file', 'V', 'A'),
                 size: int = 16, img_dir: str = 'imgs') -> str:
    """A user's ratings CSV ``root/ratings.csv`` and the images
    ``root/<img_dir>/<file>`` (rows whose file starts with ``missing``
    get no image). Returns the root."""
    lines = [','.join(header)]
    for row in rows:
        lines.append(','.join(row))
        if not row[0].startswith('missing'):
            write_image(osp.join(root, img_dir, row[0]), size)
    with open(osp.join(root, 'ratings.csv'), 'w', newline='') as f:
        f.write('\n'.join(lines) + '\n')
    return root


FINDINGEMO_HEADER = ('index', 'user', 'image_path', 'tags', 'age',
                     'valence', 'arousal', 'emotion', 'dec_factors',
                     'ambiguity', 'datetime')
FINDINGEMO_ROWS = (
    # index, image_path, valence, arousal
    ('0', '/Run_2/Loving toddlers sports/kids.jpg', '0', '2'),
    ('5', '/Run_2/Frustrated forty-something office/team.jpg', '-3', '6'),
    ('6', '/Run_1/Violent youth festival/1042373588.jpg', '3', '0'),
)


def make_findingemo(root: str, rows: Sequence[tuple] = FINDINGEMO_ROWS,
                    size: int = 16) -> str:
    """findingemo-light layout: ``annotations_single.ann`` (CSV, quoted
    multi-value cells, paths starting with ``/``) and the images under
    the download folder at ``<image_path>``. Returns the root."""
    lines = [','.join(FINDINGEMO_HEADER)]
    for index, path, val, aro in rows:
        lines.append(','.join([
            index, '5fd97d5b40332e276ea58209', path, 'Undefined',
            'Children', val, aro, 'Trust',
            '"BodyLanguage,FacialExpression"', '0',
            '2023-09-01 00:00:00.000000']))
        write_image(osp.join(root, path.lstrip('/')), size)
    with open(osp.join(root, 'annotations_single.ann'), 'w',
              newline='') as f:
        f.write('\n'.join(lines) + '\n')
    return root
