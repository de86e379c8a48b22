"""The main table: the metric per backbone x affective set x mode, per target.

Per target: the metric as mean ± std over seeds (n), then, for every mode
but ``baseline``, the paired difference to each reference
(:data:`~.pairing.REFERENCES`: ``baseline``, ``const``, the shuffled
control of its affective set and, where such runs exist, the untrained
one) over the seeds both have: mean, 95% t interval, n, a verdict, the
verdict adjusted over the table's family (:mod:`.family`) and the smallest
difference the seeds would detect; and McNemar's exact test against
``const`` on the same test images, the discordant counts and p per seed
where both runs wrote predictions. A result marked ``†`` was selected on
the data it was evaluated on; ``(val)`` is a validation score.
"""
from typing import List, Optional, Tuple

from .. import matrix
from .family import Policy, comparison_name, find_primary, settle
from .format import (COLUMNS, ci_columns, family_text, fmt_ci, md_table,
                     mcnemar_text)
from .pairing import (Cell, cell_name, compare, compares, group, missing,
                      partners, reference_name, references, unique_seeds)
from .stats import mean_std

#: The paragraph above the table; ``{metric}`` is the metric's key.
INTRO = (
    '{metric}: mean ± std over seeds (n). vs baseline / const / shuffled '
    'control / untrained control: the paired difference over seeds to '
    'baseline, to const (the N + I ensemble without affect), and to the '
    'same mode on the control sets of the row\'s affective set X (X-'
    'shuffled: stage 1 on X\'s images with the emotion labels permuted; '
    'X-untrained: E with random weights, no stage 1): mean [95% t '
    'interval] (n pairs): verdict ("better" / "worse" when the interval '
    'excludes zero, i.e. the paired t test\'s p < 0.05); then the verdict '
    'adjusted over the table\'s family, with p and the adjusted p; detects '
    '>= D: the smallest true difference a paired t test of these n seeds '
    'finds with 80% power at alpha 0.05, at the spread of the differences '
    'pooled over the table\'s comparisons of that target ("rough": from '
    'this comparison\'s own spread, where there is nothing to pool). An '
    'emotional effect is a gain over const and over the shuffled control '
    'alike: a gain over baseline alone is an ensemble effect, and a gain '
    'over const that the shuffled control shares comes from the gate, not '
    'from emotion. McNemar vs const: per seed, b / c (the test images only '
    'this run / only const got right) and the exact p: the test-set noise '
    'of one trained pair per seed, not a test of the mode (the seeds\' '
    'spread is in the intervals). † selected on the data it was evaluated '
    'on (validated on the test data); (val) a validation score, no test '
    'result.\n\n')
#: CSV columns per target after the mean: std, n, source, selected.
CELL_COLUMNS = ('mean', 'std', 'n', 'source', 'selected on eval data')
#: CSV columns of each comparison with a reference.
PAIR_COLUMNS = ('mean', 'ci low', 'ci high', 'n', 'verdict', 'p',
                'adjusted p', 'adjusted verdict', 'detectable')


def row_order(combo: Tuple[str, str, str]) -> tuple:
    """Rows by backbone, then ``baseline``, ``const``, then by affective
    set and the order of :data:`emoreg_mm.matrix.ALL_MODES` (modes it does
    not know last, by name)."""
    backbone, affective, mode = combo
    modes = matrix.ALL_MODES
    return (backbone, mode != 'baseline', mode != 'const', affective,
            modes.index(mode) if mode in modes else len(modes), mode)


def csv_header(targets: List[str], refs: Tuple[str, ...]) -> List[str]:
    """The CSV header of the main table."""
    header = ['backbone', 'affective', 'mode']
    for t in targets:
        header += [f'{t} {k}' for k in CELL_COLUMNS]
        for ref in refs:
            header += [f'{t} vs {ref} {k}' for k in PAIR_COLUMNS]
        header += [f'{t} McNemar vs const b/c', f'{t} McNemar vs const p']
    return header


