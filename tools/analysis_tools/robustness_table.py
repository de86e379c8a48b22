"""The robustness companion table of ``results_table.py``.

For each run whose work dir holds corruption predictions
(``tools/analysis_tools/eval_corruptions.py``: ``WORK_DIR/corruptions/``),
:func:`robustness_table` tables per backbone x affective set x mode x
target, over seeds: the mean corruption accuracy (the 15 corruptions x 5
severities present) with its paired differences to ``baseline`` and
``const`` (``results_table.compare``, as accuracy), and mCE relative to
``baseline`` (Hendrycks & Dietterich: CE_c = sum_s err_s / sum_s
err_s(baseline), mCE = the mean over corruptions; 100% is the baseline's
own), each seed's run against the baseline run of its seed, with the paired
t interval of mCE - 100. Runs compared must hold the same cells
(:func:`emoreg_mm.evaluation.robustness.corruption_errors` refuses
otherwise); a run with cells missing is named in the notes.
"""
import statistics
from collections import defaultdict
from typing import List, Optional, Tuple

import results_table as rt

HEADER = ('seeds', 'mean corruption accuracy', 'vs baseline', 'vs const',
          'mCE vs baseline (%)', 'relative mCE (%)')


def read_runs(runs: List[dict], notes: List[str]) -> None:
    """Set ``run['robustness']`` (``read_corruption_accuracy`` of its work
    dir, or None without corruption predictions); a damaged file is noted
    by name and the run left out of this table."""
    robustness = rt.plugin_module('evaluation.robustness')
    for run in runs:
        run['robustness'] = None
        try:
            run['robustness'] = robustness.read_corruption_accuracy(
                run['work_dir'])
        except (OSError, ValueError) as err:  # PredictionsFileError too
            notes.append(f'{err}; not in the robustness table.')
            continue
        if run['robustness'] and not run['robustness']['complete']:
            missing = run['robustness']['missing']
            notes.append(
                f'{run["work_dir"]}: {len(missing)} of the 75 corruption x '
                'severity cells missing (first: '
                f'{missing[0][0]} s{missing[0][1]}); its mean is over the '
                'cells present.')


def _spread(values: List[float]) -> str:
    if not values:
        return ''
    std = statistics.stdev(values) if len(values) > 1 else 0.
    return f'{statistics.fmean(values):.2f} ± {std:.2f} (n={len(values)})'


def _cells(run: dict) -> set:
    """The (corruption, severity) cells of the 15 a run was evaluated on."""
    accuracy = run['robustness']['accuracy']
    return {(c, s)
            for c in rt.plugin_module('evaluation.robustness').CORRUPTIONS
            if c in accuracy for s in accuracy[c]}


def _same_cells(mine: List[dict], refs: List[dict], notes: List[str],
                what: str) -> List[dict]:
    """``refs`` less those evaluated on other cells than the run of their
    seed (a mean over other cells is not comparable), each named."""
    by_seed = {r['seed']: r for r in mine}
    kept = []
    for ref in refs:
        run = by_seed.get(ref['seed'])
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
    robustness = rt.plugin_module('evaluation.robustness')
    ref_seed = {r['seed']: r for r in _same_cells(mine, base, notes,
                                                  f'{name} mCE')}
    mce, relative = [], []
    for run in mine:
        ref = ref_seed.get(run['seed'])
        if ref is None:
            continue
        differ = rt.config_differences(run['config'], ref['config'])
        if differ:
            notes.append(f'{name} mCE, seed {run["seed"]}: {run["work_dir"]}'
                         f' and {ref["work_dir"]} differ in '
                         f'{", ".join(differ)}; not paired.')
            continue
        mine_r, ref_r = run['robustness'], ref['robustness']
        try:
            out = robustness.corruption_errors(
                mine_r['accuracy'], ref_r['accuracy'],
                model_clean=mine_r['clean_accuracy'],
                baseline_clean=ref_r['clean_accuracy'])
        except ValueError as err:
            notes.append(f'{name} mCE, seed {run["seed"]}: {err}')
            continue
        mce.append(100 * out['mce'])
        if 'relative_mce' in out:
            relative.append(100 * out['relative_mce'])
    return mce, relative


