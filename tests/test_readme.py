"""Every command README.md and the pages in docs/ show is run by a test.

A test that runs a shown command carries
``@pytest.mark.readme("<the command as shown>")``. This module reads the
commands from the ```bash blocks of README.md and docs/*.md and the markers
from the test files (statically, with ``ast``: so ``-m "not slow"`` or
running one file sees every marker), and fails naming each command no test
runs (file and line), and each marker whose command no page shows any more.

What counts as one command: a logical line (``\\`` continuations joined,
comments dropped), with its environment-variable prefixes; a ``for`` /
``while`` / ``if`` block is one command (its lines joined by newlines); a
line that only assigns variables is context, not a command. ``a && b`` is
covered by a marker for the whole line, or by markers for each of ``a`` and
``b``. Whitespace runs compare equal.
"""
import ast
import glob
import os.path as osp
import re
import shlex
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
README = osp.join(REPO, 'README.md')
#: The pages whose commands are run by tests: README.md and docs/*.md.
PAGES = [README] + sorted(glob.glob(osp.join(REPO, 'docs', '*.md')))
TESTS = osp.join(REPO, 'tests')
CI = osp.join(REPO, '.ci', 'run')
TEST_SUITE = 'bash tools/setup_env.sh tests && .venv/bin/python -m pytest tests'
QUICK_LOOP = '.venv/bin/python -m pytest tests -m "not slow"'

OPENERS = {'for', 'while', 'until', 'if', 'case'}
CLOSERS = {'done', 'fi', 'esac'}
ASSIGNMENT = re.compile(r'^(export\s+)?([A-Za-z_]\w*=\S*\s*)+$')


def strip_comment(line: str) -> str:
    """``line`` without its shell comment (a ``#`` outside quotes that
    starts a word)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in '\'"':
            quote = ch
        elif ch == '#' and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def normalize(command: str) -> str:
    """One spelling per command: continuations joined, whitespace runs
    collapsed, line by line."""
    command = re.sub(r'\\\n', ' ', command.strip())
    lines = (' '.join(line.split()) for line in command.split('\n'))
    return '\n'.join(line for line in lines if line)


def split_and(command: str) -> list:
    """The parts of ``a && b && c`` (``&&`` outside quotes)."""
    parts, quote, start = [], None, 0
    for i, ch in enumerate(command):
        if quote:
            quote = None if ch == quote else quote
        elif ch in '\'"':
            quote = ch
        elif command.startswith('&&', i):
            parts.append(command[start:i])
            start = i + 2
    parts.append(command[start:])
    return [normalize(p) for p in parts if p.strip()]


def readme_commands(text: str) -> list:
    """[(line number, command)] of every ```bash block in ``text``."""
    commands = []
    in_block, pending, start, depth = False, [], 0, 0
    for number, raw in enumerate(text.split('\n'), 1):
        if raw.startswith('```'):
            if not in_block and raw[3:].strip().split()[:1] == ['bash']:
                in_block, pending, depth = True, [], 0
            elif in_block:
                assert not pending, f'README.md:{number}: unterminated ' \
                    f'command before the end of the block: {pending}'
                in_block = False
            continue
        if not in_block:
            continue
        line = strip_comment(raw)
        if not line.strip() and not pending:
            continue
        if not pending:
            start = number
        pending.append(line)
        if line.endswith('\\'):
            continue
        words = line.replace(';', ' ; ').split()
        depth += sum(w in OPENERS for w in words[:1])
        depth -= sum(w in CLOSERS for w in words[:1]) + sum(
            a == ';' and b in CLOSERS for a, b in zip(words, words[1:]))
        if depth > 0:
            continue
        command = normalize(''.join(
            p[:-1] + ' ' if p.endswith('\\') else p + '\n'
            for p in pending))
        pending, depth = [], 0
        if command and not ASSIGNMENT.match(command):
            commands.append((start, command))
    return commands


