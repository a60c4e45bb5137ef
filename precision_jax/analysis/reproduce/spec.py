"""Figure specs: what one figure of the paper needs run, how it is drawn and which claims it judges.

A figure spec is data, one YAML file per figure (``configs/figures/<figure>.yaml``)::

    figure: "1"                      # the published figure id (Entropy 2023, 25(1):175); the output folder's name
    title: Linear regions            # the figure's suptitle
    caption: >-                      # the published caption, paraphrased (carried by every report)
      (a) a ReLU net vs linear simplex interpolation on y = cos(2x); (b) ...
    published: true                  # false: an extra figure, not in the published paper (listed after it)
    layout: [1, 3]                   # panel rows, columns
    size: [12, 3.8]                  # inches (optional)
    runs:                            # named run sets: each is a sweep (base config + axes)
      raw:
        base: {target: ..., model: ..., train: ...}   # an inline config, or a path relative to this file
        grid: {seed: [1]}                              # sweep axes (dotted keys), as in configs/sweeps/
        zip: {...}                                     # optional, as in sweeps
        profiles:                                      # per profile: overrides of the paper-size base
          smoke: {set: {train.0.steps: 300}, grid: {seed: [1]}}
          reduced: {set: {...}}
    panels:
      - kind: function_1d            # a kind of precision_jax.analysis.figures.panels.PANELS
        title: ReLU, raw inputs
        series: [{runs: raw, label: "1-5-5-1 ReLU", where: {model.depth: 3}, style: {...}}]
        options: {...}               # passed to the panel as is
    claims:
      - id: standardize_helps
        text: standardizing inputs lowers the RMSE
        paper: 2.36e-2 vs 7.82e-2    # the paper's numbers, as the paper states them (text)
        lhs: {metric: min_test_rmse, runs: standardized}
        op: "<"                      # <, <=, >, >=, within (|lhs − rhs| ≤ tol), closer (|lhs − rhs| < |lhs − than|)
        rhs: {metric: min_test_rmse, runs: raw}
        preconditions:               # optional: what the runs must satisfy for the claim to be judged
          converged: {factor: 1.1, window: 0.1}   # false: not checked
          in_range: {x: N, min: 1.0e3, max: 1.0e6}
          enough_sizes: 4                         # slopes only
          asymptotic: {tol: 0.3}                  # slopes only
          seeds_agree: 3

The base of each run set is written at the paper's sizes (profile ``paper``);
``smoke`` and ``reduced`` override keys (``set``) and axes (``grid``, which
replaces the named axes). Every run set's experiment name is forced to
``fig<figure>-<run set>``, so the store is laid out by figure. Quantities
(``lhs``, ``rhs``, ``than``) are read by :mod:`precision_jax.analysis.reproduce.claims`.

Figure ids are the published paper's. The ids this project used before it read the published figure list
(from the paper's code and notebooks) are in :data:`FORMER_IDS`: an old id that no published figure took
(6a, 6b) still names its figure, and one that now means another figure (1, 3, 4, 5, A3) names the published
one; :func:`former_id_note` gives the one-line note either way.

A claim's preconditions (checked by :mod:`precision_jax.analysis.reproduce.preconditions`) default by its
kind: every claim checks ``converged`` and ``seeds_agree``; a claim with a slope also checks
``enough_sizes`` and ``asymptotic``; ``in_range`` is checked where the spec states the paper's range.
``false`` turns one off (say why in the spec's comments); ``true`` or a mapping sets its parameters.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from precision_jax.config import shipped
from precision_jax.config.engine import ConfigError, read_yaml

PROFILES = ("smoke", "reduced", "paper")
FIGURE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
RUN_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
OPS = ("<", "<=", ">", ">=", "within", "closer")
# A slope or a measure may name the metric it reads, so the kind is the first of these keys present.
QUANTITY_KINDS = ("slope", "measure", "ratio", "log_ratio", "value", "metric")
# A claim's preconditions in the order they are checked and reported: name → (report name, default parameters).
PRECONDITIONS = {
    "converged": ("converged", {"factor": 1.1, "window": 0.1}),
    "in_range": ("in range", {"x": "N", "min": None, "max": None}),
    "enough_sizes": ("enough sizes", {"min": 4}),
    "asymptotic": ("asymptotic", {"tol": 0.3}),
    "seeds_agree": ("seeds agree", {"min": 3}),
}
SLOPE_PRECONDITIONS = ("enough_sizes", "asymptotic")  # they read a fitted slope's window
TOP_KEYS = ("figure", "title", "caption", "published", "layout", "size", "runs", "panels", "claims", "note")
# The ids used before the published numbering (assigned from the paper's code and notebooks) → (the id that
# figure has now, what it is).
FORMER_IDS = {
    "1": ("4", "spline interpolation"),
    "3": ("1", "linear regions in 1-D, now panel (a) of Fig. 1"),
    "4": ("1", "linear regions in 2-D, now panel (b) of Fig. 1"),
    "5": ("3", "modular vs dense networks"),
    "6a": ("6", "the exactly expressible 6-D target"),
    "6b": ("5", "tanh vs ReLU networks and simplex"),
    "A3": ("relu-x2-vs-simplex", "ReLU nets vs simplex on y = x², an extra figure"),
}


@dataclass(frozen=True)
class RunSetSpec:
    """A named sweep of the figure: its base config data, axes, and per-profile overrides."""

    name: str
    base: dict
    grid: dict
    zip: Any
    profiles: dict  # profile → {"set": {dotted key: value}, "grid": {dotted key: [values]}}

    def sweep_data(self, profile: str, experiment: str, store_root: str) -> dict:
        """The sweep mapping (for :func:`precision_jax.runs.sweep.parse_sweep`) of this run set under ``profile``."""
        from precision_jax.experiment import apply_override

        base = copy.deepcopy(self.base)
        override = self.profiles.get(profile, {})
        for key, value in (override.get("set") or {}).items():
            apply_override(base, key.split("."), copy.deepcopy(value))
        base["name"] = experiment
        if not isinstance(base.setdefault("output", {}), dict):
            raise ConfigError(f"expected a mapping, got {base['output']!r}", "base.output")
        base["output"]["dir"] = store_root
        grid = dict(self.grid)
        grid.update(override.get("grid") or {})
        data = {"name": experiment, "base": base}
        if grid:
            data["grid"] = grid
        if self.zip:
            data["zip"] = copy.deepcopy(override.get("zip", self.zip))
        return data


@dataclass(frozen=True)
class SeriesSpec:
    runs: str
    label: str
    where: dict = field(default_factory=dict)
    style: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PanelSpec:
    kind: str
    title: str
    series: tuple[SeriesSpec, ...]
    options: dict


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    text: str
    paper: str
    lhs: dict
    op: str
    rhs: Any = None   # a quantity mapping or a number
    than: Any = None  # closer: the alternative
    tol: Optional[float] = None
    factor: float = 1.0
    # (name, parameters) of each precondition checked, in PRECONDITIONS order; none unless given (the parser
    # fills the defaults by the claim's kind, see default_preconditions)
    preconditions: tuple = ()


@dataclass(frozen=True)
class FigureSpec:
    figure: str
    title: str
    layout: tuple[int, int]
    size: tuple[float, float]
    runs: dict  # name → RunSetSpec
    panels: tuple[PanelSpec, ...]
    claims: tuple[ClaimSpec, ...]
    source: str = ""
    note: str = ""
    caption: str = ""  # the published caption, paraphrased
    published: bool = True  # False: an extra figure, not one of the published paper's

    @property
    def label(self) -> str:
        """How reports name the figure: "Fig. 3" for a published one, "extra figure NAME" otherwise."""
        return f"Fig. {self.figure}" if self.published else f"extra figure {self.figure}"

    def experiment(self, run_set: str) -> str:
        """The store name of a run set's runs."""
        return f"fig{self.figure}-{run_set}"


