"""The report: every table of the runs in one markdown file, with its CSVs
and the forest plot.

:func:`build_report` reads the run dirs (:mod:`.runs`), builds the main
table (:mod:`.accuracy`), the Branches and Calibration tables
(:mod:`.branches`, from saved predictions), the Affective state table
(:mod:`.affect`, valence and arousal of runs whose state is
dimensional), the Robustness table
(:mod:`.robustness`, from corruption predictions), the Shift table
(:mod:`.shift`, from predictions on CIFAR-10.1 / CIFAR-10.2) and the forest
plot of the main table's paired differences
(:func:`emoreg_mm.visualization.analysis.forest_plot`), and writes them
each whole or not at all. Each table's comparisons are one family whose
verdicts are adjusted (:mod:`.family`).
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

from ..fileio import atomic_write, atomic_write_text
from .accuracy import INTRO, accuracy_table
from .affect import affect_table, dimensional_note
from .branches import analyse_runs, branches_table
from .family import Policy
from .format import csv_text
from .robustness import read_robustness, robustness_table
from .runs import MAX_FILE, PREDICTIONS, read_runs
from .shift import read_shift, shift_table
from .stats import RESOLUTION


class NoRunsError(ValueError):
    """No dir the patterns match holds an evaluated run (the message lists
    the patterns and why each dir was left out)."""


def write_forest(forest: List[dict], path: str, metric: str,
                 notes: List[str]) -> Optional[str]:
    """The forest plot of the main table's paired differences (PNG), or
    None (noted) when nothing was paired."""
    paired = [e for e in forest if e['ci'] and e['ci']['n']]
    if not paired:
        notes.append(f'no paired difference to plot; {path} not written.')
        return None
    from ..visualization.analysis import forest_plot
    return atomic_write(path, lambda f: forest_plot(paired, f, metric))


def _analysis_tables(runs: List[dict], notes: List[str], policy: Policy,
                     families: dict, affect: dict):
    """The Branches / Calibration, Affective state and Robustness tables:
    (a_header, a_rows, r_header, r_rows, markdown); their families are
    added to ``families``, the Affective state table's CSV to ``affect``
    (``header``, ``rows``)."""
    analyse_runs(runs, notes)
    if any(r['analysis'] for r in runs):
        a_header, a_rows, a_markdown, more, found = branches_table(
            runs, policy)
        notes += more
        families.update(found)
    else:
        a_header, a_rows, a_markdown = None, [], ''
        notes.append(
            f'no run dir holds a readable {PREDICTIONS} (tools/test.py ... '
            f'--out WORK_DIR/{PREDICTIONS}): no branch analysis or '
            'calibration.')
    affect['header'], affect['rows'], affect_md, more = affect_table(runs)
    notes += more
    a_markdown += affect_md
    read_robustness(runs, notes)
    r_header, r_rows, r_markdown, more, family = robustness_table(
        runs, policy)
    notes += more
    if r_rows:
        families['robustness'] = family
    return a_header, a_rows, r_header, r_rows, a_markdown + r_markdown


def _shift_tables(runs: List[dict], notes: List[str], policy: Policy,
                  families: dict, metric: str):
    """The Shift table: (header, rows, markdown); its family is added to
    ``families``."""
    read_shift(runs, notes, metric)
    header, rows, markdown, more, family = shift_table(runs, policy)
    notes += more
    if rows:
        families['shift'] = family
    return header, rows, markdown


def _write(out: str, report: dict) -> None:
    """``OUT.md``, ``OUT.csv`` and the companion CSVs, each atomically."""
    if osp.dirname(out):
        os.makedirs(osp.dirname(out), exist_ok=True)
    # written whole or not at all: a table is never half a table
    atomic_write_text(f'{out}.md', report['markdown'])
    atomic_write_text(f'{out}.csv', csv_text(report['header'],
                                             report['rows']))
    if report['analysis_header']:
        atomic_write_text(f'{out}_analysis.csv', csv_text(
            report['analysis_header'], report['analysis_rows']))
    if report['affect_rows']:
        atomic_write_text(f'{out}_affect.csv', csv_text(
            report['affect_header'], report['affect_rows']))
    if report['robustness_rows']:
        atomic_write_text(f'{out}_robustness.csv', csv_text(
            report['robustness_header'], report['robustness_rows']))
    if report['shift_rows']:
        atomic_write_text(f'{out}_shift.csv', csv_text(
            report['shift_header'], report['shift_rows']))


def build_report(patterns: Sequence[str],
                 metric: str = 'accuracy/top1',
                 out: Optional[str] = None,
                 max_bytes: int = MAX_FILE,
                 correction: str = 'holm',
                 primary: Optional[Union[str, dict]] = None,
                 resolution: float = RESOLUTION) -> dict:
    """Read the runs matching ``patterns`` and build every table.

    Args:
        patterns (Sequence[str]): Work dirs or glob patterns of them.
        metric (str): Metric key. Defaults to ``'accuracy/top1'``.
        out (str, optional): Write ``OUT.md``, ``OUT.csv``,
            ``OUT_analysis.csv`` (where runs saved predictions),
            ``OUT_affect.csv`` (where runs of a dimensional state saved
            predictions),
            ``OUT_robustness.csv`` (where runs were evaluated on
            corruptions), ``OUT_shift.csv`` (where runs were evaluated on
            CIFAR-10.1 / CIFAR-10.2) and ``OUT_forest.png``. Defaults to
            None (nothing written).
        max_bytes (int): Largest file read from a run dir; a larger one
            (or one that is not a regular file) is reported and its run
            left out. Defaults to :data:`~.runs.MAX_FILE` (64 MiB).
        correction (str): How each table's verdicts are adjusted over its
            family: ``'holm'`` (default) or ``'fdr_bh'``
            (Benjamini-Hochberg).
        primary (str | dict, optional): The main table's one primary
            comparison, reported unadjusted and left out of its family:
            ``'[BACKBONE] [AFFECTIVE] MODE vs REFERENCE on TARGET'``, e.g.
            ``'learn-ereg vs emoset-shuffled on cifar100'``, or a dict of
            those keys (:func:`.family.parse_primary`).
        resolution (float): A spread of paired differences below this (in
            the unit of what is differenced) counts as zero: no interval,
            no verdict. Defaults to 1e-4.

    Returns:
        dict: ``runs``, ``header`` and ``rows`` (the CSV), ``markdown`` and
        ``notes`` (skipped dirs, refused pairs, unpaired seeds);
        ``analysis_header`` and ``analysis_rows`` (the companion CSV; None
        and [] when no run saved predictions), ``affect_header`` and
        ``affect_rows`` (the Affective state table; [] without runs of a
        dimensional state), ``analysis_notes``,
        ``robustness_header`` and ``robustness_rows``, ``shift_header`` and
        ``shift_rows``, ``families`` (per table, ``main``, ``branches``,
        ``calibration``, ``robustness``, ``shift`` where it is built:
        :func:`.family.settle`'s family) and ``forest`` (the PNG written,
        or None).

    Raises:
        NoRunsError: No evaluated run; the message says why per dir.
        PrimaryError: ``primary`` names no comparison of the main table,
            or several; the message lists what the table has.
        ValueError: An unknown ``correction``.
    """
    policy = Policy(correction=correction, resolution=resolution,
                    primary=primary)
    runs, notes = read_runs(patterns, metric, max_bytes)
    if not runs:
        raise NoRunsError(f'No evaluated runs found in {list(patterns)}' +
                          ''.join(f'\n  {n}' for n in notes))
    forest = []
    header, rows, table, more, family = accuracy_table(runs, forest, policy)
    families = dict(main=family)
    notes += more
    analysis_notes, affect = [], {}
    a_header, a_rows, r_header, r_rows, companions = _analysis_tables(
        runs, analysis_notes, Policy(correction, resolution), families,
        affect)
    s_header, s_rows, shift_markdown = _shift_tables(
        runs, analysis_notes, Policy(correction, resolution), families,
        metric)
    companions += shift_markdown
    markdown = INTRO.format(metric=metric) + table
    note = dimensional_note(runs)
    if note:
        markdown += f'\n{note}\n'
    if notes:
        markdown += '\nNotes:\n' + ''.join(f'- {n}\n' for n in notes)
    markdown += companions
    forest_png = None
    if out:
        forest_png = write_forest(forest, f'{out}_forest.png', metric,
                                  analysis_notes)
    if analysis_notes:
        markdown += ('\nNotes on the branches, calibration, affective '
                     'state, robustness and shift:\n' +
                     ''.join(f'- {n}\n' for n in analysis_notes))
    report = dict(runs=runs, header=header, rows=rows, markdown=markdown,
                  notes=notes, analysis_header=a_header,
                  analysis_rows=a_rows, analysis_notes=analysis_notes,
                  affect_header=affect['header'],
                  affect_rows=affect['rows'],
                  forest=forest_png, robustness_header=r_header,
                  robustness_rows=r_rows, shift_header=s_header,
                  shift_rows=s_rows, families=families)
    if out:
        _write(out, report)
    return report
