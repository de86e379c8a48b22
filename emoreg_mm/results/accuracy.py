"""The main table: the metric per backbone x affective set x mode, per target.

Per target: the metric as mean ± std over seeds (n), then, for every
regulated mode, the paired difference to ``baseline`` and to ``const``
(:mod:`.pairing`) over the seeds both have: mean, 95% t interval, n, a
verdict and the smallest difference those seeds would detect; and McNemar's
exact test against ``const`` on the same test images, one p-value per seed
where both runs wrote predictions. A result marked ``†`` was selected on
the data it was evaluated on; ``(val)`` is a validation score.
"""
from typing import List, Optional, Tuple

from .. import matrix
from .format import ci_columns, fmt_ci, md_table
from .pairing import (REFERENCES, Cell, cell_name, compare, group,
                      partners, unique_seeds)
from .stats import mean_std

#: The paragraph above the table; ``{metric}`` is the metric's key.
INTRO = (
    '{metric}: mean ± std over seeds (n); vs baseline / const: paired '
    'difference over seeds, mean [95% t interval] (n pairs): verdict; '
    'detects >= D: the smallest difference these seeds would find with '
    '80% power (alpha 0.05) at the observed spread of the differences; '
    'McNemar: exact p per seed on the same test images. † selected on '
    'the data it was evaluated on (validated on the test data); (val) '
    'a validation score, no test result.\n\n')
#: CSV columns per target after the mean: std, n, source, selected.
CELL_COLUMNS = ('mean', 'std', 'n', 'source', 'selected on eval data')
#: CSV columns of each comparison with a reference.
PAIR_COLUMNS = ('mean', 'ci low', 'ci high', 'n', 'verdict', 'detectable')


def row_order(combo: Tuple[str, str, str]) -> tuple:
    """Rows by backbone, then ``baseline``, ``const``, then by affective
    set and the matrix's order of the modes (modes it does not know last,
    by name)."""
    backbone, affective, mode = combo
    modes = matrix.MODES
    return (backbone, mode != 'baseline', mode != 'const', affective,
            modes.index(mode) if mode in modes else len(modes), mode)


def csv_header(targets: List[str]) -> List[str]:
    """The CSV header of the main table."""
    header = ['backbone', 'affective', 'mode']
    for t in targets:
        header += [f'{t} {k}' for k in CELL_COLUMNS]
        for ref in REFERENCES:
            header += [f'{t} vs {ref} {k}' for k in PAIR_COLUMNS]
        header.append(f'{t} McNemar vs const p')
    return header


def _target_cells(cells: dict, key: Cell, notes: List[str],
                  forest: Optional[list]) -> Tuple[list, List[str]]:
    """The CSV and markdown cells of one row's target (a non-empty cell)."""
    cell = cells[key]
    values = [r['value'] for r in cell]
    mean, std = mean_std(values)
    sources = sorted({r['source'] for r in cell})
    flagged = any(r['selected_on_eval'] for r in cell)
    row = [f'{mean:.4f}', f'{std:.4f}', len(values), '+'.join(sources),
           'yes' if flagged else 'no']
    mark = ('†' if flagged else '') + (' (val)' if 'val' in sources else '')
    md = [f'{mean:.2f} ± {std:.2f}{mark} (n={len(values)})']
    name = cell_name(key)
    mine = unique_seeds(cell, notes, name)
    mode = key[2]
    cis = {}
    for ref in REFERENCES:
        refs = partners(cells, key, ref)
        ci = cis[ref] = None if refs is None else compare(
            mine, refs, notes, f'{name} vs {ref}', mcnemar=ref == 'const')
        if ci is not None and forest is not None:
            forest.append(dict(label=name, ref=ref, ci=ci))
        absent = '-' if mode == ref else 'n/a'
        row += ci_columns(ci, absent, detectable=True)
        md.append('-' if mode == ref else fmt_ci(ci))
    pvalues = (cis['const'] or {}).get('mcnemar') or []
    row.append('; '.join(f'seed {s}: {p:.4g}' for s, p in pvalues))
    md.append(', '.join(f'{p:.3g}' for _, p in pvalues))
    return row, md


def accuracy_table(runs: List[dict], forest: Optional[list] = None
                   ) -> Tuple[List[str], List[list], str, List[str]]:
    """The main table of ``runs`` (:func:`~.runs.read_run`'s).

    Args:
        runs (list[dict]): The runs.
        forest (list, optional): Each paired comparison is appended here
            as ``dict(label, ref, ci)`` (the forest plot's entries).

    Returns:
        tuple: (csv header, csv rows, markdown table, notes).
    """
    notes = []
    cells = group(runs)
    targets = sorted({key[3] for key in cells})
    combos = sorted({key[:3] for key in cells}, key=row_order)
    header = csv_header(targets)
    width = (len(header) - 3) // max(len(targets), 1)  # columns per target
    rows, md_rows = [], []
    for combo in combos:
        row, md = list(combo), list(combo)
        for target in targets:
            if combo + (target, ) not in cells:
                row += [''] * width
                md += ['', '', '', '']
                continue
            more, more_md = _target_cells(cells, combo + (target, ), notes,
                                          forest)
            row += more
            md += more_md
        rows.append(row)
        md_rows.append(md)
    md_header = ['backbone', 'affective', 'mode']
    for t in targets:
        md_header += [f'{t}', f'{t} vs baseline', f'{t} vs const',
                      f'{t} McNemar p vs const']
    return header, rows, md_table(md_header, md_rows) + '\n', notes
