"""tools/setup_env.sh: a first install that cannot fit stops before pip."""
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_setup_env_stops_before_pip_where_the_disk_is_too_small(tmp_path):
    # A venv without pip or packages: the completeness check fails, so the
    # script would install; the free-space check comes first.
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)],
                   check=True)
    env = dict(os.environ, VENV=str(venv), EMOREG_SETUP_FREE_GB='1000000')
    out = subprocess.run(['bash', osp.join(REPO, 'tools', 'setup_env.sh')],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert 'needs about 1000000 GB free where' in out.stderr
    assert str(venv) in out.stderr and 'MB are' in out.stderr
    assert 'installing' not in out.stdout  # pip never started
    assert not (venv / 'lib' / f'python{sys.version_info[0]}.'
                f'{sys.version_info[1]}' / 'site-packages' / 'torch').exists()
