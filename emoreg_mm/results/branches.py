"""The Branches and Calibration tables, from the runs' saved predictions.

From each run's ``predictions.npz``, :func:`analyse_runs` computes
:func:`emoreg_mm.evaluation.analysis.run_analysis` (the math lives there);
:func:`branches_table` tables it per backbone x affective set x mode x
target, mean ± std over seeds, paired against ``baseline`` and ``const``
like the main table (:func:`.pairing.compare`). One CSV row per cell holds
both; the markdown has a Branches and a Calibration table.
"""
import statistics
from typing import Dict, List, Optional, Tuple

from ..evaluation.analysis import ECE_BINS, run_analysis
from ..evaluation.predictions import BRANCH_KEYS, load_predictions
from .format import CI_KEYS, ci_columns, fmt_ci, md_table, num
from .pairing import (REFERENCES, Cell, cell_name, compare, group, partners,
                      unique_seeds)
from .runs import TAGS
from .stats import paired_ci, verdict

#: Top-1 of each way of using the two branches (analysis.branch_analysis).
BRANCH_ACCURACIES = (('n', 'N'), ('i', 'I'), ('fused', 'fused'),
                     ('const', 'const fusion'), ('either', 'either branch'),
                     ('oracle', 'oracle'))

BRANCHES_TEXT = (
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
    'regulator changed N itself.\n\n')
BRANCHES_HEADER = list(TAGS) + ['seeds'] + [
    label for _, label in BRANCH_ACCURACIES] + [
    'fused − const fusion', 'captured', 'rho: only I / only N right',
    'rho: only I − only N', 'N − baseline']
CALIBRATION_TEXT = (
    f'\n## Calibration\n\nOf the fused prediction, mean ± std over '
    f'seeds: ECE (%), the expected calibration error over {ECE_BINS} '
    'equal-width bins of the top-1 confidence, and NLL, the mean '
    'negative log-likelihood of the true class (nats); vs baseline '
    '/ const: paired over seeds as above; lower is better, so '
    '"better" is a lower ECE / NLL.\n\n')
CALIBRATION_HEADER = list(TAGS) + [
    'seeds', 'ECE (%)', 'ECE vs baseline', 'ECE vs const', 'NLL',
    'NLL vs baseline', 'NLL vs const']


def analyse_runs(runs: List[dict], notes: List[str]) -> None:
    """Set ``run['analysis']``: :func:`run_analysis` of its predictions,
    with ``one_branch`` (the file holds one branch's scores: a model with
    one branch, such as ``e-infl``'s), or None without them; files that
    cannot be read are noted by name."""
    for run in runs:
        run['analysis'] = None
        if not run['predictions']:
            continue
        try:
            preds = load_predictions(run['predictions'])
            run['analysis'] = run_analysis(preds)
        except (OSError, ValueError) as err:  # PredictionsFileError too
            notes.append(f'{err}; no branch analysis or calibration.')
            continue
        run['analysis']['one_branch'] = sum(
            k in preds for k in BRANCH_KEYS) == 1


def _summary(values: List[Optional[float]]) -> tuple:
    """(mean, std, n) of the values that are not None; (None, None, 0)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    return (statistics.fmean(values), statistics.stdev(values)
            if len(values) > 1 else 0., len(values))


def _branch_stats(mine: List[dict], baseline: Optional[List[dict]],
                  notes: List[str], name: str) -> dict:
    """The Branches numbers of one cell's runs (one per seed)."""
    with_branches = [r for r in mine if r['analysis']['branches']]
    branch = [r['analysis']['branches'] for r in with_branches]
    out = {key: _summary([100 * b[key] for b in branch])
           for key, _ in BRANCH_ACCURACIES}
    out['gain'] = paired_ci([100 * (b['fused'] - b['const'])
                             for b in branch])
    out['gain']['verdict'] = verdict(out['gain']) if branch else ''
    out['captured'] = _summary([b['captured'] for b in branch])
    out['rho_only_i'] = _summary([b['rho_only_i'] for b in branch])
    out['rho_only_n'] = _summary([b['rho_only_n'] for b in branch])
    leans = [b['rho_only_i'] - b['rho_only_n'] for b in branch
             if None not in (b['rho_only_i'], b['rho_only_n'])]
    out['leans'] = paired_ci(leans)
    said = verdict(out['leans'])
    out['leans']['verdict'] = {'better': 'leans to the right branch',
                               'worse': 'leans to the wrong branch'}.get(
        said, said) if leans else ''
    out['branch_seeds'] = len(branch)
    # N alone, trained with the regulator, against baseline's N, trained
    # alone: the same encoder and target, paired by seed
    out['n vs baseline'] = None if baseline is None or not branch \
        else compare(
            [dict(r, value=100 * r['analysis']['branches']['n'])
             for r in with_branches],
            [dict(r, value=100 * r['analysis']['top1']) for r in baseline],
            notes, f'{name} N alone vs baseline top-1')
    return out


def _calibration_stats(mine: List[dict], refs: Dict[str, list],
                       notes: List[str], name: str) -> dict:
    """The Calibration numbers of one cell's runs (one per seed)."""
    out = {}
    for key, scale in (('ece', 100.), ('nll', 1.)):

        def values(runs, key=key, scale=scale):
            return [dict(r, value=scale * r['analysis']['calibration'][key])
                    for r in runs if r['analysis']['calibration']]

        out[key] = _summary([r['value'] for r in values(mine)])
        for ref in REFERENCES:
            ci = None if refs[ref] is None else compare(
                values(mine), values(refs[ref]), notes,
                f'{name} {key.upper()} vs {ref}')
            if ci and ci['verdict'] in ('better', 'worse'):
                # lower ECE / NLL is better
                ci['verdict'] = {'better': 'worse', 'worse': 'better'}[
                    ci['verdict']]
            out[f'{key} vs {ref}'] = ci
    return out


