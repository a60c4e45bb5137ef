"""The paper's user's guide (Michaud, Liu, Tegmark 2023, Fig. 10) as a procedure: which approximator for which target.

:func:`analyze` reads a target — a Feynman equation, an inline formula, a teacher network, a config's target or
a data file — and measures what the guide depends on; :func:`recommend` applies the guide and builds a
ready-to-run config; :func:`probe` runs small real fits of the candidate methods and fits their scaling slopes,
so the recommendation is tested, not just asserted. ``prec guide`` (:mod:`cli.guide_command`) prints it all.

What is measured
----------------
* ``d``: the number of inputs (declared variables, or a data file's input columns).
* ``d*``, the largest arity of the formula's computation graph. Write the formula as a graph whose nodes are
  the operations of the restricted grammar (:mod:`precision_jax.problems.formula`): ``+ − × ÷ **`` take two operands,
  the functions one. A sum or product of n terms is a tree of n − 1 binary nodes (sympy stores it as one
  n-ary node; flattening it back into binary nodes is how the paper's d* = 2 for its d ≥ 3 formulas comes out).
  Constants are parameters of a node, not inputs. The arity of a node is the number of its non-constant
  operands, capped by the number of distinct variables its subtree depends on (a subtree in k variables is,
  for an approximator, one function of k inputs however it is written). Then

      d* = max over nodes of min(#non-constant operands (≤ 2), #distinct variables below the node),

  so d* = 0 for a constant, 1 for a formula in one variable, and 2 for every other formula the grammar can
  write (it has no operation of three or more inputs). That is the paper's point: ReLU nets fitted to such
  a formula scale as RMSE ∝ N^(−2/d*) = N^(−1) in any d, while simplex interpolation scales as N^(−2/d).
  A teacher network is a graph of sums, products and unary activations: d* = min(d, 2) as well. For a data
  file d* is unknown.
* The *module graph* (:func:`module_graph`): the same tree cut into modules of at most two inputs (a module
  absorbs every operation whose inputs it already has); a sum of more than two module outputs becomes one
  linear module. It is the wiring of a ``modular`` net (the paper's Section 4.2). For I.8.14,
  √((x2−x1)² + (y2−y1)²) → g1(x2, x1), g2(y2, y1), g3(g1, g2), the paper's A, B → C.
* Smoothness. ``abs`` (and sign, min, max, floor, ceiling, mod, Heaviside, Piecewise, should the grammar ever
  grow them) is a kink or a jump: ``abs(u)`` counts as not smooth when u changes sign on the box. Poles and
  branch points — ``u**(−k)``, ``u**(p/q)``, ``sqrt``, ``log`` at u = 0, ``arcsin``/``arccos``/``arctanh`` at
  |u| = 1, ``arccosh`` at 1, ``tan`` where cos u = 0 — are located by evaluating u and its gradient at the
  sample points and the box's corners. With s(u) the signed distance of u to the singular value, the
  distance in x is linearized as |s| / (|s'(u)| · |∇u|), each coordinate measured in widths of the box. A
  sign change of s: the singularity is inside the box and the target is not smooth (or not finite). Within
  5 % of a box width: smooth in the interior, but its derivatives grow near that edge (splines and Chebyshev
  converge more slowly there). A singular set touched but not crossed (√(x² + y²) at the origin) counts as
  inside when the points closest to it lie inside the box. Measuring in x, not in u, matters: 1/(eᵘ + e⁻ᵘ)
  has u-values far from its pole however small they get relative to their range.
* Output scale: the RMS (and max) of |f| over :data:`SCALE_SAMPLES` seeded uniform points in the box (for
  data, over the file's rows), and the float64 floor of the absolute RMSE, ε · RMS with ε = 2⁻⁵² ≈ 2.2e-16:
  no method can be expected to beat it, since f itself is only known to about that accuracy.

The guide
---------
* d ≤ 3 and smooth: Chebyshev interpolation (spectral: faster than any power of N for analytic f), with a
  high-order spline (RMSE ∝ N^(−(n+1)/d)) as the alternative; both reach the float64 floor with few points.
  A singularity at the box's edge makes both algebraic, but Chebyshev nodes cluster at the edges, which
  softens it (I.30.5, arcsin at its branch point: Chebyshev N^-2.2 against the order-5 spline's N^-1.7).
* d ≤ 3 and not smooth (or smoothness unknown, for data): linear simplex interpolation, N^(−2/d).
* d ≥ 4 with d* < d: a network. ReLU nets scale as N^(−2/d*); modular nets wired as the module graph do so
  most reliably. For precision, the config is a tanh net (modular when the graph is known) trained with
  Levenberg–Marquardt (the chain of ``configs/precision/I.11.19.yaml``), never Adam for the last phase; a
  target that is not smooth gets a ReLU net trained with Adam, then BFGS.
* d ≥ 4 and no known structure (data): every method is expected to suffer the curse of dimensionality,
  N^(−2/d); a network is recommended because it can find low-arity structure if there is some.

Probe
-----
:func:`probe` fits each candidate at two or three sizes with configs built in memory and
:func:`precision_jax.runs.training.run_experiment` (nothing is written), fits the slope of the test RMSE against N
(:func:`precision_jax.analysis.power_laws.fit_power_law`) over the points above :data:`FLOOR_MARGIN` × the floor, and
compares it with the expected exponent: ``agrees`` when the measured slope is negative and within a factor
of two of it. Networks are probed as ReLU nets trained with Adam on D = N // (d+1) points (the paper's
scaling protocol) — that is where −2/d* is a prediction; interpolants at their own sizes. Everything is
small: about 10 s for d ≤ 3, about a minute for a 6-D formula on two cores, and a time budget stops
what would run past it.
"""

from __future__ import annotations

import copy
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import sympy
import yaml

from precision_jax.problems import datafile
from precision_jax.models import mlp
from precision_jax.experiment import build_config, load_config
from precision_jax.problems.formula import compile_formula
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.analysis.power_laws import fit_power_law
from precision_jax.problems.targets import UnknownEquation, equation_target, feynman_registry
from precision_jax.runs.training import check_target, preflight, resolve_target, run_experiment

__all__ = ["EPS", "LOW_DIMENSION", "Analysis", "Candidate", "GraphModule", "Recommendation", "ProbeResult",
           "ProbePoint", "analyze", "computation_arity", "module_graph", "smoothness", "recommend", "probe",
           "ready_config", "write_config", "format_report", "format_probe", "GuideError"]