def _mapping(value: Any, key: str, required: tuple = (), allowed: Optional[tuple] = None) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"expected a mapping, got {value!r}", key)
    for name in required:
        if name not in value:
            raise ConfigError("missing required key", f"{key}.{name}" if key else name)
    if allowed is not None:
        for name in value:
            if name not in allowed:
                raise ConfigError(f"unknown key {name!r}; expected one of: {', '.join(allowed)}",
                                  f"{key}.{name}" if key else str(name))
    return value


def _text(value: Any, key: str) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ConfigError(f"expected text, got {value!r}", key)
    return str(value)


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"expected a number, got {value!r}", key)
    return float(value)


def quantity_kind(q: dict) -> Optional[str]:
    return next((k for k in QUANTITY_KINDS if k in q), None)


def _quantity(value: Any, key: str, run_sets: dict) -> Any:
    """Check a claim quantity: a number, or a mapping with exactly one kind key (see claims.py)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    q = _mapping(value, key)
    kind = quantity_kind(q)
    if kind is None:
        raise ConfigError(f"give one of {', '.join(QUANTITY_KINDS)}", key)
    if kind in ("ratio", "log_ratio"):
        parts = q[kind]
        if not isinstance(parts, list) or len(parts) != 2:
            raise ConfigError("expected [numerator, denominator]", f"{key}.{kind}")
        return {kind: [_quantity(p, f"{key}.{kind}.{i}", run_sets) for i, p in enumerate(parts)]}
    if kind == "value":
        return {"value": _number(q["value"], f"{key}.value")}
    runs = q["slope"] if kind == "slope" else q.get("runs")
    if not isinstance(runs, str) or runs not in run_sets:
        raise ConfigError(f"names no run set of this figure (have: {', '.join(run_sets)})",
                          f"{key}.{'slope' if kind == 'slope' else 'runs'}")
    allowed = {"metric": ("metric", "runs", "where", "at", "x", "reduce", "across", "group_by", "with", "with_where"),
               "slope": ("slope", "where", "x", "metric", "range", "floor", "first", "last"),
               "measure": ("measure", "runs", "where", "options", "reduce")}[kind]
    _mapping(q, key, allowed=allowed)
    if "where" in q:
        _mapping(q["where"], f"{key}.where")
    if q.get("at") == "common" and (not isinstance(q.get("with"), str) or q["with"] not in run_sets):
        raise ConfigError(f"`at: common` needs `with:` naming the other run set (have: {', '.join(run_sets)})",
                          f"{key}.with")
    for name, choices in (("at", ("max", "min", "all", "common")), ("reduce", ("median", "mean", "min", "max")),
                          ("across", ("median", "mean", "min", "max")), ("x", ("N", "D"))):
        if name in q and q[name] not in choices:
            raise ConfigError(f"expected one of {', '.join(choices)}, got {q[name]!r}", f"{key}.{name}")
    if kind == "measure":
        from precision_jax.analysis.reproduce.measures import MEASURES

        if not isinstance(q["measure"], str) or q["measure"] not in MEASURES:
            raise ConfigError(f"unknown measure {q['measure']!r}; known: {', '.join(sorted(MEASURES))}",
                              f"{key}.measure")
    return copy.deepcopy(q)


def _run_set(name: str, value: Any, base_dir: Path) -> RunSetSpec:
    key = f"runs.{name}"
    if not isinstance(name, str) or not RUN_SET_NAME.fullmatch(name):
        raise ConfigError("a run set's name must be a plain name ([A-Za-z0-9_-]+)", key)
    data = _mapping(value, key, required=("base",), allowed=("base", "grid", "zip", "profiles"))
    base = data["base"]
    if isinstance(base, str):
        path = Path(base) if Path(base).is_absolute() else base_dir / base
        try:
            base = read_yaml(path)
        except ConfigError as e:
            raise ConfigError(e.what, f"{key}.base") from None
    base = copy.deepcopy(_mapping(base, f"{key}.base"))
    grid = _mapping(data.get("grid") or {}, f"{key}.grid")
    profiles = _mapping(data.get("profiles") or {}, f"{key}.profiles", allowed=PROFILES)
    for profile, override in profiles.items():
        where = f"{key}.profiles.{profile}"
        override = _mapping(override or {}, where, allowed=("set", "grid", "zip"))
        _mapping(override.get("grid") or {}, f"{where}.grid")
        for dotted in _mapping(override.get("set") or {}, f"{where}.set"):
            if not isinstance(dotted, str) or not all(dotted.split(".")):
                raise ConfigError(f"expected dotted config keys like train.0.steps, got {dotted!r}", f"{where}.set")
    profiles = {p: dict(o or {}) for p, o in profiles.items()}
    return RunSetSpec(name, base, dict(grid), copy.deepcopy(data.get("zip")), profiles)


def _panel(value: Any, key: str, run_sets: dict) -> PanelSpec:
    from precision_jax.analysis.figures.panels import PANELS

    data = _mapping(value, key, required=("kind",), allowed=("kind", "title", "series", "options"))
    if not isinstance(data["kind"], str) or data["kind"] not in PANELS:
        raise ConfigError(f"unknown panel kind {data['kind']!r}; known: {', '.join(sorted(PANELS))}", f"{key}.kind")
    if not isinstance(data.get("series") or [], list):
        raise ConfigError(f"expected a list of series, got {data['series']!r}", f"{key}.series")
    series = []
    for i, s in enumerate(data.get("series") or []):
        where = f"{key}.series.{i}"
        s = _mapping(s, where, required=("runs",), allowed=("runs", "label", "where", "style"))
        if not isinstance(s["runs"], str) or s["runs"] not in run_sets:
            raise ConfigError(f"names no run set of this figure (have: {', '.join(run_sets)})", f"{where}.runs")
        series.append(SeriesSpec(s["runs"], _text(s.get("label", s["runs"]), f"{where}.label"),
                                 dict(_mapping(s.get("where") or {}, f"{where}.where")),
                                 dict(_mapping(s.get("style") or {}, f"{where}.style"))))
    return PanelSpec(data["kind"], _text(data.get("title", ""), f"{key}.title"), tuple(series),
                     dict(_mapping(data.get("options") or {}, f"{key}.options")))


def has_slope(q: Any) -> bool:
    """Whether a quantity is, or contains, a fitted slope."""
    if not isinstance(q, dict):
        return False
    return "slope" in q or any(has_slope(p) for p in (*q.get("ratio", ()), *q.get("log_ratio", ())))


def default_preconditions(*quantities: Any) -> dict:
    """The preconditions a claim on these quantities checks unless its spec says otherwise."""
    names = ["converged", "seeds_agree"] + (list(SLOPE_PRECONDITIONS) if any(map(has_slope, quantities)) else [])
    return {name: dict(PRECONDITIONS[name][1]) for name in names}


def _preconditions(value: Any, key: str, quantities: tuple) -> tuple:
    """A claim's ``preconditions:`` mapping over its defaults, as ((name, parameters), …) in checking order."""
    chosen = default_preconditions(*quantities)
    slope = any(map(has_slope, quantities))
    for name, given in _mapping(value or {}, key, allowed=tuple(PRECONDITIONS)).items():
        where = f"{key}.{name}"
        if name in SLOPE_PRECONDITIONS and given is not False and not slope:
            raise ConfigError("applies to a claim with a slope quantity only", where)
        if given is False:
            chosen.pop(name, None)
            continue
        params = dict(PRECONDITIONS[name][1])
        if isinstance(given, int) and not isinstance(given, bool) and "min" in params and name != "in_range":
            given = {"min": given}
        if given is not True:
            for k, v in _mapping(given, where, allowed=tuple(params)).items():
                params[k] = v if k == "x" else _number(v, f"{where}.{k}")
        if name == "in_range":
            if params["x"] not in ("N", "D"):
                raise ConfigError(f"expected N or D, got {params['x']!r}", f"{where}.x")
            if params["min"] is None and params["max"] is None:
                raise ConfigError("give the paper's range: min, max or both", where)
        if name in ("enough_sizes", "seeds_agree"):
            if params["min"] != int(params["min"]) or params["min"] < (2 if name == "enough_sizes" else 1):
                raise ConfigError(f"expected a whole number of {'sizes ≥ 2' if name == 'enough_sizes' else 'seeds'}"
                                  f", got {params['min']!r}", f"{where}.min")
            params["min"] = int(params["min"])
        if name == "converged" and not (params["factor"] >= 1.0 and 0.0 < params["window"] < 1.0):
            raise ConfigError("expected factor ≥ 1 and 0 < window < 1", where)
        if name == "asymptotic" and not params["tol"] > 0.0:
            raise ConfigError("expected tol > 0", f"{where}.tol")
        chosen[name] = params
    return tuple((name, chosen[name]) for name in PRECONDITIONS if name in chosen)


