"""The package's layering: no import circles, and no layer importing one above it.

The graph is read from source with :mod:`ast`, so it sees every ``import`` and
``from … import`` of a project module — at module top, inside functions and
under ``TYPE_CHECKING`` alike: an import deferred into a function to dodge a
circle is still a circle in the design.

The layers are pyproject.toml's import-linter contract (``lint-imports`` in
.ci/run checks it); the tests here check that the contract is the pipeline's
order, that every module lies in a layer, and (so that pytest alone catches a
violation, with file and line) that the graph keeps to it.
"""

from __future__ import annotations

import ast
import tomllib
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
    # The registries may lean on a sibling parser (config.auto_budget: the `train: {auto: …}` form), which in
    # turn may import only the config engine: nothing below reaches the schema or the layers above.
    assert set(graph["precision_jax.config.kinds"]) == {"precision_jax.config.engine",
                                                        "precision_jax.config.auto_budget"}
    assert set(graph["precision_jax.config.auto_budget"]) == {"precision_jax.config.engine"}


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


PIPELINE = ["cli", "precision_jax.use", "precision_jax.analysis", "precision_jax.runs", "precision_jax.experiment",
            "precision_jax.engine", "precision_jax.models", "precision_jax.problems", "precision_jax.numerics",
            "precision_jax.config"]
FACE = "precision_jax"  # the package's __init__: in no layer (it re-exports the Python API, lazily)


def layers_contract() -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["type"] == "layers"]
    return contract


def layer_of(module: str, layers: list[str]) -> int | None:
    """Index of ``module``'s layer, top first, or None."""
    return next((i for i, layer in enumerate(layers) if module == layer or module.startswith(layer + ".")), None)


def test_the_layers_contract_is_the_pipeline_and_covers_every_module():
    contract = layers_contract()
    assert contract["layers"] == PIPELINE
    assert [m for m in module_files() if m != FACE and layer_of(m, PIPELINE) is None] == []
    # The one ignored import is the face's lazy re-export of the API, nothing else.
    assert contract.get("ignore_imports", []) == [f"{FACE} -> precision_jax.use.api"]


def layer_violations(graph: dict[str, dict[str, int]], layers: list[str], ignored: set[tuple[str, str]],
                     face: str = FACE) -> list[tuple[str, int, str]]:
    """``(module, line, target)`` for every import of a layer above the importer's.

    Importing the package's face runs the face's own imports, so the importer reaches those too (bar the
    ignored, lazy one).
    """
    through_face = {t for t in graph.get(face, {}) if (face, t) not in ignored}
    violations = []
    for module, edges in graph.items():
        low = layer_of(module, layers)
        if low is None:
            continue
        reached = {**edges, **({t: edges[face] for t in through_face} if face in edges else {})}
        for target, line in sorted(reached.items()):
            high = layer_of(target, layers)
            if high is not None and high < low and (module, target) not in ignored:
                violations.append((module, line, target))
    return violations


def test_no_layer_imports_a_layer_above_it():
    graph = import_graph()
    ignored = {tuple(rule.split(" -> ")) for rule in layers_contract().get("ignore_imports", [])}
    files = module_files()
    found = [f"{files[m].relative_to(ROOT)}:{line}: {m} imports {t}" for m, line, t in
             layer_violations(graph, PIPELINE, ignored)]
    assert not found, "a layer imports one above it:\n" + "\n".join(found)


def test_the_layer_check_sees_direct_imports_and_imports_through_the_face():
    layers = ["pkg.top", "pkg.middle", "pkg.low"]
    graph = {"pkg": {"pkg.top.api": 5, "pkg.middle.b": 6}, "pkg.top.api": {"pkg.low": 1},
             "pkg.middle.b": {"pkg.low.c": 2}, "pkg.low": {}, "pkg.low.c": {"pkg.middle.b": 3},
             "pkg.lowest": {"pkg": 4}}  # a prefix, not a sub-package: in no layer
    ignored = {("pkg", "pkg.top.api")}
    up = ("pkg.low.c", 3, "pkg.middle.b")  # a direct import of a layer above
    assert layer_violations(graph, layers, ignored, "pkg") == [up]
    # Importing the face reaches what the face imports, but not its ignored (lazy) import.
    graph["pkg.low"] = {"pkg": 7}
    assert layer_violations(graph, layers, ignored, "pkg") == [("pkg.low", 7, "pkg.middle.b"), up]
    assert layer_violations(graph, layers, set(), "pkg") == [("pkg.low", 7, "pkg.middle.b"),
                                                             ("pkg.low", 7, "pkg.top.api"), up]