EPS = float(np.finfo(np.float64).eps)  # 2^-52
LOW_DIMENSION = 3                      # the guide's "low d": interpolants up to here
SCALE_SAMPLES = 10_000                 # seeded points for the output scale and the singularity search
NEAR_SINGULAR = 0.05                   # a singularity this close to the box (in box widths) is "near"
INTERIOR_DEPTH = 0.1                   # ... and inside it when the points closest to it lie this deep in the box
FLOOR_MARGIN = 100.0                   # probe points below margin × floor are "at the floor", not fitted
PROBE_TEST_POINTS = 2000
PROBE_BUDGET_S = 120.0

SMOOTH, EDGE, NOT_SMOOTH, UNKNOWN = "smooth", "smooth in the interior", "not smooth", "unknown"
SMOOTH_ACTIVATIONS = ("tanh", "sigmoid", "softplus", "silu")


class GuideError(ConfigError):
    """A TARGET the guide cannot read (exit status 2 from the CLI, one line)."""


# --------------------------------------------------------------------------- the computation graph


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
    """``g1(x1, y1), g2(x2, y2), g3(x3, y3) → g4 = g1 + g2 + g3 (linear)``-style one-liner."""
    parts = []
    for m in modules:
        parts.append(f"{m.name}({', '.join(m.inputs)})" + (" linear" if m.linear else ""))
    return ", ".join(parts[:-1]) + (" → " if len(parts) > 1 else "") + parts[-1]


# --------------------------------------------------------------------------- smoothness


@dataclass(frozen=True)
class Smoothness:
    """``verdict``: smooth | smooth in the interior | not smooth | unknown; ``notes``: where and why."""

    verdict: str
    notes: tuple[str, ...] = ()

    @property
    def smooth(self) -> bool:
        return self.verdict in (SMOOTH, EDGE)


_ALWAYS_ROUGH = ("sign", "Heaviside", "floor", "ceiling", "Mod", "Piecewise", "frac", "Min", "Max")


