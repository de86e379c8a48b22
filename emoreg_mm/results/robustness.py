"""The Robustness table, from the runs' corruption predictions.

For each run whose work dir holds corruption predictions
(``tools/analysis_tools/eval_corruptions.py``: ``WORK_DIR/corruptions/``),
:func:`robustness_table` tables per backbone x affective set x mode x
target, over seeds: the mean corruption accuracy (the 15 corruptions x 5
severities present) with its paired differences to each reference
(``baseline``, ``const`` and the controls of the cell's affective set:
:func:`.pairing.compare`, as accuracy, adjusted over the table's family),
and mCE relative to ``baseline`` (Hendrycks & Dietterich: CE_c = sum_s
err_s / sum_s err_s(baseline), mCE = the mean over corruptions; 100% is the
baseline's own), each seed's run against the baseline run of its seed,
with the paired t interval of mCE - 100. Runs compared must hold the same cells
(:func:`emoreg_mm.evaluation.robustness.corruption_errors` refuses
otherwise) and have been evaluated on the same folder (root, kind and
images per severity; each row names the kind: official by the published
checksums, re-created, or unverified); a pair that is not is named in the
notes, and the caption lists the folders read. A run with cells missing
is named in the notes. A run with no
cell of the 15 corruptions, and a seed whose CE is not a number (its
baseline made no error on a corruption; relative: lost no accuracy), are
named in the notes and left out of what they cannot enter.
"""
import math
import statistics
from typing import List, Optional, Tuple

from ..evaluation import robustness as corruption

from .family import Policy, settle
from .format import (CI_KEYS, COLUMNS, ci_columns, family_text, fmt_ci,
                     md_table, num, spread)
from .pairing import (EMPTY, cell_name, compare, compares,
                      config_differences, group, missing, partners,
                      reference_name, references, unique_seeds)
from .runs import TAGS
from .stats import paired_ci, summary

TEXT = (
    '\n## Robustness\n\nOn corrupted test sets in the CIFAR-10-C / '
    'CIFAR-100-C layout (docs/robustness.md; which folders, and whether '
    'they are the official files, below): the mean corruption accuracy (%) over the '
    '15 corruptions x 5 severities, mean ± std over seeds, and its '
    'paired difference to baseline / const / the shuffled (untrained) '
    'control as in the main table, adjusted over this table\'s family; mCE '
    '(%) relative to baseline (lower is better; 100 is the baseline), '
    'each seed against the baseline run of its seed, with the 95% t '
    'interval of mCE - 100 over seeds, and the relative mCE (the '
    'accuracy lost from clean to corrupted, relative to the '
    "baseline's loss).\n\n")


def read_robustness(runs: List[dict], notes: List[str]) -> None:
    """Set ``run['robustness']`` (``read_corruption_accuracy`` of its work
    dir, or None without corruption predictions); a damaged file is noted
    by name and the run left out of this table."""
    for run in runs:
        run['robustness'] = None
        try:
            run['robustness'] = corruption.read_corruption_accuracy(
                run['work_dir'])
        except (OSError, ValueError) as err:  # PredictionsFileError too
            notes.append(f'{err}; not in the robustness table.')
            continue
        if run['robustness'] and not math.isfinite(
                run['robustness']['mean_accuracy']):
            notes.append(f'{run["work_dir"]}: no cell of the 15 corruptions '
                         '(only the extra ones); not in the robustness '
                         'table.')
            run['robustness'] = None
            continue
        if run['robustness'] and not run['robustness']['complete']:
            missing = run['robustness']['missing']
            notes.append(
                f'{run["work_dir"]}: {len(missing)} of the 75 corruption x '
                'severity cells missing (first: '
                f'{missing[0][0]} s{missing[0][1]}); its mean is over the '
                'cells present.')


def _cells(run: dict) -> set:
    """The (corruption, severity) cells of the 15 a run was evaluated on."""
    accuracy = run['robustness']['accuracy']
    return {(c, s) for c in corruption.CORRUPTIONS if c in accuracy
            for s in accuracy[c]}


def source(run: dict) -> dict:
    """The corrupted folder a run's cells were evaluated on: ``root``,
    ``kind`` (:data:`~emoreg_mm.evaluation.robustness.KINDS`; cells that
    record none: ``'unknown'``, root None) and ``images_per_severity``."""
    r = run['robustness']
    return r['source'] or dict(root=None, kind='unknown',
                               images_per_severity=r['images'])


