"""The Branches and Calibration tables, from the runs' saved predictions.

From each run's ``predictions.npz``, :func:`analyse_runs` computes
:func:`emoreg_mm.evaluation.analysis.run_analysis` (the math lives there);
:func:`branches_table` tables it per backbone x affective set x mode x
target, mean ± std over seeds, paired like the main table
(:func:`.pairing.compare`). The branch columns describe the gate; under
the fused loss any input-dependent gate makes the branches specialise
where it sends them, so only the comparison with the shuffled control
(the same columns of the same mode on ``X-shuffled``) speaks to emotion.
One CSV row per cell holds both tables; the markdown has a Branches and a
Calibration table, each with its family (:mod:`.family`).
"""
from typing import List, Optional, Sequence, Tuple

from ..evaluation.analysis import affect_of_config, run_analysis
from ..evaluation.predictions import BRANCH_KEYS, load_predictions
from . import calibration
from .family import Policy, settle
from .format import (CI_KEYS, COLUMNS, ci_columns, family_text, fmt_ci,
                     md_table, num)
from .pairing import (CONTROLS, EMPTY, Cell, cell_name, compare, compares,
                      group, missing, partners, reference_name, references,
                      unique_seeds)
from .runs import TAGS
from .stats import paired_ci, summary, verdict

#: Top-1 of each way of using the two branches (analysis.branch_analysis).
BRANCH_ACCURACIES = (('n', 'N'), ('i', 'I'), ('fused', 'fused'),
                     ('const', 'const fusion'), ('either', 'either branch'),
                     ('oracle', 'oracle'))
#: The words of rho's difference on the images one branch alone got right.
LEAN_WORDS = ('rho higher where only I was right',
              'rho higher where only N was right')
#: The words of a branch column against the same column of a control.
CONTROL_WORDS = ('higher', 'lower')
#: The within-run quantities compared with the controls: (key, CSV name).
WITHIN_RUN = (('gain', 'fused - const fusion'),
              ('lean', 'rho only I - only N'))

BRANCHES_TEXT = (
    '\n## Branches\n\nTop-1 (%) from the saved predictions, mean ± '
    'std over seeds: N alone, I alone, the fused model, const\'s '
    'fusion of the same two branches (rho = 0.5), either branch '
    'right, and the oracle gate (right when some rho in [0, 1], '
    'chosen per image, puts the true class on top). fused − const '
    'fusion: paired over seeds (the same run\'s branches), described, '
    'not judged. captured: (fused − const) / (oracle − const), mean ± '
    'std over the seeds where the oracle gains (k of m seeds), and the '
    'pooled ratio sum(fused − const) / sum(oracle − const) over the m '
    'seeds; "-" for const, whose fused model is that fusion. rho: mean '
    'rho on the images only I / only N got right, and their difference '
    'paired over seeds. These columns describe the gate: under the fused '
    'loss, any input-dependent gate (a random projection of the image '
    'too) makes each branch specialise where the gate sends it, so rho '
    'is higher where only I was right and fused beats const fusion '
    'without any emotion. vs shuffled (untrained) control: the same '
    'column of the same mode on the control set, paired over seeds: '
    'what emotion adds to the gate. N − baseline: N alone minus '
    'baseline\'s top-1 (the same encoder trained without I or the '
    'regulator), paired over seeds: how training with the '
    'regulator changed N itself.\n\n')


def analyse_runs(runs: List[dict], notes: List[str]) -> None:
    """Set ``run['analysis']``: :func:`run_analysis` of its predictions
    (the affective state as the run's config says:
    :func:`affect_of_config`), with ``one_branch`` (the file holds one
    branch's scores: a model with one branch, such as ``e-infl``'s), or
    None without them; files that cannot be read are noted by name."""
    for run in runs:
        run['analysis'] = None
        if not run['predictions']:
            continue
        try:
            preds = load_predictions(run['predictions'])
            run['analysis'] = run_analysis(
                preds, affect_of_config(run.get('config') or {}))
        except (OSError, ValueError) as err:  # PredictionsFileError too
            notes.append(f'{err}; no branch analysis or calibration.')
            continue
        run['analysis']['one_branch'] = sum(
            k in preds for k in BRANCH_KEYS) == 1


