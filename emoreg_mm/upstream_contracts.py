"""Run mmengine's and mmpretrain's own tests without and with emoreg_mm
(``tools/misc/upstream_contracts.py``, docs/advanced.md).

The patches in :mod:`emoreg_mm.compat` replace pieces of mmengine and
mmpretrain; :func:`run` checks that upstream's own test suites, at the
installed versions, give the same outcome with the plugin imported as
without it. Each chosen test module runs twice in a fresh copy of the tests
(plain, and with a ``conftest.py`` that imports the plugin first, so the
patches apply), with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` unset and/or set
to 1. The junit XML of each run is compared and every test whose outcome
differs is reported, with the reason where the difference is a listed
deliberate one (:data:`KNOWN`, the table in docs/advanced.md).

The tests come from a checkout (or its ``tests/`` folder) at the installed
version, or the sdist of the installed version fetched with ``pip download
--no-deps --no-binary :all:`` into a cache folder (the sdists of mmengine
0.10.7 and mmpretrain 1.2.0 ship without ``tests/``: then the run stops and
says to give a checkout). Once the tests are at hand everything runs
offline. Standard library (and pip, for a download) only: torch is imported
by the pytest runs, not here.
"""
import importlib.metadata
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from typing import Dict, List, NamedTuple, Optional, Tuple

from . import fileio

#: The upstream test modules run by default, per package.
DEFAULT_MODULES = {
    'mmengine': [
        'tests/test_dist', 'tests/test_fileio', 'tests/test_hooks',
        'tests/test_logging', 'tests/test_runner/test_checkpoint.py',
        'tests/test_runner/test_runner.py'
    ],
    'mmpretrain': [
        'tests/test_apis', 'tests/test_datasets/test_datasets.py',
        'tests/test_models/test_classifiers.py',
        'tests/test_models/test_heads.py'
    ],
}
ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
#: Where fetched sdists are kept by default.
CACHE_DIR = osp.join(osp.expanduser('~'), '.cache', 'emoreg_mm',
                     'upstream_tests')
FAILING = ('failed', 'error', 'absent')

#: Deliberate differences: (test id, torch env 'unset' / 'set' / 'any')
#: -> why the outcome differs with the plugin. Breaks listed here do not
#: fail the check; fixes are listed for the reader.
KNOWN: Dict[Tuple[str, str], str] = {
    ('tests.test_runner.test_runner.TestRunner::test_checkpoint', 'set'):
    'checkpoints hold the message hub history as plain data (loadable with '
    'weights_only=True), so a raw torch.load no longer unpickles '
    'HistoryBuffer and does not re-register its statistics (step 2.1.2); '
    'MessageHub.load_state_dict rebuilds them',
    ('tests.test_runner.test_runner.TestRunner::test_checkpoint', 'unset'):
    'fails both ways from step 1.1: the test torch.loads a checkpoint with '
    "torch's weights_only default",
    ('tests.test_hooks.test_checkpoint_hook.TestCheckpointHook'
     '::test_with_runner_0_iter', 'unset'):
    "fixed: the plugin's checkpoints load under torch's weights_only "
    'default',
    ('tests.test_hooks.test_ema_hook.TestEMAHook::test_with_runner',
     'unset'):
    "fixed: the plugin's checkpoints load under torch's weights_only "
    'default',
    ('tests.test_hooks.test_checkpoint_hook.TestCheckpointHook'
     '::test_with_runner_1_epoch', 'unset'):
    "fixed: the plugin's checkpoints load under torch's weights_only "
    'default',
}


def fail(message: str):
    """Stop with ``message`` on stderr and exit status 2."""
    print(message, file=sys.stderr)
    raise SystemExit(2)


class Row(NamedTuple):
    """One test whose outcome differs."""
    test: str
    without: str
    with_: str
    reason: str

    @property
    def breaks(self) -> bool:
        """The plugin makes a passing (or skipped) test fail."""
        return self.without not in FAILING and self.with_ in FAILING


