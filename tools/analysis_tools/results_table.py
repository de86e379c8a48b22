"""Collect evaluation results of many runs into a paper-style table.

Usage::

    python tools/analysis_tools/results_table.py 'work_dirs/*' \
        [--metric accuracy/top1] [--out results]

Each work dir is one run: its dumped config names the combination (the
``emoreg_backbone``, ``emoreg_affective``, ``emoreg_mode``, ``emoreg_target``
keys that the ``configs/_base_`` pieces set; the config file name and the
random seed otherwise) and its logs hold the evaluation. The result of
``tools/test.py`` (``<timestamp>/<timestamp>.json``) is used where present,
else the last validation during training (``vis_data/scalars.json``).

Rows are backbone x affective set x mode, columns are targets: top-1 as
mean +- standard deviation over seeds (with their count), and its difference
to ``baseline`` (same backbone and target) and to ``const`` (same backbone,
affective set and target). Written to ``OUT.md`` and ``OUT.csv``.
"""
import argparse
import csv
import glob
import json
import os.path as osp
import statistics
from collections import defaultdict
from typing import Dict, List, Optional

from mmengine.config import Config

TAGS = ('backbone', 'affective', 'mode', 'target')


def find_config(work_dir: str) -> Optional[str]:
    """The config that mmengine dumped into ``work_dir``."""
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')))
    return configs[0] if configs else None


def read_run(work_dir: str, metric: str) -> Optional[dict]:
    """Return the combination, seed and evaluation of one run.

    Args:
        work_dir (str): A run's work dir.
        metric (str): The metric key, e.g. ``accuracy/top1``.

    Returns:
        dict | None: Keys ``backbone``, ``affective``, ``mode``, ``target``,
        ``seed``, ``value``, ``source`` (where the value came from) and
        ``work_dir``; None when the dir holds no config or no evaluation.
    """
    config = find_config(work_dir)
    if config is None:
        return None
    cfg = Config.fromfile(config, import_custom_modules=False)
    run = {
        tag: str(cfg.get(f'emoreg_{tag}', '-'))
        for tag in TAGS
    }
    if run['mode'] == '-':
        run['mode'] = osp.splitext(osp.basename(config))[0]
    run['seed'] = (cfg.get('randomness') or {}).get('seed')
    run['work_dir'] = work_dir
    value, source = _latest_evaluation(work_dir, metric)
    if value is None:
        return None
    run.update(value=value, source=source)
    return run


def _latest_evaluation(work_dir: str, metric: str):
    """The test result if there is one, else the last validation."""
    test, val = None, None
    for log_dir in sorted(glob.glob(osp.join(work_dir, '2*'))):
        stamp = osp.basename(log_dir)
        test_json = osp.join(log_dir, f'{stamp}.json')
        if osp.isfile(test_json):
            with open(test_json) as f:
                record = json.load(f)
            if metric in record:
                test = (float(record[metric]), f'test {stamp}')
        scalars = osp.join(log_dir, 'vis_data', 'scalars.json')
        if osp.isfile(scalars):
            with open(scalars) as f:
                for line in f:
                    record = json.loads(line)
                    if metric in record:
                        val = (float(record[metric]),
                               f'val step {record.get("step")}')
    return test or val or (None, None)


def aggregate(runs: List[dict]) -> Dict[tuple, dict]:
    """Group runs by combination: mean, std and count over seeds."""
    groups = defaultdict(list)
    for run in runs:
        groups[tuple(run[t] for t in TAGS)].append(run['value'])
    return {
        key: dict(
            mean=statistics.fmean(values),
            std=statistics.stdev(values) if len(values) > 1 else 0.0,
            n=len(values))
        for key, values in groups.items()
    }


def build_table(stats: Dict[tuple, dict]):
    """Return (header, rows) of the table, one row per combination."""
    targets = sorted({key[3] for key in stats})
    header = ['backbone', 'affective', 'mode']
    for target in targets:
        header += [f'{target} top-1', f'{target} n', f'{target} vs baseline',
                   f'{target} vs const']
    combos = sorted({key[:3] for key in stats},
                    key=lambda k: (k[0], k[2] != 'baseline', k[1], k[2]))
    rows = []
    for backbone, affective, mode in combos:
        row = [backbone, affective, mode]
        for target in targets:
            cell = stats.get((backbone, affective, mode, target))
            if cell is None:
                row += ['', '', '', '']
                continue
            base = next((s for k, s in stats.items() if k[0] == backbone
                         and k[2] == 'baseline' and k[3] == target), None)
            const = stats.get((backbone, affective, 'const', target))
            row += [
                f'{cell["mean"]:.2f} ± {cell["std"]:.2f}', str(cell['n']),
                _delta(cell, base, mode == 'baseline'),
                _delta(cell, const, mode == 'const')
            ]
        rows.append(row)
    return header, rows


def _delta(cell: dict, ref: Optional[dict], is_ref: bool) -> str:
    if is_ref or ref is None:
        return '-' if is_ref else 'n/a'
    return f'{cell["mean"] - ref["mean"]:+.2f}'


def to_markdown(header, rows) -> str:
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+',
                        help='run work dirs, or glob patterns of them')
    parser.add_argument('--metric', default='accuracy/top1')
    parser.add_argument('--out', default='results',
                        help='write OUT.md and OUT.csv')
    args = parser.parse_args()

    dirs = sorted({d for pattern in args.work_dirs
                   for d in glob.glob(pattern) if osp.isdir(d)})
    runs, skipped = [], []
    for work_dir in dirs:
        run = read_run(work_dir, args.metric)
        (runs if run else skipped).append(run or work_dir)
    if skipped:
        print(f'{len(skipped)} dir(s) without a config or a {args.metric!r} '
              f'evaluation, left out: {", ".join(skipped)}')
    if not runs:
        raise SystemExit(f'No evaluated runs found in {args.work_dirs}')
    header, rows = build_table(aggregate(runs))
    table = to_markdown(header, rows)
    print(table)
    with open(f'{args.out}.md', 'w') as f:
        f.write(f'{args.metric} (mean ± std over seeds; n = seeds; '
                'deltas in points)\n\n' + table)
    with open(f'{args.out}.csv', 'w', newline='') as f:
        csv.writer(f).writerows([header] + rows)
    print(f'Wrote {args.out}.md and {args.out}.csv from {len(runs)} run(s).')


if __name__ == '__main__':
    main()
