"""Compare the evaluated runs of many work dirs in one paired table.

Usage::

    python tools/analysis_tools/results_table.py 'work_dirs/*' \
        [--metric accuracy/top1] [--out results] [--max-file-mb 64] \
        [--correction holm|fdr_bh] [--primary "MODE vs REFERENCE on TARGET"] \
        [--resolution 1e-4]

Each work dir is one run; nothing in it is executed. Rows are backbone x
affective set x mode; per target the metric over seeds, and for every mode
but baseline its paired difference to ``baseline``, ``const`` and the
shuffled (and untrained) control of its affective set (mean, 95% t
interval, n, verdict, and the verdict adjusted over the table's family of
comparisons) with McNemar's exact test against ``const`` on saved
predictions. Where runs saved predictions (``tools/test.py ... --out
WORK_DIR/predictions.npz``), the Branches and Calibration tables follow;
where their affective state is dimensional (valence, arousal:
``model.head.affect_space='dimensional'`` in the run's config), the
Affective state table; where they were evaluated on CIFAR-C
(``eval_corruptions.py``), the Robustness table. A run dir that cannot be
read is listed with the reason and the table of the others is still
written. Writes ``OUT.md``, ``OUT.csv``, ``OUT_analysis.csv``,
``OUT_affect.csv``, ``OUT_robustness.csv`` and ``OUT_forest.png``;
docs/results.md says how to read them.

The tables are :func:`emoreg_mm.results.build_report`'s; this is its
command line.
"""
import argparse
from typing import Optional, Sequence

from emoreg_mm.results import (CORRECTIONS, MAX_FILE, RESOLUTION,
                               NoRunsError, PrimaryError, build_report)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+',
                        help='run work dirs, or glob patterns of them')
    parser.add_argument('--metric', default='accuracy/top1')
    parser.add_argument('--out', default='results',
                        help='write OUT.md, OUT.csv, OUT_analysis.csv and '
                        'OUT_forest.png')
    parser.add_argument('--max-file-mb', type=float, default=MAX_FILE / 2**20,
                        help='largest config / result / log file read from '
                        'a run dir (default: %(default)s)')
    parser.add_argument('--correction', choices=sorted(CORRECTIONS),
                        default='holm',
                        help='how each table\'s verdicts are adjusted over '
                        'its family of comparisons: holm (the chance of any '
                        'false verdict) or fdr_bh (Benjamini-Hochberg, the '
                        'share of false verdicts); default: %(default)s')
    parser.add_argument('--primary', metavar='COMPARISON',
                        help='the one comparison of the main table decided '
                        'before the runs, reported unadjusted and left out '
                        'of the family: "[BACKBONE] [AFFECTIVE] MODE vs '
                        'REFERENCE on TARGET", e.g. "learn-ereg vs '
                        'emoset-shuffled on cifar100"')
    parser.add_argument('--resolution', type=float, default=RESOLUTION,
                        help='a spread of paired differences below this (in '
                        'the metric\'s unit) counts as zero: no interval, no '
                        'verdict (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        report = build_report(args.work_dirs, args.metric, args.out,
                              int(args.max_file_mb * 2**20),
                              correction=args.correction,
                              primary=args.primary,
                              resolution=args.resolution)
    except (NoRunsError, PrimaryError) as err:
        raise SystemExit(str(err)) from None
    print(report['markdown'])
    written = [f'{args.out}_analysis.csv' if report['analysis_header']
               else None,
               f'{args.out}_affect.csv' if report['affect_rows'] else None,
               f'{args.out}_robustness.csv' if report['robustness_rows']
               else None,
               f'{args.out}_shift.csv' if report['shift_rows'] else None,
               report['forest']]
    extra = ''.join(f', {p}' for p in written if p)
    print(f'Wrote {args.out}.md and {args.out}.csv{extra} from '
          f'{len(report["runs"])} run(s).')


if __name__ == '__main__':
    main()
