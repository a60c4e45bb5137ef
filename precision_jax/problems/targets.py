"""Regression targets: a function ``f: R^d -> R`` and the box its inputs are drawn from.

Four kinds, all producing a :class:`Target`:

* :func:`equation_target` -- a row of the AI Feynman registry shipped in
  ``precision_jax/problems/feynman_equations.csv`` (109 equations);
* :func:`formula_target` -- an inline formula in the restricted grammar of
  :mod:`precision_jax.problems.formula`, e.g. ``exp(x*y)`` on ``[-1, 1]^2``;
* :func:`teacher_target` -- a randomly initialised MLP (the paper's
  teacher-student setting), inputs on ``[-1, 1]^d``;
* :func:`precision_jax.problems.data_target.data_target` -- rows of a data file (CSV,
  ``.npz``, ``.npy``): no function at all. Its ``fn`` is None and its ``data``
  holds the rows (a :class:`precision_jax.problems.data_target.DataPoints`); the box is the
  rows' range. Code that evaluates a target branches on ``target.fn is None``
  (:func:`precision_jax.runs.training.run_data` takes the rows instead of sampling).

Every other ``Target.fn`` maps ``x`` of shape ``(n, d)`` to shape ``(n,)``,
float64, and is a pure, jittable function.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import math
import operator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp

from precision_jax.numerics.dense_net import ACTIVATIONS, init_mlp, mlp_apply
from precision_jax.problems.formula import FormulaError, compile_formula, parse_formula

__all__ = [
    "Target",
    "Equation",
    "UnknownEquation",
    "feynman_registry",
    "equation_target",
    "formula_target",
    "teacher_target",
]

_REGISTRY_RESOURCE = ("precision_jax.problems", "feynman_equations.csv")


def _check_box(variables: tuple[str, ...], lows: tuple[float, ...], highs: tuple[float, ...], what: str) -> None:
    if not (len(variables) == len(lows) == len(highs)):
        raise ValueError(f"{what}: {len(variables)} variables but {len(lows)} lows and {len(highs)} highs")
    for name, lo, hi in zip(variables, lows, highs):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"{what}: range of {name!r} must be finite with low < high, got [{lo}, {hi}]")


@dataclass(frozen=True)
class Target:
    """A function to regress and the box ``[lows, highs]`` its inputs are sampled from.

    ``fn`` maps ``x`` of shape ``(n, d)`` (columns in ``variables`` order) to
    ``(n,)``, float64; it is pure and jittable. A data-file target has no
    function: ``fn`` is None and ``data`` holds its rows.
    """

    name: str
    variables: tuple[str, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    fn: Optional[Callable[[jax.Array], jax.Array]]
    formula: str | None = None  # source formula; None for teachers
    expr: Any = None  # sympy expression, for high-precision reference values
    params: Any = field(default=None, compare=False)  # teacher network (list of (W, b)); None otherwise
    data: Any = field(default=None, compare=False)  # a data file's rows (data_target.DataPoints); None otherwise

    def __post_init__(self):
        _check_box(self.variables, self.lows, self.highs, f"target {self.name!r}")

    @property
    def d(self) -> int:
        """Input dimension."""
        return len(self.variables)


@dataclass(frozen=True)
class Equation:
    """One row of the Feynman registry: ``output = formula(variables)`` on a box."""

    id: str
    output: str
    formula: str
    variables: tuple[str, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]

    def __post_init__(self):
        _check_box(self.variables, self.lows, self.highs, f"equation {self.id!r}")

    @property
    def d(self) -> int:
        """Input dimension."""
        return len(self.variables)


class UnknownEquation(KeyError, ValueError):
    """An equation id that is not in the registry; the message suggests close ids."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def _parse_variables(spec: str, eq_id: str) -> tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...]]:
    """``"x:1:5 y:-1:1"`` -> (("x", "y"), (1.0, -1.0), (5.0, 1.0))."""
    names, lows, highs = [], [], []
    for item in spec.split():
        parts = item.split(":")
        if len(parts) != 3:
            raise ValueError(f"equation {eq_id!r}: bad variable spec {item!r}, expected name:low:high")
        names.append(parts[0])
        lows.append(float(parts[1]))
        highs.append(float(parts[2]))
    return tuple(names), tuple(lows), tuple(highs)


