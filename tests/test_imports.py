"""The package's import structure: every module imports, no module-level import cycle, topics apart from the build."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from kuntalib import paths

TOPICS = ("barometer", "fhir", "scenarios", "indicators")


def _modules() -> dict[str, Path]:
    root = paths.package_dir()
    out = {}
    for p in sorted(root.rglob("*.py")):
        parts = ("kuntalib", *p.relative_to(root).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: not in a function or class body, not under TYPE_CHECKING."""
    found = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            todo += node.body + node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        elif isinstance(node, ast.With):
            todo += node.body
    return found


def import_graph() -> dict[str, set[str]]:
    """kuntalib module -> the kuntalib modules its module-level imports load (a package's own ancestors excepted:
    they are always loaded before it)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        edges = set()
        for node in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: package.count(".") + 2 - node.level] + ([base] if base else []))
                # "from P import m": P's __init__ runs, then m if it is a module
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            edges |= {t for t in targets if t in modules and t != name and t not in ancestors}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that starts and ends at the same module, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_module_level_import_cycle():
    graph = import_graph()
    assert graph["kuntalib.indicators.load"] >= {"kuntalib.indicators.model", "kuntalib.indicators.sheets"}
    assert graph["kuntalib.fhir.steps"] >= {"kuntalib.fhir.ingest", "kuntalib.fhir.simulate", "kuntalib.upstream"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_topic_code_does_not_import_the_build_tool():
    """Step functions return plain dicts; only the notebook and the build know run_step."""
    for name, path in _modules().items():
        if name.split(".")[1:2] and name.split(".")[1] in TOPICS:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            used = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            used |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
            assert not [u for u in used if u.startswith("kuntalib.pipeline")], name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_every_module_imports(name):
    importlib.import_module(name)
