"""Reading a target and measuring what the guide depends on: d, d*, the module graph, smoothness, scale.

A target is a Feynman equation id, an inline formula (with its variables' ranges), a teacher network, a
config's target or a data file (:func:`analyze`). What is measured (:class:`Analysis`):

* ``d``: the number of inputs (declared variables, or a data file's input columns).
* ``d*``, the largest arity of the formula's computation graph, and its module graph
  (:mod:`precision_jax.analysis.guide.graph`). A teacher network is a graph of sums, products and unary
  activations: d* = min(d, 2) as well. For a data file d* is unknown.
* Smoothness (:mod:`precision_jax.analysis.guide.singularities`); unknown for a data file.
* Output scale: the RMS (and max) of |f| over :data:`SCALE_SAMPLES` seeded uniform points in the box (for
  data, over the file's rows), and the float64 floor of the absolute RMSE,

      floor = ε · RMS(f),   ε = 2⁻⁵² ≈ 2.2e-16:

  no method can be expected to beat it, since f itself is only known to about that accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from precision_jax.analysis.guide.graph import GraphModule, computation_arity, module_graph
from precision_jax.analysis.guide.singularities import (
    SCALE_SAMPLES,
    UNKNOWN,
    Smoothness,
    activation_smoothness,
    box_points,
    smoothness,
)
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.experiment import build_config, load_config
from precision_jax.models.spline import tensor_grid
from precision_jax.problems import data_files, data_target
from precision_jax.problems.targets import UnknownEquation, equation_target, feynman_registry
from precision_jax.runs.plan import check_target, resolve_target

__all__ = ["EPS", "DATA_SUFFIXES", "CONFIG_SUFFIXES", "GuideError", "Analysis", "analyze"]

EPS = float(np.finfo(np.float64).eps)  # 2^-52
DATA_SUFFIXES = (".csv", ".npz", ".npy")
CONFIG_SUFFIXES = (".yaml", ".yml")


class GuideError(ConfigError):
    """A TARGET the guide cannot read (exit status 2 from the CLI, one line)."""


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


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(y * y)))


def _from_target(kind: str, name: str, description: str, target, target_section: dict,
                 activation: Optional[str] = None) -> Analysis:
    """Analysis of a function target (equation, formula, teacher)."""
    check_target(target)  # a target that is not finite on its box is refused in one line
    points = box_points(target.lows, target.highs)
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
        smooth = activation_smoothness(activation)
    return Analysis(kind, name, description, tuple(target.variables), tuple(map(float, target.lows)),
                    tuple(map(float, target.highs)), d_star, smooth, _rms(y),
                    float(np.max(np.abs(y_all))), f"{SCALE_SAMPLES:,} seeded uniform points", target_section,
                    d_used=d_used if d_used != d else None, graph=graph, activation=activation,
                    teacher_widths=tuple((target_section.get("teacher") or {}).get("widths", ())) or None)


def _from_data(section: dict) -> Analysis:
    """Analysis of a data-file target section (paths absolute)."""
    table = data_files.read_table(section["data"], section.get("inputs"), section.get("output"))
    test = None
    if section.get("test_data"):
        test = data_files.read_table(section["test_data"], table.inputs, table.output, key="target.test_data")
    lows, highs = table.x.min(axis=0), table.x.max(axis=0)
    for column, low, high in zip(table.inputs, lows, highs):
        if not low < high:
            raise GuideError(f"{table.name}: input {column!r} is constant; leave it out of inputs", "target.data")
    pool = table.n if test is not None else table.n - data_target.holdout_count(table.n)
    y = table.y
    section = {**section, "inputs": list(table.inputs), "output": table.output}
    description = f"{table.name}: {table.output} of {', '.join(table.inputs)}, {table.n} rows" + \
        (f" (+ {test.n} test rows from {test.name})" if test is not None else "")
    return Analysis("data", f"{table.name}:{table.output}", description, tuple(table.inputs),
                    tuple(map(float, lows)), tuple(map(float, highs)), None,
                    Smoothness(UNKNOWN, ("a data file: smoothness cannot be read off samples",)),
                    _rms(y), float(np.max(np.abs(y))), f"the file's {table.n:,} rows",
                    section, pool=pool, grid=tensor_grid(table.x) is not None)


def _from_config(cfg) -> Analysis:
    """Analysis of a validated config's target."""
    t = cfg.target
    section = {k: v for k, v in to_dict(t).items() if v is not None}
    if getattr(t, "data", None) is not None:
        return _from_data({k: v for k, v in section.items() if not k.endswith("sha256")})
    target = resolve_target(cfg)
    if t.equation is not None:
        row = feynman_registry()[t.equation]
        return _from_target("equation", row.id, f"{row.id}: {row.output} = {row.formula}", target, section)
    if t.formula is not None:
        return _from_target("formula", t.formula, f"f = {t.formula}", target, section)
    w = t.teacher.widths
    return _from_target("teacher", f"teacher {'-'.join(map(str, w))}",
                        f"a random {t.teacher.activation} teacher net {'-'.join(map(str, w))} (seed {t.teacher.seed})",
                        target, section, t.teacher.activation)


def _from_section(section: dict, source: str = "") -> Analysis:
    """Analysis of a bare ``target:`` section (paths absolute)."""
    if section.get("data") is not None:
        return _from_data(section)
    # Validate the target section alone by wrapping it in a minimal config.
    return _from_config(build_config({"name": "guide", "target": section, "model": {"kind": "simplex"},
                                      "data": {"train_points": 10}}, source=source))


def analyze(spec: str, variables: Optional[dict[str, tuple[float, float]]] = None) -> Analysis:
    """Analyze TARGET: an equation id, a config file (its target), a data file, or (with ``variables``) a formula.

    Raises :class:`ConfigError` (one line) for anything else.
    """
    if variables:
        return _from_section({"formula": spec, "variables": {k: list(v) for k, v in variables.items()}},
                             "TARGET")
    path = Path(spec)
    suffix = path.suffix.lower()
    if path.is_file() or suffix in DATA_SUFFIXES + CONFIG_SUFFIXES:
        if not path.is_file():
            raise GuideError(f"no such file: {spec}", "", "TARGET")
        if suffix in DATA_SUFFIXES:
            return _from_data({"data": str(path.resolve())})
        if suffix in CONFIG_SUFFIXES:
            return _from_config(load_config(path))
        raise GuideError(f"{spec}: not a config ({', '.join(CONFIG_SUFFIXES)}) or data file "
                         f"({', '.join(DATA_SUFFIXES)})", "", "TARGET")

    if spec not in feynman_registry():
        try:
            equation_target(spec)
        except UnknownEquation as e:
            raise GuideError(f"{spec!r} is not an equation id, a config file or a data file ({e})", "",
                             "TARGET") from None
    return _from_section({"equation": spec})
