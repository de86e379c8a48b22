"""The Affective state table: valence and arousal of the runs whose state
is dimensional, and how rho and the branches went with them.

A run's state is dimensional when its dumped config says
``model.head.affect_space='dimensional'`` (the head then reads stage 1's
regression outputs, a = tanh(...) = (valence, arousal[, dominance]),
named by ``model.head.emotion_classes``;
:func:`emoreg_mm.evaluation.analysis.affect_of_config`). From each such
run's predictions, :func:`emoreg_mm.evaluation.analysis.affect_analysis`
gives the mean of each dimension, rho's correlation with it, its mean on
the images only I / only N got right, and, by arousal
(:data:`~emoreg_mm.evaluation.analysis.AROUSAL_BINS`), the images, mean
rho and each branch's top-1; this table gives them per backbone x
affective set x mode x target, mean ± std over seeds. The columns describe;
they carry no verdict (the main and Branches tables pair the mode with its
shuffled control, whose row here shows the same columns).
Categorical runs are not in this table: their state is a distribution over
emotions, not a point in valence-arousal space.
"""
from typing import List, Optional, Tuple

from ..evaluation.analysis import AROUSAL_BINS, affect_of_config
from .format import md_table, num
from .pairing import cell_name, group, unique_seeds
from .runs import TAGS
from .stats import summary

TEXT = (
    '\n## Affective state (dimensional)\n\nRuns whose affective state is a '
    'point in valence-arousal space (model.head.affect_space=dimensional: '
    'a = tanh of stage 1\'s regression, each dimension in [-1, 1]), from '
    'their saved predictions, mean ± std over seeds: the mean of each '
    'dimension over the test images; r(rho, ·): Pearson\'s r of rho with it '
    'over the images ("-" where rho or the dimension is constant, as in '
    'const); only I / only N right: its mean on the images only I / only '
    'N got right; then by arousal ({bins}): the images per seed, mean rho '
    'and top-1 (%) of the fused model, N and I in that bin. Described, not '
    'judged: compare a mode\'s row with its shuffled control\'s (X-'
    'shuffled, the ratings permuted in stage 1) and with const\'s; the main '
    'and Branches tables pair them over seeds.\n\n')


def _bins_text() -> str:
    return ', '.join(f'{name} [{low:+.2f}, {high:+.2f}' +
                     (']' if k == len(AROUSAL_BINS) - 1 else ')')
                     for k, (name, low, high) in enumerate(AROUSAL_BINS))


def _names(cells: dict) -> List[str]:
    """Every dimension the runs name, in order of appearance."""
    names = []
    for runs in cells.values():
        for run in runs:
            names += [n for n in run['analysis']['affect']['names']
                      if n not in names]
    return names


def _stats(runs: List[dict], names: List[str]) -> dict:
    """Per dimension and per arousal bin, :func:`.stats.summary` over the
    runs (one per seed)."""
    found = [r['analysis']['affect'] for r in runs]
    out = {}
    for name in names:
        for key in ('mean', 'rho_r', 'only_i', 'only_n'):
            out[key, name] = summary([a[key].get(name) for a in found])
    for k, (name, _, _) in enumerate(AROUSAL_BINS):
        bins = [a['bins'][k] for a in found if a['bins']]
        out['images', name] = summary([b['images'] for b in bins])
        out['rho', name] = summary([b['rho'] for b in bins])
        for key in ('fused', 'n', 'i'):
            out[key, name] = summary([
                None if b[key] is None else 100 * b[key] for b in bins])
    out['arousal'] = next((a['arousal'] for a in found if a['arousal']),
                          None)
    return out


def _ms(st: tuple, digits: int = 2) -> str:
    mean, std, _ = st
    return '-' if mean is None else f'{mean:.{digits}f} ± {std:.{digits}f}'


