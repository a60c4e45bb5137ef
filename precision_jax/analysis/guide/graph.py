"""A formula's computation graph: its largest arity d* and its module graph.

d*
--
Write the formula as a graph whose nodes are the operations of the restricted grammar
(:mod:`precision_jax.problems.formula`): ``+ − × ÷ **`` take two operands, the functions one. A sum or product of
n terms is a tree of n − 1 binary nodes (sympy stores it as one n-ary node; flattening it back into binary nodes
is how the paper's d* = 2 for its d ≥ 3 formulas comes out). Constants are parameters of a node, not inputs. The
arity of a node is the number of its non-constant operands, capped by the number of distinct variables its
subtree depends on (a subtree in k variables is, for an approximator, one function of k inputs however it is
written). Then

    d* = max over nodes of min(#non-constant operands (≤ 2), #distinct variables below the node),

so d* = 0 for a constant, 1 for a formula in one variable, and 2 for every other formula the grammar can write
(it has no operation of three or more inputs). That is the paper's point: ReLU nets fitted to such a formula
scale as RMSE ∝ N^(−2/d*) = N^(−1) in any d, while simplex interpolation scales as N^(−2/d).

The module graph
----------------
The same tree cut into modules of at most two inputs (a module absorbs every operation whose inputs it already
has); a sum of more than two module outputs becomes one linear module. It is the wiring of a ``modular`` net
(the paper's Section 4.2). For I.8.14, √((x2−x1)² + (y2−y1)²) → g1(x2, x1), g2(y2, y1), g3(g1, g2), the
paper's A, B → C.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import sympy

__all__ = ["GraphModule", "computation_arity", "module_graph", "graph_text"]


def _associative(node) -> bool:
    return isinstance(node, (sympy.Add, sympy.Mul, sympy.Min, sympy.Max))


def computation_arity(expr) -> int:
    """d*: the largest arity of the formula's computation graph in unary/binary operations (module docstring)."""
    def visit(node) -> tuple[frozenset, int]:
        if not node.free_symbols:
            return frozenset(), 0
        if node.is_Symbol:
            return frozenset({node}), 1
        results = [visit(a) for a in node.args]
        used = frozenset().union(*(r[0] for r in results))
        live = sum(1 for r in results if r[0])
        # An n-ary sum or product is a tree of binary nodes; any other operation has its own operand count.
        local = min(live, 2) if _associative(node) else live
        inner = max(r[1] for r in results)
        return used, min(len(used), max(local, inner))

    return visit(expr)[1]


@dataclass(frozen=True)
class GraphModule:
    """One module of a formula's module graph: a function of its ``inputs`` (variables or earlier modules)."""

    name: str
    inputs: tuple[str, ...]
    linear: bool = False  # a linear combination of its inputs (a sum of module outputs)


class _GraphBuilder:
    """Cuts a sympy tree into modules of at most two inputs (see :func:`module_graph`)."""

    def __init__(self, variables: Sequence[str]):
        self.modules: list[GraphModule] = []
        self.taken = set(variables)

    def new(self, inputs: Sequence[str], linear: bool = False) -> str:
        k = len(self.modules) + 1
        name = f"g{k}"
        while name in self.taken:
            name = "_" + name
        self.taken.add(name)
        self.modules.append(GraphModule(name, tuple(inputs), linear))
        return name

    def source(self, sources: tuple[str, ...], trivial: bool) -> str:
        """One name for a pending function: the bare variable/module it is, or a new module computing it."""
        return sources[0] if trivial else self.new(sources)

    def visit(self, node) -> tuple[tuple[str, ...], bool]:
        """(sources, trivial): ``node`` is a function of at most two sources; trivial: it is that one source."""
        if not node.free_symbols:
            return (), False
        if node.is_Symbol:
            return (str(node),), True
        children = [c for c in (self.visit(a) for a in node.args) if c[0]]
        union = _ordered_union(c[0] for c in children)
        if len(union) <= 2:
            return union, False
        if not _associative(node):
            outs = [self.source(*c) for c in children]
            return (self.new(outs),) if len(outs) > 2 else tuple(outs), len(outs) > 2
        outs = [self.source(sources, trivial) for sources, trivial in self.groups(children)]
        if len(outs) <= 2:
            return tuple(outs), False
        if isinstance(node, sympy.Add):
            return (self.new(outs, linear=True),), True  # a sum of many outputs is exactly linear
        while len(outs) > 2:  # a product (min, max) of many: a balanced tree of binary modules
            outs = [self.new(outs[i:i + 2]) if i + 1 < len(outs) else outs[i] for i in range(0, len(outs), 2)]
        return tuple(outs), False

    @staticmethod
    def groups(children) -> list[tuple[tuple[str, ...], bool]]:
        """Operands of one sum/product, gathered into groups of at most two sources (first fit, non-trivial
        operands first, so a bare variable joins a function of one input rather than getting its own module)."""
        ordered = sorted(children, key=lambda c: (-len(c[0]), c[1]))
        groups: list[list] = []  # [sources, members]
        for sources, trivial in ordered:
            for group in groups:
                merged = _ordered_union([group[0], sources])
                if len(merged) <= 2:
                    group[0], group[1] = merged, group[1] + [trivial]
                    break
            else:
                groups.append([sources, [trivial]])
        return [(g[0], len(g[1]) == 1 and g[1][0]) for g in groups]


def _ordered_union(parts) -> tuple[str, ...]:
    out: list[str] = []
    for part in parts:
        out.extend(p for p in part if p not in out)
    return tuple(out)


def module_graph(expr, variables: Sequence[str]) -> Optional[tuple[GraphModule, ...]]:
    """The formula's module graph, in evaluation order (the last module is the output).

    None when there is nothing to split: a formula in at most two variables (one module is a dense net), or
    one that leaves a declared variable unused (a ``modular`` net must read every input).
    """
    names = {str(s) for s in expr.free_symbols}
    if len(names) <= 2 or names != set(variables):
        return None
    builder = _GraphBuilder(variables)
    sources, trivial = builder.visit(expr)
    if not (trivial and sources[0] in {m.name for m in builder.modules}):
        builder.new(sources)
    return tuple(builder.modules) if len(builder.modules) > 1 else None


def graph_text(modules: Sequence[GraphModule]) -> str:
    """``g1(x1, y1), g2(x2, y2), g3(x3, y3) → g4(g1, g2, g3) linear``-style one-liner."""
    parts = [f"{m.name}({', '.join(m.inputs)})" + (" linear" if m.linear else "") for m in modules]
    return ", ".join(parts[:-1]) + (" → " if len(parts) > 1 else "") + parts[-1]
