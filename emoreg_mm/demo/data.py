"""Embedded demo data, written in native layouts (``docs/demo.md``).

* :func:`make_digits`: scikit-learn's digits (1797 8x8 images that ship with
  the package) as small tinted RGB images in the class-folder layout that
  mmpretrain's ``CustomDataset`` reads::

      root/{train,val,test}/<digit>/<index>.png

* :func:`make_stimuli`: **synthetic** affective stimuli, abstract colour
  compositions whose emotion follows the rule in :data:`EMOTION_RULES`,
  written in the Abstract set's native layout that
  :class:`emoreg_mm.datasets.Abstract` reads::

      root/ABSTRACT_groundTruth.csv      (quoted names, empty first header
      root/abstract_NNNN.jpg ...          cell, one vote count per emotion)

Both are deterministic for a given seed and skip the work when the folder
already holds the same data (a ``demo_data.json`` stamp).
"""
import colorsys
import json
import os
import os.path as osp
import shutil
from typing import Dict, Optional, Sequence

import numpy as np

#: Columns of Abstract's ``ABSTRACT_groundTruth.csv`` (its own order).
ABSTRACT_HEADER = ('Amusement', 'Anger', 'Awe', 'Content', 'Disgust',
                   'Excitement', 'Fear', 'Sad')

#: The rule of the synthetic stimuli: emotion (Abstract column) ->
#: (hue in degrees, saturation, brightness, shape, related emotion that
#: gets the runner-up votes). Colour psychology clichés, nothing more.
EMOTION_RULES = {
    'Amusement': (45, 0.90, 0.95, 'circles', 'Excitement'),
    'Awe': (200, 0.55, 0.90, 'bands', 'Content'),
    'Content': (115, 0.45, 0.80, 'blob', 'Awe'),
    'Excitement': (320, 0.95, 0.95, 'dots', 'Amusement'),
    'Anger': (0, 0.95, 0.60, 'triangles', 'Disgust'),
    'Disgust': (70, 0.50, 0.45, 'splotches', 'Anger'),
    'Fear': (275, 0.40, 0.30, 'zigzag', 'Sad'),
    'Sad': (220, 0.25, 0.35, 'stripes', 'Fear'),
}
STAMP = 'demo_data.json'
_SUPER = 4  # draw at 4x, then downsample (anti-aliased shapes)


def _stamp_matches(root: str, stamp: dict) -> bool:
    path = osp.join(root, STAMP)
    if not osp.isfile(path):
        return False
    with open(path) as f:
        return json.load(f) == stamp


def _write_stamp(root: str, stamp: dict) -> None:
    with open(osp.join(root, STAMP), 'w') as f:
        json.dump(stamp, f, indent=1)


def _fresh_dir(root: str) -> None:
    if osp.isdir(root):
        shutil.rmtree(root)
    os.makedirs(root)


def _rgb(hue: float, sat: float, val: float) -> np.ndarray:
    """RGB in [0, 255] of a hue in degrees and saturation / value in
    [0, 1]."""
    r, g, b = colorsys.hsv_to_rgb((hue % 360) / 360,
                                  float(np.clip(sat, 0, 1)),
                                  float(np.clip(val, 0, 1)))
    return np.array([r, g, b]) * 255


def _imwrite(path: str, rgb: np.ndarray) -> None:
    import cv2
    os.makedirs(osp.dirname(path), exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.endswith('.jpg') else []
    if not cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1]), params):
        raise OSError(f'could not write {path}')


