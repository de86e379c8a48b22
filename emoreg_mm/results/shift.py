"""The Shift table, from the runs' predictions on natural distribution
shifts (CIFAR-10.1, CIFAR-10.2).

For each run whose work dir holds shift predictions
(``tools/analysis_tools/eval_shift.py``: ``WORK_DIR/shift/<set>.npz``),
:func:`shift_table` tables per backbone x affective set x mode x target x
shifted set, over seeds: the accuracy on the shifted set; its drop from the
run's clean test accuracy (from the ``predictions.npz`` its reading kept,
:func:`.runs.current_predictions`, else its ``accuracy/top1`` test record);
and the paired differences of the shifted accuracy to each reference
(``baseline``, ``const`` and the controls of the cell's affective set:
:func:`.pairing.compare`, as the Robustness table pairs its accuracy),
adjusted over the table's family. Runs are paired only where they were
evaluated on the same files (their SHA-256, which each predictions file
records); a pair that was not is named in the notes. A predictions file
that is damaged or was written by another checkpoint than the one the run
names (:func:`emoreg_mm.evaluation.shift.read_shift_accuracy`) is named in
the notes and left out.
"""
from typing import List, Optional, Tuple

from .. import matrix
from ..evaluation.shift import read_shift_accuracy
from .family import Policy, settle
from .format import (CI_KEYS, COLUMNS, ci_columns, family_text, fmt_ci,
                     md_table, num, spread)
from .pairing import (EMPTY, cell_name, compare, compares, group, missing,
                      partners, reference_name, references, unique_seeds)
from .runs import TAGS
from .stats import WORDS, paired_ci, summary

TEXT = (
    '\n## Shift\n\nOn test sets of CIFAR-10 collected anew (CIFAR-10.1, '
    'CIFAR-10.2; docs/shift.md; the folders read below): the accuracy (%) '
    'on each, mean ± std over seeds; its drop from the run\'s clean test '
    'accuracy (percentage points, higher is a larger loss); and the paired '
    'difference of the shifted accuracy to baseline / const / the shuffled '
    '(untrained) control as in the main table, adjusted over this '
    "table's family.\n\n")


def clean_accuracy(run: dict, metric: str) -> Optional[float]:
    """A run's clean test accuracy (%): from the ``predictions.npz`` its
    reading kept, else its test record where ``metric`` is top-1
    accuracy; None otherwise."""
    if run.get('predictions'):
        from ..evaluation.predictions import load_predictions
        from ..evaluation.robustness import accuracy_of
        try:
            return 100 * accuracy_of(load_predictions(run['predictions']))
        except (OSError, ValueError):
            pass  # the main table's notes name it
    if run['source'] == 'test' and metric == 'accuracy/top1':
        return run['value']
    return None


def read_shift(runs: List[dict], notes: List[str],
               metric: str = 'accuracy/top1') -> None:
    """Set ``run['shift']`` (``{set: dict(accuracy, images, source,
    path)}``, or None without shift predictions) and ``run['clean']`` (its
    clean accuracy, %); what is left out is noted by name."""
    for run in runs:
        found, problems = read_shift_accuracy(run['work_dir'])
        notes += problems
        run['shift'] = found or None
        run['clean'] = clean_accuracy(run, metric) if found else None


def _same_files(mine: List[dict], refs: List[dict], notes: List[str],
                what: str) -> List[dict]:
    """``refs`` less those evaluated on other files than the run of their
    seed, each named."""
    by_seed = {r['seed']: r for r in mine}
    kept = []
    for ref in refs:
        run = by_seed.get(ref['seed'])
        if run is not None and run['files'] != ref['files']:
            notes.append(
                f'{what}, seed {ref["seed"]}: {run["work_dir"]} and '
                f'{ref["work_dir"]} were evaluated on different files '
                f'({run["root"]}, {ref["root"]}); not paired.')
            continue
        kept.append(ref)
    return kept


def _on_set(runs: List[dict], name: str) -> List[dict]:
    """The runs with predictions on set ``name``, ``value`` their accuracy
    on it (%)."""
    out = []
    for run in runs:
        found = (run.get('shift') or {}).get(name)
        if found:
            source = found['source']
            out.append(dict(run, value=100 * found['accuracy'],
                            source='shift', images=found['images'],
                            files=source.get('files'),
                            root=source.get('root')))
    return out


