"""The Robustness table labels each row with the kind of folder its runs
were evaluated on, lists the folders read, and pairs only runs evaluated on
the same folder (root, kind, images per severity)."""
import csv
import os.path as osp

import pytest
from launch_utils import run_cli
from results_fixtures import write_corruption_preds, write_run

from emoreg_mm.evaluation.robustness import CORRUPTIONS


def _csv(path):
    with open(path) as f:
        return {r['mode']: r for r in csv.DictReader(f)}


def test_table_labels_kinds_and_refuses_other_folders(tmp_path):
    """Two seeds of baseline and ereg. Seed 0: both on an official folder.
    Seed 1: the baseline on a 4-image re-creation, ereg on the official
    folder: that pair is refused, naming both folders."""
    root, out = str(tmp_path / 'runs'), str(tmp_path / 'results')
    official = dict(root='/data/CIFAR-10-C', kind='official',
                    images_per_severity=4)
    rebuilt = dict(root='/data/rebuilt', kind='recreated-cifar',
                   images_per_severity=4)
    cells = {c: {1: .5} for c in CORRUPTIONS}
    for seed in (0, 1):
        write_corruption_preds(
            write_run(root, f'base{seed}', 'baseline', seed, 90), cells,
            source=official if seed == 0 else rebuilt)
        write_corruption_preds(
            write_run(root, f'ereg{seed}', 'ereg', seed, 91),
            {c: {1: .75} for c in CORRUPTIONS}, source=official)
    code, printed = run_cli('analysis_tools/results_table.py',
                            osp.join(root, '*'), '--out', out)
    assert code == 0, printed
    assert f'{out}_robustness.csv' in printed.splitlines()[-1]  # 'Wrote'
    text = open(f'{out}.md').read()
    assert ('- /data/CIFAR-10-C (official, 4 images per severity): 3 runs'
            in text)
    assert ('- /data/rebuilt (re-created (CIFAR constants), 4 images per '
            'severity): 1 run') in text
    refused = (f'seed 1: {root}/ereg1 was evaluated on /data/CIFAR-10-C '
               '(official, 4 images per severity) and '
               f'{root}/base1 on /data/rebuilt (re-created (CIFAR '
               'constants), 4 images per severity); not paired.')
    assert refused in ' '.join(text.split()), text
    assert 'its seeds were evaluated on different folders' in text
    rows = _csv(f'{out}_robustness.csv')
    assert rows['ereg']['corrupted set'] == 'official'
    assert rows['baseline']['corrupted set'] == \
        'official + re-created (CIFAR constants)'
    assert rows['baseline']['corrupted set root'] == \
        '/data/CIFAR-10-C; /data/rebuilt'
    # the mCE pairs seed 0 alone: 2 errors of 4 against 1 of 4
    assert rows['ereg']['mCE n'] == '1'
    assert float(rows['ereg']['mCE mean']) == pytest.approx(50.0)