def _within_run(runs: List[dict], key: str) -> List[dict]:
    """The runs with branches, ``value`` their within-run ``key``: the gain
    (fused − const fusion, points) or the lean (rho only I − only N)."""
    out = []
    for run in runs:
        b = run['analysis']['branches']
        if not b:
            continue
        if key == 'gain':
            out.append(dict(run, value=100 * (b['fused'] - b['const'])))
        elif None not in (b['rho_only_i'], b['rho_only_n']):
            out.append(dict(run, value=b['rho_only_i'] - b['rho_only_n']))
    return out


def _captured(branch: List[dict]) -> dict:
    """The captured share per seed (mean, std, k of m seeds) and pooled
    over the seeds: sum(fused − const) / sum(oracle − const)."""
    mean, std, k = summary([b['captured'] for b in branch])
    room = sum(b['oracle'] - b['const'] for b in branch)
    pooled = sum(b['fused'] - b['const'] for b in branch) / room \
        if room > 0 else None
    return dict(mean=mean, std=std, k=k, m=len(branch), pooled=pooled)


def _branch_stats(key: Cell, mine: List[dict], refs: dict,
                  notes: List[str], policy: Policy) -> dict:
    """The Branches numbers of one cell's runs (one per seed)."""
    name, target = cell_name(key), key[3]
    with_branches = [r for r in mine if r['analysis']['branches']]
    branch = [r['analysis']['branches'] for r in with_branches]
    out = {k: summary([100 * b[k] for b in branch])
           for k, _ in BRANCH_ACCURACIES}
    out['gain'] = paired_ci([r['value'] for r in _within_run(mine, 'gain')],
                            resolution=policy.resolution)
    out['gain']['verdict'] = ''  # described: any gate specialises
    out['captured'] = _captured(branch)
    out['rho_only_i'] = summary([b['rho_only_i'] for b in branch])
    out['rho_only_n'] = summary([b['rho_only_n'] for b in branch])
    out['lean'] = paired_ci([r['value'] for r in _within_run(mine, 'lean')],
                            resolution=policy.resolution)
    out['lean'].update(words=LEAN_WORDS, measure=f'rho only I - only N '
                       f'{target}')
    out['lean']['verdict'] = verdict(out['lean']) if out['lean']['n'] \
        else ''
    for k, label in WITHIN_RUN:  # const: both are 0 by construction
        for ref in CONTROLS:
            found = None if key[2] == 'const' else refs.get(ref)
            out[f'{k} vs {ref}'] = None if not found or not branch else \
                compare(_within_run(mine, k), _within_run(found, k), notes,
                        f'{name} {label} vs {reference_name(ref, key[1])}',
                        measure=f'{label} vs control {target}',
                        words=CONTROL_WORDS, resolution=policy.resolution)
    out['branch_seeds'] = len(branch)
    # N alone, trained with the regulator, against baseline's N, trained
    # alone: the same encoder and target, paired by seed
    out['n vs baseline'] = None if not refs['baseline'] or not branch \
        else compare(
            [dict(r, value=100 * r['analysis']['branches']['n'])
             for r in with_branches],
            [dict(r, value=100 * r['analysis']['top1'])
             for r in refs['baseline']],
            notes, f'{name} N alone vs baseline top-1',
            measure=f'N - baseline {target}', resolution=policy.resolution)
    return out


def _branch_family(st: dict, pair: bool) -> List[dict]:
    """The cell's Branches comparisons with a verdict word."""
    found = [st['lean']] if pair and st['lean']['n'] else []
    found += [st[f'{k} vs {ref}'] for k, _ in WITHIN_RUN for ref in CONTROLS]
    return [ci for ci in found + [st['n vs baseline']] if ci is not None]