@functools.cache
def _load_registry() -> dict[str, Equation]:
    package, path = _REGISTRY_RESOURCE
    text = resources.files(package).joinpath(path).read_text(encoding="utf-8")
    registry: dict[str, Equation] = {}
    for row in csv.DictReader(io.StringIO(text)):
        eq_id = row["id"].strip()
        if eq_id in registry:
            raise ValueError(f"duplicate equation id {eq_id!r} in {path}")
        names, lows, highs = _parse_variables(row["variables"], eq_id)
        registry[eq_id] = Equation(eq_id, row["output"].strip(), row["formula"].strip(), names, lows, highs)
    return registry


def feynman_registry() -> dict[str, Equation]:
    """All registry equations by id, in file order (a fresh dict over cached rows)."""
    return dict(_load_registry())


def _close_ids(equation_id: str, ids: Sequence[str]) -> list[str]:
    # Case-insensitive, so "i.8.14" still finds "I.8.14".
    by_lower = {i.lower(): i for i in ids}
    return [by_lower[m] for m in difflib.get_close_matches(equation_id.lower(), list(by_lower), n=3, cutoff=0.6)]


def equation_target(equation_id: str) -> Target:
    """The registry equation ``equation_id`` (e.g. ``"I.8.14"``) as a :class:`Target`.

    Raises
    ------
    UnknownEquation : if the id is not in the registry; the message lists the closest ids.
    """
    registry = _load_registry()
    eq = registry.get(equation_id) if isinstance(equation_id, str) else None
    if eq is None:
        close = _close_ids(str(equation_id), list(registry))
        hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(registry)} equations, e.g. I.8.14, Z.001)"
        raise UnknownEquation(f"unknown equation {equation_id!r}{hint}")
    expr = parse_formula(eq.formula, eq.variables)
    fn = compile_formula(expr, eq.variables)
    return Target(eq.id, eq.variables, eq.lows, eq.highs, fn, formula=eq.formula, expr=expr)


def formula_target(formula: str, variables: Mapping[str, Sequence[float]]) -> Target:
    """An inline formula over named variables with ranges, e.g. ``("exp(x*y)", {"x": [-1, 1], "y": [-1, 1]})``.

    ``variables`` is ordered: its order is the column order of ``x``.

    Raises
    ------
    FormulaError (a ValueError) : formula outside the grammar, or a bad range.
    """
    if not variables:
        raise FormulaError("a formula needs at least one variable with its range, e.g. {'x': [-1, 1]}")
    names, lows, highs = [], [], []
    for name, bounds in variables.items():
        try:
            low, high = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise FormulaError(f"range of {name!r} must be [low, high], got {bounds!r}") from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise FormulaError(f"range of {name!r} must be finite with low < high, got [{low}, {high}]")
        names.append(name)
        lows.append(low)
        highs.append(high)
    names_t = tuple(names)
    expr = parse_formula(formula, names_t)
    fn = compile_formula(expr, names_t)
    return Target(formula, names_t, tuple(lows), tuple(highs), fn, formula=formula, expr=expr)


def teacher_target(widths: Sequence[int], activation: str = "tanh", seed: int = 0) -> Target:
    """A random MLP teacher with layer widths ``widths`` (last must be 1), inputs on ``[-1, 1]^d``.

    Parameters are drawn by :func:`~precision_jax.numerics.dense_net.init_mlp`
    from ``jax.random.PRNGKey(seed)`` (PyTorch-style uniform init), so a seed
    names a teacher.  Variables are ``x`` for ``d == 1``, else ``x1..xd``.
    """
    try:
        widths = tuple(operator.index(w) for w in widths)
    except TypeError:
        raise ValueError(f"teacher widths must be positive integers, got {list(widths)}") from None
    if len(widths) < 2:
        raise ValueError(f"teacher widths need at least an input and an output width, got {list(widths)}")
    if not all(w > 0 for w in widths):
        raise ValueError(f"teacher widths must be positive integers, got {list(widths)}")
    if widths[-1] != 1:
        raise ValueError(f"a teacher has one output (last width 1), got {list(widths)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; known: {', '.join(sorted(ACTIVATIONS))}")
    d = widths[0]
    params = init_mlp(jax.random.PRNGKey(seed), widths)

    def fn(x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, dtype=jnp.float64)
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"expected x of shape (n, {d}), got {x.shape}")
        return mlp_apply(params, x, activation)

    variables = ("x",) if d == 1 else tuple(f"x{i}" for i in range(1, d + 1))
    name = f"teacher[{','.join(map(str, widths))}]{activation}#{seed}"
    return Target(name, variables, (-1.0,) * d, (1.0,) * d, fn, params=params)