def parse_junit(path: str) -> Dict[str, str]:
    """``{test id: outcome}`` of a pytest junit XML file.

    The id is ``classname::name``; the outcome is ``passed``, ``failed``,
    ``error`` (setup, teardown or collection), or ``skipped`` (xfail
    included).
    """
    try:
        root = ET.fromstring(fileio.read_bytes(path, 64 << 20))
    except ET.ParseError as err:
        raise ValueError(f'{path}: not junit XML ({err})') from None
    if root.tag not in ('testsuites', 'testsuite'):
        raise ValueError(f'{path}: expected <testsuites> or <testsuite> at '
                         f'the top, found <{root.tag}>')
    outcomes = {}
    for case in root.iter('testcase'):
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        tags = {child.tag for child in case}
        if 'failure' in tags:
            outcome = 'failed'
        elif 'error' in tags:
            outcome = 'error'
        elif 'skipped' in tags:
            outcome = 'skipped'
        else:
            outcome = 'passed'
        # a test that passed and then errored in teardown reports twice
        if outcomes.get(test) not in ('failed', 'error'):
            outcomes[test] = outcome
    return outcomes


def known_reason(test: str, torch_env: str,
                 known: Dict[Tuple[str, str], str]) -> str:
    """The listed reason for ``test`` under ``torch_env``, or ''."""
    return known.get((test, torch_env)) or known.get((test, 'any'), '')


def compare(without: Dict[str, str],
            with_: Dict[str, str],
            torch_env: str,
            known: Dict[Tuple[str, str], str] = KNOWN) -> List[Row]:
    """The tests whose outcome differs (a test missing from one run, e.g.
    after a crash, is ``absent`` there), sorted by id."""
    rows = []
    for test in sorted(set(without) | set(with_)):
        a, b = without.get(test, 'absent'), with_.get(test, 'absent')
        if a != b:
            rows.append(Row(test, a, b, known_reason(test, torch_env,
                                                     known)))
    return rows


def format_table(rows: List[Row]) -> str:
    """A markdown table of ``rows`` (``(none)`` when empty)."""
    if not rows:
        return '(none)'
    lines = ['| test | without | with | known reason |', '|---|---|---|---|']
    for row in rows:
        reason = row.reason or ('UNLISTED' if row.breaks else '')
        lines.append(f'| {row.test} | {row.without} | {row.with_} | '
                     f'{reason} |')
    return '\n'.join(lines)


def unlisted_breaks(rows: List[Row]) -> List[Row]:
    """Rows where the plugin breaks a test and no reason is listed."""
    return [row for row in rows if row.breaks and not row.reason]


# --------------------------------------------------------------------------
# Getting the tests
# --------------------------------------------------------------------------
def tests_root(folder: str, package: str) -> str:
    """The folder that holds ``tests/``: ``folder`` or, when ``folder`` is
    itself ``tests/``, its parent."""
    folder = osp.abspath(osp.expanduser(folder))
    if osp.isdir(osp.join(folder, 'tests')):
        return folder
    if osp.basename(folder) == 'tests' and osp.isdir(folder):
        return osp.dirname(folder)
    fail(
        f'--{package}-tests {folder}: expected a {package} checkout (with a '
        'tests/ folder) or its tests/ folder')