def _claim(value: Any, key: str, run_sets: dict) -> ClaimSpec:
    data = _mapping(value, key, required=("id", "text", "paper", "lhs", "op"),
                    allowed=("id", "text", "paper", "lhs", "op", "rhs", "than", "tol", "factor", "preconditions"))
    op = data["op"]
    if op not in OPS:
        raise ConfigError(f"expected one of {', '.join(OPS)}, got {op!r}", f"{key}.op")
    if "rhs" not in data:
        raise ConfigError("missing required key", f"{key}.rhs")
    if op == "within" and "tol" not in data:
        raise ConfigError("`within` needs a tolerance", f"{key}.tol")
    if op == "closer" and "than" not in data:
        raise ConfigError("`closer` needs the alternative it is compared with", f"{key}.than")
    tol = _number(data["tol"], f"{key}.tol") if "tol" in data else None
    lhs = _quantity(data["lhs"], f"{key}.lhs", run_sets)
    rhs = _quantity(data["rhs"], f"{key}.rhs", run_sets)
    than = _quantity(data["than"], f"{key}.than", run_sets) if "than" in data else None
    preconditions = _preconditions(data.get("preconditions"), f"{key}.preconditions", (lhs, rhs, than))
    return ClaimSpec(_text(data["id"], f"{key}.id"), _text(data["text"], f"{key}.text"),
                     _text(data["paper"], f"{key}.paper"), lhs, op, rhs, than,
                     tol, _number(data.get("factor", 1.0), f"{key}.factor"), preconditions)


