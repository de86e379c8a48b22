"""Seeded, stratified (optionally grouped) splits and k-fold for the
affective sets that ship without an official split, and the seeded label
permutation of the shuffled control."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .file_checks import check_choice

SPLITS = ('train', 'val', 'test', 'all')


def check_split_args(split: str, split_ratios: Sequence[float],
                     fold: Optional[int], num_folds: int) -> None:
    """Validate the arguments of :func:`split_indices` early."""
    check_choice('split', split, SPLITS)
    if fold is None:
        if (len(split_ratios) != 3 or any(r < 0 for r in split_ratios)
                or not np.isclose(sum(split_ratios), 1.0)):
            raise ValueError(
                f'split_ratios={tuple(split_ratios)} is invalid; expected '
                'three non-negative (train, val, test) ratios summing to 1.')
        return
    if not isinstance(num_folds, int) or num_folds < 2:
        raise ValueError(f'num_folds={num_folds!r} is invalid; expected an '
                         'int >= 2.')
    if not isinstance(fold, int) or not 0 <= fold < num_folds:
        raise ValueError(f'fold={fold!r} is invalid; expected an int in '
                         f'[0, {num_folds - 1}] (num_folds={num_folds}).')


def split_indices(labels: Sequence[int],
                  split: str,
                  split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                  seed: int = 0,
                  fold: Optional[int] = None,
                  num_folds: int = 5,
                  groups: Optional[Sequence[Any]] = None) -> List[int]:
    """Indices of one side of a seeded, stratified (grouped) split.

    Groups (by default every sample is its own group) are stratified by
    their first sample's label. With ``np.random.default_rng(seed)`` the
    groups of each class (classes in ascending order) are shuffled and given
    their quantile ``(rank + 0.5) / n_class``; all groups are then sorted by
    quantile (random tie-break) and cut at ``round(cumsum(split_ratios) *
    n_groups)``. So the side sizes are exact overall and every class is
    spread over the sides in proportion, even classes too small to give
    each side one group. With ``fold`` set, the shuffled groups of each
    class are dealt round-robin into ``num_folds`` folds (the dealer's
    position carries over between classes so fold sizes stay balanced);
    ``'train'`` is every other fold and ``'val'`` / ``'test'`` is fold
    ``fold``. A group never straddles two sides.

    Returns:
        list[int]: Sorted sample indices of ``split`` (all for ``'all'``).
    """
    check_split_args(split, split_ratios, fold, num_folds)
    n = len(labels)
    if split == 'all':
        return list(range(n))
    groups = list(range(n)) if groups is None else list(groups)
    members: Dict[Any, List[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    by_class: Dict[int, List[Any]] = {}
    for g, idx in members.items():
        by_class.setdefault(int(labels[idx[0]]), []).append(g)

    rng = np.random.default_rng(seed)
    side_of: Dict[Any, str] = {}
    ranked = []
    dealer = 0
    for label in sorted(by_class):
        gs = by_class[label]
        order = [gs[i] for i in rng.permutation(len(gs))]
        for r, g in enumerate(order):
            ranked.append(((r + 0.5) / len(order), rng.random(), g))
            if fold is not None:
                side_of[g] = 'test' if dealer % num_folds == fold else 'train'
                dealer += 1
    if fold is None:
        ranked.sort(key=lambda t: t[:2])
        cuts = np.round(np.cumsum(split_ratios) * len(ranked)).astype(int)
        for k, (_, _, g) in enumerate(ranked):
            side_of[g] = ('train' if k < cuts[0] else
                          'val' if k < cuts[1] else 'test')
    if fold is not None and split == 'val':
        split = 'test'  # k-fold has two sides; 'val' is the held-out fold
    return sorted(i for g, idx in members.items() if side_of[g] == split
                  for i in idx)


def permute_labels(data_list: Sequence[dict], seed: int,
                   keys: Sequence[str] = ('gt_label', 'gt_score')
                   ) -> Tuple[List[dict], int]:
    """The data infos with their label records permuted across them.

    Image ``i`` gets the ``keys`` of image ``order[i]``, ``order =
    np.random.default_rng(seed).permutation(n)`` (a key a record lacks is
    absent after the move too); everything else stays with its image. The
    multiset of labels, hence every class count, is unchanged.

    Returns:
        tuple[list[dict], int]: The new data infos (copies), and how many
        of them now have another value of ``keys[0]`` (a class index or
        an array of ratings).
    """
    order = np.random.default_rng(seed).permutation(len(data_list))
    out = []
    for info, source in zip(data_list, order):
        moved = {k: v for k, v in info.items() if k not in keys}
        moved.update({k: data_list[source][k] for k in keys
                      if k in data_list[source]})
        out.append(moved)
    changed = sum(not np.array_equal(a.get(keys[0]), b.get(keys[0]))
                  for a, b in zip(data_list, out))
    return out, changed
