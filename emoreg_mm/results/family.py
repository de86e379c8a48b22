"""A table's comparisons as one family: adjusted verdicts, the primary
comparison and the spread pooled over the table.

A table makes many paired comparisons; at alpha 0.05 one in twenty of
those without any effect reads "better" or "worse" by chance. Each table
is one family: every paired comparison in it with a verdict (a p-value of
the paired t test: two pairs or more with differences that vary), except
the one comparison a user names as primary (:func:`find_primary`), which
is reported unadjusted. :func:`settle` adjusts the family's p-values with
statsmodels' ``multipletests`` (Holm by default, Benjamini-Hochberg as an
option) and gives each comparison its adjusted verdict; it also pools the
spread of the differences of each measure over the table for the
detectable difference (one comparison's own spread, from n - 1 degrees of
freedom, varies too much at a few seeds to say what its seeds can find).
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

from .stats import RESOLUTION, detectable_difference, pooled_spread

#: The level of every test (the 95% intervals' verdicts are p < 0.05).
ALPHA = 0.05
#: The corrections offered: statsmodels' method name and what it controls.
CORRECTIONS = {
    'holm': 'Holm (the chance of any false verdict in the family is at '
            'most alpha)',
    'fdr_bh': 'Benjamini-Hochberg (the expected share of false verdicts '
              'among the verdicts is at most alpha)',
}
#: How the cells name each correction.
SHORT = {'holm': 'Holm', 'fdr_bh': 'BH'}


class PrimaryError(ValueError):
    """The primary comparison names none (or several) of a table's
    comparisons; the message lists what exists."""


@dataclass
class Policy:
    """How a table's comparisons become verdicts.

    Args:
        correction (str): ``'holm'`` or ``'fdr_bh'`` (:data:`CORRECTIONS`).
        resolution (float): A spread of differences below this counts as
            zero (:func:`~.stats.paired_ci`).
        primary (str | dict, optional): The main table's primary comparison
            (:func:`parse_primary`).
    """
    correction: str = 'holm'
    resolution: float = RESOLUTION
    primary: Optional[Union[str, dict]] = None

    def __post_init__(self):
        if self.correction not in CORRECTIONS:
            raise ValueError(f'correction {self.correction!r}: expected one '
                             f'of {", ".join(CORRECTIONS)}.')
        if not self.resolution >= 0:
            raise ValueError(f'resolution {self.resolution!r}: expected a '
                             'spread >= 0.')
        if self.primary is not None:
            parse_primary(self.primary)  # its form, before any run is read


def tested(ci: Optional[dict]) -> bool:
    """Whether a comparison has a verdict (a p-value)."""
    return bool(ci) and ci.get('p') is not None


def parse_primary(spec: Union[str, dict]) -> dict:
    """``'[BACKBONE] [AFFECTIVE] MODE vs REFERENCE on TARGET'`` as a dict
    of ``backbone``, ``affective``, ``mode``, ``reference`` and ``target``
    (None where not given); REFERENCE is ``baseline``, ``const``,
    ``X-shuffled`` or ``X-untrained``. A dict with those keys is checked
    and returned.

    Raises:
        PrimaryError: ``spec`` is not of that form.
    """
    keys = ('backbone', 'affective', 'mode', 'reference', 'target')
    if isinstance(spec, dict):
        unknown = set(spec) - set(keys)
        if unknown or not all(spec.get(k) for k in keys[2:]):
            raise PrimaryError(
                f'primary {spec!r}: expected the keys mode, reference and '
                'target, and optionally backbone and affective.')
        return {k: spec.get(k) for k in keys}
    left, vs, right = str(spec).partition(' vs ')
    reference, on, target = right.partition(' on ')
    words = left.split()
    if not (vs and on and 1 <= len(words) <= 3 and reference.split()
            and len(reference.split()) == 1 and len(target.split()) == 1):
        raise PrimaryError(
            f'primary {spec!r}: expected "[BACKBONE] [AFFECTIVE] MODE vs '
            'REFERENCE on TARGET", e.g. "learn-ereg vs emoset-shuffled on '
            'cifar100" (REFERENCE: baseline, const, X-shuffled or '
            'X-untrained).')
    words = [None] * (3 - len(words)) + words
    return dict(zip(keys, words + [reference.strip(), target.strip()]))


def find_primary(comparisons: Sequence[dict], spec: Union[str, dict]
                 ) -> dict:
    """The one comparison ``spec`` (:func:`parse_primary`) names.

    Args:
        comparisons (Sequence[dict]): The table's comparisons, each with
            ``backbone``, ``affective``, ``mode``, ``reference`` (as the
            columns name it: ``emoset-shuffled``), ``target`` and ``ci``.
        spec (str | dict): The primary comparison.

    Raises:
        PrimaryError: None or several match; the message names the
            table's modes, references, targets, backbones and sets, or the
            comparisons that match.
    """
    want = parse_primary(spec)
    found = [c for c in comparisons
             if all(want[k] in (None, c[k]) for k in want)]
    if len(found) == 1:
        return found[0]

    def listed(key):
        return ', '.join(sorted({str(c[key]) for c in comparisons})) or \
            'none'

    if not found:
        raise PrimaryError(
            f'primary {spec!r}: no comparison of the table matches. It has '
            f'modes: {listed("mode")}; references: {listed("reference")}; '
            f'targets: {listed("target")}; backbones: {listed("backbone")}; '
            f'affective sets: {listed("affective")}.')
    raise PrimaryError(
        f'primary {spec!r}: {len(found)} comparisons match ('
        + '; '.join(comparison_name(c) for c in found[:10]) +
        '); name the backbone and the affective set.')


def comparison_name(c: dict) -> str:
    """``backbone affective mode vs reference on target``."""
    return (f'{c["backbone"]} {c["affective"]} {c["mode"]} vs '
            f'{c["reference"]} on {c["target"]}')


def pool(cis: Sequence[dict]) -> Dict[str, dict]:
    """Set each comparison's ``detectable`` difference from the spread
    pooled over the comparisons of its ``measure`` that have a verdict
    (``detectable_from``: ``'pooled'``), or, where only one comparison has
    a spread to pool, from its own (``'rough'``).

    Returns:
        dict: Per measure: ``spread`` (the pooled SD), ``df`` and
        ``comparisons`` (how many were pooled).
    """
    by_measure: Dict[str, List[dict]] = {}
    for ci in cis:
        if ci is not None:
            by_measure.setdefault(ci.get('measure', ''), []).append(ci)
    pooled = {}
    for measure, group in by_measure.items():
        with_spread = [ci for ci in group if tested(ci)]
        spread, df = pooled_spread(with_spread)
        if spread is not None:
            pooled[measure] = dict(spread=spread, df=df,
                                   comparisons=len(with_spread))
        rough = len(with_spread) < 2
        for ci in group:
            ci['detectable'], ci['detectable_from'] = None, None
            if tested(ci):
                ci['detectable'] = detectable_difference(
                    ci['spread'] if rough else spread, ci['n'])
                ci['detectable_from'] = 'rough' if rough else 'pooled'
    return pooled


def settle(cis: Sequence[Optional[dict]], policy: Policy,
           primary: Optional[dict] = None) -> dict:
    """Adjust the verdicts of one table's comparisons as one family, and
    pool their spread (:func:`pool`).

    Each comparison with a verdict gets ``p_adjusted``, ``adjusted`` (the
    verdict at the adjusted p) and ``correction``; ``primary`` (one of
    ``cis``) is marked ``primary`` and left out of the family.

    Returns:
        dict: The family: ``size``, ``expected`` (size x alpha: the
        verdicts chance alone gives when no comparison has an effect),
        ``verdicts`` / ``adjusted_verdicts`` (how many comparisons of the
        family read better / worse before / after adjusting),
        ``correction``, ``alpha``, ``pooled`` (:func:`pool`) and
        ``primary``.
    """
    cis = [ci for ci in cis if ci is not None]
    if primary is not None:
        primary['primary'] = True
    family = [ci for ci in cis if tested(ci) and ci is not primary]
    if family:
        from statsmodels.stats.multitest import multipletests
        reject, adjusted, _, _ = multipletests(
            [ci['p'] for ci in family], alpha=ALPHA,
            method=policy.correction)
        for ci, rejected, p in zip(family, reject, adjusted):
            positive, negative = ci['words']
            ci.update(p_adjusted=float(p), correction=policy.correction,
                      adjusted=(positive if ci['mean'] > 0 else negative)
                      if rejected else 'no evidence')
    return dict(size=len(family), expected=len(family) * ALPHA,
                verdicts=sum(ci['verdict'] in ci['words'] for ci in family),
                adjusted_verdicts=sum(ci['adjusted'] != 'no evidence'
                                      for ci in family),
                correction=policy.correction, alpha=ALPHA,
                pooled=pool(cis), primary=primary)