def _target_stats(cells: dict, key: Cell, refs: Tuple[str, ...],
                  notes: List[str], policy: Policy) -> dict:
    """The values and paired comparisons of one row's target."""
    cell = cells[key]
    name = cell_name(key)
    mine = unique_seeds(cell, notes, name)
    cis = {}
    for ref in refs:
        found = partners(cells, key, ref)
        cis[ref] = None if found is None else compare(
            mine, found, notes, f'{name} vs {reference_name(ref, key[1])}',
            mcnemar=ref == 'const', measure=key[3],
            resolution=policy.resolution)
    return dict(values=[r['value'] for r in cell], cis=cis,
                sources=sorted({r['source'] for r in cell}),
                flagged=any(r['selected_on_eval'] for r in cell))


def _target_cells(key: Cell, st: dict) -> Tuple[list, List[str]]:
    """The CSV and markdown cells of one row's target."""
    mean, std = mean_std(st['values'])
    sources, flagged = st['sources'], st['flagged']
    row = [f'{mean:.4f}', f'{std:.4f}', len(st['values']),
           '+'.join(sources), 'yes' if flagged else 'no']
    mark = ('†' if flagged else '') + (' (val)' if 'val' in sources else '')
    md = [f'{mean:.2f} ± {std:.2f}{mark} (n={len(st["values"])})']
    for ref, ci in st['cis'].items():
        absent = missing(key, ref) if compares(key, ref) else '-'
        row += ci_columns(ci, absent, detectable=True)
        md.append(fmt_ci(ci, absent=absent))
    counts, pvalues, md_counts, md_p = mcnemar_text(
        (st['cis']['const'] or {}).get('mcnemar') or [])
    return row + [counts, pvalues], md + [md_counts, md_p]


def _comparisons(stats: dict) -> List[dict]:
    """Every comparison of the table with a reference that has runs."""
    return [dict(backbone=key[0], affective=key[1], mode=key[2],
                 target=key[3], reference=reference_name(ref, key[1]),
                 ref=ref, ci=ci)
            for key, st in stats.items() for ref, ci in st['cis'].items()
            if ci is not None]


def accuracy_table(runs: List[dict], forest: Optional[list] = None,
                   policy: Optional[Policy] = None
                   ) -> Tuple[List[str], List[list], str, List[str], dict]:
    """The main table of ``runs`` (:func:`~.runs.read_run`'s).

    Args:
        runs (list[dict]): The runs.
        forest (list, optional): Each paired comparison is appended here
            as ``dict(label, ref, reference, ci)`` (the forest plot's
            entries).
        policy (Policy, optional): The correction, resolution and primary
            comparison. Defaults to ``Policy()`` (Holm, none primary).

    Returns:
        tuple: (csv header, csv rows, markdown (the family, then the
        table), notes, the family of :func:`.family.settle`).

    Raises:
        PrimaryError: ``policy.primary`` names no comparison of the table.
    """
    policy = policy or Policy()
    notes = []
    cells = group(runs)
    refs = references(cells)
    targets = sorted({key[3] for key in cells})
    combos = sorted({key[:3] for key in cells}, key=row_order)
    stats = {key: _target_stats(cells, key, refs, notes, policy)
             for key in sorted(cells, key=lambda k: (row_order(k[:3]), k))}
    comparisons = _comparisons(stats)
    primary = None
    if policy.primary is not None:
        found = find_primary(comparisons, policy.primary)
        primary = found['ci']
        primary['name'] = comparison_name(found)
    family = settle([c['ci'] for c in comparisons], policy, primary)
    if forest is not None:
        forest += [dict(label=cell_name((c['backbone'], c['affective'],
                                         c['mode'], c['target'])),
                        ref=c['ref'], reference=c['reference'], ci=c['ci'])
                   for c in comparisons]
    header = csv_header(targets, refs)
    width = (len(header) - 3) // max(len(targets), 1)  # columns per target
    md_width = 3 + len(refs)
    rows, md_rows = [], []
    for combo in combos:
        row, md = list(combo), list(combo)
        for target in targets:
            key = combo + (target, )
            if key not in stats:
                row += [''] * width
                md += [''] * md_width
                continue
            more, more_md = _target_cells(key, stats[key])
            row += more
            md += more_md
        rows.append(row)
        md_rows.append(md)
    md_header = ['backbone', 'affective', 'mode']
    for t in targets:
        md_header += [t] + [f'{t} {COLUMNS[r]}' for r in refs] + [
            f'{t} McNemar vs const: b / c per seed',
            f'{t} McNemar p vs const (test-set noise)']
    markdown = family_text(family) + md_table(md_header, md_rows) + '\n'
    return header, rows, markdown, notes, family
