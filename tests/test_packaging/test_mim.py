"""`mim train/test/search emoreg_mm` after regular and editable installs.

openmim 0.3.9 imports ``pkg_resources`` (gone from setuptools >= 82) and pulls
openxlab, whose pins (setuptools~=60.2, requests~=2.28, ...) clash with
torch. So mim is not installed into the project's environment: each run
builds a throw-away venv under tmp that sees the project's site-packages
through a ``.pth`` line (torch, mmengine, mmpretrain: nothing reinstalled),
and holds its own openmim, its light dependencies and setuptools < 82.

Every ``pip install`` into that venv runs while the ``.pth`` is removed, so
pip never sees, upgrades or uninstalls anything in the project's environment.
The package is installed from a copy of the repository, which also gets one
extra tiny leaf config (``TEST_CONFIG``) and regenerated metafiles, so that
finding a packaged config by name and ``mim search`` are checked whatever
configs the repository holds.
"""
import contextlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig

import pytest

from plain_config import make_plain_config

pytestmark = pytest.mark.slow

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# What mim needs besides openmim itself (installed with --no-deps: its
# `opendatalab` requirement, which pulls openxlab, is used by no command we
# run). setuptools < 82 still has pkg_resources; >= 77.0.3 is torch's floor.
MIM_DEPS = ('setuptools>=77.0.3,<82', 'click', 'colorama', 'model-index',
            'pandas', 'requests', 'rich', 'tabulate')
OPENMIM = 'openmim>=0.3.9,<0.4'
TEST_CONFIG = 'zz-packaging-check_plain.py'
# Only at the top of the repository: not copied into the test's copy.
SKIP_TOP = {'.venv', '.git', 'build', 'dist', 'work_dirs', 'data', 'outputs',
            '.pytest_cache', '.dist_test'}


def _ignore(root):

    def ignore(folder, names):
        skip = {n for n in names if n in ('__pycache__', '.mim')
                or n.endswith(('.egg-info', '.pyc'))}
        if osp.abspath(folder) == root:
            skip |= SKIP_TOP & set(names)
        return skip

    return ignore


class MimVenv:

    def __init__(self, path):
        self.path = path
        self.python = osp.join(path, 'bin', 'python')
        self.mim = osp.join(path, 'bin', 'mim')
        self.site = subprocess.check_output(
            [self.python, '-c', 'import sysconfig; '
             'print(sysconfig.get_paths()["purelib"])'], text=True).strip()
        self.pth = osp.join(self.site, '_emoreg_project_env.pth')

    @contextlib.contextmanager
    def isolated(self):
        """Hide the project's environment (for pip)."""
        os.remove(self.pth)
        try:
            yield
        finally:
            self.link_project_env()

    def link_project_env(self):
        with open(self.pth, 'w') as f:
            f.write(sysconfig.get_paths()['purelib'] + '\n')

    def pip(self, *args, **kwargs):
        cmd = [sys.executable, '-m', 'pip', '--python', self.python,
               '--disable-pip-version-check', '--no-input', *args]
        return run(cmd, cwd=self.path, **kwargs)

    def run_mim(self, *args, cwd):
        return run([self.mim, *args], cwd=cwd)


def run(cmd, cwd, **kwargs):
    """Run ``cmd`` in ``cwd`` (never the repository: `import` from there)."""
    env = dict(os.environ, PYTHONWARNINGS='ignore::UserWarning')
    env.pop('PYTHONPATH', None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                          text=True, **kwargs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{out[-6000:]}'
    return out


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    """A venv with openmim that sees the project's site-packages."""
    tmp = tmp_path_factory.mktemp('mim')
    path = str(tmp / 'venv')
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', path],
                   check=True)
    env = MimVenv(path)
    env.link_project_env()
    # What must be added next to the project's packages: resolved against
    # them (dry run: pip changes nothing), then installed pinned, unseen.
    report = str(tmp / 'report.json')
    env.pip('install', '--dry-run', '--quiet', '--report', report, *MIM_DEPS)
    with open(report) as f:
        pins = [f'{i["metadata"]["name"]}=={i["metadata"]["version"]}'
                for i in json.load(f)['install']]
    with env.isolated():
        env.pip('install', '--quiet', '--no-deps', OPENMIM, *pins)
    return env