def _box_points(lows, highs, n: int = SCALE_SAMPLES, seed: int = 0) -> np.ndarray:
    """``n`` seeded uniform points, the centre and (d ≤ 12) the corners of the box."""
    lows, highs = np.asarray(lows, np.float64), np.asarray(highs, np.float64)
    d = lows.size
    unit = [np.random.default_rng(seed).random((n, d)), np.full((1, d), 0.5)]
    if d <= 12:
        unit.append(np.array(np.meshgrid(*[[0.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T)
    return lows + np.concatenate(unit) * (highs - lows)


def smoothness(expr, variables: Sequence[str], lows, highs) -> Smoothness:
    """Kinks, jumps, poles and branch points of ``expr`` on the box (module docstring)."""
    points = _box_points(lows, highs)
    lo, hi = np.asarray(lows, np.float64), np.asarray(highs, np.float64)
    # How deep inside the box each point lies: 0 on a face, 0.5 at the centre.
    depth = np.min(np.minimum(points - lo, hi - points) / (hi - lo), axis=1)
    rough: list[str] = []
    edge: list[str] = []

    widths = hi - lo

    def values_and_gradients(u) -> tuple[np.ndarray, np.ndarray]:
        """u at the points and its gradient in box units (∂u/∂x_j · width_j)."""
        fn = compile_formula(u, variables)
        with np.errstate(all="ignore"):
            v = np.asarray(fn(points), np.float64)
            g = np.asarray(jax.vmap(jax.grad(lambda row: fn(row[None, :])[0]))(jnp.asarray(points)), np.float64)
        return v, g * widths

    def check(node, u, singular: Callable, slope: Callable, what: str) -> None:
        """``singular(v)``: signed distance of u's values v to the singular set (a sign change: it is crossed);
        ``slope(v)``: its derivative in v. The distance in x is linearized, |s| / (|s'| · |∇u|), in box units."""
        v, g = values_and_gradients(u)
        ok = np.isfinite(v) & np.isfinite(g).all(axis=1)
        if not ok.any():
            return
        s, at = singular(v[ok]), depth[ok]
        with np.errstate(all="ignore"):
            rate = np.abs(slope(v[ok])) * np.linalg.norm(g[ok], axis=1)
            distance = np.where(s == 0, 0.0, np.abs(s) / rate)
        # Linearizing is meaningful where s is small; where it is large it measures s's growth rate
        # (e^u + e^-u is far from 0 however steep it is), so only the closer half of the points count.
        distance = np.where(np.isnan(distance) | (np.abs(s) > np.median(np.abs(s))), np.inf, distance)
        if np.any(s < 0) and np.any(s > 0):
            rough.append(f"{node}: {what} inside the box")
            return
        closest = float(np.min(distance))
        if closest > NEAR_SINGULAR:
            return
        # Touched, not crossed (sqrt(x² + y²) at the origin): inside if the closest points lie inside the box.
        nearest = np.argsort(distance)[:20]
        if float(np.median(at[nearest])) > INTERIOR_DEPTH:
            rough.append(f"{node}: {what} inside the box")
        elif what != "kink":  # a kink on the box's boundary is invisible from inside
            where = "on the box's edge" if closest <= 1e-9 else f"{closest:.2g} of the box's width from it"
            edge.append(f"{node}: {what} {where}")

    def zero(v):
        return v

    def one(v):
        return np.ones_like(v)

    for node in sympy.preorder_traversal(expr):
        if not node.free_symbols or node.is_Symbol:
            continue
        name = type(node).__name__
        if name in _ALWAYS_ROUGH:
            rough.append(f"{node}: {name} is not smooth")
        elif isinstance(node, sympy.Abs):
            check(node, node.args[0], zero, one, "kink")
        elif isinstance(node, sympy.Pow):
            base, exponent = node.args
            if not base.free_symbols:
                continue
            if exponent.is_Integer and exponent >= 0:
                continue
            kind = "pole" if exponent.is_number and exponent < 0 else "branch point"
            check(node, base, zero, one, f"{kind} at {base} = 0")
        elif isinstance(node, sympy.log):
            check(node, node.args[0], zero, one, f"log singularity at {node.args[0]} = 0")
        elif isinstance(node, (sympy.asin, sympy.acos, sympy.atanh)):
            check(node, node.args[0], lambda v: 1.0 - np.abs(v), np.sign, f"branch point at |{node.args[0]}| = 1")
        elif isinstance(node, sympy.acosh):
            check(node, node.args[0], lambda v: v - 1.0, one, f"branch point at {node.args[0]} = 1")
        elif isinstance(node, sympy.tan):
            check(node, node.args[0], np.cos, np.sin, f"pole where cos({node.args[0]}) = 0")
    if rough:
        return Smoothness(NOT_SMOOTH, tuple(dict.fromkeys(rough + edge)))
    if edge:
        return Smoothness(EDGE, tuple(dict.fromkeys(edge)))
    return Smoothness(SMOOTH, ("analytic on the box",))


# --------------------------------------------------------------------------- analysis


@dataclass
class Analysis:
    """What the guide knows about a target."""

    kind: str                       # equation | formula | teacher | data
    name: str                       # I.11.19, exp(x), teacher 1-3-3-1, samples.csv:f
    description: str                # one line: the formula, teacher or file
    variables: tuple[str, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    d_star: Optional[int]           # None: unknown (data)
    smooth: Smoothness
    scale_rms: float
    scale_max: float
    scale_from: str                 # "10,000 seeded points" or "the file's 500 rows"
    target: dict                    # the config's `target:` section (data paths absolute)
    d_used: Optional[int] = None    # variables the formula depends on (None: all)
    graph: Optional[tuple[GraphModule, ...]] = None
    rows: Optional[int] = None      # data: rows in the file
    pool: Optional[int] = None      # data: rows available for training
    grid: bool = False              # data: the rows form a full tensor grid
    activation: Optional[str] = None  # teacher
    teacher_widths: Optional[tuple[int, ...]] = None

    @property
    def d(self) -> int:
        return len(self.variables)

    @property
    def floor(self) -> float:
        """float64 floor of the absolute RMSE: ε · RMS(f)."""
        return EPS * self.scale_rms


def _from_target(kind: str, name: str, description: str, target, target_section: dict,
                 activation: Optional[str] = None) -> Analysis:
    """Analysis of a function target (equation, formula, teacher)."""
    check_target(target)  # a target that is not finite on its box is refused in one line
    points = _box_points(target.lows, target.highs)
    with np.errstate(all="ignore"):
        y_all = np.asarray(target.fn(points), np.float64)
    y = y_all[:SCALE_SAMPLES]  # the RMS over the uniform sample; the max also over the centre and corners
    expr = target.expr
    d = target.d
    if expr is not None:
        d_star = computation_arity(expr)
        d_used = len(expr.free_symbols)
        smooth = smoothness(expr, target.variables, target.lows, target.highs)
        graph = module_graph(expr, target.variables)
    else:  # a teacher: sums of products and unary activations
        d_star, d_used, graph = min(d, 2), None, None
        smooth = Smoothness(SMOOTH, (f"{activation} is analytic",)) if activation in SMOOTH_ACTIVATIONS else \
            Smoothness(NOT_SMOOTH, (f"{activation} has a kink (or a kink in a derivative)",))
    return Analysis(kind, name, description, tuple(target.variables), tuple(map(float, target.lows)),
                    tuple(map(float, target.highs)), d_star, smooth, float(np.sqrt(np.mean(y * y))),
                    float(np.max(np.abs(y_all))), f"{SCALE_SAMPLES:,} seeded uniform points", target_section,
                    d_used=d_used if d_used != d else None, graph=graph, activation=activation,
                    teacher_widths=tuple((target_section.get("teacher") or {}).get("widths", ())) or None)


def _from_data(section: dict, description_prefix: str = "") -> Analysis:
    """Analysis of a data-file target section (paths absolute)."""
    table = datafile.read_table(section["data"], section.get("inputs"), section.get("output"))
    test = None
    if section.get("test_data"):
        test = datafile.read_table(section["test_data"], table.inputs, table.output, key="target.test_data")
    lows, highs = table.x.min(axis=0), table.x.max(axis=0)
    for column, low, high in zip(table.inputs, lows, highs):
        if not low < high:
            raise GuideError(f"{table.name}: input {column!r} is constant; leave it out of inputs", "target.data")
    pool = table.n if test is not None else table.n - datafile.holdout_count(table.n)
    y = table.y
    section = {**section, "inputs": list(table.inputs), "output": table.output}
    description = f"{description_prefix}{table.name}: {table.output} of {', '.join(table.inputs)}, {table.n} rows" + \
        (f" (+ {test.n} test rows from {test.name})" if test is not None else "")
    return Analysis("data", f"{table.name}:{table.output}", description, tuple(table.inputs),
                    tuple(map(float, lows)), tuple(map(float, highs)), None,
                    Smoothness(UNKNOWN, ("a data file: smoothness cannot be read off samples",)),
                    float(np.sqrt(np.mean(y * y))), float(np.max(np.abs(y))), f"the file's {table.n:,} rows",
                    section, rows=table.n, pool=pool, grid=datafile.tensor_grid(table.x) is not None)


def _target_from_config(cfg) -> tuple[str, str, str, Any, dict, Optional[str]]:
    t = cfg.target
    section = {k: v for k, v in to_dict(t).items() if v is not None}
    target = resolve_target(cfg)
    if t.equation is not None:
        row = feynman_registry()[t.equation]
        return "equation", row.id, f"{row.id}: {row.output} = {row.formula}", target, section, None
    if t.formula is not None:
        return "formula", t.formula, f"f = {t.formula}", target, section, None
    w = t.teacher.widths
    return ("teacher", f"teacher {'-'.join(map(str, w))}",
            f"a random {t.teacher.activation} teacher net {'-'.join(map(str, w))} (seed {t.teacher.seed})",
            target, section, t.teacher.activation)


DATA_SUFFIXES = (".csv", ".npz", ".npy")
CONFIG_SUFFIXES = (".yaml", ".yml")


def analyze(spec: str, variables: Optional[dict[str, tuple[float, float]]] = None) -> Analysis:
    """Analyze TARGET: an equation id, a config file (its target), a data file, or (with ``variables``) a formula.

    Raises :class:`ConfigError` (one line) for anything else.
    """
    def from_section(section: dict, source: str = ""):
        if section.get("data") is not None:
            return _from_data(section)
        # Validate the target section alone by wrapping it in a minimal config.
        cfg = build_config({"name": "guide", "target": section, "model": {"kind": "simplex"},
                            "data": {"train_points": 10}}, source=source)
        kind, name, description, target, sec, activation = _target_from_config(cfg)
        return _from_target(kind, name, description, target, sec, activation)

    if variables:
        return from_section({"formula": spec, "variables": {k: list(v) for k, v in variables.items()}},
                            "TARGET")
    path = Path(spec)
    suffix = path.suffix.lower()
    if path.is_file() or suffix in DATA_SUFFIXES + CONFIG_SUFFIXES:
        if not path.is_file():
            raise GuideError(f"no such file: {spec}", "", "TARGET")
        if suffix in DATA_SUFFIXES:
            return _from_data({"data": str(path.resolve())})
        if suffix in CONFIG_SUFFIXES:
            cfg = load_config(path)
            if getattr(cfg.target, "data", None) is not None:
                section = {k: v for k, v in to_dict(cfg.target).items() if v is not None}
                section = {k: v for k, v in section.items() if not k.endswith("sha256")}
                return _from_data(section)
            kind, name, description, target, section, activation = _target_from_config(cfg)
            return _from_target(kind, name, description, target, section, activation)
        raise GuideError(f"{spec}: not a config ({', '.join(CONFIG_SUFFIXES)}) or data file "
                         f"({', '.join(DATA_SUFFIXES)})", "", "TARGET")

    if spec in feynman_registry():
        return from_section({"equation": spec})
    try:
        equation_target(spec)
    except UnknownEquation as e:
        raise GuideError(f"{spec!r} is not an equation id, a config file or a data file ({e})", "",
                         "TARGET") from None
    return from_section({"equation": spec})


# --------------------------------------------------------------------------- candidates and the recommendation


@dataclass(frozen=True)
class Candidate:
    """One method the guide weighs: its model (and chain), expected scaling and probe sizes."""

    key: str                        # chebyshev | spline | simplex | net | modular
    label: str                      # "spline order 7"
    exponent: Optional[float]       # expected slope of RMSE vs N; None: spectral (faster than any power)
    expectation: str                # "N^-8 = N^-(n+1)/d"
    why: str
    model: dict                     # the probe's model section (nets: sized per probe point)
    sizes: tuple[int, ...]          # probe sizes: D for interpolants, target N for nets
    quick_sizes: tuple[int, ...]
    exponent_range: Optional[tuple[float, float]] = None  # (steepest, shallowest) when only bounds are known


@dataclass
class Recommendation:
    regime: str
    method: Candidate
    reason: str
    candidates: list[Candidate]     # what --probe fits, the recommended first
    notes: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)   # the ready-to-run config (target paths absolute)


def _exp_text(exponent: Optional[float], rule: str) -> str:
    if exponent is None:
        return "faster than any power of N (spectral)"
    return f"N^{exponent:.3g}  ({rule})"


def _interpolant_sizes(kind: str, d: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Probe sizes D (standard, quick): above the floor for most targets, a second or less each."""
    table = {
        ("chebyshev", 1): (6, 12, 24), ("chebyshev", 2): (36, 144, 576), ("chebyshev", 3): (125, 1000, 8000),
        ("spline", 1): (10, 20, 40), ("spline", 2): (64, 256, 1024), ("spline", 3): (216, 1728, 13824),
        ("simplex", 1): (50, 200, 800), ("simplex", 2): (200, 800, 3200), ("simplex", 3): (250, 1000, 4000),
        ("simplex", 4): (250, 600, 1500), ("simplex", 5): (150, 350, 800), ("simplex", 6): (100, 200, 400),
    }
    sizes = table.get((kind, min(d, 3) if kind != "simplex" else d))
    if sizes is None:
        return (), ()
    return sizes, sizes[:2]


def _data_sizes(pool: int, least: int, most: Optional[int] = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Probe sizes for a data file: 1/16, 1/4 and all of the ``pool`` rows (capped at ``most``), each ≥ ``least``."""
    top = min(pool, most) if most else pool
    sizes = tuple(sorted({n for n in (top // 16, top // 4, top) if n >= least}))
    return sizes, sizes[:2]


def _spline_order(d: int) -> int:
    return 7 if d == 1 else 5


def _candidates(a: Analysis) -> dict[str, Candidate]:
    d, smooth = a.d, a.smooth
    out: dict[str, Candidate] = {}
    data = a.kind == "data"
    if d <= 3:
        # A least-squares series of degree ≥ 1 needs D ≥ 4·2^d rows (datafile.default_chebyshev_degree).
        sizes = _data_sizes(a.pool, 4 * 2 ** d) if data else _interpolant_sizes("chebyshev", d)
        if data:
            out["chebyshev"] = Candidate("chebyshev", "least-squares Chebyshev series", None,
                                         "faster than any power of N if the data are smooth",
                                         "a polynomial fit by least squares: spectral for smooth data",
                                         {"kind": "chebyshev"}, *sizes)
        else:
            out["chebyshev"] = Candidate("chebyshev", "Chebyshev interpolation", None, _exp_text(None, ""),
                                         "spectral for analytic f: reaches the float64 floor with few nodes",
                                         {"kind": "chebyshev"}, *sizes)
        n = _spline_order(d)
        if smooth.smooth:
            exponent, rule = -(n + 1) / d, f"−(n+1)/d, n = {n}"
        else:
            n, exponent, rule = 3, -2 / d, "−2/d: a kink limits every order"
        out["spline"] = Candidate("spline", f"spline order {n}", exponent, _exp_text(exponent, rule),
                                  "piecewise polynomials on a grid", {"kind": "spline", "order": n},
                                  *_interpolant_sizes("spline", d))
    sizes = _interpolant_sizes("simplex", d)
    if data and sizes[0]:
        sizes = _data_sizes(a.pool, d + 2, sizes[0][-1])
    if sizes[0]:
        out["simplex"] = Candidate("simplex", "simplex interpolation", -2 / d, _exp_text(-2 / d, "−2/d"),
                                   "linear on a Delaunay mesh: any f, but the curse of dimensionality",
                                   {"kind": "simplex"}, *sizes)
    dstar = a.d_star if a.d_star is not None or d > 2 else d  # data in d ≤ 2: d* ≤ d, and d is all there is
    exponent = -2 / dstar if dstar else None
    rule = f"ReLU: −2/d*, d* = {dstar}" if dstar else "ReLU: −2/d*, d* unknown"
    bounds = None if dstar else (-1.0, -2 / d)
    net_text = _exp_text(exponent, rule) if dstar else f"between N^{-2 / d:.3g} (−2/d) and N^-1 (−2/d*, d* = 2)"
    net_sizes, net_quick = (256, 1024, 4096), (100, 400)
    if data:  # D = N // (d+1) must fit in the file's rows
        n_max = min(4096, a.pool * (d + 1))
        net_sizes = tuple(sorted({n for n in (n_max // 16, n_max // 4, n_max) if n >= 30}))
        net_quick = net_sizes[:2]
    out["net"] = Candidate("net", "dense net", exponent, net_text,
                           "ReLU nets scale with the graph's arity d*, not with d",
                           {"kind": "mlp", "depth": 3, "activation": "relu"}, net_sizes, net_quick, bounds)
    if a.graph is not None:
        out["modular"] = Candidate("modular", "modular net (wired as the module graph)", exponent,
                                   _exp_text(exponent, rule),
                                   "every module approximates a function of at most two inputs",
                                   {"kind": "modular", "activation": "relu"}, net_sizes, net_quick)
    return out


def recommend(a: Analysis) -> Recommendation:
    """Apply the guide (module docstring) to an analysis; the config is built and validated by :func:`ready_config`."""
    c = _candidates(a)
    d = a.d
    notes: list[str] = []
    if a.d_used is not None:
        notes.append(f"the formula uses {a.d_used} of its {d} variables; the others only widen the box")
    if a.kind == "data":
        if d <= LOW_DIMENSION:
            rec = Recommendation(f"low d (d = {d}), smoothness unknown", c["simplex"],
                                 f"d = {d} is low and a data file's smoothness is unknown: linear simplex "
                                 f"interpolation (N^{-2 / d:.3g}) assumes nothing; if the data are smooth, "
                                 "the least-squares Chebyshev series converges much faster (--probe tells)",
                                 [c["simplex"], c["chebyshev"], c["net"]], notes)
            if a.grid:
                notes.append("the rows form a full tensor grid (a lookup table): a spline can interpolate it; "
                             "give test_data with points off the grid")
        else:
            rec = Recommendation(f"high d (d = {d}), structure unknown", c["net"],
                                 f"d = {d} is high: simplex and spline errors fall only as N^(−2/d) = "
                                 f"N^{-2 / d:.3g} (the curse of dimensionality); a network is the only method "
                                 "that can exploit low-arity structure (N^(−2/d*)) if the data have some",
                                 [c["net"]] + ([c["simplex"]] if "simplex" in c else []), notes)
            notes.append("warning: with no known structure, expect every method to need many points per "
                         "digit of accuracy")
    elif d <= LOW_DIMENSION and a.smooth.smooth:
        why = ("it is analytic on the box, where Chebyshev interpolation converges spectrally"
               if a.smooth.verdict == SMOOTH else
               "a singularity at the box's edge makes every method algebraic, but Chebyshev nodes cluster at "
               "the edges, which softens it (a uniform spline grid does not)")
        rec = Recommendation(f"low d (d = {d}), smooth", c["chebyshev"], f"d = {d} is low and f is smooth; "
                             f"{why}. Chebyshev and high-order splines reach the float64 floor with few points "
                             "(the paper's guide: high-order splines or polynomials)",
                             [c["chebyshev"], c["spline"], c["simplex"]], notes)
    elif d <= LOW_DIMENSION:
        rec = Recommendation(f"low d (d = {d}), not smooth", c["simplex"],
                             f"d = {d} is low but f is not smooth: higher orders gain nothing at a kink, so "
                             f"linear simplex interpolation (N^{-2 / d:.3g}) is the robust choice",
                             [c["simplex"], c["spline"]], notes)
    elif a.d_star is not None and a.d_star < d:
        nets = ([c["modular"]] if "modular" in c else []) + [c["net"]]
        graph = "wired as the formula's module graph (modular) " if "modular" in c else ""
        rec = Recommendation(f"high d (d = {d}), low arity (d* = {a.d_star})", nets[0],
                             f"d = {d} is high but the computation graph has arity d* = {a.d_star}: networks "
                             f"{graph}scale as N^(−2/d*) = N^{-2 / a.d_star:.3g}, simplex only as N^(−2/d) = "
                             f"N^{-2 / d:.3g}", nets + ([c["simplex"]] if "simplex" in c else []), notes)
        if not a.smooth.smooth:
            notes.append("f is not smooth: ReLU nets are piecewise linear and take kinks in their stride; the "
                         "config uses ReLU with Adam then BFGS")
    else:
        rec = Recommendation(f"high d (d = {d}), no low-arity structure", c["net"],
                             f"d = {d} and d* = {a.d_star}: every method suffers the curse of dimensionality",
                             [c["net"]] + ([c["simplex"]] if "simplex" in c else []), notes)
        notes.append("warning: expect N^(−2/d) for every method")
    if rec.method.key in ("net", "modular"):
        if a.smooth.smooth or a.kind == "data":
            notes.append("the config trains a tanh net with Levenberg–Marquardt (the precision chain of "
                         "configs/precision/I.11.19.yaml); --probe measures the scaling of ReLU nets trained "
                         "with Adam on D = N // (d+1) points, the paper's protocol behind −2/d*")
        else:
            notes.append("--probe measures ReLU nets trained with Adam on D = N // (d+1) points, the paper's "
                         "protocol behind −2/d*")
    if a.smooth.verdict == EDGE:
        notes.extend(f"near-singular: {n}" for n in a.smooth.notes)
    elif a.smooth.verdict == NOT_SMOOTH:
        notes.extend(f"not smooth: {n}" for n in a.smooth.notes)
    if a.kind == "teacher":
        notes.append("a student net with the teacher's activation and at least its widths has zero architecture "
                     "error (the paper's teacher–student setting)")
    rec.config = _config(a, rec)
    return rec


# --------------------------------------------------------------------------- configs


PRECISION_CHAIN = [{"kind": "lm", "maxiter": 300, "subsample": 4000},
                   {"kind": "lm", "maxiter": 150, "subsample": 4000, "focus": 0.3},
                   {"kind": "lm", "maxiter": 150, "subsample": 4000, "focus": 0.3}]
ROUGH_CHAIN = [{"kind": "adam", "lr": 1.0e-3, "steps": 20000}, {"kind": "bfgs", "maxiter": 5000}]
LM_MAX_PARAMS = 3000  # below the lm stage's dense-factorization cap (max_params 4000)


def _experiment_name(a: Analysis) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(a.name.split(":")[0]).stem if a.kind == "data" else a.name)
    base = base.strip("._")
    return ("guide_" + (base or "target"))[:100]


def _modular_model(graph: Sequence[GraphModule], activation: str, width: int, depth: int = 3) -> dict:
    return {"kind": "modular", "activation": activation,
            "modules": [{"name": m.name, "inputs": list(m.inputs), "depth": 1 if m.linear else depth,
                         "width": 1 if m.linear else width} for m in graph]}


def _modular_params(graph: Sequence[GraphModule], width: int, depth: int = 3) -> int:
    return sum(mlp.parameter_count(mlp.layer_widths(len(m.inputs), 1 if m.linear else depth,
                                                    1 if m.linear else width)) for m in graph)


def _dense_params(d: int, width: int, depth: int = 3) -> int:
    return mlp.parameter_count(mlp.layer_widths(d, depth, width))


def _width_for(count: Callable[[int], int], n_target: int, low: int = 2, high: int = 512) -> int:
    """The width whose parameter count is closest to ``n_target``."""
    return min(range(low, high + 1), key=lambda w: abs(count(w) - n_target))


def _config(a: Analysis, rec: Recommendation) -> dict:
    m = rec.method
    target = dict(a.target)
    cfg: dict[str, Any] = {"name": _experiment_name(a), "seed": 0, "target": target}
    if m.key == "chebyshev":
        nodes = {1: 41, 2: 41, 3: 31}[a.d] ** a.d  # degree 40 (30 in 3-D) per axis
        points = nodes if a.kind != "data" else "auto"
        cfg["data"] = {"train_points": points, "test_points": 30000, "test_compactification": 1.0}
        cfg["model"] = {"kind": "chebyshev"}
    elif m.key == "spline":
        points = {1: 200, 2: 100 ** 2, 3: 30 ** 3}[a.d]
        cfg["data"] = {"train_points": points, "test_points": 30000, "test_compactification": 0.8}
        cfg["model"] = dict(m.model)
    elif m.key == "simplex":
        points = "auto" if a.kind == "data" else {1: 10000, 2: 10000, 3: 10000}.get(a.d, 5000)
        cfg["data"] = {"train_points": points, "test_points": 30000, "test_compactification": 0.8}
        cfg["model"] = {"kind": "simplex"}
    else:
        smooth = a.smooth.smooth or a.kind == "data"
        activation = a.activation if a.kind == "teacher" else ("tanh" if smooth else "relu")
        if m.key == "modular" and (_modular_params(a.graph, 4) <= LM_MAX_PARAMS or not smooth):
            width = max((w for w in range(4, 17) if _modular_params(a.graph, w) <= LM_MAX_PARAMS), default=4)
            cfg["model"] = _modular_model(a.graph, activation, width)
        elif a.kind == "teacher":
            hidden = max(a.teacher_widths[1:-1] or (3,)) if a.teacher_widths else 3
            cfg["model"] = {"kind": "mlp", "depth": 3, "width": max(20, 2 * hidden), "activation": activation}
        else:
            cfg["model"] = {"kind": "mlp", "depth": 3, "width": 20, "activation": activation}
        # Full-batch Adam over 20,000 steps is what a rough target costs; LM fits subsamples of many points.
        points = "auto" if a.kind == "data" else 100000 if smooth else 20000
        cfg["data"] = {"train_points": points, "test_points": 10000, "test_compactification": 1.0,
                       "standardize": True}
        chain = PRECISION_CHAIN if smooth else ROUGH_CHAIN
        if a.kind == "data" and smooth:
            sub = min(4000, a.pool or 4000)
            chain = [{**s, "subsample": sub} for s in chain]
        cfg["train"] = [dict(s) for s in chain]
        cfg["output"] = {"dir": "results", "log_every": 50}
    if a.kind == "data":
        cfg["data"].pop("test_compactification", None)
    order = ("name", "seed", "target", "data", "model", "train", "output")
    return {k: cfg[k] for k in order if k in cfg}


def _relocate(cfg: dict, config_dir: Optional[Path]) -> dict:
    """The config with its data paths relative to ``config_dir`` (where the file will be read from)."""
    out = copy.deepcopy(cfg)
    if config_dir is not None:
        for key in ("data", "test_data"):
            path = out["target"].get(key)
            if isinstance(path, str):
                relative = os.path.relpath(path, os.path.abspath(config_dir))
                # Beside or below the config: relative, so the folder can move; elsewhere: absolute.
                out["target"][key] = path if relative.startswith("..") else relative
    return out


def ready_config(rec: Recommendation, config_dir: Optional[Path] = None, source: str = "guide"):
    """(config mapping with paths relative to ``config_dir``, validated ExperimentConfig).

    Validated by :func:`precision_jax.experiment.build_config` and :func:`precision_jax.runs.training.preflight`, the
    checks ``prec run`` makes before it trains.
    """
    validated = build_config(rec.config, source=source)
    preflight([validated])
    return _relocate(rec.config, config_dir), validated


def config_yaml(cfg: dict, header: Sequence[str] = ()) -> str:
    """YAML in the style of ``configs/``: sections block, each stage and module one flow line."""
    class Flow(dict):
        pass

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(Flow, lambda dumper, data: dumper.represent_mapping(
        "tag:yaml.org,2002:map", data.items(), flow_style=True))
    cfg = dict(cfg)
    if "train" in cfg:
        cfg["train"] = [Flow(stage) for stage in cfg["train"]]
    if isinstance(cfg.get("model"), dict) and "modules" in cfg["model"]:
        cfg["model"] = {**cfg["model"], "modules": [Flow(m) for m in cfg["model"]["modules"]]}
    text = yaml.dump(cfg, Dumper=Dumper, sort_keys=False, default_flow_style=None, allow_unicode=True, width=110)
    return "".join(f"# {line}\n" for line in header) + text


def write_config(rec: Recommendation, path: Path, header: Sequence[str] = (), force: bool = False) -> Path:
    """Validate the recommended config and write it to ``path`` (refusing to overwrite without ``force``)."""
    path = Path(path)
    if path.exists() and not force:
        raise GuideError(f"{path} exists; use --force to overwrite it", "", "--write")
    if path.suffix.lower() not in CONFIG_SUFFIXES:
        raise GuideError(f"{path}: a config file ends in .yaml or .yml", "", "--write")
    if not path.parent.is_dir():
        raise GuideError(f"{path.parent} is not a folder", "", "--write")
    cfg, _ = ready_config(rec, path.parent)
    text = config_yaml(cfg, header)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

    load_config(path)  # what `prec run` will read
    return path


# --------------------------------------------------------------------------- probe


@dataclass(frozen=True)
class ProbePoint:
    N: int
    D: int
    test_rmse: float
    seconds: float


@dataclass
class ProbeResult:
    candidate: Candidate
    points: list[ProbePoint] = field(default_factory=list)
    slope: Optional[float] = None
    fitted_points: int = 0
    verdict: str = ""
    skipped: Optional[str] = None
    amplitude: Optional[float] = None


def _probe_configs(a: Analysis, c: Candidate, quick: bool) -> list[dict]:
    sizes = c.quick_sizes if quick else c.sizes
    base = {"name": "guide_probe", "seed": 0, "target": dict(a.target),
            "data": {"test_points": PROBE_TEST_POINTS}}
    if a.kind != "data":
        base["data"]["test_compactification"] = 0.8
    out = []
    for size in sizes:
        cfg = {**base, "data": dict(base["data"])}
        if c.key in ("net", "modular"):
            if c.key == "net":
                width = _width_for(lambda w: _dense_params(a.d, w), size)
                cfg["model"] = {**c.model, "width": width}
                n = _dense_params(a.d, width)
            else:
                width = _width_for(lambda w: _modular_params(a.graph, w), size)
                cfg["model"] = _modular_model(a.graph, "relu", width)
                n = _modular_params(a.graph, width)
            points = max(n // (a.d + 1), 2)
            if a.kind == "data":
                points = min(points, a.pool)
            cfg["data"].update(train_points=points, standardize=True)
            steps = 300 if quick else 2000
            cfg["train"] = [{"kind": "adam", "lr": 1.0e-3, "steps": steps}]
            cfg["output"] = {"log_every": steps}
        else:
            points = size if a.kind != "data" else min(size, a.pool)
            cfg["data"]["train_points"] = points
            cfg["model"] = dict(c.model)
        out.append(cfg)
    # Data targets: sizes capped by the rows available collapse; keep distinct ones.
    seen, unique = set(), []
    for cfg in out:
        key = (cfg["data"]["train_points"], repr(cfg["model"]))
        if key not in seen:
            seen.add(key)
            unique.append(cfg)
    return unique


def _judge(result: ProbeResult, a: Analysis) -> None:
    c = result.candidate
    threshold = FLOOR_MARGIN * a.floor
    usable = [p for p in result.points if np.isfinite(p.test_rmse) and p.test_rmse > threshold]
    at_floor = [p for p in result.points if np.isfinite(p.test_rmse) and p.test_rmse <= threshold]
    if len({p.N for p in usable}) >= 2:
        fit = fit_power_law([p.N for p in usable], [p.test_rmse for p in usable])
        result.slope, result.amplitude, result.fitted_points = fit.exponent, fit.prefactor, fit.n_points
    if at_floor and len(usable) < 2:
        result.verdict = f"at the float64 floor by N = {min(p.N for p in at_floor):,}"
        return
    if result.slope is None:
        result.verdict = "too few points for a slope"
        return
    s = result.slope
    floor_note = f" (floor reached by N = {min(p.N for p in at_floor):,})" if at_floor else ""
    if s >= 0:
        result.verdict = "not converging" + floor_note
    elif c.exponent is None and c.exponent_range is not None:
        steepest, shallowest = c.exponent_range
        result.verdict = ("agrees (within the expected range)" if 2 * steepest <= s <= 0.5 * shallowest else
                          "steeper than expected" if s < 2 * steepest else "shallower than expected") + floor_note
    elif c.exponent is None:
        steep = -4 / a.d
        result.verdict = ("steep, as expected" if s <= steep else "slower than spectral") + floor_note
    elif 0.5 <= s / c.exponent <= 2:
        result.verdict = "agrees" + floor_note
    elif s / c.exponent > 2:
        result.verdict = "steeper than expected" + floor_note
    else:
        result.verdict = "shallower than expected" + floor_note


def probe(a: Analysis, rec: Recommendation, quick: bool = False, budget_s: float = PROBE_BUDGET_S,
          on_point: Optional[Callable[[ProbeResult, ProbePoint], None]] = None) -> list[ProbeResult]:
    """Fit every candidate of ``rec`` at its probe sizes (in memory, nothing written); judge the slopes.

    A fit that would end past ``budget_s`` seconds — estimated from the candidate's previous fit, or for a
    net's first size from the first net fitted — is skipped (said in the result), so the probe stays within
    its budget unless an estimate is badly off. ``on_point(result, point)`` is called after every fit.
    """
    start = time.perf_counter()
    # The recommended method first, then the cheap interpolants, then other nets: what the budget cuts is
    # what matters least. Results come back in the recommendation's order.
    order = sorted(rec.candidates, key=lambda c: (c is not rec.method, c.key in ("net", "modular")))
    results = {id(c): ProbeResult(c) for c in rec.candidates}
    first_net: Optional[float] = None  # seconds of the first net fit: a floor for the next one's estimate
    for c in order:
        result = results[id(c)]
        estimate = first_net if c.key in ("net", "modular") and first_net is not None else 0.0
        for cfg_dict in _probe_configs(a, c, quick):
            elapsed = time.perf_counter() - start
            if elapsed + estimate > budget_s:
                result.skipped = f"time budget of {budget_s:g} s (the next fit would end past it)"
                break
            t0 = time.perf_counter()
            try:
                record = run_experiment(build_config(cfg_dict, source="probe"))
            except ConfigError as e:
                result.skipped = str(e)
                break
            s = record.summary
            point = ProbePoint(int(s.N), int(s.D), float(s.metrics["test_rmse"]), time.perf_counter() - t0)
            result.points.append(point)
            estimate = point.seconds
            if c.key in ("net", "modular") and first_net is None:
                first_net = point.seconds
            if on_point is not None:
                on_point(result, point)
        _judge(result, a)
    return [results[id(c)] for c in rec.candidates]


def probe_verdict(rec: Recommendation, results: Sequence[ProbeResult]) -> str:
    """One line: the candidate with the lowest measured RMSE and the one with the steepest slope (a candidate
    at the float64 floor counts as steepest), set against the recommendation."""
    measured = [r for r in results if any(np.isfinite(p.test_rmse) for p in r.points)]
    if not measured:
        return "the probe measured nothing"

    def best_point(r: ProbeResult) -> ProbePoint:
        return min((p for p in r.points if np.isfinite(p.test_rmse)), key=lambda p: (p.test_rmse, p.N))

    def steepness(r: ProbeResult) -> float:
        return -math.inf if r.verdict.startswith("at the float64 floor") else \
            (r.slope if r.slope is not None else math.inf)

    lowest = min(measured, key=lambda r: (best_point(r).test_rmse, best_point(r).N))
    steepest = min(measured, key=steepness)
    p = best_point(lowest)
    low_text = f"the lowest RMSE ({p.test_rmse:.2g} at N = {p.N:,})"
    steep_text = "the steepest slope" if steepness(steepest) > -math.inf else "the float64 floor"
    if steepness(steepest) == math.inf:
        steep_text = None
    rec_key = rec.method
    if lowest.candidate is rec_key and (steep_text is None or steepest.candidate is rec_key):
        return f"the probe agrees: {rec_key.label} has {low_text}" + (f" and {steep_text}" if steep_text else "")
    if steep_text and steepest.candidate is rec_key:
        return (f"the probe partly agrees: {rec_key.label} has {steep_text}, {lowest.candidate.label} "
                f"{low_text} at these small sizes")
    if lowest.candidate is rec_key:
        return (f"the probe partly agrees: {rec_key.label} has {low_text}, {steepest.candidate.label} "
                f"{steep_text}: it may win at larger N")
    other = f"; {steepest.candidate.label} has {steep_text}" if steep_text and steepest is not lowest else \
        (f" and {steep_text}" if steep_text else "")
    return (f"the probe favours {lowest.candidate.label}: it has {low_text}{other}, ahead of the recommended "
            f"{rec_key.label}; consider it (`prec guide` reasons from d, d* and smoothness alone)")


# --------------------------------------------------------------------------- text


def _range_text(a: Analysis) -> str:
    parts = [f"{v} ∈ [{lo:g}, {hi:g}]" for v, lo, hi in zip(a.variables, a.lows, a.highs)]
    return ", ".join(parts) if len(parts) <= 8 else ", ".join(parts[:8]) + f", … ({len(parts)} in all)"


def format_report(a: Analysis, rec: Recommendation, config_text: str) -> str:
    """The guide's report as plain text (what ``prec guide`` prints before any probe)."""
    w = 16
    lines = [f"{a.description}", ""]

    def row(key: str, value: str) -> None:
        lines.append(f"  {key:<{w}}{value}")

    box = "the data's range" if a.kind == "data" else "the sampling box"
    row("dimension d", f"{a.d}   ({box}: {_range_text(a)})")
    if a.d_star is None:
        row("arity d*", "unknown (a data file has no formula; a network can find low-arity structure if any)")
    else:
        why = "the largest number of inputs of any node of the formula's graph of unary/binary operations"
        if a.kind == "teacher":
            why = "a net is a graph of sums, products and unary activations"
        row("arity d*", f"{a.d_star}   ({why})")
    if a.graph is not None:
        row("module graph", graph_text(a.graph))
    smooth = a.smooth.verdict if a.smooth.verdict != UNKNOWN else "unknown"
    note = f"  ({'; '.join(a.smooth.notes)})" if a.smooth.notes else ""
    row("smooth", f"{'yes' if a.smooth.verdict == SMOOTH else smooth}{note}")
    row("output scale", f"RMS {a.scale_rms:.4g}, max |f| {a.scale_max:.4g}  (over {a.scale_from})")
    row("float64 floor", f"≈ {a.floor:.2g} absolute RMSE  (ε · RMS, ε = 2^-52 ≈ {EPS:.3g}; relative ≈ {EPS:.1g})")
    lines += ["", f"Recommendation: {rec.method.label}  [{rec.regime}]", f"  {rec.reason}.",
              f"  expected scaling: RMSE ∝ {rec.method.expectation}"]
    for note in rec.notes:
        lines.append(f"  {note}" if note.startswith("warning:") else f"  note: {note}")
    lines += ["", "Candidates (--probe fits each at 2–3 sizes):"]
    width = max(len(c.label) for c in rec.candidates)
    for c in rec.candidates:
        mark = "→" if c is rec.method else " "
        lines.append(f"  {mark} {c.label:<{width}}  RMSE ∝ {c.expectation}")
    lines += ["", "Ready-to-run config:", *("  " + line for line in config_text.rstrip("\n").splitlines())]
    return "\n".join(lines)


def format_probe(a: Analysis, rec: Recommendation, results: Sequence[ProbeResult], seconds: float) -> str:
    lines = [f"Probe ({seconds:.0f} s; test RMSE on {PROBE_TEST_POINTS} points; slopes fitted above "
             f"{FLOOR_MARGIN:g} × the floor = {FLOOR_MARGIN * a.floor:.2g}):"]
    width = max(len(r.candidate.label) for r in results)
    for r in results:
        c = r.candidate
        pts = "  ".join(f"N={p.N:,}: {p.test_rmse:.3g}" for p in r.points) or "(none)"
        lines.append(f"  {c.label:<{width}}  {pts}")
        expected = "spectral" if c.exponent is None else f"{c.exponent:.3g}"
        if c.exponent_range is not None:
            expected = f"{c.exponent_range[0]:.3g} … {c.exponent_range[1]:.3g}"
        measured = f"{r.slope:.3g}" if r.slope is not None else "—"
        lines.append(f"  {'':<{width}}  slope {measured} (expected {expected}): {r.verdict}"
                     + (f"; stopped: {r.skipped}" if r.skipped else ""))
    lines.append(f"  {probe_verdict(rec, results)}")
    return "\n".join(lines)
