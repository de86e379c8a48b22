"""The Calibration table's numbers: ECE and NLL of the fused prediction per
cell, paired against each reference like the main table's metric.

Its rows share the companion CSV with the Branches table
(:func:`.branches.branches_table`); this module holds what is
calibration's own.
"""
from typing import Dict, List, Optional, Sequence

from ..evaluation.analysis import ECE_BINS
from .format import CI_KEYS, COLUMNS, ci_columns, fmt_ci, num
from .pairing import Cell, cell_name, compare, compares, missing
from .pairing import reference_name
from .runs import TAGS
from .stats import summary

TEXT = (
    f'\n## Calibration\n\nOf the fused prediction, mean ± std over '
    f'seeds: ECE (%), the expected calibration error over {ECE_BINS} '
    'equal-width bins of the top-1 confidence, and NLL, the mean '
    'negative log-likelihood of the true class (nats); vs baseline '
    '/ const / the shuffled (untrained) control: paired over seeds as in '
    'the main table, with the verdict adjusted over this table\'s family; '
    'lower is better, so "better" is a lower ECE / NLL.\n\n')
#: (key in the analysis, CSV name, scale, digits).
METRICS = (('ece', 'ECE %', 100., 2), ('nll', 'NLL', 1., 3))
#: Lower is better: a positive difference is worse.
WORDS = ('worse', 'better')


def calibration_stats(key: Cell, mine: List[dict],
                      refs: Dict[str, Optional[list]], notes: List[str],
                      resolution: float) -> dict:
    """The Calibration numbers of one cell's runs (one per seed) and their
    comparisons with each reference's runs (``refs``: None where the cell
    has no such column, [] where the reference has no runs)."""
    out = {}
    for name, label, scale, _ in METRICS:

        def values(runs, name=name, scale=scale):
            return [dict(r, value=scale * r['analysis']['calibration'][name])
                    for r in runs if r['analysis']['calibration']]

        out[name] = summary([r['value'] for r in values(mine)])
        for ref, found in refs.items():
            out[f'{name} vs {ref}'] = None if not found else compare(
                values(mine), values(found), notes,
                f'{cell_name(key)} {name.upper()} vs '
                f'{reference_name(ref, key[1])}', measure=f'{label} '
                f'{key[3]}', words=WORDS, resolution=resolution)
    return out


def comparisons(st: dict, refs: Sequence[str]) -> List[dict]:
    """The cell's calibration comparisons (members of the table's
    family)."""
    return [st[f'{name} vs {ref}'] for name, *_ in METRICS for ref in refs
            if st[f'{name} vs {ref}'] is not None]


def _absent(key: Cell, ref: str) -> str:
    return missing(key, ref, 'runs with predictions') \
        if compares(key, ref) else '-'


def csv_header(refs: Sequence[str]) -> List[str]:
    """The calibration columns of the companion CSV."""
    header = []
    for _, label, _, _ in METRICS:
        header += [f'{label} mean', f'{label} std']
        for ref in refs:
            header += [f'{label} vs {ref} {k}' for k in CI_KEYS]
    return header


def csv_cells(key: Cell, st: dict, refs: Sequence[str]) -> list:
    """One cell's calibration columns of the companion CSV."""
    row = []
    for name, *_ in METRICS:
        row += [num(st[name][0]), num(st[name][1])]
        for ref in refs:
            ci = st[f'{name} vs {ref}']
            row += ci_columns(ci if ci and ci['n'] else None,
                              'not paired' if ci else _absent(key, ref))
    return row


def md_header(refs: Sequence[str]) -> List[str]:
    """The Calibration table's markdown header."""
    header = list(TAGS) + ['seeds']
    for _, label, _, _ in METRICS:
        short = label.split()[0]
        header += [f'{short} (%)' if '%' in label else short] + [
            f'{short} {COLUMNS[r]}' for r in refs]
    return header


def md_row(key: Cell, st: dict, refs: Sequence[str]) -> List[str]:
    """One cell's row of the Calibration table."""
    cells = list(key) + [str(st['ece'][2])]
    for name, _, _, digits in METRICS:
        mean, std, _ = st[name]
        cells.append(f'{mean:.{digits}f} ± {std:.{digits}f}')
        cells += [fmt_ci(st[f'{name} vs {r}'], digits, _absent(key, r))
                  for r in refs]
    return cells