@pytest.fixture(scope='module')
def repo_copy(tmp_path_factory):
    """The repository plus TEST_CONFIG, with metafiles regenerated."""
    tmp = tmp_path_factory.mktemp('repo')
    root = str(tmp / 'emoreg_mm_src')
    shutil.copytree(REPO, root, ignore=_ignore(REPO), symlinks=True)
    config = make_plain_config(tmp, max_epochs=1)
    shutil.copyfile(config, osp.join(root, 'configs', 'emoreg', TEST_CONFIG))
    run([sys.executable, osp.join(root, 'tools', 'misc', 'gen_metafiles.py'),
         '--root', root], cwd=str(tmp))
    return root


@pytest.fixture(scope='module', params=['regular', 'editable'])
def installed(request, venv, repo_copy):
    """emoreg_mm installed into ``venv`` from ``repo_copy``."""
    with venv.isolated():
        if request.param == 'regular':
            # pip's default isolated build, as a user's `pip install .`
            venv.pip('install', '--quiet', '--no-deps', repo_copy)
        else:
            venv.pip('install', '--quiet', '--no-deps', '-e', repo_copy)
    out = run([venv.python, '-c',
               'import emoreg_mm; print(emoreg_mm.__file__)'], cwd=venv.path)
    in_site = out.strip().startswith(venv.site)
    assert in_site == (request.param == 'regular'), out
    return request.param


def packaged_names(repo):
    """Config names listed by the repository's metafiles."""
    import yaml
    names = []
    with open(osp.join(repo, 'model-index.yml')) as f:
        for rel in yaml.safe_load(f)['Import']:
            with open(osp.join(repo, rel)) as m:
                names += [x['Name'] for x in yaml.safe_load(m)['Models']]
    return names


def test_mim_files_installed(installed, venv, repo_copy):
    pkg_root = run([
        venv.python, '-W', 'ignore', '-c',
        'from mim.utils import get_installed_path; '
        'print(get_installed_path("emoreg_mm"))'
    ], cwd=venv.path).strip().splitlines()[-1]
    mim_dir = osp.join(pkg_root, '.mim')
    for name in ('configs', 'tools', 'model-index.yml'):
        assert osp.exists(osp.join(mim_dir, name)), name
    assert osp.isfile(osp.join(mim_dir, 'tools', 'train.py'))
    assert osp.isfile(osp.join(mim_dir, 'configs', 'emoreg', TEST_CONFIG))
    if installed == 'regular':
        assert pkg_root == osp.join(venv.site, 'emoreg_mm')
        assert not osp.islink(osp.join(mim_dir, 'configs'))
    else:
        assert pkg_root == osp.join(repo_copy, 'emoreg_mm')
        assert osp.islink(osp.join(mim_dir, 'configs'))


def test_mim_search(installed, venv, repo_copy, tmp_path):
    out = venv.run_mim('search', 'emoreg_mm', '--valid-config',
                       cwd=str(tmp_path))
    # every leaf config of the repository, and TEST_CONFIG
    expected = packaged_names(repo_copy)
    assert osp.splitext(TEST_CONFIG)[0] in expected
    for name in expected:
        assert f"'{name}'" in out, f'{name} not in:\n{out}'


def test_mim_train_and_test(installed, venv, repo_copy, tmp_path):
    # train: the config found by its name among the packaged ones
    work_dir = str(tmp_path / 'work')
    out = venv.run_mim('train', 'emoreg_mm', TEST_CONFIG, '--work-dir',
                       work_dir, cwd=str(tmp_path))
    assert 'we find the config file in codebase emoreg_mm' in out, out
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt), out
    # test: the config given by its path (mim passes the checkpoint
    # positionally to tools/test.py)
    config = osp.join(repo_copy, 'configs', 'emoreg', TEST_CONFIG)
    out = venv.run_mim('test', 'emoreg_mm', config, '--checkpoint', ckpt,
                       '--work-dir', str(tmp_path / 'test'),
                       cwd=str(tmp_path))
    assert 'accuracy/top1' in out, out
