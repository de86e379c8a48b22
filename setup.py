"""Install emoreg_mm.

On current torch (no full mmcv wheels from OpenMMLab):
    pip install ".[lite]"          # mmcv-lite provides the `mmcv` module
With a full mmcv already installed (e.g. through `mim install mmcv`):
    pip install .                  # keeps your mmcv untouched

mim support (``mim train/test/search emoreg_mm``)
-------------------------------------------------
openmim looks for ``configs/``, ``tools/`` and ``model-index.yml`` in
``<pkg.location>/emoreg_mm/.mim``, where ``pkg.location`` is what
``pkg_resources.get_distribution('emoreg_mm').location`` says.

* Regular installs and wheels (``pip install .``, isolated or not, and
  sdists): ``build_py`` copies the three into ``<build_lib>/emoreg_mm/.mim``,
  so every wheel carries them. The source tree is not touched.
* Editable installs (``pip install -e .``): ``emoreg_mm/.mim`` in the source
  tree holds symlinks to the real folders, so edits show at once. A PEP 660
  editable install puts the ``.dist-info`` in site-packages, where there is
  no ``emoreg_mm/`` folder, and nothing at install time can make one that
  would not shadow the real package (a wheel cannot hold symlinks, a copy
  would go stale, an ``emoreg_mm/`` folder without code would be imported
  as an empty namespace package). mim (``mim.utils.get_installed_path``)
  and mmengine (``_base_ = 'emoreg_mm::...'``) both fall back to
  ``join(location, first line of top_level.txt)`` when
  ``<location>/emoreg_mm`` does not exist, so the editable wheel's
  ``top_level.txt`` starts with the absolute path of the source package
  (``os.path.join`` then yields that path), followed by ``emoreg_mm``.
  Nothing else reads its first line alone: pip and importlib ignore it or
  read every line. Regular wheels keep the plain ``top_level.txt``.
  ``tests/test_packaging/test_mim.py`` checks both install kinds.
* Config names: mim finds a config only by a file named exactly as typed,
  so ``.mim/names/`` holds one marker file per leaf config, named as
  ``mim search`` lists it (``mim train emoreg_mm vit-b16_learn-ereg_cifar100``
  without ``.py``); the tools resolve the name (``emoreg_mm.config_names``).
  An editable install writes them at install time: reinstall after adding a
  leaf config to train it by name through mim.
"""
import os
import os.path as osp
import shutil
import warnings

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.develop import develop

try:  # setuptools >= 64 (PEP 660)
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # pragma: no cover
    editable_wheel = None

HERE = osp.dirname(osp.abspath(__file__))
PACKAGE = 'emoreg_mm'
# What mim looks for in `<package>/.mim`.
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def get_version():
    scope = {}
    with open(osp.join(HERE, PACKAGE, 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname):
    """Read a requirements file, following ``-r`` includes."""
    reqs = []
    with open(osp.join(HERE, fname)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


def _clear(path):
    if osp.islink(path) or osp.isfile(path):
        os.remove(path)
    elif osp.isdir(path):
        shutil.rmtree(path)


def leaf_config_names():
    """``configs/<collection>/<name>.py`` -> (name, relative path); the
    leaves ``tools/misc/gen_metafiles.py`` lists, i.e. what mim search
    shows."""
    root = osp.join(HERE, 'configs')
    found = []
    for folder in sorted(os.listdir(root)) if osp.isdir(root) else []:
        if folder.startswith(('_', '.')) or not osp.isdir(
                osp.join(root, folder)):
            continue
        for fname in sorted(os.listdir(osp.join(root, folder))):
            if fname.endswith('.py') and not fname.startswith(('_', '.')):
                found.append((fname[:-3], f'configs/{folder}/{fname}'))
    return found


def write_config_names(mim_dir):
    """One marker file per leaf config, named as mim search lists it.

    mim train/test look for a file named exactly as typed, so without these
    ``mim train emoreg_mm NAME`` (no ``.py``) finds nothing. mim passes the
    marker's path to the tools, which read a path without extension as a
    config name (:func:`emoreg_mm.config_names.resolve_config`).
    """
    names_dir = osp.join(mim_dir, 'names')
    _clear(names_dir)
    os.makedirs(names_dir)
    for name, rel in leaf_config_names():
        with open(osp.join(names_dir, name), 'w') as f:
            f.write(f'emoreg_mm config name of {rel}\n')


def write_mim_files(mim_dir, link):
    """Fill ``mim_dir`` with :data:`MIM_FILES` (symlinks or copies) and the
    config name markers."""
    os.makedirs(mim_dir, exist_ok=True)
    write_config_names(mim_dir)
    for name in MIM_FILES:
        src, dst = osp.join(HERE, name), osp.join(mim_dir, name)
        _clear(dst)
        if not osp.exists(src):
            continue
        if link:
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(
                src, dst,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


class BuildPy(build_py):
    """Copy the mim files into the built package (wheels, regular installs)."""

    def run(self):
        super().run()
        if not getattr(self, 'editable_mode', False):
            write_mim_files(
                osp.join(self.build_lib, PACKAGE, '.mim'), link=False)


class Develop(develop):
    """Legacy ``setup.py develop`` (setuptools < 64): link the mim files."""

    def run(self):
        write_mim_files(osp.join(HERE, PACKAGE, '.mim'), link=True)
        super().run()


cmdclass = dict(build_py=BuildPy, develop=Develop)

if editable_wheel is not None:

    class EditableWheel(editable_wheel):
        """PEP 660 editable wheel: link the mim files; let mim find them."""

        def run(self):
            write_mim_files(osp.join(HERE, PACKAGE, '.mim'), link=True)
            super().run()

        def _ensure_dist_info(self):
            super()._ensure_dist_info()
            path = osp.join(self.dist_info_dir, 'top_level.txt')
            source = osp.join(HERE, PACKAGE)
            with open(path, 'w') as f:
                f.write(f'{source}\n{PACKAGE}\n')

    if not hasattr(editable_wheel, '_ensure_dist_info'):  # pragma: no cover
        warnings.warn('setuptools changed its editable_wheel: `mim` will not '
                      'find emoreg_mm after `pip install -e .`')
    cmdclass['editable_wheel'] = EditableWheel


if __name__ == '__main__':
    setup(
        name=PACKAGE,
        version=get_version(),
        description='Emotional Regulation for image classification, '
        'as an mmpretrain plugin',
        long_description=open(osp.join(HERE, 'README.md')).read()
        if osp.exists(osp.join(HERE, 'README.md')) else '',
        long_description_content_type='text/markdown',
        keywords='image classification, emotion, affective computing, '
        'mmpretrain, openmmlab',
        packages=find_packages(
            include=(PACKAGE, f'{PACKAGE}.*'),
            exclude=('configs*', 'tools*', 'tests*')),
        include_package_data=True,
        python_requires='>=3.8',
        classifiers=[
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'lite': parse_requirements('requirements/lite.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
            'mim': parse_requirements('requirements/mminstall.txt'),
            'demo': parse_requirements('requirements/demo.txt'),
            'diffusion': parse_requirements('requirements/diffusion.txt'),
            'corruptions': parse_requirements('requirements/corruptions.txt'),
            'tracking': parse_requirements('requirements/tracking.txt'),
            'wandb': ['wandb'],
            'mlflow': ['mlflow'],
        },
        cmdclass=cmdclass,
        zip_safe=False)