def _is_readme_mark(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func,
                                                      ast.Attribute)
            and node.func.attr == 'readme'
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == 'mark')


def marked_commands(tests_dir: str = TESTS) -> dict:
    """{command: ['tests/file.py::test_name', ...]} of every readme marker
    on a test function or class, or in a module's ``pytestmark``."""
    found = {}
    for path in sorted(glob.glob(osp.join(tests_dir, '**', 'test_*.py'),
                                 recursive=True)):
        rel = osp.relpath(path, osp.dirname(tests_dir))
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        constants = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(
                    node.value, ast.Constant) and isinstance(
                        node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = node.value.value

        def take(where, nodes, rel=rel, constants=constants):
            for node in nodes:
                for call in ast.walk(node):
                    if not _is_readme_mark(call):
                        continue
                    assert len(call.args) == 1, \
                        f'{rel}:{call.lineno}: readme() takes one command'
                    arg = call.args[0]
                    if isinstance(arg, ast.Name) and arg.id in constants:
                        command = constants[arg.id]
                    else:
                        try:
                            command = ast.literal_eval(arg)
                        except ValueError:
                            raise AssertionError(
                                f'{rel}:{call.lineno}: the readme marker\'s '
                                'command must be a string literal or a '
                                'module-level string constant') from None
                    found.setdefault(normalize(command), []).append(
                        f'{rel}::{where}')

        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                 ast.ClassDef)) and node.name.lower(
                                 ).startswith('test'):
                take(node.name, node.decorator_list)
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == 'pytestmark'
                    for t in node.targets):
                take('pytestmark', [node.value])
    return found


def uncovered(commands: list, marked: dict) -> list:
    return [(line, cmd) for line, cmd in commands if cmd not in marked
            and not all(p in marked for p in split_and(cmd))]


def _readme():
    with open(README) as f:
        return f.read()


def shown_commands() -> list:
    """[(page, line number, command)] of README.md and docs/*.md."""
    found = []
    for path in PAGES:
        with open(path) as f:
            found += [(osp.relpath(path, REPO), line, cmd)
                      for line, cmd in readme_commands(f.read())]
    return found


def test_every_shown_command_is_run_by_a_test():
    shown = shown_commands()
    assert readme_commands(_readme()), 'no ```bash commands in README.md'
    marked = marked_commands()
    missing = [(page, line, cmd) for page, line, cmd in shown
               if uncovered([(line, cmd)], marked)]
    assert not missing, (
        f'{len(missing)} shown command(s) no test runs; mark the test '
        'that runs each with @pytest.mark.readme("<command>"):\n' +
        '\n'.join(f'  {page}:{line}: {cmd}' for page, line, cmd in missing))


def test_every_readme_marker_names_a_shown_command():
    shown = set()
    for _, _, cmd in shown_commands():
        shown.add(cmd)
        shown.update(split_and(cmd))
    stale = {cmd: where for cmd, where in marked_commands().items()
             if cmd not in shown}
    assert not stale, 'readme markers for commands neither README.md ' \
        'nor docs/ shows (changed or removed?):\n' + '\n'.join(
            f'  {", ".join(where)}: {cmd}' for cmd, where in stale.items())


@pytest.mark.readme(TEST_SUITE)
def test_ci_runs_the_readme_test_command():
    """The suite runs the suite's command only through CI: .ci/run must run
    exactly the command README gives (``bash .ci/run`` is what CI does)."""
    with open(CI) as f:
        lines = [normalize(strip_comment(line)) for line in f]
    assert TEST_SUITE in lines, f'.ci/run does not run {TEST_SUITE!r}'
    shown = [cmd for _, cmd in readme_commands(_readme())]
    assert TEST_SUITE in shown