def parse_figure(data: Any, source: str = "", base_dir: str | Path = ".") -> FigureSpec:
    """Validate a figure mapping into a :class:`FigureSpec`; errors name ``source`` and the key."""
    try:
        data = _mapping(data, "", required=("figure", "title", "runs", "panels", "claims"), allowed=TOP_KEYS)
        figure = _text(data["figure"], "figure")
        if not FIGURE_ID.fullmatch(figure):
            raise ConfigError(f"a figure id is a plain name ([A-Za-z0-9_-]+), got {figure!r}", "figure")
        runs = {}
        for name, value in _mapping(data["runs"], "runs").items():
            runs[name] = _run_set(name, value, Path(base_dir))
        if not runs:
            raise ConfigError("a figure needs at least one run set", "runs")
        layout = data.get("layout", [1, len(data["panels"]) if isinstance(data["panels"], list) else 1])
        if (not isinstance(layout, list) or len(layout) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in layout)):
            raise ConfigError(f"expected [rows, columns], got {layout!r}", "layout")
        if not isinstance(data["panels"], list) or not data["panels"]:
            raise ConfigError("expected a non-empty list of panels", "panels")
        if len(data["panels"]) > layout[0] * layout[1]:
            raise ConfigError(f"{len(data['panels'])} panels do not fit a {layout[0]}×{layout[1]} layout", "layout")
        panels = tuple(_panel(p, f"panels.{i}", runs) for i, p in enumerate(data["panels"]))
        size = data.get("size", [4.2 * layout[1], 3.6 * layout[0]])
        if not isinstance(size, list) or len(size) != 2:
            raise ConfigError(f"expected [width, height] in inches, got {size!r}", "size")
        size = tuple(_number(v, f"size.{i}") for i, v in enumerate(size))
        if not isinstance(data["claims"], list):
            raise ConfigError("expected a list of claims", "claims")
        claims = tuple(_claim(c, f"claims.{i}", runs) for i, c in enumerate(data["claims"]))
        ids = [c.id for c in claims]
        if len(set(ids)) != len(ids):
            raise ConfigError("claim ids must be unique", "claims")
        published = data.get("published", True)
        if not isinstance(published, bool):
            raise ConfigError(f"expected true or false, got {published!r}", "published")
        return FigureSpec(figure, _text(data["title"], "title"), (layout[0], layout[1]), size, runs, panels,
                          claims, source, str(data.get("note", "")),
                          " ".join(_text(data.get("caption", ""), "caption").split()), published)
    except ConfigError as e:
        raise e.located(source) from None