def _bin_md(st: dict, name: str) -> str:
    images = st['images', name][0]
    if not images:
        return 'no images'
    branches = ' / '.join(
        f'{label} {st[key, name][0]:.1f}' for key, label in
        (('n', 'N'), ('i', 'I')) if st[key, name][0] is not None)
    rho = '' if st['rho', name][0] is None else \
        f'; rho {st["rho", name][0]:.3f}'
    return (f'{images:.1f} images{rho}; top-1 {st["fused", name][0]:.1f}' +
            (f' ({branches})' if branches else ''))


def affect_table(runs: List[dict]
                 ) -> Tuple[List[str], List[list], str, List[str]]:
    """The Affective state table of the dimensional runs whose predictions
    were analysed (after :func:`.branches.analyse_runs`).

    Returns:
        tuple: (csv header, csv rows, markdown, notes); empty where no run
        is dimensional.
    """
    notes = []
    cells = group(runs, lambda run: bool(
        run.get('analysis') and run['analysis'].get('affect')))
    if not cells:
        return [], [], '', notes
    names = _names(cells)
    header = list(TAGS) + ['seeds with predictions']
    for name in names:
        header += [f'{name} mean', f'{name} std',
                   f'r(rho, {name}) mean', f'r(rho, {name}) std',
                   f'{name} only I right', f'{name} only N right']
    for name, _, _ in AROUSAL_BINS:
        header += [f'arousal {name} images per seed', f'arousal {name} rho',
                   f'arousal {name} top1 fused', f'arousal {name} top1 N',
                   f'arousal {name} top1 I']
    md_header = list(TAGS) + ['seeds'] + names + [
        f'r(rho, {n})' for n in names] + [
        f'{n}: only I / only N right' for n in names] + [
        f'arousal {name}' for name, _, _ in AROUSAL_BINS]
    rows, md_rows = [], []
    for key in sorted(cells):
        mine = unique_seeds(cells[key], notes, cell_name(key))
        if not mine:
            continue
        st = _stats(mine, names)
        row = list(key) + [len(mine)]
        for name in names:
            row += [num(st['mean', name][0]), num(st['mean', name][1]),
                    num(st['rho_r', name][0]), num(st['rho_r', name][1]),
                    num(st['only_i', name][0]), num(st['only_n', name][0])]
        for name, _, _ in AROUSAL_BINS:
            row += [num(st[k, name][0])
                    for k in ('images', 'rho', 'fused', 'n', 'i')]
        rows.append(row)
        md_rows.append(list(key) + [str(len(mine))] + [
            _ms(st['mean', n]) for n in names] + [
            _ms(st['rho_r', n]) for n in names] + [
            ' / '.join('-' if st[k, n][0] is None else f'{st[k, n][0]:+.3f}'
                       for k in ('only_i', 'only_n')) for n in names] + [
            _bin_md(st, name) if st['arousal'] else 'no arousal dimension'
            for name, _, _ in AROUSAL_BINS])
    markdown = TEXT.format(bins=_bins_text()) + md_table(
        md_header, md_rows) + '\n'
    return header, rows, markdown, list(dict.fromkeys(notes))


def dimensional_sets(runs: List[dict]) -> List[str]:
    """The affective sets (with their controls) whose runs read a
    dimensional state, and the dimensions they name: ``oasis (valence,
    arousal)``."""
    found = {}
    for run in runs:
        state = affect_of_config(run.get('config') or {})
        if run['mode'] != 'baseline' and state['space'] == 'dimensional':
            found.setdefault(run['affective'], state['names'])
    return [f'{s} ({", ".join(n)})' if n else s
            for s, n in sorted(found.items())]


def dimensional_note(runs: List[dict]) -> Optional[str]:
    """The main table's line on its dimensional rows, or None."""
    sets = dimensional_sets(runs)
    if not sets:
        return None
    return ('Affective sets with a dimensional state (E gives a point in '
            'valence-arousal space, not a distribution over emotions; their '
            'shuffled control permutes the ratings in stage 1): ' +
            ', '.join(sets) + '. Their modes arousal-reg (rho = (arousal '
            '+ 1) / 2) and learn-va-reg (rho = sigmoid(w . a + b)) follow '
            'the categorical modes; where their runs saved predictions, the '
            'Affective state table below gives their valence and arousal.')