def describe(src: dict) -> str:
    """``ROOT (kind, N images per severity)``."""
    return (f"{src['root'] or '(folder not recorded)'} "
            f"({corruption.KINDS.get(src['kind'], src['kind'])}, "
            f"{src['images_per_severity']} images per severity)")


def _same_cells(mine: List[dict], refs: List[dict], notes: List[str],
                what: str) -> List[dict]:
    """``refs`` less those evaluated on another folder (kind, size or
    root) or on other cells than the run of their seed (not comparable),
    each named."""
    by_seed = {r['seed']: r for r in mine}
    kept = []
    for ref in refs:
        run = by_seed.get(ref['seed'])
        if run is not None and source(run) != source(ref):
            notes.append(
                f'{what}, seed {ref["seed"]}: {run["work_dir"]} was '
                f'evaluated on {describe(source(run))} and '
                f'{ref["work_dir"]} on {describe(source(ref))}; not paired.')
            continue
        if run is not None and _cells(run) != _cells(ref):
            notes.append(
                f'{what}, seed {ref["seed"]}: {run["work_dir"]} and '
                f'{ref["work_dir"]} were evaluated on different corruption '
                f'x severity cells ({len(_cells(run))} vs '
                f'{len(_cells(ref))}); not paired.')
            continue
        kept.append(ref)
    return kept


def _mce(mine: List[dict], base: List[dict], notes: List[str],
         name: str) -> Tuple[List[float], List[float]]:
    """mCE and relative mCE (%) of each seed's run against the baseline run
    of the same seed (only pairs whose configs differ in the mode alone)."""
    ref_seed = {r['seed']: r for r in _same_cells(mine, base, notes,
                                                  f'{name} mCE')}
    mce, relative = [], []
    for run in mine:
        ref = ref_seed.get(run['seed'])
        if ref is None:
            continue
        differ = config_differences(run['config'], ref['config'])
        if differ:
            notes.append(f'{name} mCE, seed {run["seed"]}: {run["work_dir"]}'
                         f' and {ref["work_dir"]} differ in '
                         f'{", ".join(differ)}; not paired.')
            continue
        mine_r, ref_r = run['robustness'], ref['robustness']
        try:
            out = corruption.corruption_errors(
                mine_r['accuracy'], ref_r['accuracy'],
                model_clean=_clean(run), baseline_clean=_clean(ref))
        except ValueError as err:
            notes.append(f'{name} mCE, seed {run["seed"]}: {err}')
            continue
        what = f'{name} mCE, seed {run["seed"]}: {ref["work_dir"]} (baseline)'
        if _finite(out['ce'], notes, f'{what} made no error on', 'mCE'):
            mce.append(100 * out['mce'])
        if 'relative_mce' in out and _finite(
                out['relative_ce'], notes, f'{what} lost no accuracy on',
                'relative mCE'):
            relative.append(100 * out['relative_mce'])
    return mce, relative


def _clean(run: dict):
    """A run's clean accuracy, from the ``predictions.npz`` its reading
    kept (:func:`.runs.current_predictions`); None without one."""
    return run['robustness']['clean_accuracy'] if run['predictions'] \
        else None


def _finite(ratios: dict, notes: List[str], what: str, measure: str) -> bool:
    """Whether every corruption's ratio is a number; else (noted: ``what``
    and the corruptions) the seed is left out of ``measure``."""
    bad = [c for c, r in ratios.items() if not math.isfinite(r)]
    if bad:
        notes.append(f'{what} {", ".join(bad)}: its '
                     f'{measure.replace("mCE", "CE")} is undefined (a '
                     f'division by zero); left out of the {measure}.')
    return not bad


def csv_header(refs) -> List[str]:
    """The CSV header of the Robustness table."""
    header = list(TAGS) + ['seeds', 'corrupted set', 'corrupted set root',
                           'mean corruption accuracy mean',
                           'mean corruption accuracy std']
    for ref in refs:
        header += [f'vs {ref} {k}' for k in CI_KEYS]
    return header + ['mCE mean', 'mCE n', 'mCE - 100 ci low',
                     'mCE - 100 ci high', 'relative mCE mean']


def _corruption_accuracy(runs: List[dict]) -> List[dict]:
    """``runs`` with ``value`` their mean corruption accuracy (%)."""
    return [dict(r, value=100 * r['robustness']['mean_accuracy'])
            for r in runs]


def _mce_text(mce: List[float], mce_ci: dict) -> str:
    if len(mce) > 1 and mce_ci['low'] is not None:
        return (f'{spread(mce)} [{mce_ci["low"]:.2f}, {mce_ci["high"]:.2f}]'
                ' of mCE - 100')
    return spread(mce) or 'not paired'


