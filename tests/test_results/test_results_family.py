"""emoreg_mm.results.family: each table's comparisons as one family, the
adjusted verdicts of a sweep without any effect, the primary comparison,
--correction and --primary as docs/results.md shows them."""
import glob
import os.path as osp
import shlex

import numpy as np
import pytest
from launch_utils import run_tool
from null_runs import (TARGETS, combos, count_verdicts, null_runs,
                       null_values)
from results_fixtures import rows_by, write_run
from scipy import stats
from statsmodels.stats.multitest import multipletests

from emoreg_mm.results import Policy, PrimaryError, build_report
from emoreg_mm.results.accuracy import accuracy_table

PRIMARY_COMMAND = (
    "python tools/analysis_tools/results_table.py 'work_dirs/*' --out "
    'results --primary "learn-ereg vs emoset-shuffled on cifar100"')
BH_COMMAND = ("python tools/analysis_tools/results_table.py 'work_dirs/*' "
              '--out results --correction fdr_bh')


def family_size():
    """The main table's comparisons of the null sweep: each mode but
    baseline against baseline, each but baseline and const against const,
    per target (no control runs, so no control comparison)."""
    modes = [m for m, _ in combos()]
    return len(TARGETS) * (sum(m != 'baseline' for m in modes) +
                           sum(m not in ('baseline', 'const') for m in modes))


def csv_comparisons(report):
    """[(p, adjusted p, verdict, adjusted verdict)] of every comparison
    with a p in the main table's CSV."""
    found = []
    for row in report['rows']:
        cells = dict(zip(report['header'], row))
        for key in cells:
            if key.endswith(' p') and not key.endswith('adjusted p') and \
                    'McNemar' not in key and cells[key] != '':
                prefix = key[:-2]
                found.append((float(cells[key]),
                              float(cells[f'{prefix} adjusted p'] or 'nan'),
                              cells[f'{prefix} verdict'],
                              cells[f'{prefix} adjusted verdict']))
    return found


@pytest.fixture(scope='module')
def null_dirs(tmp_path_factory):
    """One draw of the null sweep as run dirs (216 runs)."""
    root = tmp_path_factory.mktemp('null')
    values = null_values(np.random.default_rng(2026))
    for (mode, affective, target, seed), value in values.items():
        write_run(str(root), f'{mode}_{affective}_{target}_{seed}', mode,
                  seed, value, affective=affective, target=target)
    return root, values


def test_a_sweep_without_effect_gives_no_adjusted_verdict(null_dirs):
    root, values = null_dirs
    report = build_report([str(root / '*')])
    size = family_size()
    family = report['families']['main']
    assert family['size'] == size
    table = report['markdown'].split('| backbone |')[0]  # above the table
    assert f'Family: the {size} paired comparisons with a verdict' in table
    assert f'about {size * 0.05:.1f} of them would read better / worse' \
        in table
    found = csv_comparisons(report)
    assert len(found) == size
    plain, adjusted = count_verdicts(report['rows'], report['header'])
    assert adjusted <= 1 and adjusted <= plain
    assert f'(here {plain} do)' in table
    # one family for the whole table: Holm over every p of it
    p = [f[0] for f in found]
    expected = multipletests(p, alpha=0.05, method='holm')[1]
    assert [f[1] for f in found] == pytest.approx(expected, rel=1e-3)
    # the p of one comparison is the paired t test's
    row = rows_by(report)['ereg']  # the last set's, by row order
    diffs = [values['ereg', row['affective'], 'cifar10', s] -
             values['const', row['affective'], 'cifar10', s]
             for s in (0, 1, 2)]
    assert float(row['cifar10 vs const p']) == pytest.approx(
        stats.ttest_1samp(diffs, 0.).pvalue, rel=1e-3)


@pytest.mark.parametrize('seed', [1, 2])
def test_more_draws_without_effect(seed):
    header, rows, markdown, _, family = accuracy_table(
        null_runs(np.random.default_rng(seed)))
    plain, adjusted = count_verdicts(rows, header)
    assert adjusted <= 1 and family['size'] == family_size()
    assert f'after adjusting, {adjusted} read better / worse' in markdown


def test_benjamini_hochberg_is_an_option(null_dirs):
    root, _ = null_dirs
    report = build_report([str(root / '*')], correction='fdr_bh')
    found = csv_comparisons(report)
    expected = multipletests([f[0] for f in found], method='fdr_bh')[1]
    assert [f[1] for f in found] == pytest.approx(expected, rel=1e-3)
    assert 'Benjamini-Hochberg' in report['markdown']
    assert '; BH: no evidence (p=' in report['markdown']
    with pytest.raises(ValueError, match='expected one of holm, fdr_bh'):
        build_report([str(root / '*')], correction='bonferroni')


