"""How the tables print: numbers, paired cells, markdown tables and CSV."""
import csv
import io
from typing import List, Optional, Sequence

from .stats import mean_std

#: The CSV columns of a paired comparison (``ci_columns``).
CI_KEYS = ('mean', 'ci low', 'ci high', 'n', 'verdict')


def num(x: Optional[float]) -> str:
    """A CSV number: four decimals, '' for None."""
    return '' if x is None else f'{x:.4f}'


def spread(values: Sequence[float], digits: int = 2) -> str:
    """``mean ± std (n=N)``; '' for no values."""
    if not values:
        return ''
    mean, std = mean_std(values)
    return f'{mean:.{digits}f} ± {std:.{digits}f} (n={len(values)})'


def fmt_ci(ci: Optional[dict], digits: int = 2) -> str:
    """A paired comparison in a markdown cell: ``mean [low, high] (n=N):
    verdict; detects >= D``; 'n/a' without one, 'not paired' without a
    pair."""
    if ci is None:
        return 'n/a'
    if ci['n'] == 0:
        return 'not paired'
    d = digits
    interval = '' if ci['low'] is None else \
        f' [{ci["low"]:+.{d}f}, {ci["high"]:+.{d}f}]'
    power = '' if ci.get('detectable') is None else \
        f'; detects >= {ci["detectable"]:.{d}f}'
    return (f'{ci["mean"]:+.{d}f}{interval} (n={ci["n"]}): {ci["verdict"]}'
            f'{power}')


def ci_columns(ci: Optional[dict], absent: str,
               detectable: bool = False) -> list:
    """The CSV cells of a paired comparison (:data:`CI_KEYS`, then the
    detectable difference if ``detectable``); without one, ``absent`` and
    blanks."""
    if ci is None:
        return [absent] + [''] * (len(CI_KEYS) - 1 + detectable)
    cells = [num(ci['mean']), num(ci['low']), num(ci['high']), ci['n'],
             ci['verdict']]
    return cells + ([num(ci.get('detectable'))] if detectable else [])


def md_table(header: Sequence[str], rows: List[Sequence[str]]) -> str:
    """A markdown table (no newline after the last row)."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in rows])


def csv_text(header: Sequence[str], rows: List[list]) -> str:
    """``header`` and ``rows`` as CSV text."""
    table = io.StringIO(newline='')
    csv.writer(table).writerows([header] + rows)
    return table.getvalue()