def csv_header(refs: Sequence[str]) -> List[str]:
    """The CSV header of the Branches and Calibration rows."""
    controls = [r for r in refs if r in CONTROLS]
    header = list(TAGS) + ['seeds with predictions']
    for _, label in BRANCH_ACCURACIES:
        header += [f'top1 {label} mean', f'top1 {label} std']
    header += [f'fused - const fusion {k}' for k in CI_KEYS]
    header += [f'fused - const fusion vs {r} {k}' for r in controls
               for k in CI_KEYS]
    header += ['captured share mean', 'captured share std',
               'captured share n', 'captured seeds', 'captured pooled',
               'rho only I right mean', 'rho only N right mean']
    header += [f'rho only I - only N {k}' for k in CI_KEYS]
    header += [f'rho only I - only N vs {r} {k}' for r in controls
               for k in CI_KEYS]
    header += [f'N alone - baseline top1 {k}' for k in CI_KEYS]
    return header + calibration.csv_header(refs) + [
        'branches note', 'calibration note']


def _absent(key: Cell, ref: str, within_run: bool = False) -> str:
    """A column without a comparison: the runs missing, or '-' where the
    cell has no such column (and, for a within-run quantity, for const,
    whose fused model is its const fusion)."""
    if not compares(key, ref) or (within_run and key[2] == 'const'):
        return '-'
    return missing(key, ref, 'runs with predictions')


def _ci_cells(ci: Optional[dict], absent: str = '-') -> list:
    """CSV cells of a comparison: ``absent`` where there is none, 'not
    paired' where no seed paired."""
    return ci_columns(ci if ci and ci['n'] else None,
                      absent if ci is None else 'not paired')


def _csv_row(key: Cell, seeds: int, st: dict, pair: bool,
             refs: Sequence[str], reasons: List[List[str]]) -> list:
    controls = [r for r in refs if r in CONTROLS]
    row = list(key) + [seeds]
    for k, _ in BRANCH_ACCURACIES:
        row += [num(st[k][0]), num(st[k][1])]
    row += _ci_cells(st['gain'] if pair else None)
    row += [c for r in controls for c in _ci_cells(st[f'gain vs {r}'],
                                                   _absent(key, r, True))]
    cap = st['captured']
    # const: its fused model is its const fusion, no share to take
    row += [''] * 5 if key[2] == 'const' else [
        num(cap['mean']), num(cap['std']), cap['k'], cap['m'],
        num(cap['pooled'])]
    row += [num(st['rho_only_i'][0]), num(st['rho_only_n'][0])]
    row += _ci_cells(st['lean'] if pair and st['lean']['n'] else None)
    row += [c for r in controls for c in _ci_cells(st[f'lean vs {r}'],
                                                   _absent(key, r, True))]
    row += _ci_cells(st['n vs baseline'])
    row += calibration.csv_cells(key, st, refs)
    return row + ['; '.join(r) for r in reasons]


def _captured_md(key: Cell, cap: dict) -> str:
    if key[2] == 'const':
        return '-'
    if not cap['k']:
        return 'undefined (oracle = const fusion)'
    pooled = '' if cap['pooled'] is None else \
        f'; pooled {cap["pooled"]:.2f}'
    return (f'{cap["mean"]:.2f} ± {cap["std"]:.2f} ({cap["k"]} of '
            f'{cap["m"]} seeds){pooled}')


def _md_header(refs: Sequence[str]) -> List[str]:
    controls = [r for r in refs if r in CONTROLS]
    return list(TAGS) + ['seeds'] + [
        label for _, label in BRANCH_ACCURACIES] + [
        'fused − const fusion'] + [
        f'fused − const fusion {COLUMNS[r]}' for r in controls] + [
        'captured', 'rho: only I / only N right', 'rho: only I − only N'] + [
        f'rho: only I − only N {COLUMNS[r]}' for r in controls] + [
        'N − baseline']


