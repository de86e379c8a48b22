"""The companion tables of ``results_table.py``: branches and calibration.

From each run's ``predictions.npz``, :func:`analyse_runs` computes
:func:`emoreg_mm.evaluation.analysis.run_analysis` (the math lives there);
:func:`analysis_table` tables it per backbone x affective set x mode x
target, mean ± std over seeds, with the paired statistics of
``results_table`` (:func:`results_table.paired_ci`,
:func:`results_table.compare`); :func:`write_forest` draws the paired
differences of the main table (``plot_analysis.forest_plot``).
"""
import statistics
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import results_table as rt

#: Top-1 of each way of using the two branches (analysis.branch_analysis).
BRANCH_ACCURACIES = (('n', 'N'), ('i', 'I'), ('fused', 'fused'),
                     ('const', 'const fusion'), ('either', 'either branch'),
                     ('oracle', 'oracle'))
CI_KEYS = ('mean', 'ci low', 'ci high', 'n', 'verdict')


def analyse_runs(runs: List[dict], notes: List[str]) -> None:
    """Set ``run['analysis']`` (:func:`analysis.run_analysis` of its
    predictions, or None without them); files that cannot be read are
    noted by name."""
    analysis = rt.plugin_module('evaluation.analysis')
    for run in runs:
        run['analysis'] = None
        if not run['predictions']:
            continue
        from emoreg_mm.evaluation.predictions import load_predictions
        try:
            run['analysis'] = analysis.run_analysis(
                load_predictions(run['predictions']))
        except (OSError, ValueError) as err:  # PredictionsFileError too
            notes.append(f'{err}; no branch analysis or calibration.')


def _cell_stats(mine: List[dict], refs: Dict[str, List[dict]],
                notes: List[str], name: str) -> dict:
    """The companion table's numbers for one cell's runs (one per seed)."""
    branch = [r['analysis']['branches'] for r in mine
              if r['analysis']['branches']]
    calib = [r for r in mine if r['analysis']['calibration']]

    def spread(values):
        values = [v for v in values if v is not None]
        if not values:
            return None, None, 0
        return (statistics.fmean(values), statistics.stdev(values)
                if len(values) > 1 else 0., len(values))

    out = {key: spread([100 * b[key] for b in branch])
           for key, _ in BRANCH_ACCURACIES}
    out['gain'] = rt.paired_ci([100 * (b['fused'] - b['const'])
                             for b in branch])
    out['gain']['verdict'] = rt.verdict(out['gain']) if branch else ''
    out['captured'] = spread([b['captured'] for b in branch])
    out['rho_only_i'] = spread([b['rho_only_i'] for b in branch])
    out['rho_only_n'] = spread([b['rho_only_n'] for b in branch])
    leans = [b['rho_only_i'] - b['rho_only_n'] for b in branch
             if None not in (b['rho_only_i'], b['rho_only_n'])]
    out['leans'] = rt.paired_ci(leans)
    out['leans']['verdict'] = {'better': 'leans to the right branch',
                               'worse': 'leans to the wrong branch'}.get(
        rt.verdict(out['leans']), rt.verdict(out['leans'])) if leans else ''
    out['branch_seeds'] = len(branch)
    # N alone, trained with the regulator, against baseline's N, trained
    # alone: the same encoder and target, paired by seed
    out['n vs baseline'] = None if refs['baseline'] is None or not branch \
        else rt.compare(
            [dict(r, value=100 * r['analysis']['branches']['n'])
             for r in mine if r['analysis']['branches']],
            [dict(r, value=100 * r['analysis']['top1'])
             for r in refs['baseline']], notes,
            f'{name} N alone vs baseline top-1')
    for key, scale in (('ece', 100.), ('nll', 1.)):
        values = lambda runs: [dict(r, value=scale * r['analysis'][  # noqa
            'calibration'][key]) for r in runs if r['analysis']
            and r['analysis']['calibration']]
        out[key] = spread([r['value'] for r in values(calib)])
        for ref_mode, ref_runs in refs.items():
            ci = None if ref_runs is None else rt.compare(
                values(mine), values(ref_runs), notes,
                f'{name} {key.upper()} vs {ref_mode}')
            if ci and ci['verdict'] in ('better', 'worse'):
                # lower ECE / NLL is better
                ci['verdict'] = {'better': 'worse', 'worse': 'better'}[
                    ci['verdict']]
            out[f'{key} vs {ref_mode}'] = ci
    return out


