"""Install emoreg_mm.

On current torch (no full mmcv wheels from OpenMMLab):
    pip install ".[lite]"          # mmcv-lite provides the `mmcv` module
With a full mmcv already installed (e.g. through `mim install mmcv`):
    pip install .                  # keeps your mmcv untouched
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
# Files that mim looks for in `<package>/.mim`.
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def get_version():
    scope = {}
    with open(osp.join(HERE, 'emoreg_mm', 'version.py')) as f:
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


def add_mim_extension():
    """Place configs, tools and model-index.yml in ``emoreg_mm/.mim``.

    Editable installs link them (edits show at once); regular installs and
    wheels copy them, so ``mim train emoreg_mm CONFIG`` finds them.
    """
    editable = any(cmd in sys.argv for cmd in ('develop', 'editable_wheel'))
    building = editable or any(
        cmd in sys.argv for cmd in ('install', 'bdist_wheel', 'sdist',
                                    'build', 'build_py'))
    if not building:
        return
    mim_dir = osp.join(HERE, 'emoreg_mm', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        dst = osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if not osp.exists(src):
            continue
        if editable:
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='emoreg_mm',
        version=get_version(),
        description='Emotional Regulation for image classification, '
        'as an mmpretrain plugin',
        long_description=open(osp.join(HERE, 'README.md')).read()
        if osp.exists(osp.join(HERE, 'README.md')) else '',
        long_description_content_type='text/markdown',
        keywords='image classification, emotion, affective computing, '
        'mmpretrain, openmmlab',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={'emoreg_mm': ['.mim/**/*', '.mim/*']},
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
        },
        zip_safe=False)
