"""Shared pytest fixtures: tiny datasets in each set's native layout.

The builders live in ``tests/affective_fixtures.py``: plain functions any
test imports directly (``from affective_fixtures import make_emoset``; this
file puts ``tests/`` on ``sys.path``). The fixtures below call them into a
``tmp_path``.
"""
import os
import os.path as osp
import sys

# Before OpenMP is loaded (with torch), here and, through the environment,
# in the workers and every process the tests start: an OpenMP thread that
# waits for work sleeps instead of spinning on a core that the other
# workers need (the benchmark's 2 threads beside a busy core: 18.9 -> 9.2
# CPU-s, 14.8 -> 9.3 s).
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import pytest  # noqa: E402

_TESTS = osp.dirname(osp.abspath(__file__))
if _TESTS not in sys.path:  # `import affective_fixtures` in any import mode
    sys.path.insert(0, _TESTS)

import affective_fixtures as fx  # noqa: E402

if os.environ.get('PYTEST_XDIST_WORKER'):
    # One worker per core (pytest_cmdline_main below): one CPU thread in each worker and,
    # through the environment, in the processes its tests start (those
    # that set their own keep it). More threads would oversubscribe the
    # cores, and waiting OpenMP threads spin on cores that other work needs.
    os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = '1'
    import torch
    torch.set_num_threads(1)

# The components, as a user's Python code registers them before building
# from mmpretrain's registries (tools register in their main()).
from emoreg_mm.utils import register_all_modules  # noqa: E402

register_all_modules(init_default_scope=False)

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(8, 8)),
    dict(type='PackInputs'),
]


@pytest.fixture
def pipeline():
    """mmpretrain's own LoadImageFromFile -> Resize(8x8) -> PackInputs."""
    return [dict(t) for t in PIPELINE]


@pytest.fixture
def mm_log():
    """What mmengine's current logger prints at INFO and above during the
    test (its loggers do not propagate to pytest's ``caplog``): read
    ``mm_log.getvalue()``."""
    import io
    import logging

    from mmengine.logging import MMLogger
    logger, log = MMLogger.get_current_instance(), io.StringIO()
    handler, level = logging.StreamHandler(log), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield log
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def emoset_root(tmp_path):
    return fx.make_emoset(str(tmp_path / 'EmoSet'))


@pytest.fixture
def abstract_root(tmp_path):
    return fx.make_abstract(str(tmp_path / 'testImages_abstract'))


@pytest.fixture
def emod_root(tmp_path):
    return fx.make_emod(str(tmp_path / 'EMOd'))


@pytest.fixture
def affective_folder_root(tmp_path):
    return fx.make_affective_folder(str(tmp_path / 'stimuli'))


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """In parallel by default where pytest-xdist is loaded, unless the
    command line says otherwise (``-n 0``, ``-n 2``, ``--dist load``...):
    one worker more than the usable cores, at most 4
    (``PYTEST_XDIST_AUTO_NUM_WORKERS`` overrides, as in pytest-xdist), and
    each test file on one worker (``--dist loadfile``). Many tests wait on a
    child process or a Slurm job for part of their time; the extra worker
    uses the core meanwhile (on 2 cores: 595 s with 3 workers, about 620 s
    with 2). Set here rather than in setup.cfg's ``addopts`` so that
    ``pytest -p no:xdist`` runs the suite in one process instead of failing
    on options nothing defines. Not in a worker: xdist set them there."""
    option = config.option
    if not config.pluginmanager.hasplugin('xdist') or \
            hasattr(config, 'workerinput'):
        return
    if option.numprocesses is None:
        option.numprocesses = int(
            os.environ.get('PYTEST_XDIST_AUTO_NUM_WORKERS') or
            min(len(os.sched_getaffinity(0)) + 1, 4))
    if option.dist == 'no' and option.numprocesses != 0:
        option.dist = 'loadfile'
        option.loadscopereorder = False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Files holding ``slow`` tests run first, the most slow tests first,
    then the rest (each file's own order kept). Under pytest-xdist's
    ``--dist loadfile`` (:func:`pytest_cmdline_main`) each file is one unit of work, on one
    worker (its module fixtures are built once): so no long end-to-end file
    starts last while the other workers idle. Tests sharing a session
    resource live in one file (the Slurm cluster, set up once:
    tests/test_tools/test_slurm.py)."""
    files = {}
    for item in items:
        files.setdefault(item.nodeid.split('::')[0], []).append(item)
    order = sorted(files, key=lambda path: -sum(
        1 for i in files[path] if i.get_closest_marker('slow')))  # stable
    items[:] = [item for path in order for item in files[path]]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """``EMOREG_CPU_LOG=FILE``: append each test's CPU seconds (set-up,
    call and tear-down; this process, then its waited-for child processes)
    to FILE, one tab-separated line per test, then the worker and when the
    test started and ended (seconds since the epoch): where a parallel
    run's workers idled. On a shared machine the CPU a test costs is
    steadier than its wall time."""
    log = os.environ.get('EMOREG_CPU_LOG')
    if not log:
        yield
        return
    import resource
    import time

    def cpu(who):
        use = resource.getrusage(who)
        return use.ru_utime + use.ru_stime

    before = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
    start = time.time()
    yield
    own = cpu(resource.RUSAGE_SELF) - before[0]
    children = cpu(resource.RUSAGE_CHILDREN) - before[1]
    with open(log, 'a') as f:
        f.write(f'{item.nodeid}\t{own:.2f}\t{children:.2f}\t'
                f'{os.environ.get("PYTEST_XDIST_WORKER", "-")}\t'
                f'{start:.2f}\t{time.time():.2f}\n')