def figure_path(figure: str, directory: Optional[Path] = None) -> Path:
    """``directory/<figure>.yaml`` when a folder is given; else ``figures/<figure>.yaml`` found as every config
    is (:func:`precision_jax.config.shipped.find`: a YAML path that is a file, the working folder's
    ``configs/``, then the copy shipped with the package)."""
    path = Path(figure)
    if path.suffix not in (".yaml", ".yml") and not FIGURE_ID.fullmatch(figure):
        raise ConfigError(f"not a figure id or a figure YAML: {figure!r}")
    if directory is None:
        return shipped.find(figure, "figure")
    return path if path.suffix in (".yaml", ".yml") else directory / f"{figure}.yaml"


def former_id_note(figure: str) -> Optional[str]:
    """One line for a figure id used before the published numbering (:data:`FORMER_IDS`), or None."""
    if figure not in FORMER_IDS:
        return None
    now, what = FORMER_IDS[figure]
    if figure not in list_figures():  # no published figure took the id: it still names its figure
        return f"note: Fig. {figure} is the published Fig. {now} ({what}); running {now}"
    published = load_figure(figure)
    return (f"note: Fig. {figure} now means the published Fig. {figure}: {published.title}. The figure numbered "
            f"{figure} before the published numbering ({what}) is `prec reproduce {now}`")