def _cell(cells: dict, key, name: str, refs, notes: List[str],
          policy: Policy) -> dict:
    """One row: a cell's accuracy on set ``name``, its drop and its
    comparisons."""
    what = f'{cell_name(key)}, {name}'
    mine = unique_seeds(cells[key], notes, what)
    cis, measure = {}, f'{key[3]} {name}'
    for ref in refs:
        found = partners(cells, key, ref)
        label = f'{what} vs {reference_name(ref, key[1])}'
        kept = [] if found is None else _same_files(mine, found, notes,
                                                     label)
        cis[ref] = None if found is None else compare(
            mine, kept, notes, label, measure=measure,
            resolution=policy.resolution) if kept or not found else dict(
                paired_ci([]), mcnemar=[], measure=measure, words=WORDS,
                verdict='not paired')  # runs there, none on these files
    drops = [r['clean'] - r['value'] for r in mine if r['clean'] is not None]
    if len(drops) < len(mine):
        notes.append(f'{what}: {len(mine) - len(drops)} run(s) without a '
                     'clean test accuracy (predictions.npz or an '
                     'accuracy/top1 test record); no drop for them.')
    return dict(mine=mine, acc=[r['value'] for r in mine], drops=drops,
                cis=cis, images=sorted({r['images'] for r in mine}),
                roots=sorted({str(r['root']) for r in mine}))


def _read_text(found: list) -> str:
    """The caption's list of the folders read, with the runs on each."""
    count = {}
    for (_, name), c in found:
        for run in c['mine']:
            k = (name, str(run['root']), run['images'])
            count[k] = count.get(k, 0) + 1
    lines = [f'- {name}: {root} ({images} of '
             f'{matrix.SHIFTED_SETS[name].images} images): {n} '
             f'run{"s" * (n != 1)}'
             for (name, root, images), n in sorted(count.items())]
    return 'Read:\n\n' + '\n'.join(lines) + '\n\n'


def csv_header(refs) -> List[str]:
    """The CSV header of the Shift table."""
    header = list(TAGS) + ['shifted set', 'seeds', 'images', 'folder',
                           'accuracy mean', 'accuracy std', 'drop mean',
                           'drop std', 'drop n']
    for ref in refs:
        header += [f'vs {ref} {k}' for k in CI_KEYS]
    return header


def shift_table(runs: List[dict], policy: Optional[Policy] = None
                ) -> Tuple[List[str], List[list], str, List[str], dict]:
    """The Shift table of the runs with shift predictions (after
    :func:`read_shift`).

    Returns:
        tuple: (csv header, csv rows, markdown, notes, the family of
        :func:`.family.settle`); empty rows and markdown when no run has
        shift predictions.
    """
    policy = policy or Policy()
    notes: List[str] = []
    refs = references(group(runs, lambda run: bool(run.get('shift'))))
    found = []
    for name in matrix.SHIFTED_SETS:
        cells = group(_on_set(runs, name))
        found += [((key, name), _cell(cells, key, name, refs, notes, policy))
                  for key in sorted(cells)]
    found.sort(key=lambda f: (f[0][0], list(matrix.SHIFTED_SETS).index(
        f[0][1])))
    family = settle([ci for _, c in found for ci in c['cis'].values()],
                    policy)
    rows, md = [], []
    for (key, name), c in found:
        absent = {ref: missing(key, ref, f'runs with {name} predictions')
                  if compares(key, ref) else '-' for ref in refs}
        images = '/'.join(map(str, c['images']))
        acc, drop = summary(c['acc']), summary(c['drops'])
        row = list(key) + [name, len(c['mine']), images,
                           '; '.join(c['roots']), num(acc[0]), num(acc[1]),
                           num(drop[0]), num(drop[1]), drop[2]]
        for ref in refs:
            row += ci_columns(c['cis'][ref], absent[ref])
        rows.append(row)
        md.append(list(key) + [name, str(len(c['mine'])), images,
                               spread(c['acc']) or EMPTY,
                               spread(c['drops']) or '-'] + [
            fmt_ci(c['cis'][ref], absent=absent[ref]) for ref in refs])
    if not md:
        return csv_header(refs), rows, '', notes, family
    header = list(TAGS) + ['shifted set', 'seeds', 'images',
                           'accuracy (%)', 'drop from clean (points)'] + [
        COLUMNS[r] for r in refs]
    markdown = TEXT + _read_text(found) + family_text(family) + \
        md_table(header, md) + '\n'
    return csv_header(refs), rows, markdown, notes, family
