"""Runs of a sweep in which no mode has any effect, for the tests of the
results table's verdicts over many comparisons.

Every run's top-1 is a target's level, plus a component shared by every
run at one seed (the data order and initialisation that pairing holds
fixed), plus the run's own noise: 6 modes (``baseline`` once per target,
the other five on each of 7 affective sets) x 2 targets x 3 seeds = 216
runs. Run as a script, it counts the main table's verdicts before and
after adjusting over many draws::

    .venv/bin/python tests/test_results/null_runs.py --draws 200
"""
import argparse
import os.path as osp
import sys

import numpy as np

MODES = ('baseline', 'e-infl', 'const', 'ereg', 'learn-ereg',
         'rand-learn-ereg')
SETS = ('emoset', 'abstract', 'emod', 'diffused-emod', 'fi', 'artphoto',
        'emotion6')
TARGETS = {'cifar10': 94., 'cifar100': 77.}
SEEDS = (0, 1, 2)
#: Standard deviations (points) of the shared per-seed component and of
#: each run's own noise.
SEED_SD, RUN_SD = 0.5, 0.3


def combos():
    """(mode, affective set) of every row: baseline once, without a set."""
    return [('baseline', '-')] + [(m, a) for a in SETS for m in MODES[1:]]


def null_values(rng: np.random.Generator) -> dict:
    """``{(mode, affective, target, seed): top-1}`` of one draw."""
    values = {}
    for target, level in TARGETS.items():
        shared = rng.normal(0., SEED_SD, len(SEEDS))
        for mode, affective in combos():
            noise = rng.normal(0., RUN_SD, len(SEEDS))
            for seed, s, e in zip(SEEDS, shared, noise):
                values[mode, affective, target, seed] = level + s + e
    return values


def null_runs(rng: np.random.Generator) -> list:
    """One draw as the runs :func:`emoreg_mm.results.read_run` returns
    (configs that differ only by mode, set and seed; no predictions)."""
    runs = []
    for (mode, affective, target, seed), value in null_values(rng).items():
        config = dict(emoreg_backbone='tiny', emoreg_mode=mode,
                      emoreg_target=target, randomness=dict(seed=seed),
                      model=dict(type='ImageClassifier'))
        if mode != 'baseline':
            config['emoreg_affective'] = affective
        runs.append(dict(backbone='tiny', affective=affective, mode=mode,
                         target=target, seed=seed, value=value,
                         source='test', step='', selected_on_eval=False,
                         config=config, predictions=None,
                         work_dir=f'{mode}_{affective}_{target}_s{seed}'))
    return runs


def count_verdicts(rows: list, header: list, only: str = '',
                   words=('better', 'worse')) -> tuple:
    """(unadjusted, adjusted) verdicts in ``words`` of a main table's CSV
    rows, in the columns whose name holds ``only``."""
    plain = adjusted = 0
    for row in rows:
        for key, value in zip(header, row):
            if only in key and key.endswith(' verdict') and value in words:
                if key.endswith('adjusted verdict'):
                    adjusted += 1
                else:
                    plain += 1
    return plain, adjusted


def main(argv=None) -> None:
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    from emoreg_mm.results.accuracy import accuracy_table
    from emoreg_mm.results.family import Policy
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--draws', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--correction', default='holm')
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    plain, adjusted, better, size = [], [], [], set()
    for _ in range(args.draws):
        header, rows, _, _, family = accuracy_table(
            null_runs(rng), policy=Policy(args.correction))
        p, a = count_verdicts(rows, header)
        plain.append(p)
        adjusted.append(a)
        better.append(count_verdicts(rows, header, 'vs baseline',
                                     ('better', )))
        size.add(family['size'])
    plain, adjusted = np.array(plain), np.array(adjusted)
    better = np.array(better)
    print(f'{args.draws} draws of {len(null_values(rng))} runs without any '
          f'effect; family size {sorted(size)}, expected chance verdicts '
          f'{0.05 * max(size):.1f} per table; correction {args.correction}')
    for name, counts in (('unadjusted', plain), ('adjusted', adjusted)):
        print(f'{name}: mean {counts.mean():.2f} better / worse per table '
              f'(max {counts.max()}), tables with at least one: '
              f'{(counts > 0).mean():.3f}, with 2 or more: '
              f'{(counts > 1).mean():.3f}')
    for name, counts in (('unadjusted', better[:, 0]),
                         ('adjusted', better[:, 1])):
        print(f'{name}: tables with 5 or more "better" vs baseline: '
              f'{(counts >= 5).mean():.3f}')


if __name__ == '__main__':
    main()