@pytest.mark.slow
@pytest.mark.readme(QUICK_LOOP)
def test_quick_loop_leaves_out_the_slow_tests():
    """README's quick loop, with ``--collect-only -q`` appended (running it
    would run most of this suite again inside it)."""
    proc = subprocess.run(
        shlex.split(QUICK_LOOP) + ['--collect-only', '-q'], cwd=REPO,
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ids = proc.stdout.splitlines()
    assert 'tests/test_readme.py::test_extraction' in ids
    assert not any(i.endswith('::test_quick_loop_leaves_out_the_slow_tests')
                   or i.endswith('::test_readme_demo') for i in ids)
    assert 'deselected' in proc.stdout


ONE_PROCESS = ('.venv/bin/python -m pytest -p no:xdist '
               'tests/test_results/test_results_stats.py')


@pytest.mark.readme(ONE_PROCESS)
def test_the_suite_runs_without_pytest_xdist():
    """docs/development.md's one-process run: the parallel options are set
    where xdist is loaded (tests/conftest.py), not in setup.cfg, so without
    it pytest neither fails on ``-n`` nor starts workers."""
    proc = subprocess.run(shlex.split(ONE_PROCESS), cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert ' passed' in proc.stdout and 'failed' not in proc.stdout
    assert 'worker' not in proc.stdout


def test_extraction(tmp_path):
    text = '\n'.join([
        'intro', '```bash', '# a comment', 'FOO=1',
        'bash a.sh && .venv/bin/python -m x  # trailing', '',
        'NNODES=2 PORT=29500 bash tools/dist_train.sh CONFIG 8',
        'python tools/test.py c.py \\', '    --out "a # b"',
        'for m in a b; do', '  for s in 0 1; do',
        '    run $m $s', '  done', 'done', '```', '```python',
        'not = "a command"', '```', '```bash', 'mim search x', '```'])
    commands = [c for _, c in readme_commands(text)]
    assert commands == [
        'bash a.sh && .venv/bin/python -m x',
        'NNODES=2 PORT=29500 bash tools/dist_train.sh CONFIG 8',
        'python tools/test.py c.py --out "a # b"',
        'for m in a b; do\nfor s in 0 1; do\nrun $m $s\ndone\ndone',
        'mim search x',
    ]
    marked = {'bash a.sh': [], '.venv/bin/python -m x': [],
              'mim search x': []}
    assert [c for _, c in uncovered(list(enumerate(commands)), marked)] \
        == commands[1:4]

    tests = tmp_path / 'tests'
    tests.mkdir()
    (tests / 'test_x.py').write_text(
        'import pytest\nCMD = "mim  search x"\n'
        'pytestmark = pytest.mark.readme("bash a.sh")\n'
        '@pytest.mark.slow\n@pytest.mark.readme(CMD)\n'
        'def test_a():\n    assert 1\n'
        '@pytest.mark.parametrize("x", [pytest.param(1, marks='
        'pytest.mark.readme("python tools/test.py c.py \\\\\\n'
        '    --out \\"a # b\\""))])\ndef test_b(x):\n    assert x\n'
        'def helper():\n    pytest.mark.readme("not a test")\n')
    assert marked_commands(str(tests)) == {
        'mim search x': ['tests/test_x.py::test_a'],
        'python tools/test.py c.py --out "a # b"': [
            'tests/test_x.py::test_b'],
        'bash a.sh': ['tests/test_x.py::pytestmark'],
    }


def test_every_relative_link_resolves():
    """README.md and docs/ link each other (and source files) by relative
    path: each must name a file that exists."""
    broken, checked = [], 0
    for path in PAGES:
        with open(path) as f:
            text = f.read()
        for target in re.findall(r'\]\(([^)\s]+)\)', text):
            if re.match(r'[a-z]+:', target) or target.startswith('#'):
                continue
            file = osp.normpath(osp.join(osp.dirname(path),
                                         target.split('#')[0]))
            checked += 1
            if not osp.exists(file):
                broken.append(f'{osp.relpath(path, REPO)}: {target}')
    assert checked > 20  # README's table of pages alone has 11
    assert not broken, 'links to nothing:\n' + '\n'.join(broken)
