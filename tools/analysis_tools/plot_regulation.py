"""Plot what the regulation did: rho and the affective state, per class.

Usage::

    # from saved predictions (python tools/test.py CONFIG CKPT --out p.npz)
    python tools/analysis_tools/plot_regulation.py --preds p.npz \
        [--config CONFIG] [--out-dir DIR]
    # or run a checkpoint on the config's test dataloader first
    python tools/analysis_tools/plot_regulation.py --config CONFIG \
        --checkpoint CKPT [--out-dir DIR]

Writes ``rho_hist.png``, ``rho_per_class.png``, ``affect_per_class.png``
(models with an emotional encoder), ``rho_vs_arousal.png`` (a dimensional
affective state) and ``explanations.csv`` (per image: its class, the
prediction, rho, each branch's prediction and the affective state: the top
emotion and the emotions' scores, or valence and arousal) to
``--out-dir`` (default: the predictions' folder, or the checkpoint's); see
:mod:`emoreg_mm.visualization.regulation`.

Whether the state is dimensional (valence, arousal) is the config's
``model.head.affect_space``: ``--config``'s, else the config mmengine
dumped beside ``--preds`` (a run's work dir; read without executing it),
else what the predictions hold.

Class names come from ``--classes``, else the config's test dataset, else
the images' parent folders (class-folder layouts), else the indices.
Emotion names come from the config's ``model.head.emotion_classes`` (a run
dir's config holds the vocabulary the run used), else its top-level
``emotion_classes`` (the affective piece's), else the predictions'
``affect_class``.

``--preds`` reads the ``.npz`` of :mod:`emoreg_mm.evaluation.predictions`
without unpickling. A ``.pkl`` (mmengine's ``DumpResults``) is refused
unless ``--trust-pickle`` is given: unpickling runs any code the file holds.
"""
import argparse
import os.path as osp
from typing import List, Optional

from emoreg_mm.visualization.regulation import (affect_from_config,
                                                load_predictions,
                                                names_from_config,
                                                plot_regulation,
                                                predict_checkpoint, run_affect,
                                                run_title, state_of,
                                                write_explanations)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--preds', help='predictions of tools/test.py --out FILE.npz')
    parser.add_argument(
        '--trust-pickle',
        action='store_true',
        help='read a .pkl --preds (mmengine DumpResults); unpickling runs '
        'any code the file holds: only for files you trust')
    parser.add_argument('--config', help='config (names; with --checkpoint '
                        'its test dataloader is run)')
    parser.add_argument('--checkpoint', help='checkpoint to run')
    parser.add_argument('--out-dir', help='folder for the PNGs')
    parser.add_argument('--classes', nargs='+', help='target class names')
    parser.add_argument('--title', default=None,
                        help='title prefix (default: the config\'s name, '
                        'else the run dir of --preds / --checkpoint)')
    args = parser.parse_args(argv)
    if bool(args.preds) == bool(args.checkpoint):
        parser.error('give --preds, or --config with --checkpoint')
    if args.checkpoint and not args.config:
        parser.error('--checkpoint needs --config')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.preds:
        try:
            preds = load_predictions(args.preds, args.trust_pickle)
        except ValueError as err:
            raise SystemExit(f'plot_regulation: {err}')
        out_dir = args.out_dir or osp.dirname(osp.abspath(args.preds))
    else:
        preds = predict_checkpoint(args.config, args.checkpoint)
        out_dir = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    classes, emotions = names_from_config(args.config) if args.config \
        else (None, None)
    affect = affect_from_config(args.config) if args.config else \
        run_affect(args.preds)
    if emotions is None and affect:  # the run dir's config names them
        emotions = affect['names']
    affect = state_of(preds, affect, emotions)
    title = args.title if args.title is not None else run_title(
        args.config, args.preds or args.checkpoint)
    classes = args.classes or classes
    for path in plot_regulation(preds, out_dir, classes, emotions, title,
                                affect=affect):
        print(f'wrote {path}')
    path = write_explanations(osp.join(out_dir, 'explanations.csv'), preds,
                              classes, affect, emotions)
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
