"""The imports of ``ivr`` run one way: no cycle, and the flow language stays a language.

The graph is read from the source with ``ast``, so it sees every import, including the
ones inside functions (a lazy import hides a cycle, it does not remove it). Imports under
``if TYPE_CHECKING:`` are left out: they never run. ``from x import y`` where ``y`` is a
submodule is an import of ``x.y``; otherwise of ``x`` (its ``__init__``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: What the flow language (``ivr.flows.*``) must not import, directly or through others.
NOT_FROM_FLOWS = ("ivr.engine", "ivr.store", "ivr.channels", "ivr.web", "ivr.screenpop",
                  "ivr.service")
#: Modules at the bottom of the tree: they import nothing of ``ivr``.
LEAVES = ("ivr.phone", "ivr.metrics", "ivr.clock")


@dataclass(frozen=True, slots=True)
class Edge:
    target: str
    line: int


def module_names(package: Path) -> dict[str, Path]:
    """Dotted name -> file for every module of the package rooted at ``package``."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``body`` and below, except under ``if TYPE_CHECKING``."""
    for stmt in body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            yield stmt
        elif isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
            yield from _imports(stmt.orelse)
            continue
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                yield from _imports([child])
            elif isinstance(child, ast.excepthandler | ast.match_case):
                yield from _imports(child.body)


def _base(stmt: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not stmt.level:
        return stmt.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (stmt.level - 1)]
    return ".".join([*parts, stmt.module] if stmt.module else parts)


def import_graph(package: Path) -> dict[str, list[Edge]]:
    """Module -> the modules of the same package it imports (with the line)."""
    modules = module_names(package)
    graph: dict[str, list[Edge]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges = []
        for stmt in _imports(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(stmt, ast.Import):
                targets = [alias.name for alias in stmt.names]
            else:
                base = _base(stmt, name, is_package)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in stmt.names]
            edges += [Edge(t, stmt.lineno) for t in targets if t in modules and t != name]
        graph[name] = edges
    return graph


def find_cycle(graph: Mapping[str, list[Edge]]) -> list[tuple[str, int]] | None:
    """One cycle as (module, line of its import of the next) pairs, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[tuple[str, int]] = []

    def visit(node: str) -> list[tuple[str, int]] | None:
        state[node] = 1
        for edge in graph.get(node, []):
            path.append((node, edge.line))
            if state.get(edge.target) == 1:
                start = next(i for i, (m, _) in enumerate(path) if m == edge.target)
                return [*path[start:], (edge.target, 0)]
            if edge.target not in state and (found := visit(edge.target)) is not None:
                return found
            path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def reachable(graph: Mapping[str, list[Edge]], start: str) -> dict[str, str]:
    """Every module ``start`` imports, directly or not -> the module that imports it."""
    via: dict[str, str] = {}
    todo = [start]
    while todo:
        node = todo.pop()
        for edge in graph[node]:
            if edge.target not in via and edge.target != start:
                via[edge.target] = node
                todo.append(edge.target)
    return via


def _show(cycle: list[tuple[str, int]]) -> str:
    return " -> ".join(f"{m}:{line}" if line else m for m, line in cycle)


def _inside(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


GRAPH = import_graph(ROOT / "ivr")


def test_no_import_cycle_in_ivr() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, f"import cycle: {_show(cycle)}"


def test_the_flow_language_imports_no_runtime_store_or_web() -> None:
    flows = [m for m in GRAPH if _inside(m, ("ivr.flows",))]
    assert "ivr.flows.compile.driver" in flows and "ivr.flows.model" in flows
    wrong = {}
    for module in flows:
        via = reachable(GRAPH, module)
        for target in sorted(t for t in via if _inside(t, NOT_FROM_FLOWS)):
            wrong[f"{module} -> {target}"] = f"imported by {via[target]}"
    assert wrong == {}


def test_the_leaves_import_nothing_of_ivr() -> None:
    assert {leaf: [e.target for e in GRAPH[leaf]] for leaf in LEAVES} == {
        leaf: [] for leaf in LEAVES}


def test_the_graph_reads_every_form_of_import(tmp_path: Path) -> None:
    # The checker itself, on a package written for it: relative and absolute imports,
    # `from package import submodule`, lazy imports count; TYPE_CHECKING ones do not.
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from . import b\nfrom pkg.sub import c\n",
        "b.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"
                 "else:\n    import pkg.sub\n"),
        "sub/__init__.py": "from .c import X\n",
        "sub/c.py": "X = 1\ndef late() -> None:\n    from ..a import b\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    graph = import_graph(pkg)
    assert {m: [(e.target, e.line) for e in edges] for m, edges in graph.items()} == {
        "pkg": [],
        "pkg.a": [("pkg.b", 1), ("pkg.sub.c", 2)],
        "pkg.b": [("pkg.sub", 5)],
        "pkg.sub": [("pkg.sub.c", 1)],
        "pkg.sub.c": [("pkg.a", 3)],
    }
    cycle = find_cycle(graph)
    assert cycle is not None
    assert _show(cycle) == "pkg.a:1 -> pkg.b:5 -> pkg.sub:1 -> pkg.sub.c:3 -> pkg.a"
    assert sorted(reachable(graph, "pkg.b")) == ["pkg.a", "pkg.sub", "pkg.sub.c"]
