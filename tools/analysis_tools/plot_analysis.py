"""Plot how well a run is calibrated and which branch its regulator leaned on.

Usage::

    python tools/analysis_tools/plot_analysis.py PREDS [PREDS ...] \
        [--out-dir DIR]

For every predictions file (``tools/test.py ... --out
WORK_DIR/predictions.npz``) writes, beside it (or in ``--out-dir``, one
folder per run when several files are given, named after the run dir, or
after its path where run dirs share a name; two files that would write one
folder are refused before anything is drawn):

* ``reliability.png``: the reliability diagram of the fused prediction:
  accuracy against mean top-1 confidence in 15 equal-width confidence bins
  (the bins of the ECE), the gap to the diagonal shaded, the images per bin
  below; ECE and NLL in the title;
* ``rho_by_branch.png`` (regulated runs whose file holds both branches'
  scores): the distribution of rho on the images only I got right and on
  those only N got right, their means marked: a regulator that leans the
  right way puts the first to the right of the second;
* ``rho_vs_arousal.png`` (a dimensional affective state: the run's config,
  dumped in its work dir beside the file, says
  ``model.head.affect_space='dimensional'``): rho of every image against
  its arousal, coloured by which branch alone got it right, with rho's
  correlation with arousal and valence.

The plots are :mod:`emoreg_mm.visualization.analysis`'s; ``results_table.py``
tables the same numbers over seeds and draws the forest plot of the paired
differences.
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from emoreg_mm.evaluation.predictions import load_predictions
from emoreg_mm.visualization.analysis import plot_dirs, plot_run
from emoreg_mm.visualization.regulation import run_affect


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('preds', nargs='+',
                        help='predictions files (tools/test.py --out '
                        'FILE.npz)')
    parser.add_argument('--out-dir', help='folder for the PNGs (default: '
                        'beside each file)')
    args = parser.parse_args(argv)
    try:
        out_dirs = plot_dirs(args.preds, args.out_dir)
        loaded = [load_predictions(path) for path in args.preds]
    except ValueError as err:  # PredictionsFileError names the file
        raise SystemExit(f'plot_analysis: {err}')
    for path, preds, out_dir in zip(args.preds, loaded, out_dirs):
        run = osp.basename(osp.dirname(osp.abspath(path)))
        written, notes = plot_run(preds, out_dir, run, run_affect(path))
        for note in notes:
            print(f'plot_analysis: {note}')
        for png in written:
            print(f'wrote {png}')


if __name__ == '__main__':
    main()