def _branches_md(key: Cell, st: dict, pair: bool,
                 refs: Sequence[str]) -> List[str]:
    controls = [r for r in refs if r in CONTROLS]
    lean = st['lean']
    return list(key) + [str(st['branch_seeds'])] + [
        _mean_std(st, k) for k, _ in BRANCH_ACCURACIES] + [
        fmt_ci(st['gain']) if pair else '-'] + [
        fmt_ci(st[f'gain vs {r}'], absent=_absent(key, r, True))
        for r in controls] + [
        _captured_md(key, st['captured']),
        ' / '.join('-' if st[k][0] is None else f'{st[k][0]:.3f}'
                   for k in ('rho_only_i', 'rho_only_n')),
        '-' if not pair else fmt_ci(lean, 3) if lean['n'] else
        'no image only one branch got right'] + [
        fmt_ci(st[f'lean vs {r}'], 3, _absent(key, r, True))
        for r in controls] + [
        fmt_ci(st['n vs baseline'])]


def _mean_std(st: dict, k: str, digits: int = 2) -> str:
    mean, std, _ = st[k]
    return '' if mean is None else f'{mean:.{digits}f} ± {std:.{digits}f}'


def branches_table(runs: List[dict], policy: Optional[Policy] = None
                   ) -> Tuple[List[str], List[list], str, List[str], dict]:
    """The Branches and Calibration tables: one row per backbone x
    affective set x mode x target with predictions (after
    :func:`analyse_runs`).

    Returns:
        tuple: (csv header, csv rows, markdown, notes, the families
        ``{'branches': ..., 'calibration': ...}`` of
        :func:`.family.settle`).
    """
    policy = policy or Policy()
    notes = []
    cells = group(runs, lambda run: bool(run.get('analysis')))
    refs = references(cells)
    found = []
    for key in sorted(cells):
        mine = unique_seeds(cells[key], [], cell_name(key))
        partner = {ref: partners(cells, key, ref) for ref in refs}
        st = _branch_stats(key, mine, partner, notes, policy)
        st.update(calibration.calibration_stats(key, mine, partner, notes,
                                                policy.resolution))
        # const: fused is const's fusion and rho is 0.5, nothing to pair
        pair = bool(st['branch_seeds']) and key[2] != 'const'
        found.append((key, mine, st, pair))
    families = dict(
        branches=settle([ci for _, _, st, pair in found
                         for ci in _branch_family(st, pair)], policy),
        calibration=settle([ci for _, _, st, _ in found
                            for ci in calibration.comparisons(st, refs)],
                           policy))
    rows, md_branch, md_calib = [], [], []
    for key, mine, st, pair in found:
        reasons = [sorted({r['analysis']['reasons'].get(part, '')
                           for r in mine} - {''}) if mine else [EMPTY]
                   for part in ('branches', 'calibration')]
        rows.append(_csv_row(key, len(mine), st, pair, refs, reasons))
        if st['branch_seeds']:
            md_branch.append(_branches_md(key, st, pair, refs))
        elif key[2] != 'baseline' and not all(  # one branch by design
                r['analysis']['one_branch'] for r in cells[key]):
            notes.append(f'{cell_name(key)}: no branch analysis '
                         f'({"; ".join(reasons[0])}).')
        if st['ece'][2]:
            md_calib.append(calibration.md_row(key, st, refs))
        else:
            notes.append(f'{cell_name(key)}: no calibration '
                         f'({"; ".join(reasons[1])}).')
    markdown = ''
    if md_branch:
        markdown += BRANCHES_TEXT + family_text(families['branches']) + \
            md_table(_md_header(refs), md_branch) + '\n'
    if md_calib:
        markdown += calibration.TEXT + family_text(
            families['calibration']) + md_table(
            calibration.md_header(refs), md_calib) + '\n'
    return csv_header(refs), rows, markdown, list(dict.fromkeys(notes)), \
        families
