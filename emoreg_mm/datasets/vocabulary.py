"""The emotion vocabulary of the affective sets.

The canonical 8 emotions (:data:`EMOTIONS`, EmoSet's order, positive
first), the binary positive / negative space, the mapping of a set's own
emotion names and vote counts onto them, and the check of a vocabulary a
checkpoint records (:func:`recorded_vocabulary`) before anything uses it.
"""
from typing import Any, List, Mapping, Optional, Sequence, Tuple

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
#: Most emotion names a vocabulary may hold, and most characters per name.
MAX_EMOTIONS = 1000
MAX_EMOTION_NAME = 200


class EmotionVocabularyError(ValueError):
    """An emotion vocabulary that no run could have; the message names
    where it was read."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def check_vocabulary(classes: Any, where: str,
                     num_emotions: Optional[int] = None) -> List[str]:
    """``classes`` as a list, once checked: a list or tuple of 1 to
    :data:`MAX_EMOTIONS` distinct non-empty strings of at most
    :data:`MAX_EMOTION_NAME` characters, ``num_emotions`` of them where
    given (the rows of the emotion head beside them). The count is checked
    before any name is looked at, so a huge list is refused at once.

    Raises:
        EmotionVocabularyError: naming ``where`` and what is wrong.
    """
    def fail(problem: str):
        raise EmotionVocabularyError(
            f'{where}: {problem}; expected a list of distinct emotion names '
            f'(non-empty strings of at most {MAX_EMOTION_NAME} characters, '
            f'at most {MAX_EMOTIONS}), one per output of the emotion head.')

    if not isinstance(classes, (list, tuple)):
        fail(f'the emotion classes are {_shown(classes)}, of type '
             f'{type(classes).__name__}')
    if num_emotions is not None and len(classes) != num_emotions:
        fail(f'{len(classes)} emotion names for an emotion head of '
             f'{num_emotions} outputs')
    if not 0 < len(classes) <= MAX_EMOTIONS:
        fail(f'{len(classes)} emotion names')
    for i, name in enumerate(classes):
        if not isinstance(name, str) or not name.strip() or len(
                name) > MAX_EMOTION_NAME:
            fail(f'name {i} is {_shown(name)}')
    if len(set(classes)) != len(classes):
        seen = set()
        dup = next(n for n in classes if n in seen or seen.add(n))
        fail(f'{dup!r} is named more than once')
    return list(classes)


def nested_get(value: Any, key: Sequence[str]) -> Any:
    """``value[key[0]][key[1]]...``; None where a level is missing or is
    not a dict (what a checkpoint's ``meta`` holds is not trusted)."""
    for part in key:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def recorded_vocabulary(checkpoint: Any, where: str,
                        keys: Sequence[Tuple[str, ...]],
                        head_weight: str) -> Optional[List[str]]:
    """The emotion vocabulary a loaded checkpoint records in its ``meta``,
    checked (:func:`check_vocabulary`) against the rows of its own emotion
    head.

    Args:
        checkpoint (dict): What the checkpoint file holds.
        where (str): The file, for messages.
        keys (Sequence[tuple]): Where in ``meta`` to look, the first
            present wins, e.g. ``[('dataset_meta', 'classes')]``.
        head_weight (str): The state-dict key of the emotion head's weight
            (K rows); not checked where the checkpoint has none.

    Returns:
        list[str] | None: None where the checkpoint records none.

    Raises:
        EmotionVocabularyError: A ``meta`` that is not a dict, or a
            vocabulary :func:`check_vocabulary` refuses; naming the file.
    """
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise EmotionVocabularyError(
            f"{where}: the checkpoint's meta is {_shown(meta)}, of type "
            f'{type(meta).__name__}, not the dict a run writes.')
    for key in keys:
        value = nested_get(meta, key)
        if value is not None:
            break
    else:
        return None
    state = checkpoint.get('state_dict', checkpoint)
    weight = state.get(head_weight) if isinstance(state, dict) else None
    shape = getattr(weight, 'shape', ())
    path = ''.join(f'[{part!r}]' for part in key)
    return check_vocabulary(value, f'{where} (meta{path})',
                            int(shape[0]) if len(shape) == 2 else None)


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
