"""The shape of the code: the tools are thin command lines over the package,
and nothing imports in a circle.

Read from the source (``ast``), nothing imported: every ``import`` counts,
at module level and inside functions alike.
"""
import ast
import os
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Lines a tool may have: argparse and one package call. The sweep and the
#: results table have many options.
MAX_TOOL_LINES = {'tools/sweep.py': 200,
                  'tools/analysis_tools/results_table.py': 200}
TOOL_LINES = 160


def sources(folder: str) -> dict:
    """``{module name: file}`` of the ``.py`` files under ``folder``."""
    found = {}
    for root, dirs, files in os.walk(osp.join(REPO, folder)):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        for name in files:
            if name.endswith('.py'):
                path = osp.join(root, name)
                parts = osp.relpath(path, REPO)[:-3].split(os.sep)
                if parts[-1] == '__init__':
                    parts = parts[:-1]
                found['.'.join(parts)] = path
    return found


def imports(module: str, path: str, known: dict) -> set:
    """The modules of ``known`` that ``module`` imports (a name imported
    from a package counts as its submodule where there is one; a bare name
    also as a module beside this one, which ``python TOOL`` would find)."""
    is_package = path.endswith('__init__.py')
    folder = module if is_package else module.rpartition('.')[0]
    out = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = module.split('.')
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = '.'.join(parts[:keep] + ([base] if base else []))
            names = [f'{base}.{a.name}' for a in node.names] + [base]
        else:
            continue
        for name in names + [f'{folder}.{n}' for n in names]:
            if name in known and name != module:
                out.add(name)
                break
    return out


def cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_the_package_or_the_tools():
    known = {**sources('emoreg_mm'), **sources('tools')}
    graph = {m: imports(m, p, known) for m, p in known.items()}
    assert cycles(graph) == []
    # the checker sees a cycle where there is one
    assert cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [
        ['a', 'b', 'c']]


def test_tools_import_only_the_package():
    package, tools = sources('emoreg_mm'), sources('tools')
    for module, path in tools.items():
        text = open(path).read()
        assert 'sys.path' not in text, f'{path} edits sys.path'
        assert 'spec_from_file_location' not in text, \
            f'{path} loads a file as a module'
        others = imports(module, path, {**package, **tools}) - set(package)
        assert not others, f'{path} imports the tools {sorted(others)}'


def test_tools_are_thin():
    for path in sources('tools').values():
        rel = osp.relpath(path, REPO)
        lines = len(open(path).read().splitlines())
        assert lines <= MAX_TOOL_LINES.get(rel, TOOL_LINES), \
            f'{rel}: {lines} lines; its library part belongs in emoreg_mm/'