def resolve_id(figure: str) -> str:
    """The figure id to load for ``figure``: a former id no published figure took (6a, 6b) → its figure now."""
    if figure in FORMER_IDS and Path(figure).suffix not in (".yaml", ".yml") and figure not in list_figures():
        return FORMER_IDS[figure][0]
    return figure


def load_figure(figure: str, directory: Optional[Path] = None) -> FigureSpec:
    if directory is None:
        figure = resolve_id(figure)
    path = figure_path(figure, directory)
    if not path.is_file():
        known = ", ".join(list_figures(directory)) or "none"
        raise ConfigError(f"no figure spec {path} (known figures: {known})")
    return parse_figure(read_yaml(path), str(path), path.parent)


def _order(figure: str) -> tuple:
    """Paper order: 1, 2, …, 9, then the appendix A1…A4, then the extras (named, not numbered)."""
    m = re.fullmatch(r"([A-Za-z]*)(\d+)([a-z]*)", figure)
    if m is None:
        return (2, figure)
    return (1 if m.group(1) else 0, int(m.group(2)), m.group(3))


def list_figures(directory: Optional[Path] = None) -> list[str]:
    """The figure ids with a spec in ``directory`` (default: the working folder's ``configs/figures`` and the
    shipped ones), in the paper's order."""
    if directory is None:
        return sorted(shipped.available("figure"), key=_order)
    if not directory.is_dir():
        return []
    return sorted((p.stem for p in directory.glob("*.yaml")), key=_order)