def effect_runs(root, targets=('cifar100', ), backbones=('tiny', )):
    """baseline, const and learn-ereg on emoset and emoset-shuffled, three
    seeds; learn-ereg beats its shuffled control by about 1 point."""
    for backbone in backbones:
        for target in targets:
            for seed in (0, 1, 2):
                level = 80 + seed
                for name, mode, affective, value in (
                        ('base', 'baseline', 'emoset', level),
                        ('const', 'const', 'emoset', level + .5),
                        ('learn', 'learn-ereg', 'emoset',
                         level + 1.5 + .2 * (seed == 1)),
                        ('learn_sh', 'learn-ereg', 'emoset-shuffled',
                         level + .5 - .3 * (seed == 2))):
                    work_dir = write_run(
                        str(root), f'{backbone}_{name}_{target}{seed}', mode,
                        seed, value, affective=affective, target=target,
                        stage1=True)
                    if backbone != 'tiny':  # rename the backbone
                        cfg_path = glob.glob(osp.join(work_dir, '*.py'))[0]
                        text = open(cfg_path).read().replace(
                            "emoreg_backbone = 'tiny'",
                            f'emoreg_backbone = {backbone!r}')
                        open(cfg_path, 'w').write(text)


def test_the_primary_comparison_is_left_out_of_the_family(tmp_path):
    effect_runs(tmp_path)
    pattern = [str(tmp_path / '*')]
    plain = build_report(pattern)
    primary = build_report(
        pattern, primary='learn-ereg vs emoset-shuffled on cifar100')
    assert primary['families']['main']['size'] == \
        plain['families']['main']['size'] - 1
    rows = {(r[1], r[2]): dict(zip(primary['header'], r))
            for r in primary['rows']}
    row = rows['emoset', 'learn-ereg']
    assert row['cifar100 vs shuffled verdict'] == 'better'
    assert row['cifar100 vs shuffled adjusted verdict'] == \
        'better (primary, not adjusted)'
    assert row['cifar100 vs shuffled adjusted p'] == ''
    assert '(primary, not adjusted; p=' in primary['markdown']
    assert ('Primary comparison (named by the user; left out of the family, '
            'not adjusted): tiny emoset learn-ereg vs emoset-shuffled on '
            'cifar100.') in primary['markdown']
    # the structured form, backbone and set named, is the same comparison
    named = build_report(pattern, primary=dict(
        backbone='tiny', affective='emoset', mode='learn-ereg',
        reference='emoset-shuffled', target='cifar100'))
    assert named['rows'] == primary['rows']


@pytest.mark.parametrize('spec,message', [
    ('learn-ereg vs emoset-untrained on cifar100',
     'no comparison of the table matches. It has modes: const, learn-ereg;'
     ' references: baseline, const, emoset-shuffled; targets: cifar10, '
     'cifar100; backbones: resnet50, tiny; affective sets: emoset, '
     'emoset-shuffled.'),
    ('learn-ereg vs const on cifar10',
     '2 comparisons match (resnet50 emoset learn-ereg vs const on cifar10; '
     'tiny emoset learn-ereg vs const on cifar10); name the backbone and '
     'the affective set.'),
    ('learn-ereg against const', 'expected "[BACKBONE] [AFFECTIVE] MODE vs '
     'REFERENCE on TARGET"'),
])
def test_an_unmatched_primary_names_what_exists(tmp_path, spec, message):
    effect_runs(tmp_path, ('cifar10', 'cifar100'), ('tiny', 'resnet50'))
    with pytest.raises(PrimaryError) as error:
        build_report([str(tmp_path / '*')], primary=spec)
    assert message in str(error.value)
    assert repr(spec) in str(error.value)


def test_policy_checks_its_options():
    with pytest.raises(PrimaryError, match='expected the keys mode'):
        Policy(primary=dict(mode='ereg'))
    with pytest.raises(ValueError, match='expected a spread >= 0'):
        Policy(resolution=-1.)


def run_as_shown(command):
    """``command``'s main(argv) in this process, globs expanded as bash
    does (in the current folder)."""
    words = shlex.split(command)
    assert words[:2] == ['python', 'tools/analysis_tools/results_table.py']
    run_tool('analysis_tools/results_table.py',
             *[m for w in words[2:] for m in sorted(glob.glob(w)) or [w]])


@pytest.mark.readme(PRIMARY_COMMAND)
@pytest.mark.readme(BH_COMMAND)
def test_the_commands_of_the_docs(tmp_path, monkeypatch, capsys):
    effect_runs(tmp_path / 'work_dirs')
    monkeypatch.chdir(tmp_path)
    run_as_shown(PRIMARY_COMMAND)
    text = (tmp_path / 'results.md').read_text()
    assert capsys.readouterr().out.startswith(text)
    assert 'Primary comparison (named by the user' in text
    assert 'better (primary, not adjusted; p=' in text
    run_as_shown(BH_COMMAND)
    text = (tmp_path / 'results.md').read_text()
    assert 'Adjusted verdicts: Benjamini-Hochberg' in text
    assert 'Primary comparison' not in text
    with pytest.raises(SystemExit) as exit_:
        run_tool('analysis_tools/results_table.py', 'work_dirs/*',
                 '--primary', 'ereg vs const on cifar100')
    assert 'no comparison of the table matches. It has modes: const, ' \
        'learn-ereg;' in str(exit_.value.code)