def analysis_table(runs: List[dict]) -> Tuple[List[str], List[list], str,
                                              List[str]]:
    """The companion table of branches and calibration: one row per
    backbone x affective set x mode x target with predictions.

    Returns:
        tuple: (csv header, csv rows, markdown, notes).
    """
    notes = []
    cells = defaultdict(list)
    for run in runs:
        if run.get('analysis'):
            cells[tuple(run[t] for t in rt.TAGS)].append(run)
    header = list(rt.TAGS) + ['seeds with predictions']
    for _, label in BRANCH_ACCURACIES:
        header += [f'top1 {label} mean', f'top1 {label} std']
    header += [f'fused - const fusion {k}' for k in CI_KEYS]
    header += ['captured share mean', 'captured share n',
               'rho only I right mean', 'rho only N right mean']
    header += [f'rho only I - only N {k}' for k in CI_KEYS]
    header += [f'N alone - baseline top1 {k}' for k in CI_KEYS]
    for key in ('ECE %', 'NLL'):
        header += [f'{key} mean', f'{key} std']
        for ref in ('baseline', 'const'):
            header += [f'{key} vs {ref} {k}' for k in CI_KEYS]
    header += ['branches note', 'calibration note']
    rows, md_branch, md_calib = [], [], []
    for key in sorted(cells):
        backbone, affective, mode, target = key
        name = f'{backbone} {affective} {mode} on {target}'
        mine = rt._unique_seeds(cells[key], [], name)
        refs = {}
        for ref_mode in ('baseline', 'const'):
            refs[ref_mode] = None if mode in ('baseline', ref_mode) else [
                r for k, rs in cells.items() if k[0] == backbone
                and k[2] == ref_mode and k[3] == target and
                (ref_mode == 'baseline' or k[1] == affective) for r in rs]
            if refs[ref_mode] is not None:
                refs[ref_mode] = rt._unique_seeds(refs[ref_mode], [], '')
        st = _cell_stats(mine, refs, notes, name)
        reasons = [sorted({r['analysis']['reasons'].get(part, '')
                           for r in mine} - {''}) for part in
                   ('branches', 'calibration')]
        row = list(key) + [len(mine)]
        for k, _ in BRANCH_ACCURACIES:
            row += [rt._num(st[k][0]), rt._num(st[k][1])]

        def ci_cells(ci):
            if ci is None or not ci['n']:
                return ['-' if ci is None else 'not paired'] + [''] * 4
            return [rt._num(ci['mean']), rt._num(ci['low']),
                    rt._num(ci['high']), ci['n'], ci['verdict']]
        # const: fused is const's fusion and rho is 0.5, nothing to pair
        pair = st['branch_seeds'] and mode != 'const'
        row += ci_cells(st['gain'] if pair else None)
        # const: its fused model is its const fusion, no share to take
        row += ['', ''] if mode == 'const' else [
            rt._num(st['captured'][0]), st['captured'][2]]
        row += [rt._num(st['rho_only_i'][0]), rt._num(st['rho_only_n'][0])]
        row += ci_cells(st['leans'] if pair and st['leans']['n'] else None)
        row += ci_cells(st['n vs baseline'])
        for k in ('ece', 'nll'):
            row += [rt._num(st[k][0]), rt._num(st[k][1])]
            row += ci_cells(st[f'{k} vs baseline']) + ci_cells(
                st[f'{k} vs const'])
        row += ['; '.join(r) for r in reasons]
        rows.append(row)

        def acc(k):
            mean, std, n = st[k]
            return '' if mean is None else f'{mean:.2f} ± {std:.2f}'
        if st['branch_seeds']:
            captured = st['captured']
            md_branch.append(list(key) + [str(st['branch_seeds'])] + [
                acc(k) for k, _ in BRANCH_ACCURACIES] + [
                rt._fmt_ci(st['gain']) if pair else '-',
                '-' if mode == 'const' else
                'undefined (oracle = const fusion)' if not captured[2] else
                f'{captured[0]:.2f} (n={captured[2]})',
                ' / '.join('-' if st[k][0] is None else f'{st[k][0]:.3f}'
                           for k in ('rho_only_i', 'rho_only_n')),
                '-' if not pair else rt._fmt_ci(st['leans'], 3)
                if st['leans']['n'] else 'no image only one branch got right',
                rt._fmt_ci(st['n vs baseline'])])
        elif mode not in ('baseline', 'e-infl'):
            notes.append(f'{name}: no branch analysis '
                         f'({"; ".join(reasons[0])}).')
        if st['ece'][2]:
            md_calib.append(list(key) + [str(st['ece'][2]), acc('ece')] + [
                rt._fmt_ci(st[f'ece vs {r}']) if mode != r else '-'
                for r in ('baseline', 'const')] + [
                '' if st['nll'][0] is None else
                f'{st["nll"][0]:.3f} ± {st["nll"][1]:.3f}'] + [
                rt._fmt_ci(st[f'nll vs {r}'], 3) if mode != r else '-'
                for r in ('baseline', 'const')])
        else:
            notes.append(f'{name}: no calibration ({"; ".join(reasons[1])}).')
    return header, rows, _analysis_markdown(md_branch, md_calib), \
        list(dict.fromkeys(notes))