def _cell(cells: dict, key, notes: List[str], refs,
          policy: Policy) -> dict:
    """One cell's corruption accuracy, its comparisons and its mCE."""
    name = cell_name(key)
    mine = unique_seeds(cells[key], notes, name)
    values = _corruption_accuracy(mine)
    found, cis = {}, {}  # each reference's runs on the same cells, by seed
    for ref in refs:
        what = (f'{name} corruption accuracy vs '
                f'{reference_name(ref, key[1])}')
        runs = partners(cells, key, ref)
        found[ref] = None if runs is None else _same_cells(
            values, _corruption_accuracy(runs), notes, what)
        cis[ref] = None if found[ref] is None else compare(
            values, found[ref], notes, what, measure=key[3],
            resolution=policy.resolution)
    base = found['baseline']
    mce, relative = _mce(mine, base, notes, name) if base else ([], [])
    sources = {repr(source(r)): source(r) for r in mine}.values()
    if len(sources) > 1:
        notes.append(f'{name}: its seeds were evaluated on different '
                     f'folders ({"; ".join(map(describe, sources))}); its '
                     'mean mixes them.')
    return dict(mine=mine, sources=list(sources), acc=[v['value'] for v in values], cis=cis,
                mce=mce, relative=relative,
                mce_ci=paired_ci([m - 100 for m in mce],
                                 resolution=policy.resolution))


def _kind(src: dict) -> str:
    return corruption.KINDS.get(src['kind'], src['kind'])


def _read_text(cells: dict) -> str:
    """The caption's line of what was read: each folder, with how many
    runs were evaluated on it."""
    count = {}
    for runs in cells.values():
        for run in runs:
            key = repr(source(run))
            count[key] = (source(run), count.get(key, (None, 0))[1] + 1)
    lines = [f'- {describe(src)}: {n} run{"s" * (n != 1)}'
             for src, n in sorted(count.values(),
                                  key=lambda v: str(v[0]['root']))]
    return ('Read (official: every file read has the md5 of the '
            'distributed CIFAR-C files; runs on different folders are not '
            'paired):\n\n' + '\n'.join(lines) + '\n\n')


def robustness_table(runs: List[dict], policy: Optional[Policy] = None
                     ) -> Tuple[List[str], List[list], str, List[str],
                                dict]:
    """The Robustness table of the runs with corruption predictions (after
    :func:`read_robustness`).

    Returns:
        tuple: (csv header, csv rows, markdown, notes, the family of
        :func:`.family.settle`); empty rows and markdown when no run has
        corruption predictions.
    """
    policy = policy or Policy()
    notes: List[str] = []
    cells = group(runs, lambda run: bool(run.get('robustness')))
    refs = references(cells)
    found = [(key, _cell(cells, key, notes, refs, policy))
             for key in sorted(cells)]
    family = settle([ci for _, c in found for ci in c['cis'].values()],
                    policy)
    rows, md = [], []
    for key, c in found:
        absent = {ref: missing(key, ref, 'runs with corruption predictions')
                  if compares(key, ref) else '-' for ref in refs}
        mce, relative, mce_ci = c['mce'], c['relative'], c['mce_ci']
        kinds = ' + '.join(sorted({_kind(src) for src in c['sources']}
                                  )) or '-'
        row = list(key) + [len(c['mine']), kinds, '; '.join(
            sorted(str(src['root']) for src in c['sources'])),
            *map(num, summary(c['acc'])[:2])]
        for ref in refs:
            row += ci_columns(c['cis'][ref], absent[ref])
        row += [num(statistics.fmean(mce)) if mce else '', len(mce),
                num(mce_ci['low']), num(mce_ci['high']),
                num(statistics.fmean(relative)) if relative else '']
        rows.append(row)
        md.append(list(key) + [str(len(c['mine'])), kinds,
                               spread(c['acc']) or EMPTY] + [
            fmt_ci(c['cis'][ref], absent=absent[ref]) for ref in refs] + [
            '-' if key[2] == 'baseline' else _mce_text(mce, mce_ci),
            '-' if key[2] == 'baseline' else spread(relative)])
    if not md:
        return csv_header(refs), rows, '', notes, family
    header = list(TAGS) + ['seeds', 'corrupted set',
                           'mean corruption accuracy'] + [
        COLUMNS[r] for r in refs] + ['mCE vs baseline (%)',
                                     'relative mCE (%)']
    markdown = TEXT + _read_text(cells) + family_text(family) + \
        md_table(header, md) + '\n'
    return csv_header(refs), rows, markdown, notes, family