def fetch_sdist(package: str, version: str, cache_dir: str) -> str:
    """The root of ``package``'s sdist at ``version`` under ``cache_dir``
    (downloaded with pip when absent); stops when it has no ``tests/``."""
    dest = osp.join(cache_dir, f'{package}-{version}')
    if not osp.isdir(osp.join(dest, 'tests')):
        with tempfile.TemporaryDirectory() as tmp:
            # setuptools < 70 in pip's build environment: these setup.py
            # files import pkg_resources just to report their metadata.
            constraint = osp.join(tmp, 'constraints.txt')
            fileio.atomic_write_text(constraint, 'setuptools<70\n')
            cmd = [
                sys.executable, '-m', 'pip', 'download', '--no-deps',
                '--no-binary', ':all:', f'{package}=={version}', '-d', tmp
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  env=dict(os.environ,
                                           PIP_CONSTRAINT=constraint))
            archives = [f for f in os.listdir(tmp) if f.endswith('.tar.gz')]
            if proc.returncode or not archives:
                fail(
                    f'pip could not download the sdist of {package} '
                    f'{version}:\n{proc.stderr[-2000:]}\nGive the tests '
                    f'with --{package}-tests DIR.')
            with tarfile.open(osp.join(tmp, archives[0])) as tar:
                names = [m for m in tar.getmembers()
                         if '/tests/' in m.name and (m.isfile() or m.isdir())]
                if not names:
                    fail(
                        f'The sdist of {package} {version} has no tests/ '
                        f'folder. Give a checkout at its tag: git clone '
                        f'--depth 1 --branch v{version} '
                        f'https://github.com/open-mmlab/{package} and '
                        f'--{package}-tests {package}')
                tar.extractall(tmp, members=names, filter='data')
            top = names[0].name.split('/')[0]
            if osp.isdir(dest):
                shutil.rmtree(dest)
            shutil.copytree(osp.join(tmp, top), dest)
    return dest


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------
CONFTEST = '''\
"""Written by emoreg_mm.upstream_contracts."""
import importlib
import importlib.util
import json
import os.path as osp
import sys

PLUGIN = {plugin!r}  # registered before any test module when not None
if PLUGIN:
    module = importlib.import_module(PLUGIN)
    if hasattr(module, '__path__') and importlib.util.find_spec(
            PLUGIN + '.utils'):  # a package registers as OpenMMLab's do
        importlib.import_module(PLUGIN + '.utils').register_all_modules(
            init_default_scope=False)


def pytest_sessionfinish(session):
    with open(osp.join(osp.dirname(__file__), 'plugin_state.json'),
              'w') as f:
        json.dump(dict(imported={top!r} in sys.modules), f)
'''


class Run(NamedTuple):
    outcomes: Dict[str, str]
    seconds: float
    returncode: int


def run_tests(root: str, modules: List[str], work: str,
              plugin: Optional[str], check_plugin: str, torch_env: str,
              timeout: float) -> Run:
    """Run ``modules`` of the tests under ``root`` in a fresh copy in
    ``work``; ``plugin`` (a module name) is imported first when given."""
    copy = osp.join(work, 'tree')
    shutil.copytree(osp.join(root, 'tests'), osp.join(copy, 'tests'))
    # an ini file here stops pytest from reading one further up
    fileio.atomic_write_text(osp.join(copy, 'pytest.ini'), '[pytest]\n')
    fileio.atomic_write_text(
        osp.join(copy, 'conftest.py'),
        CONFTEST.format(plugin=plugin, top=check_plugin))
    junit = osp.join(work, 'junit.xml')
    env = dict(os.environ)
    env.pop(ENV, None)
    if torch_env == 'set':
        env[ENV] = '1'
    cmd = [
        sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
        '-p', 'no:xdist', '--tb=native', '--continue-on-collection-errors',
        f'--junitxml={junit}', *modules
    ]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=copy, env=env, timeout=timeout,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        returncode, output = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as err:
        returncode = -1
        output = (err.stdout or b'').decode(errors='replace') \
            if isinstance(err.stdout, bytes) else (err.stdout or '')
    seconds = time.monotonic() - start
    fileio.atomic_write_text(osp.join(work, 'pytest.log'), output)
    if not osp.isfile(junit):
        fail(f'pytest wrote no {junit} (exit {returncode}); '
             f'see {osp.join(work, "pytest.log")}')
    state = osp.join(copy, 'plugin_state.json')
    imported = fileio.read_json(state)['imported'] if osp.isfile(
        state) else None
    if imported is not None and imported != (plugin is not None):
        fail(
            f'{work}: {check_plugin} was {"" if imported else "not "}'
            f'imported in the run {"with" if plugin else "without"} it; '
            'the comparison would mean nothing')
    return Run(parse_junit(junit), seconds, returncode)


