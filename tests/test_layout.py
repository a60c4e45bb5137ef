"""The package's layering: no import circles between the project's modules.

The graph is read from source with :mod:`ast`, so it sees every ``import`` and
``from … import`` of a project module — at module top, inside functions and
under ``TYPE_CHECKING`` alike: an import deferred into a function to dodge a
circle is still a circle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("precision_jax", "cli")


def module_files(root: Path = ROOT, packages=PACKAGES) -> dict[str, Path]:
    """Module name → source file, for every module of ``packages`` under ``root``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def import_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, dict[str, int]]:
    """Module → {imported project module: line of the first such import}."""
    modules = module_files(root, packages)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against this module's package
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    base_parts = package[: len(package) - node.level + 1]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module
                # `from pkg import sub` imports the submodule; `from pkg import name` imports pkg itself.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                # `import a.b.c` names a.b.c; keep the longest prefix that is a project module.
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target:
                    edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import circle as ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, {})):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    files = module_files()
    steps = [f"  {a} ({files[a].relative_to(ROOT)}:{graph[a][b]}) imports {b}" for a, b in zip(cycle, cycle[1:])]
    return "import circle:\n" + "\n".join(steps)


def test_no_import_circles():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, graph)


def test_approximators_and_stages_never_import_the_schema():
    # They fill the registries that config.py reads; config.py imports them.
    graph = import_graph()
    offenders = [f"{module} (line {edges['precision_jax.experiment']})" for module, edges in graph.items()
                 if module.startswith(("precision_jax.models", "precision_jax.engine.stages"))
                 and "precision_jax.experiment" in edges]
    assert not offenders, f"import precision_jax.experiment: {', '.join(offenders)}"


def test_the_engine_and_the_registries_import_no_schema():
    graph = import_graph()
    assert set(graph["precision_jax.config.engine"]) == set()
    assert set(graph["precision_jax.config.kinds"]) == {"precision_jax.config.engine"}


def test_the_graph_sees_deferred_relative_and_submodule_imports(tmp_path):
    # A deferred import is the usual way to hide a circle; the checker must not be fooled by it.
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("import os\nfrom pkg.sub import b\n")
    (package / "sub" / "__init__.py").write_text("from .b import thing\n")
    (package / "sub" / "b.py").write_text("thing = 1\ndef f():\n    from ..c import g\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.a"] == {"pkg.sub.b": 2}
    assert graph["pkg.sub"] == {"pkg.sub.b": 1}
    assert graph["pkg.sub.b"] == {"pkg.c": 3}
    assert graph["pkg.c"] == {"pkg.a": 3}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    (package / "c.py").write_text("import json\n")
    assert find_cycle(import_graph(tmp_path, ("pkg",))) is None