def _md_table(header: List[str], rows: List[List[str]]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in rows])


def _analysis_markdown(branch: List[list], calib: List[list]) -> str:
    bins = rt.plugin_module('evaluation.analysis').ECE_BINS
    text = ''
    if branch:
        text += (
            '\n## Branches\n\nTop-1 (%) from the saved predictions, mean ± '
            'std over seeds: N alone, I alone, the fused model, const\'s '
            'fusion of the same two branches (rho = 0.5), either branch '
            'right, and the oracle gate (right when some rho in [0, 1], '
            'chosen per image, puts the true class on top). fused − const '
            'fusion: paired over seeds (the same run\'s branches). captured: '
            '(fused − const) / (oracle − const), the mean over the seeds '
            'where the oracle gains (undefined where it never does); "-" '
            'for const, whose fused model is that fusion. rho: '
            'mean rho on the images only I / only N got right, and their '
            'difference paired over seeds (positive: the regulator leans to '
            'the branch that was right). N − baseline: N alone minus '
            'baseline\'s top-1 (the same encoder trained without I or the '
            'regulator), paired over seeds: how training with the '
            'regulator changed N itself.\n\n' + _md_table(
                list(rt.TAGS) + ['seeds'] + [
                    label for _, label in BRANCH_ACCURACIES] + [
                    'fused − const fusion', 'captured',
                    'rho: only I / only N right', 'rho: only I − only N',
                    'N − baseline'],
                branch) + '\n')
    if calib:
        text += (
            f'\n## Calibration\n\nOf the fused prediction, mean ± std over '
            f'seeds: ECE (%), the expected calibration error over {bins} '
            'equal-width bins of the top-1 confidence, and NLL, the mean '
            'negative log-likelihood of the true class (nats); vs baseline '
            '/ const: paired over seeds as above; lower is better, so '
            '"better" is a lower ECE / NLL.\n\n' + _md_table(
                list(rt.TAGS) + ['seeds', 'ECE (%)', 'ECE vs baseline',
                              'ECE vs const', 'NLL', 'NLL vs baseline',
                              'NLL vs const'], calib) + '\n')
    return text


def write_forest(forest: List[dict], path: str, metric: str,
                 notes: List[str]) -> Optional[str]:
    """The forest plot of ``build_table``'s paired differences (PNG)."""
    paired = [e for e in forest if e['ci'] and e['ci']['n']]
    if not paired:
        notes.append(f'no paired difference to plot; {path} not written.')
        return None
    import plot_analysis  # this folder
    return rt.plugin_module('fileio').atomic_write(
        path, lambda f: plot_analysis.forest_plot(paired, f, metric))
