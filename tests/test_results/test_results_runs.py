"""emoreg_mm.results.runs and pairing on run dirs: nothing in a work dir is
executed, each bad dir is named with the reason and never stops the table
of the others, and only configs that differ in the mode alone pair."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config
from results_fixtures import rows_by, write_run

from emoreg_mm.results import (STAGE1_LEFT_OUT, build_report,
                               config_differences, read_config, read_run)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: An integer of over 5,000 decimal digits as a hex / octal literal (the
#: parser takes them; a decimal one is refused while parsed).
HUGE_HEX = '0x' + 'f' * 4200
HUGE_OCT = '0o' + '7' * 5600


def bad_config(runs, name, text):
    os.makedirs(runs / name)
    (runs / name / f'{name}.py').write_text(text)


def set_result(work_dir, text):
    with open(osp.join(work_dir, '20260101_000000', '20260101_000000.json'),
              'w') as f:
        f.write(text)


def test_bad_run_dirs_are_named_and_the_rest_tabled(tmp_path):
    """What killed jobs and co-workers leave: each bad dir is reported by
    name with the reason, the table of the good runs is still written, no
    hang, no crash."""
    runs = tmp_path / 'runs'
    for seed in (0, 1):
        write_run(str(runs), f'base{seed}', 'baseline', seed, 90. + seed)
        write_run(str(runs), f'const{seed}', 'const', seed, 91. + seed)
    bad_config(runs, 'unhashable_key', 'x = {[1]: 2}\n')
    bad_config(runs, 'unhashable_set', 'x = {[1]}\n')
    bad_config(runs, 'long_int', 'x = ' + '7' * 5000 + '\n')
    bad_config(runs, 'deep', 'x = ' + '[' * 100000 + ']' * 100000 + '\n')
    bad_config(runs, 'long_sum', 'x = ' + '+'.join(['1'] * 300000) + '\n')
    seed_list = write_run(str(runs), 'seed_list', 'ereg', 0, 50.)
    with open(osp.join(seed_list, 'seed_list.py'), 'a') as f:
        f.write('randomness = dict(seed=[1])\n')
    for name, text in (('json_int', '5'),
                       ('json_dict', '{"accuracy/top1": {"a": 1}}'),
                       ('json_cut', '{"accuracy/top1": 9')):
        set_result(write_run(str(runs), name, 'ereg', 0, 50.), text)
    # Two ranks of a distributed test wrote one file at once.
    set_result(write_run(str(runs), 'ranks', 'ereg', 1, 93.),
               '{"accuracy/top1": 93.0, "time": 0.1}0.0012}')
    # A killed run: its log's last line cut off; the earlier line counts.
    killed = write_run(str(runs), 'killed', 'ereg', 0, 92., source='val')
    scalars = osp.join(killed, '20260101_000000', 'vis_data', 'scalars.json')
    with open(scalars, 'a') as f:
        f.write('{"accuracy/top1": 99.0, "st')
    for name, make in (('zero', lambda p: os.symlink('/dev/zero', p)),
                       ('fifo', os.mkfifo)):
        os.makedirs(runs / name)
        make(str(runs / name / f'{name}.py'))
    big = write_run(str(runs), 'big', 'ereg', 1, 50.)
    with open(osp.join(big, 'big.py'), 'a') as f:
        f.write('# ' + 'x' * (2 << 20) + '\n')

    report = build_report([str(runs / '*')], out=str(tmp_path / 'new' /
                                                      'table'),
                          max_bytes=1 << 20)
    table = (tmp_path / 'new' / 'table.md').read_text()
    assert table == report['markdown']
    assert '| tiny | - | baseline | 90.50 ± 0.71 (n=2) |' in table
    assert '| tiny | emoset | const | 91.50 ± 0.71 (n=2) | +1.00' in table
    for name, reason in (
            ('unhashable_key', "unhashable type: 'list'"),
            ('unhashable_set', "unhashable type: 'list'"),
            ('long_int', 'Exceeds the limit (4300 digits)'),
            ('deep', 'too many nested parentheses'),
            ('long_sum', 'RecursionError'),
            ('seed_list', "randomness.seed is '[1]', not an integer"),
            ('json_int', 'a JSON int, not an object of metrics'),
            ('json_dict', "'accuracy/top1' is \"{'a': 1}\", not a number"),
            ('json_cut', 'not JSON'),
            ('zero', 'not a regular file'),
            ('fifo', 'not a regular file'),
            ('big', 'over the limit of 1048576')):
        lines = [line for line in table.splitlines()
                 if str(runs / name) in line]
        assert any(reason in line for line in lines), (name, lines)
    for name in ('unhashable_key', 'unhashable_set', 'long_int', 'deep',
                 'long_sum', 'zero', 'fifo', 'big'):
        assert f'{runs / name}: no readable config.' in table, name
    for name in ('json_int', 'json_dict', 'json_cut'):
        assert f"{runs / name}: no 'accuracy/top1' evaluation." in table
    # The garbled distributed record and the killed log are read, and say so.
    assert 'text after its first JSON document' in table
    assert 'line 3 (the last): not JSON' in table and 'left out' in table
    ereg = rows_by(report)['ereg']
    # killed (seed 0, val 92.0: the cut line's 99 left out) and ranks
    # (seed 1, test 93.0).
    assert ereg['cifar10 mean'] == '92.5000', ereg
    assert ereg['cifar10 source'] == 'test+val'
    with open(tmp_path / 'new' / 'table.csv') as f:
        assert f.readline().rstrip('\r\n').split(',') == report['header']


def test_huge_integers_and_other_hostile_values_are_named(tmp_path):
    """An integer of over 5,000 digits in a tag or in any other config
    value, a result that is not a finite number or a seed no run can have:
    each dir is named with the reason, the others are tabled."""
    runs = tmp_path / 'runs'
    write_run(str(runs), 'base0', 'baseline', 0, 90.)
    write_run(str(runs), 'const0', 'const', 0, 91.)
    lines = {
        'hex_tag': f'emoreg_backbone = {HUGE_HEX}\n',
        'decimal_tag': 'emoreg_mode = ' + '7' * 5000 + '\n',
        'octal_lr': f'optim_wrapper = dict(optimizer=dict(lr={HUGE_OCT}))\n',
        'hex_key': f'model = dict(head={{{HUGE_HEX}: 1}})\n',
        'negative': f'model = dict(head=dict(num_classes=-{HUGE_HEX}))\n',
        'huge_seed': 'randomness = dict(seed=' + '9' * 4000 + ')\n',
        'negative_seed': 'randomness = dict(seed=-1)\n',
        # not dicts where dicts are expected: tabled, never a crash
        'model_list': 'model = [1, 2]\n',
        'loader_list': 'val_dataloader = [1]\n',
    }
    line_no = {}
    for name, line in lines.items():
        config = osp.join(write_run(str(runs), name, 'ereg', 0, 92.),
                          f'{name}.py')
        with open(config, 'a') as f:
            f.write(line)
        line_no[name] = len(open(config).read().splitlines())
    for name, text in (('inf', '{"accuracy/top1": Infinity}'),
                       ('nan', '{"accuracy/top1": NaN}'),
                       ('over_float', '{"accuracy/top1": 1' + '0' * 400 +
                        '}')):
        set_result(write_run(str(runs), name, 'ereg', 1, 92.), text)

    report = build_report([str(runs / '*')], out=str(tmp_path / 'table'))
    notes = '\n'.join(report['notes'])
    for name in ('hex_tag', 'octal_lr', 'hex_key', 'negative'):
        assert (f'{runs / name / name}.py, line {line_no[name]}: an integer '
                'of ' in notes), name
        assert f'{runs / name}: no readable config.' in notes, name
    assert 'too long to print (Python\'s limit is 4300 decimal digits)' in \
        notes
    assert f'{runs / "decimal_tag"}: no readable config.' in notes
    assert (f'{runs / "huge_seed" / "huge_seed"}.py: randomness.seed is an '
            'integer of 13288 bits, not a seed a run can have') in notes
    assert 'randomness.seed is -1, not a seed a run can have' in notes
    for name, what in (('inf', 'is inf, not a finite number'),
                       ('nan', 'is nan, not a finite number'),
                       ('over_float', 'is an integer beyond any float')):
        assert f"'accuracy/top1' {what}; not read." in notes, name
        assert f"{runs / name}: no 'accuracy/top1' evaluation." in notes
    assert len(notes) < 20_000  # no integer printed whole
    # the good runs, and those whose odd values are only compared, tabled
    assert {r['work_dir'] for r in report['runs']} == {
        str(runs / n) for n in ('base0', 'const0', 'model_list',
                                'loader_list')}
    assert (tmp_path / 'table.md').read_text() == report['markdown']
    ereg = rows_by(report)['ereg']
    assert ereg['cifar10 n'] == 2 and ereg['cifar10 vs const n'] == 0
    assert 'tiny emoset ereg on cifar10: 2 runs at seed 0' in notes
    cfg = {run['work_dir']: run['config'] for run in report['runs']}
    const = cfg[str(runs / 'const0')]
    assert config_differences(cfg[str(runs / 'model_list')], const) == [
        'model/model', 'model/num_classes']
    assert config_differences(cfg[str(runs / 'loader_list')], const) == [
        'val_dataloader', 'val_dataloader.dataset.data_root',
        'val_dataloader.dataset.split', 'val_dataloader.dataset.type']


def test_no_file_in_a_work_dir_is_executed(tmp_path):
    marker = tmp_path / 'executed'
    work_dir = write_run(str(tmp_path / 'runs'), 'run0', 'baseline', 0, 90.)
    payload = (f'import pathlib\npathlib.Path({str(marker)!r}).write_text('
               "'ran')\n")
    for name in ('0.py', 'zz.py'):  # sorted before and after the dump
        with open(osp.join(work_dir, name), 'w') as f:
            f.write(payload)
    lone = osp.join(str(tmp_path / 'runs'), 'lone')
    os.makedirs(lone)
    with open(osp.join(lone, 'cfg.py'), 'w') as f:
        f.write(f"x = dict(a=__import__('os').system('touch {marker}'))\n")
    report = build_report([str(tmp_path / 'runs' / '*')])
    assert not marker.exists()
    out = report['markdown']
    assert '0.py, line 1: a Import statement' in out
    assert 'cfg.py, line 1' in out and f'{lone}: no readable config' in out
    assert '| tiny | - | baseline | 90.00 ± 0.00 (n=1) |' in out


def test_stage1_runs_are_not_rows(tmp_path):
    """A sweep's work root holds its stage-1 runs too: left out of the
    stage-2 table, each named in a note."""
    root = str(tmp_path)
    write_run(root, 'base0', 'baseline', 0, 90.0)
    stage1 = write_run(root, 'tiny_emoset', 'const', 0, 55.0)
    cfg = Config.fromfile(osp.join(stage1, 'tiny_emoset.py'))
    for key in ('emoreg_mode', 'emoreg_target', 'regulator'):
        cfg.pop(key)
    cfg.dump(osp.join(stage1, 'tiny_emoset.py'))
    report = build_report([osp.join(root, '*')])
    assert [r[2] for r in report['rows']] == ['baseline']
    assert STAGE1_LEFT_OUT.format(stage1) in report['notes']
    assert 'tiny_emoset' not in report['markdown'].split('Notes:')[0]


def test_the_real_leaves_of_one_combination_pair(tmp_path):
    """The shipped leaves of every mode differ only by the mode; a changed
    lr, data root or split is refused by name."""
    cfgs = {}
    for mode in ('baseline', 'const', 'ereg', 'learn-ereg'):
        cfg = Config.fromfile(osp.join(
            REPO, f'configs/emoreg/resnet18-cifar_{mode}_cifar10.py'))
        cfg.dump(str(tmp_path / f'{mode}.py'))
        cfgs[mode] = read_config(str(tmp_path / f'{mode}.py'))
    for mode in ('const', 'ereg', 'learn-ereg'):
        assert config_differences(cfgs[mode], cfgs['baseline']) == []
        assert config_differences(cfgs[mode], cfgs['const']) == []
    changed = Config(cfgs['ereg'])
    changed.merge_from_dict({
        'optim_wrapper.optimizer.lr': 0.2,
        'train_dataloader.dataset.data_root': 'elsewhere',
        'val_dataloader.dataset.split': 'test'})
    assert config_differences(changed.to_dict(), cfgs['const']) == [
        'optim_wrapper.optimizer.lr', 'train_dataloader.dataset.data_root',
        'val_dataloader.dataset.split']


@pytest.mark.parametrize('backbone', ['resnet18-cifar', 'vit-b16'])
def test_the_documented_validation_on_test_is_marked(tmp_path, backbone):
    """Configs dumped by mmengine from the real leaves: validating on the
    held-out split is not marked; the documented option
    ``val_dataloader.dataset.split=test`` is (what is read decides)."""
    leaf = osp.join(REPO, f'configs/emoreg/{backbone}_ereg_cifar10.py')
    for name, options, marked in (
            ('held_out', {}, False),
            ('on_test', {'val_dataloader.dataset.split': 'test'}, True)):
        cfg = Config.fromfile(leaf)
        cfg.merge_from_dict(options)
        work_dir = tmp_path / name
        stamp = work_dir / '20260101_000000'
        stamp.mkdir(parents=True)
        cfg.dump(str(work_dir / f'{backbone}_ereg_cifar10.py'))
        (stamp / '20260101_000000.json').write_text(
            json.dumps({'accuracy/top1': 90.0}))
        run, problems = read_run(str(work_dir), 'accuracy/top1')
        assert run is not None, problems
        assert run['selected_on_eval'] is marked, name
