"""The emotion vocabulary of the affective sets.

The canonical 8 emotions (:data:`EMOTIONS`, EmoSet's order, positive
first), the binary positive / negative space, and the mapping of a set's own
emotion names and vote counts onto them.
"""
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..matrix import MIKELS
from .file_checks import MAX_LISTED, check_choice

EMOTIONS = MIKELS
"""The canonical vocabulary (``emoreg_mm.matrix.MIKELS``): EmoSet's order,
positive = 0-3."""
POSITIVE = EMOTIONS[:4]
NEGATIVE = EMOTIONS[4:]
BINARY_CLASSES = ('positive', 'negative')
# Other spellings found in the affective sets' own files.
EMOTION_ALIASES = {'content': 'contentment', 'sad': 'sadness'}
LABEL_SPACES = ('canonical', 'binary', 'own')


def canonical_emotion(name: str,
                      name_map: Optional[Mapping[str, str]] = None,
                      where: str = '') -> str:
    """Map a set's emotion name (any case) to the canonical vocabulary.

    Args:
        name (str): The name as the set spells it (``'Content'``, ``'Sad'``).
        name_map (dict, optional): Extra ``{set_name: canonical_name}``
            aliases, checked first. Defaults to None.
        where (str): The file the name comes from, for the error message.

    Raises:
        ValueError: naming the file and the allowed names.
    """
    name_map = {k.lower(): v for k, v in (name_map or {}).items()}
    key = name.strip().lower()
    key = name_map.get(key, key)
    key = EMOTION_ALIASES.get(key, key)
    if key not in EMOTIONS:
        allowed = sorted(set(EMOTIONS) | set(EMOTION_ALIASES)
                         | set(name_map))
        src = f' in {where}' if where else ''
        raise ValueError(
            f'Unknown emotion name {name!r}{src}; expected one of {allowed} '
            "(case-insensitive), or pass name_map / label_space='own'.")
    return key


def build_label_map(source_names: Sequence[str],
                    label_space: str,
                    name_map: Optional[Mapping[str, str]] = None,
                    where: str = '',
                    unmapped: Sequence[str] = ()
                    ) -> Tuple[Tuple[str, ...], List[int]]:
    """Classes of ``label_space`` and where each source class goes.

    Args:
        source_names (Sequence[str]): The set's own class names, in its own
            order.
        label_space (str): ``'canonical'`` (8 emotions, EmoSet order),
            ``'binary'`` (positive / negative) or ``'own'`` (the set's own
            names and order).
        name_map (dict, optional): Extra aliases, see
            :func:`canonical_emotion`.
        where (str): The file the names come from, for error messages.
        unmapped (Sequence[str]): Source classes without a canonical
            counterpart (unless ``name_map`` gives one): they map to -1
            instead of raising. Defaults to ().

    Returns:
        tuple: ``(classes, index_map)`` with ``index_map[i]`` the target
        index of source class ``i`` (-1 for an unmapped class).
    """
    check_choice('label_space', label_space, LABEL_SPACES)
    if label_space == 'own':
        return tuple(source_names), list(range(len(source_names)))
    mapped = {k.lower() for k in (name_map or {})}
    skip = {n.lower() for n in unmapped} - mapped
    canon = [
        -1 if n.lower() in skip else EMOTIONS.index(
            canonical_emotion(n, name_map, where)) for n in source_names
    ]
    if label_space == 'canonical':
        return EMOTIONS, canon
    return BINARY_CLASSES, [
        -1 if i < 0 else int(i >= len(POSITIVE)) for i in canon
    ]


def remap_scores(scores: np.ndarray, index_map: Sequence[int],
                 num_classes: int) -> np.ndarray:
    """Sum ``(N, S)`` source scores into ``(N, num_classes)`` target bins
    (sources mapped to -1 are left out)."""
    out = np.zeros((scores.shape[0], num_classes), dtype=np.float64)
    for src, dst in enumerate(index_map):
        if dst >= 0:
            out[:, dst] += scores[:, src]
    return out


def labels_from_scores(scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Argmax labels and a mask of rows whose maximum is tied.

    The label of a tied row is its first (lowest-index) maximum.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = scores.argmax(axis=1)
    top = scores.max(axis=1, keepdims=True)
    tied = np.isclose(scores, top).sum(axis=1) > 1
    return labels, tied


def normalize_scores(scores: np.ndarray, where: Sequence[str]) -> np.ndarray:
    """Rows of ``scores`` divided by their sum (a soft label per row)."""
    sums = scores.sum(axis=1)
    bad = [w for w, s in zip(where, sums) if s <= 0]
    if bad:
        raise ValueError(f'{len(bad)} row(s) have no positive score, so no '
                         f'label can be derived: {bad[:MAX_LISTED]}')
    return (scores / sums[:, None]).astype(np.float32)
