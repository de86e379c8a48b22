"""tools/sweep.py --cfg-options: the keys the sweep manages for each run
(work_dir, resume, load_from) are refused, on the command line and in a
recorded plan, naming what to do instead; nothing is written."""
import json

import pytest
from launch_utils import run_cli

from emoreg_mm import experiments as ex


@pytest.mark.parametrize('option,instead', [
    ('work_dir=/tmp/all_runs', 'give --work-root instead'),
    ('resume=True', 'running the sweep again resumes each run'),
    ('load_from=epoch_5.pth', 'to start one run from a checkpoint, run '
     'tools/train.py'),
])
def test_options_the_sweep_manages_are_refused(tmp_path, monkeypatch,
                                               option, instead):
    monkeypatch.chdir(tmp_path)
    key = option.partition('=')[0]
    code, out = run_cli('sweep.py', '--dry-run', '--preset', 'demo',
                        '--cfg-options', 'train_cfg.max_epochs=1', option)
    assert code == 2
    assert (f"error: --cfg-options {option!r}: the sweep manages "
            f'{key} for each run; ') in out and instead in out
    assert not (tmp_path / 'work_dirs').exists()
    # a plan recorded with it (an older sweep, or edited by hand)
    plan = tmp_path / 'work_dirs' / 'sweep' / 'sweep_plan.json'
    plan.parent.mkdir(parents=True)
    plan.write_text(json.dumps(dict(preset='demo', cfg_options=[option])))
    code, out = run_cli('sweep.py', '--status')
    assert code == 2
    assert (f"error: work_dirs/sweep/sweep_plan.json: --cfg-options "
            f"{option!r}: the sweep manages {key}") in out


def test_other_options_pass_to_every_run(tmp_path):
    sweep = ex.Sweep('demo', cfg_options=['train_cfg.max_epochs=1',
                                          'work_dir_note=x'],
                     work_root=str(tmp_path))
    assert sweep.cfg_options == ('train_cfg.max_epochs=1', 'work_dir_note=x')
