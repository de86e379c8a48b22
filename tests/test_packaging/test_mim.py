"""`mim train/test/search emoreg_mm` after regular and editable installs.

openmim 0.3.9 imports ``pkg_resources`` (gone from setuptools >= 82) and pulls
openxlab, whose pins (setuptools~=60.2, requests~=2.28, ...) clash with
torch. So mim is not installed into the project's environment: each run
builds a throw-away venv under tmp that sees the project's site-packages
through a ``.pth`` line (torch, mmengine, mmpretrain: nothing reinstalled),
and holds its own openmim, its light dependencies and setuptools < 82.

README's pip lines run as written in that venv, its ``bin/`` first on PATH,
with the ``.pth`` in place: pip sees the project's packages as installed and
never changes anything outside the venv (it does not uninstall outside its
environment). The regular install runs while the ``.pth`` is removed.
The package is installed from a copy of the repository, which also gets one
extra tiny leaf config (``TEST_CONFIG``) and regenerated metafiles, so that
finding a packaged config by name and ``mim search`` are checked whatever
configs the repository holds.
"""
import contextlib
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
# README's mim lines: what mim needs, then openmim without its
# `opendatalab` requirement (it pulls openxlab, whose pins clash with torch;
# only `mim download --dataset` uses it). In this order pip reports nothing.
README_DEPS = ('pip install click colorama model-index pandas requests rich '
               'tabulate')
README_OPENMIM = 'pip install "openmim==0.3.9" --no-deps'
README_EDITABLE = 'pip install -e ".[lite]"'
README_EDITABLE_FULL_MMCV = 'pip install -e .'
README_SEARCH = 'mim search emoreg_mm'
README_TRAIN = ('mim train emoreg_mm vit-b16_learn-ereg_cifar100 --gpus 8 '
                '--launcher pytorch')
README_TEST = ('mim test emoreg_mm vit-b16_learn-ereg_cifar100 --checkpoint '
               'CKPT')
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

    def shell(self, command, cwd):
        """Run a README line with bash, this venv's bin/ first on PATH."""
        env = dict(os.environ, VIRTUAL_ENV=self.path,
                   PATH=f'{osp.dirname(self.python)}:{os.environ["PATH"]}')
        return run(['bash', '-c', command], cwd=cwd, env=env)


def run(cmd, cwd, env=None, **kwargs):
    """Run ``cmd`` in ``cwd`` (never the repository: `import` from there)."""
    env = dict(env or os.environ, PYTHONWARNINGS='ignore::UserWarning')
    env.pop('PYTHONPATH', None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                          text=True, **kwargs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{out[-6000:]}'
    return out


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    """A venv that sees the project's site-packages, with openmim installed
    by README's two lines, run as written with the venv's pip first on
    PATH. pip leaves packages outside the venv alone, so the project's
    environment is never changed."""
    tmp = tmp_path_factory.mktemp('mim')
    path = str(tmp / 'venv')
    subprocess.run([sys.executable, '-m', 'venv', path], check=True)
    env = MimVenv(path)
    env.link_project_env()
    for line in (README_DEPS, README_OPENMIM):
        out = env.shell(line, cwd=str(tmp))
        # pip names no missing requirement (openmim's opendatalab)
        assert 'ERROR' not in out, out
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
    """emoreg_mm installed into ``venv`` from ``repo_copy``: regular (pip's
    default isolated build, as a user's ``pip install .``), or editable by
    README's line, run as written in the repository (its requirements met
    by the project's environment)."""
    if request.param == 'regular':
        with venv.isolated():
            venv.pip('install', '--quiet', '--no-deps', repo_copy)
    else:
        # without the lite extra (next to a full mmcv): mmcv left alone
        out = venv.shell(README_EDITABLE_FULL_MMCV, cwd=repo_copy)
        assert 'mmcv' not in out.lower(), out
        venv.shell(README_EDITABLE, cwd=repo_copy)
    # where the venv's python imports emoreg_mm from. The editable install
    # imports it here; the regular one's ranks import it in
    # test_mim_train_and_test_by_name (an import with torch: 6 s of CPU)
    code = ('import emoreg_mm; print(emoreg_mm.__file__)'
            if request.param == 'editable' else
            'import importlib.util; '
            'print(importlib.util.find_spec("emoreg_mm").origin)')
    out = run([venv.python, '-c', code], cwd=venv.path)
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
    # the name marker `mim train emoreg_mm NAME` finds
    assert osp.isfile(
        osp.join(mim_dir, 'names', osp.splitext(TEST_CONFIG)[0]))
    if installed == 'regular':
        assert pkg_root == osp.join(venv.site, 'emoreg_mm')
        assert not osp.islink(osp.join(mim_dir, 'configs'))
    else:
        assert pkg_root == osp.join(repo_copy, 'emoreg_mm')
        assert osp.islink(osp.join(mim_dir, 'configs'))


@pytest.mark.readme(README_SEARCH)
def test_mim_search(installed, venv, repo_copy, tmp_path):
    out = venv.shell(README_SEARCH, cwd=str(tmp_path))
    # every leaf config of the repository, and TEST_CONFIG
    expected = packaged_names(repo_copy)
    assert osp.splitext(TEST_CONFIG)[0] in expected
    for name in expected:
        assert name in out, f'{name} not in:\n{out}'


@pytest.mark.readme(README_OPENMIM)
@pytest.mark.readme(README_DEPS)
@pytest.mark.readme(README_EDITABLE)
@pytest.mark.readme(README_EDITABLE_FULL_MMCV)
@pytest.mark.readme(README_TRAIN)
@pytest.mark.readme(README_TEST)
@pytest.mark.parametrize('installed', ['regular'], indirect=True)
def test_mim_train_and_test_by_name(installed, venv, repo_copy, tmp_path):
    """README's mim lines with the config name mim search lists (no .py).
    Substituted: the name -> TEST_CONFIG's (a tiny packaged leaf), 8 GPUs
    -> 2 CPU processes, CKPT -> the checkpoint just trained. For the
    regular install only: there the configs and tools are the copies in
    site-packages, so a file missing from the package fails the run; the
    editable install reads the repository itself, which every other test
    runs (README's editable lines run in the ``installed`` fixture). The
    ranks import the package installed in site-packages: the import the
    fixture checks for the editable install."""
    name = osp.splitext(TEST_CONFIG)[0]
    train = README_TRAIN.replace('vit-b16_learn-ereg_cifar100', name)
    out = venv.shell(train.replace('--gpus 8', '--gpus 2'), cwd=str(tmp_path))
    assert 'we find the config file in codebase emoreg_mm' in out, out
    assert 'world size 2, backend gloo' in out, out
    ckpt = tmp_path / 'work_dirs' / name / 'epoch_1.pth'
    assert ckpt.is_file(), out
    test = README_TEST.replace('vit-b16_learn-ereg_cifar100', name)
    out = venv.shell(test.replace('CKPT', str(ckpt)), cwd=str(tmp_path))
    assert 'accuracy/top1' in out, out