def counts(outcomes: Dict[str, str]) -> str:
    """``'3 passed, 1 failed'``."""
    tally = {}
    for outcome in outcomes.values():
        tally[outcome] = tally.get(outcome, 0) + 1
    return ', '.join(f'{n} {k}' for k, n in sorted(tally.items())) or 'none'


class Suite(NamedTuple):
    """One package's upstream tests to run."""
    package: str  #: ``mmengine`` or ``mmpretrain``
    folder: Optional[str] = None  #: a checkout or its tests/; None: sdist
    modules: Optional[List[str]] = None  #: None: DEFAULT_MODULES'


def run(suites: List[Suite], work: str, torch_envs: List[str],
        plugin: str = 'emoreg_mm', cache_dir: str = CACHE_DIR,
        timeout: float = 3600, out: Optional[str] = None,
        known: Dict[Tuple[str, str], str] = KNOWN) -> int:
    """Run each suite without and with ``plugin`` and print the tables.

    Args:
        suites (list[Suite]): The packages' tests; one with no modules is
            skipped.
        work (str): Where the copies, junit files and logs go.
        torch_envs (list[str]): ``unset`` and / or ``set``.
        plugin (str): The module imported first in the runs with it.
        cache_dir (str): Where fetched sdists are kept. Defaults to
            :data:`CACHE_DIR`.
        timeout (float): Seconds per pytest run.
        out (str, optional): Also write the tables to this file.
        known (dict): The deliberate differences. Defaults to
            :data:`KNOWN`.

    Returns:
        int: 1 when the plugin makes a test fail that passes (or is
        skipped) without it and the difference is not in ``known``; else 0.
        Bad input stops with exit status 2 (:func:`fail`).
    """
    top = plugin.split('.')[0]
    report, failing = [], []
    for suite in suites:
        package = suite.package
        modules = DEFAULT_MODULES[package] if suite.modules is None \
            else suite.modules
        # In path order, as `pytest tests` (upstream's CI) runs them: some
        # upstream tests change global state for the ones after them (the
        # runner's test_checkpoint clears HistoryBuffer's registered
        # statistics, which test_history_buffer then misses).
        modules = sorted(modules)
        if not modules:
            continue
        version = importlib.metadata.version(package)
        root = tests_root(suite.folder, package) if suite.folder else \
            fetch_sdist(package, version, cache_dir)
        for module in modules:
            if not osp.exists(osp.join(root, module.split('::')[0])):
                fail(f'{package} tests: no {module} under {root}')
        for torch_env in torch_envs:
            runs = {}
            for mode, plugged in (('without', None), ('with', plugin)):
                folder = osp.join(work, f'{package}-{torch_env}-{mode}')
                runs[mode] = run_tests(root, modules, folder, plugged, top,
                                       torch_env, timeout)
                print(f'{package} {version}, {ENV} {torch_env}, {mode} '
                      f'{plugin}: {counts(runs[mode].outcomes)} in '
                      f'{runs[mode].seconds:.0f} s ({folder})', flush=True)
            rows = compare(runs['without'].outcomes, runs['with'].outcomes,
                           torch_env, known)
            failing += unlisted_breaks(rows)
            report.append(f'### {package} {version}, {ENV} {torch_env}: '
                          f'{" ".join(modules)}\n\n{format_table(rows)}\n')
    text = '\n'.join(report)
    print('\n' + text)
    if out:
        fileio.atomic_write_text(out, text)
    if failing:
        print(f'{len(failing)} test(s) pass without {plugin} and fail '
              'with it, with no listed reason (UNLISTED above).')
        return 1
    return 0