def robustness_table(runs: List[dict]) -> Tuple[List[str], List[list], str,
                                                List[str]]:
    """The robustness table of the runs with corruption predictions.

    Returns:
        tuple: (csv header, csv rows, markdown, notes); empty rows and
        markdown when no run has corruption predictions.
    """
    notes: List[str] = []
    cells = defaultdict(list)
    for run in runs:
        if run.get('robustness'):
            cells[tuple(run[t] for t in rt.TAGS)].append(run)
    header = list(rt.TAGS) + ['seeds', 'mean corruption accuracy mean',
                              'mean corruption accuracy std']
    for ref in ('baseline', 'const'):
        header += [f'vs {ref} {k}' for k in ('mean', 'ci low', 'ci high',
                                             'n', 'verdict')]
    header += ['mCE mean', 'mCE n', 'mCE - 100 ci low', 'mCE - 100 ci high',
               'relative mCE mean']
    rows, md = [], []
    for key in sorted(cells):
        backbone, affective, mode, target = key
        name = f'{backbone} {affective} {mode} on {target}'
        mine = rt._unique_seeds(cells[key], notes, name)
        values = [dict(r, value=100 * r['robustness']['mean_accuracy'])
                  for r in mine]

        def refs(ref_mode: str) -> Optional[List[dict]]:
            if mode in ('baseline', ref_mode):
                return None
            found = [dict(r, value=100 * r['robustness']['mean_accuracy'])
                     for k, rs in cells.items() if k[0] == backbone and
                     k[2] == ref_mode and k[3] == target and
                     (ref_mode == 'baseline' or k[1] == affective)
                     for r in rs]
            return _same_cells(values, rt._unique_seeds(found, [], ''), notes,
                               f'{name} corruption accuracy vs {ref_mode}')

        found = {m: refs(m) for m in ('baseline', 'const')}
        cis = {m: rt.compare(values, found[m], notes,
                             f'{name} corruption accuracy vs {m}')
               if found[m] is not None else None
               for m in ('baseline', 'const')}
        base = found['baseline']
        mce, relative = _mce(mine, base, notes, name) if base else ([], [])
        mce_ci = rt.paired_ci([m - 100 for m in mce])
        acc = [v['value'] for v in values]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.
        row = list(key) + [len(mine), rt._num(statistics.fmean(acc)),
                           rt._num(std)]
        for m in ('baseline', 'const'):
            ci = cis[m]
            row += (['-' if found[m] is None else 'n/a'] + [''] * 4
                    if ci is None else
                    [rt._num(ci['mean']), rt._num(ci['low']),
                     rt._num(ci['high']), ci['n'], ci['verdict']])
        row += [rt._num(statistics.fmean(mce)) if mce else '', len(mce),
                rt._num(mce_ci['low']), rt._num(mce_ci['high']),
                rt._num(statistics.fmean(relative)) if relative else '']
        rows.append(row)
        md.append(list(key) + [str(len(mine)), _spread(acc)] + [
            '-' if found[m] is None else rt._fmt_ci(cis[m])
            for m in ('baseline', 'const')] + [
            '-' if mode == 'baseline' else
            (f'{_spread(mce)} [{mce_ci["low"]:.2f}, {mce_ci["high"]:.2f}] '
             'of mCE - 100' if len(mce) > 1 and mce_ci['low'] is not None
             else _spread(mce) or 'not paired'),
            '-' if mode == 'baseline' else _spread(relative)])
    if not md:
        return header, rows, '', notes
    lines = ['| ' + ' | '.join(list(rt.TAGS) + list(HEADER)) + ' |',
             '|' + '---|' * (len(rt.TAGS) + len(HEADER))]
    markdown = (
        '\n## Robustness\n\nOn the corruptions of CIFAR-10-C / CIFAR-100-C '
        '(docs/robustness.md): the mean corruption accuracy (%) over the '
        '15 corruptions x 5 severities, mean ± std over seeds, and its '
        'paired difference to baseline / const as in the main table; mCE '
        '(%) relative to baseline (lower is better; 100 is the baseline), '
        'each seed against the baseline run of its seed, with the 95% t '
        'interval of mCE - 100 over seeds, and the relative mCE (the '
        'accuracy lost from clean to corrupted, relative to the '
        "baseline's loss).\n\n" + '\n'.join(
            lines + ['| ' + ' | '.join(r) + ' |' for r in md]) + '\n')
    return header, rows, markdown, notes