# --------------------------------------------------------------------------
def stimulus(emotion: str, rng: np.random.Generator,
             size: int = 32) -> np.ndarray:
    """One synthetic stimulus of ``emotion`` (an Abstract column name):
    an ``(size, size, 3)`` uint8 RGB image following :data:`EMOTION_RULES`
    (hue +- 12 degrees, saturation / brightness +- 0.08, random layout)."""
    import cv2
    hue, sat, val, shape, _ = EMOTION_RULES[emotion]
    hue += rng.uniform(-12, 12)
    sat += rng.uniform(-0.08, 0.08)
    val += rng.uniform(-0.08, 0.08)
    s = size * _SUPER
    main = _rgb(hue, sat, val)
    # background: the same hue, darker and greyer
    img = np.empty((s, s, 3), np.float64)
    img[:] = _rgb(hue + rng.uniform(-20, 20), sat * 0.5, val * 0.45)
    accent = tuple(float(c) for c in _rgb(hue + 25, sat, min(1, val + .1)))
    color = tuple(float(c) for c in main)
    if shape == 'circles':
        for _ in range(rng.integers(2, 5)):
            c = tuple(int(v) for v in rng.integers(s // 6, s - s // 6, 2))
            cv2.circle(img, c, int(rng.integers(s // 10, s // 4)), color, -1)
    elif shape == 'bands':
        for y in range(0, s, s // 4):
            t = y / s
            img[y:y + s // 8] = main * (0.6 + 0.4 * t)
    elif shape == 'blob':
        c = tuple(int(v) for v in rng.integers(s // 3, 2 * s // 3, 2))
        axes = tuple(int(v) for v in rng.integers(s // 4, s // 2, 2))
        cv2.ellipse(img, c, axes, float(rng.uniform(0, 180)), 0, 360, color,
                    -1)
    elif shape == 'dots':
        for _ in range(rng.integers(12, 20)):
            c = tuple(int(v) for v in rng.integers(0, s, 2))
            cv2.circle(img, c, int(rng.integers(s // 24, s // 12)),
                       color if rng.random() < .7 else accent, -1)
    elif shape == 'triangles':
        for _ in range(rng.integers(2, 4)):
            pts = rng.integers(0, s, (3, 2)).astype(np.int32)
            cv2.fillPoly(img, [pts], color)
    elif shape == 'splotches':
        for _ in range(rng.integers(4, 8)):
            pts = (rng.integers(0, s, 2) +
                   rng.integers(-s // 6, s // 6, (6, 2))).astype(np.int32)
            cv2.fillPoly(img, [cv2.convexHull(pts)], color)
    elif shape == 'zigzag':
        for _ in range(2):
            ys = rng.integers(0, s, 8)
            pts = np.stack([np.linspace(0, s, 8), ys], 1).astype(np.int32)
            cv2.polylines(img, [pts], False, color, max(2, s // 32))
    elif shape == 'stripes':
        width = s // 10
        for x in range(int(rng.integers(0, width)), s, 2 * width):
            img[:, x:x + width] = main
    else:  # pragma: no cover
        raise ValueError(f'unknown shape {shape!r}')
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def stimulus_votes(emotion: str, rng: np.random.Generator) -> list:
    """Vote counts in :data:`ABSTRACT_HEADER` order: 10-15 voters, the rule's
    emotion a strict majority winner, its related emotion runner-up, a
    few stray votes."""
    total = int(rng.integers(10, 16))
    votes = dict.fromkeys(ABSTRACT_HEADER, 0)
    top = int(round(total * rng.uniform(0.45, 0.7)))
    votes[emotion] = top
    related = EMOTION_RULES[emotion][4]
    votes[related] = int(rng.integers(1, max(2, (total - top) // 2 + 1)))
    for _ in range(max(0, total - top - votes[related])):
        votes[ABSTRACT_HEADER[int(rng.integers(len(ABSTRACT_HEADER)))]] += 1
    while sorted(votes.values())[-2] >= votes[emotion]:
        votes[emotion] += 1  # no ties: every stimulus keeps its label
    return [votes[h] for h in ABSTRACT_HEADER]


def make_stimuli(root: str, per_emotion: int = 50, size: int = 32,
                 seed: int = 0) -> Dict[str, int]:
    """Write ``8 * per_emotion`` synthetic stimuli in Abstract's layout.

    Args:
        root (str): The ``testImages_abstract`` folder to write.
        per_emotion (int): Stimuli per emotion. Defaults to 50.
        size (int): Image side in pixels. Defaults to 32.
        seed (int): Seed of every random choice. Defaults to 0.

    Returns:
        dict: ``{Abstract column name: number of stimuli it labels}``.
    """
    stamp = dict(kind='synthetic-abstract', per_emotion=per_emotion,
                 size=size, seed=seed, version=1)
    counts = {h: per_emotion for h in ABSTRACT_HEADER}
    if _stamp_matches(root, stamp):
        return counts
    _fresh_dir(root)
    rng = np.random.default_rng(seed)
    order = [e for e in ABSTRACT_HEADER for _ in range(per_emotion)]
    order = [order[i] for i in rng.permutation(len(order))]
    lines = [', '.join(["''"] + [f"'{h}'" for h in ABSTRACT_HEADER])]
    for i, emotion in enumerate(order):
        name = f'abstract_{i:04d}.jpg'
        _imwrite(osp.join(root, name), stimulus(emotion, rng, size))
        votes = stimulus_votes(emotion, rng)
        lines.append(', '.join([f"'{name}'"] + [str(v) for v in votes]))
    with open(osp.join(root, 'ABSTRACT_groundTruth.csv'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    _write_stamp(root, stamp)
    return counts


# --------------------------------------------------------------------------
def tint_digit(img8: np.ndarray, rng: np.random.Generator,
               size: int = 32) -> np.ndarray:
    """An 8x8 digit (values 0-16) as a ``(size, size, 3)`` uint8 RGB image:
    upsampled bilinearly, the stroke in a random colour (any hue, saturation
    0.3-1, brightness 0.5-1) on a dark background of a random hue."""
    import cv2
    alpha = cv2.resize((img8 / 16.).astype(np.float32), (size, size),
                       interpolation=cv2.INTER_LINEAR)[..., None]
    fg = _rgb(rng.uniform(0, 360), rng.uniform(0.3, 1), rng.uniform(.5, 1))
    bg = _rgb(rng.uniform(0, 360), rng.uniform(0, 0.6), rng.uniform(0, .3))
    img = alpha * fg + (1 - alpha) * bg + rng.normal(0, 3, alpha.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_digits(root: str, size: int = 32, seed: int = 0,
                split_ratios: Sequence[float] = (0.7, 0.1, 0.2),
                limit: Optional[int] = None) -> Dict[str, Dict[str, int]]:
    """Write scikit-learn's digits as ``root/{train,val,test}/<digit>/``.

    The split is stratified and seeded: each digit's images are shuffled
    and cut at the cumulative ``split_ratios``.

    Args:
        root (str): Output folder.
        size (int): Image side in pixels. Defaults to 32.
        seed (int): Seed of the split and the colours. Defaults to 0.
        split_ratios (Sequence[float]): (train, val, test). Defaults to
            ``(0.7, 0.1, 0.2)``.
        limit (int, optional): Keep only the first ``limit`` images of
            each digit (quick tests). Defaults to None (all 1797).

    Returns:
        dict: ``{split: {digit: count}}``.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError(
            'The demo renders scikit-learn\'s digits: pip install '
            '"emoreg_mm[demo]" (or scikit-learn).') from e
    stamp = dict(kind='digits', size=size, seed=seed,
                 split_ratios=list(split_ratios), limit=limit, version=1)
    digits = load_digits()
    rng = np.random.default_rng(seed)
    splits = ('train', 'val', 'test')
    bounds = np.cumsum(split_ratios) / np.sum(split_ratios)
    plan = []  # (split, digit, index)
    for digit in range(10):
        idx = np.flatnonzero(digits.target == digit)[:limit]
        idx = idx[rng.permutation(len(idx))]
        cuts = np.round(bounds * len(idx)).astype(int)
        for k, part in enumerate(np.split(idx, cuts[:-1])):
            plan += [(splits[k], digit, int(i)) for i in part]
    counts = {sp: {str(d): 0 for d in range(10)} for sp in splits}
    for sp, digit, _ in plan:
        counts[sp][str(digit)] += 1
    if _stamp_matches(root, stamp):
        return counts
    _fresh_dir(root)
    for sp, digit, i in plan:
        _imwrite(osp.join(root, sp, str(digit), f'{i:04d}.png'),
                 tint_digit(digits.images[i], rng, size))
    _write_stamp(root, stamp)
    return counts