def csv_header() -> List[str]:
    """The CSV header of the Branches and Calibration rows."""
    header = list(TAGS) + ['seeds with predictions']
    for _, label in BRANCH_ACCURACIES:
        header += [f'top1 {label} mean', f'top1 {label} std']
    header += [f'fused - const fusion {k}' for k in CI_KEYS]
    header += ['captured share mean', 'captured share n',
               'rho only I right mean', 'rho only N right mean']
    header += [f'rho only I - only N {k}' for k in CI_KEYS]
    header += [f'N alone - baseline top1 {k}' for k in CI_KEYS]
    for key in ('ECE %', 'NLL'):
        header += [f'{key} mean', f'{key} std']
        for ref in REFERENCES:
            header += [f'{key} vs {ref} {k}' for k in CI_KEYS]
    return header + ['branches note', 'calibration note']


def _ci_cells(ci: Optional[dict]) -> list:
    """CSV cells of a comparison: '-' where there is none, 'not paired'
    where no seed paired."""
    return ci_columns(ci if ci and ci['n'] else None,
                      '-' if ci is None else 'not paired')


def _csv_row(key: Cell, seeds: int, st: dict, pair: bool,
             reasons: List[List[str]]) -> list:
    row = list(key) + [seeds]
    for k, _ in BRANCH_ACCURACIES:
        row += [num(st[k][0]), num(st[k][1])]
    row += _ci_cells(st['gain'] if pair else None)
    # const: its fused model is its const fusion, no share to take
    row += ['', ''] if key[2] == 'const' else [
        num(st['captured'][0]), st['captured'][2]]
    row += [num(st['rho_only_i'][0]), num(st['rho_only_n'][0])]
    row += _ci_cells(st['leans'] if pair and st['leans']['n'] else None)
    row += _ci_cells(st['n vs baseline'])
    for k in ('ece', 'nll'):
        row += [num(st[k][0]), num(st[k][1])]
        row += _ci_cells(st[f'{k} vs baseline']) + _ci_cells(
            st[f'{k} vs const'])
    return row + ['; '.join(r) for r in reasons]


def _mean_std(st: dict, k: str, digits: int = 2) -> str:
    mean, std, _ = st[k]
    return '' if mean is None else f'{mean:.{digits}f} ± {std:.{digits}f}'


def _branches_md(key: Cell, st: dict, pair: bool) -> List[str]:
    mode, captured, leans = key[2], st['captured'], st['leans']
    return list(key) + [str(st['branch_seeds'])] + [
        _mean_std(st, k) for k, _ in BRANCH_ACCURACIES] + [
        fmt_ci(st['gain']) if pair else '-',
        '-' if mode == 'const' else
        'undefined (oracle = const fusion)' if not captured[2] else
        f'{captured[0]:.2f} (n={captured[2]})',
        ' / '.join('-' if st[k][0] is None else f'{st[k][0]:.3f}'
                   for k in ('rho_only_i', 'rho_only_n')),
        '-' if not pair else fmt_ci(leans, 3) if leans['n'] else
        'no image only one branch got right',
        fmt_ci(st['n vs baseline'])]


def _calibration_md(key: Cell, st: dict) -> List[str]:
    mode = key[2]
    return list(key) + [str(st['ece'][2]), _mean_std(st, 'ece')] + [
        fmt_ci(st[f'ece vs {r}']) if mode != r else '-'
        for r in REFERENCES] + [_mean_std(st, 'nll', 3)] + [
        fmt_ci(st[f'nll vs {r}'], 3) if mode != r else '-'
        for r in REFERENCES]


def branches_table(runs: List[dict]) -> Tuple[List[str], List[list], str,
                                              List[str]]:
    """The Branches and Calibration tables: one row per backbone x
    affective set x mode x target with predictions (after
    :func:`analyse_runs`).

    Returns:
        tuple: (csv header, csv rows, markdown, notes).
    """
    notes = []
    cells = group(runs, lambda run: bool(run.get('analysis')))
    rows, md_branch, md_calib = [], [], []
    for key in sorted(cells):
        name = cell_name(key)
        mine = unique_seeds(cells[key], [], name)
        refs = {ref: partners(cells, key, ref) for ref in REFERENCES}
        st = _branch_stats(mine, refs['baseline'], notes, name)
        st.update(_calibration_stats(mine, refs, notes, name))
        reasons = [sorted({r['analysis']['reasons'].get(part, '')
                           for r in mine} - {''}) for part in
                   ('branches', 'calibration')]
        # const: fused is const's fusion and rho is 0.5, nothing to pair
        pair = bool(st['branch_seeds']) and key[2] != 'const'
        rows.append(_csv_row(key, len(mine), st, pair, reasons))
        if st['branch_seeds']:
            md_branch.append(_branches_md(key, st, pair))
        elif key[2] != 'baseline' and not all(  # one branch by design
                r['analysis']['one_branch'] for r in cells[key]):
            notes.append(f'{name}: no branch analysis '
                         f'({"; ".join(reasons[0])}).')
        if st['ece'][2]:
            md_calib.append(_calibration_md(key, st))
        else:
            notes.append(f'{name}: no calibration ({"; ".join(reasons[1])}).')
    markdown = ''
    if md_branch:
        markdown += BRANCHES_TEXT + md_table(BRANCHES_HEADER,
                                             md_branch) + '\n'
    if md_calib:
        markdown += CALIBRATION_TEXT + md_table(CALIBRATION_HEADER,
                                                md_calib) + '\n'
    return csv_header(), rows, markdown, list(dict.fromkeys(notes))
