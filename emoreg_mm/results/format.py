"""How the tables print: numbers, paired cells, markdown tables and CSV."""
import csv
import io
from typing import List, Optional, Sequence, Tuple

from .family import CORRECTIONS, SHORT
from .stats import mean_std

#: How the markdown headers name each reference's column.
COLUMNS = dict(baseline='vs baseline', const='vs const',
               shuffled='vs shuffled control',
               untrained='vs untrained control')
#: The CSV columns of a paired comparison (``ci_columns``).
CI_KEYS = ('mean', 'ci low', 'ci high', 'n', 'verdict', 'p', 'adjusted p',
           'adjusted verdict')


def num(x: Optional[float]) -> str:
    """A CSV number: four decimals, '' for None and NaN (the mean of no
    pair)."""
    return '' if x is None or x != x else f'{x:.4f}'


def spread(values: Sequence[float], digits: int = 2) -> str:
    """``mean ± std (n=N)``; '' for no values."""
    if not values:
        return ''
    mean, std = mean_std(values)
    return f'{mean:.{digits}f} ± {std:.{digits}f} (n={len(values)})'


def adjusted_verdict(ci: dict) -> str:
    """The verdict after the table's correction (:func:`.family.settle`);
    '' outside the family (no verdict)."""
    if ci.get('primary'):
        return f'{ci["verdict"]} (primary, not adjusted)'
    return ci.get('adjusted', '')


def fmt_ci(ci: Optional[dict], digits: int = 2, absent: str = 'n/a') -> str:
    """A paired comparison in a markdown cell: ``mean [low, high] (n=N):
    verdict; Holm: adjusted verdict (p=P, adjusted Q); detects >= D``;
    ``absent`` without one, 'not paired' without a pair. A comparison
    without a verdict word (``verdict`` '') only describes."""
    if ci is None:
        return absent
    if ci['n'] == 0:
        return 'not paired'
    d = digits
    interval = '' if ci['low'] is None else \
        f' [{ci["low"]:+.{d}f}, {ci["high"]:+.{d}f}]'
    text = f'{ci["mean"]:+.{d}f}{interval} (n={ci["n"]})'
    if ci['verdict']:
        text += f': {ci["verdict"]}'
    if ci.get('primary') and ci.get('p') is not None:
        text += f' (primary, not adjusted; p={ci["p"]:.2g})'
    elif ci.get('p_adjusted') is not None:
        text += (f'; {SHORT[ci["correction"]]}: {ci["adjusted"]} '
                 f'(p={ci["p"]:.2g}, adjusted {ci["p_adjusted"]:.2g})')
    if ci.get('detectable') is not None:
        rough = ' (rough)' if ci.get('detectable_from') == 'rough' else ''
        text += f'; detects >= {ci["detectable"]:.{d}f}{rough}'
    return text


def ci_columns(ci: Optional[dict], absent: str,
               detectable: bool = False) -> list:
    """The CSV cells of a paired comparison (:data:`CI_KEYS`, then the
    detectable difference if ``detectable``); without one, ``absent`` and
    blanks."""
    if ci is None:
        return [absent] + [''] * (len(CI_KEYS) - 1 + detectable)
    cells = [num(ci['mean']), num(ci['low']), num(ci['high']), ci['n'],
             ci['verdict'], pvalue(ci.get('p')),
             pvalue(ci.get('p_adjusted')), adjusted_verdict(ci)]
    return cells + ([num(ci.get('detectable'))] if detectable else [])


def pvalue(p: Optional[float]) -> str:
    """A CSV p-value: four significant digits, '' for None."""
    return '' if p is None else f'{p:.4g}'


def family_text(family: dict, what: str = 'paired comparisons') -> str:
    """The paragraph above a table: its family (:func:`.family.settle`),
    the verdicts chance alone would give, the correction, the primary
    comparison and the pooled spreads."""
    if not family['size']:
        text = (f'Family: none of the {what} in this table has a '
                'verdict (each has fewer than two pairs or identical '
                'differences), so nothing is adjusted.')
    else:
        text = (
            f'Family: the {family["size"]} {what} with a verdict in this '
            f'table. If no mode had any effect, about '
            f'{family["expected"]:.1f} of them would read better / worse by '
            f'chance at alpha {family["alpha"]:g} (here '
            f'{family["verdicts"]} do). Adjusted verdicts: '
            f'{CORRECTIONS[family["correction"]]}; after adjusting, '
            f'{family["adjusted_verdicts"]} read better / worse.')
    if family['primary'] is not None:
        text += (f' Primary comparison (named by the user; left out of the '
                 f'family, not adjusted): {family["primary"]["name"]}.')
    pooled = {m: p for m, p in family['pooled'].items()
              if p['comparisons'] > 1}
    if pooled:
        text += (' Spread of the differences pooled over the table\'s '
                 'comparisons (for detects >= D): ' + '; '.join(
                     f'{m} {p["spread"]:.3g} ({p["comparisons"]} '
                     f'comparisons, {p["df"]} df)'
                     for m, p in sorted(pooled.items())) + '.')
    return text + '\n\n'


def mcnemar_text(tests: Sequence[tuple]) -> Tuple[str, str, str, str]:
    """McNemar's tests of a cell, [(seed, b, c, p)], as (CSV b / c, CSV p,
    markdown b / c, markdown p)."""
    return ('; '.join(f'seed {s}: {b}/{c}' for s, b, c, _ in tests),
            '; '.join(f'seed {s}: {p:.4g}' for s, _, _, p in tests),
            ', '.join(f'{b} / {c}' for _, b, c, _ in tests),
            ', '.join(f'{p:.3g}' for *_, p in tests))


def md_table(header: Sequence[str], rows: List[Sequence[str]]) -> str:
    """A markdown table (no newline after the last row)."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in rows])


def csv_text(header: Sequence[str], rows: List[list]) -> str:
    """``header`` and ``rows`` as CSV text."""
    table = io.StringIO(newline='')
    csv.writer(table).writerows([header] + rows)
    return table.getvalue()
