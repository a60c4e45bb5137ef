"""Claims of the paper judged against the store: each a comparison of two computed quantities.

A quantity is read from a figure's run sets (entries of :mod:`precision_jax.analysis.figures.runs`):

- ``{metric: M, runs: R}`` — metric ``M`` of the runs of set ``R`` (optionally ``where``-filtered), reduced
  over runs by ``reduce`` (median, the paper's summary over seeds). ``at: max`` keeps only the runs at the
  largest ``x`` (``N`` or ``D``); ``at: common, with: R2`` interpolates the per-size medians (log–log) at
  the largest size both R and R2 reach, so two families are compared at equal N; ``group_by: KEY``
  reduces each architecture separately and then across them by ``across`` (default ``min``: "the best net").
- ``{slope: R}`` — the exponent α of ``M ≈ A·x^α``, a least-squares line in log–log space through the
  median over seeds at each size; ``range: [lo, hi]`` bounds x; ``floor: F`` keeps the sizes before the first
  median below ``F`` (the float64 floor is not part of a power law); ``first``/``last: k`` keep k sizes.
- ``{measure: NAME, runs: R}`` — a number computed from the runs themselves
  (:data:`precision_jax.analysis.reproduce.measures.MEASURES`: region counts, Hessian statistics).
- ``{ratio: [q1, q2]}``, ``{log_ratio: [q1, q2]}`` (log10(q1/q2): "about even" is ``within`` 0 ± tol, a
  band symmetric in factors), ``{value: v}`` or a bare number.

A claim ``lhs OP rhs`` is judged in three steps:

1. **not reached** when a quantity could not be computed from complete runs: a run is missing or failed, a
   metric is not finite, or a slope has fewer than two usable sizes;
2. **inconclusive** when its runs could not have confirmed it: a precondition of the claim
   (:mod:`precision_jax.analysis.reproduce.preconditions`: converged, in range, enough sizes, asymptotic, seeds
   agree) is not met, named with its numbers; two slopes of one curve compared on the same sizes are
   inconclusive (enough sizes) too;
3. otherwise **confirmed** or **refuted** by the numbers.

``<`` etc. compare ``lhs`` with ``factor · rhs``; ``within`` asks ``|lhs − rhs| ≤ tol``; ``closer`` asks
``|lhs − rhs| < |lhs − than|``.

**Seeds agree** re-judges the claim on each seed alone: every run set the claim reads is cut to that seed's
runs, and a seed counts where every quantity is reached on it. It is met when at least ``min`` seeds count and
the relation holds on all of them or on none of them, the same way as on all seeds together (the median). The
detail gives the interval of ``lhs`` over the seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from precision_jax.analysis.figures.runs import Entry
from precision_jax.analysis.power_laws import fit_power_law
from precision_jax.analysis.reproduce import preconditions as pre
from precision_jax.analysis.reproduce.spec import PRECONDITIONS, ClaimSpec, quantity_kind

VERDICTS = ("confirmed", "refuted", "inconclusive", "not reached")
REDUCERS = {"median": np.median, "mean": np.mean, "min": np.min, "max": np.max}


@dataclass
class RunSetData:
    """A run set as the claims see it: its complete entries and how many planned runs are not complete."""

    entries: list[Entry]
    missing: int = 0  # planned runs with no complete result (not run yet, failed, timed out)


@dataclass
class Quantity:
    value: float
    reached: bool  # computed from complete runs, finite, with enough points
    detail: str = ""
    sizes: tuple[float, ...] = ()  # a slope's fitted sizes
    entries: tuple[Entry, ...] = ()  # the runs the number was computed from
    fits: tuple = ()  # each slope's (sizes, medians, exponent) window


@dataclass
class ClaimResult:
    id: str
    text: str
    paper: str
    ours: float
    against: Optional[float]
    verdict: str
    detail: str
    preconditions: tuple[pre.Check, ...] = ()

    @property
    def reason(self) -> str:
        """Why an inconclusive claim is: each unmet precondition with its numbers ("" otherwise)."""
        return "; ".join(f"{c.name}: {c.detail}" for c in self.preconditions if not c.met)

    def as_dict(self) -> dict:
        def num(v):
            return None if v is None or not math.isfinite(v) else float(v)
        return {"id": self.id, "text": self.text, "paper": self.paper, "ours": num(self.ours),
                "against": num(self.against), "verdict": self.verdict, "detail": self.detail,
                "reason": self.reason, "preconditions": [c.as_dict() for c in self.preconditions]}


def _matches(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, list):
        return any(_matches(actual, w) for w in wanted)
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool) \
            and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        return math.isclose(float(actual), float(wanted), rel_tol=1e-12, abs_tol=0.0)
    return actual == wanted or str(actual) == str(wanted)


def select(entries: list[Entry], where: dict) -> list[Entry]:
    """The entries whose config (or summary field) matches every ``key: value`` (a list: any of them)."""
    return [e for e in entries if all(_matches(e.value(k), v) for k, v in where.items())]


def _metric_values(entries: list[Entry], metric: str) -> np.ndarray:
    return np.array([e.metric(metric) for e in entries], dtype=np.float64)


def _x(entry: Entry, x: str) -> float:
    return entry.size(x)


def _at_common_size(q: dict, entries: list[Entry], other: RunSetData) -> Quantity:
    """The median metric at the largest size both run sets reach: log–log interpolation between the
    per-size medians of ``entries`` at x* = min(their largest size, the other set's largest size)."""
    metric, x = q["metric"], q.get("x", "N")
    sizes, medians = slope_points(entries, {"metric": metric, "x": x})
    other_sizes = [_x(e, x) for e in select(other.entries, q.get("with_where", {}))]
    if sizes.size == 0 or not other_sizes:
        return Quantity(math.nan, False, "no complete runs")
    target = min(float(sizes.max()), max(other_sizes))
    value = float(np.exp(np.interp(np.log(target), np.log(sizes), np.log(medians))))
    if target < sizes.min():  # no shared size: the number is this set's smallest, and the claim is not reached
        return Quantity(value, False, f"the run sets share no {x} (this one starts at {sizes.min():.3g})")
    # The runs read are those at the two sizes the value is interpolated between (one, at a size run).
    lo, hi = sizes[sizes <= target].max(), sizes[sizes >= target].min()
    used = tuple(e for e in entries if _x(e, x) in (lo, hi))
    return Quantity(value, math.isfinite(value) and other.missing == 0, f"at {x} = {target:.3g} (interpolated)",
                    entries=used)


def _metric_quantity(q: dict, data: RunSetData, run_sets: Optional[dict] = None) -> Quantity:
    entries = select(data.entries, q.get("where", {}))
    if q.get("at") == "common":
        other = (run_sets or {}).get(q.get("with"), RunSetData([], 1))
        quantity = _at_common_size(q, entries, other)
        quantity.reached = quantity.reached and data.missing == 0
        return quantity
    metric, x = q["metric"], q.get("x", "N")
    reduce, across = REDUCERS[q.get("reduce", "median")], REDUCERS[q.get("across", "min")]
    if not entries:
        return Quantity(math.nan, False, "no complete runs")
    keys = q.get("group_by", [])
    keys = [keys] if isinstance(keys, str) else list(keys)
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        groups.setdefault(tuple(str(e.value(k)) for k in keys), []).append(e)
    values, used = [], []
    for members in groups.values():
        at = q.get("at", "all")
        if at != "all":
            edge = (max if at == "max" else min)(_x(e, x) for e in members)
            members = [e for e in members if _x(e, x) == edge]
        values.append(float(reduce(_metric_values(members, metric))))
        used += members
    value = float(across(values)) if len(values) > 1 else values[0]
    detail = "" if len(entries) == 1 else f"{q.get('reduce', 'median')} of {len(entries)} runs" + (
        f", {q.get('across', 'min')} over {len(values)} architectures" if len(values) > 1 else "")
    return Quantity(value, math.isfinite(value) and data.missing == 0, detail, entries=tuple(used))


def slope_points(entries: list[Entry], q: dict) -> tuple[np.ndarray, np.ndarray]:
    """The (size, median metric) points a slope quantity fits, after its range/floor/first/last filters."""
    metric, x = q.get("metric", "test_rmse"), q.get("x", "N")
    by_size: dict[float, list[float]] = {}
    for e in entries:
        by_size.setdefault(_x(e, x), []).append(e.metric(metric))
    sizes = np.array(sorted(s for s in by_size if math.isfinite(s)), dtype=np.float64)
    medians = np.array([np.median(by_size[s]) for s in sizes], dtype=np.float64)
    if "range" in q:
        lo, hi = q["range"]
        keep = (sizes >= float(lo)) & (sizes <= float(hi))
        sizes, medians = sizes[keep], medians[keep]
    if "floor" in q:
        below = np.nonzero(~(medians > float(q["floor"])))[0]
        if below.size:
            sizes, medians = sizes[:below[0]], medians[:below[0]]
    if "first" in q:
        sizes, medians = sizes[:int(q["first"])], medians[:int(q["first"])]
    if "last" in q:
        sizes, medians = sizes[-int(q["last"]):], medians[-int(q["last"]):]
    return sizes, medians


def _slope_quantity(q: dict, data: RunSetData) -> Quantity:
    entries = select(data.entries, q.get("where", {}))
    sizes, medians = slope_points(entries, q)
    finite = np.isfinite(medians) & (medians > 0)
    if finite.sum() < 2 or np.unique(sizes[finite]).size < 2:
        return Quantity(math.nan, False, f"{int(finite.sum())} usable sizes, a slope needs 2")
    sizes, medians = sizes[finite], medians[finite]
    fit = fit_power_law(sizes, medians)
    detail = f"fit on {fit.n_points} sizes {fit.size_range[0]:.3g}…{fit.size_range[1]:.3g}"
    x = q.get("x", "N")
    used = tuple(e for e in entries if _x(e, x) in set(sizes.tolist()))
    return Quantity(fit.exponent, data.missing == 0, detail, tuple(float(v) for v in sizes), used,
                    ((sizes, medians, float(fit.exponent)),))


def _measure_quantity(q: dict, data: RunSetData) -> Quantity:
    from precision_jax.analysis.reproduce.measures import MEASURES

    entries = select(data.entries, q.get("where", {}))
    if not entries:
        return Quantity(math.nan, False, "no complete runs")
    value = float(MEASURES[q["measure"]]([e.path for e in entries], dict(q.get("options") or {})))
    return Quantity(value, math.isfinite(value) and data.missing == 0, f"{q['measure']} of {len(entries)} runs",
                    entries=tuple(entries))


def evaluate(q: Any, run_sets: dict[str, RunSetData]) -> Quantity:
    """The number a quantity spec (see the module docstring) stands for, and whether it was reached."""
    if q is None:
        return Quantity(math.nan, False)
    if isinstance(q, (int, float)):
        return Quantity(float(q), True, "")
    kind = quantity_kind(q)
    if kind == "value":
        return Quantity(float(q["value"]), True, "")
    if kind in ("ratio", "log_ratio"):
        a, b = (evaluate(p, run_sets) for p in q[kind])
        with np.errstate(divide="ignore", invalid="ignore"):
            value = float(np.float64(a.value) / np.float64(b.value))
            if kind == "log_ratio":
                value = float(np.log10(value)) if value > 0 else math.nan
        detail = f"({a.detail}) / ({b.detail})" if a.detail or b.detail else ""
        return Quantity(value, a.reached and b.reached and math.isfinite(value), detail,
                        entries=a.entries + b.entries, fits=a.fits + b.fits)
    name = q["slope"] if kind == "slope" else q["runs"]
    data = run_sets.get(name, RunSetData([], 1))
    if kind == "slope":
        return _slope_quantity(q, data)
    if kind == "measure":
        return _measure_quantity(q, data)
    return _metric_quantity(q, data, run_sets)


def _relation(claim: ClaimSpec, lhs: Quantity, rhs: Quantity, than: Optional[Quantity]) -> tuple[bool, str]:
    """Whether ``lhs OP rhs`` holds, and the comparison in words."""
    if claim.op == "within":
        return (abs(lhs.value - rhs.value) <= claim.tol,
                f"{lhs.value:.4g} vs {rhs.value:.4g} ± {claim.tol:g}")
    if claim.op == "closer":
        return (abs(lhs.value - rhs.value) < abs(lhs.value - than.value),
                f"{lhs.value:.4g}: |Δ| to {rhs.value:.4g} is {abs(lhs.value - rhs.value):.3g}, "
                f"to {than.value:.4g} is {abs(lhs.value - than.value):.3g}")
    against = rhs.value * claim.factor
    holds = {"<": lhs.value < against, "<=": lhs.value <= against,
             ">": lhs.value > against, ">=": lhs.value >= against}[claim.op]
    scale = f"{claim.factor:g}·" if claim.factor != 1.0 else ""
    return holds, f"{lhs.value:.4g} {claim.op} {scale}{rhs.value:.4g}"


def _quantities(claim: ClaimSpec, run_sets: dict[str, RunSetData]) -> tuple[Quantity, Quantity, Optional[Quantity]]:
    return (evaluate(claim.lhs, run_sets), evaluate(claim.rhs, run_sets),
            evaluate(claim.than, run_sets) if claim.than is not None else None)


def _reached(*quantities: Optional[Quantity]) -> bool:
    return all(q.reached for q in quantities if q is not None)


def seeds_agree(claim: ClaimSpec, run_sets: dict[str, RunSetData], holds: bool, least: int,
                seeds: list[int]) -> tuple[bool, str]:
    """The claim re-judged on each of ``seeds`` alone (see the module docstring)."""
    if len(seeds) < least:  # no need to re-judge (a measure may compute a Hessian per seed)
        return False, (f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds)) or 'none'})"
                       f"; at least {least} needed")
    per_seed, values = [], []
    for seed in seeds:
        cut = {name: RunSetData([e for e in d.entries if e.seed == seed]) for name, d in run_sets.items()}
        lhs, rhs, than = _quantities(claim, cut)
        if _reached(lhs, rhs, than):
            per_seed.append(_relation(claim, lhs, rhs, than)[0])
            values.append(lhs.value)
    n = len(per_seed)
    interval = f"; lhs over the seeds {min(values):.4g}…{max(values):.4g}" if n > 1 else (
        f"; lhs {values[0]:.4g}" if n else "")
    if n < least:
        return False, f"{n} seed{'s' if n != 1 else ''} judged on its own (at least {least} needed){interval}"
    agreeing = sum(h == holds for h in per_seed)
    if agreeing < n:
        return False, f"seeds straddle the threshold: holds on {sum(per_seed)} of {n} seeds{interval}"
    return True, f"{'holds' if holds else 'fails'} on each of {n} seeds{interval}"


def check_preconditions(claim: ClaimSpec, run_sets: dict[str, RunSetData], quantities: tuple,
                        holds: bool) -> list[pre.Check]:
    """Each precondition of ``claim`` judged on the runs its quantities read."""
    present = [q for q in quantities if q is not None]
    entries = [e for q in present for e in q.entries]
    fits = [f for q in present for f in q.fits]
    checks = []
    for name, params in claim.preconditions:
        label = PRECONDITIONS[name][0]
        if name == "converged":
            met, detail = pre.converged(entries, params["factor"], params["window"])
        elif name == "in_range":
            met, detail = pre.in_range([e.size(params["x"]) for e in entries], params["x"], params["min"],
                                       params["max"])
        elif name == "enough_sizes":
            met, detail = pre.enough_sizes([f[0] for f in fits], params["min"])
        elif name == "asymptotic":
            met, detail = pre.asymptotic(fits, params["tol"])
        else:
            seeds = sorted({e.seed for e in entries if e.seed is not None})
            met, detail = seeds_agree(claim, run_sets, holds, params["min"], seeds)
        checks.append(pre.Check(label, met, detail))
    # Two slopes of one curve on the same sizes (too few for first/last to differ) test nothing, whatever
    # the spec asks.
    if len(fits) == 2 and np.array_equal(fits[0][0], fits[1][0]):
        same = pre.Check(PRECONDITIONS["enough_sizes"][0], False,
                         f"both slopes are fitted on the same {len(fits[0][0])} sizes")
        checks = [c for c in checks if c.name != same.name] + [same]
    return checks


def judge(claim: ClaimSpec, run_sets: dict[str, RunSetData]) -> ClaimResult:
    """Evaluate one claim: its numbers, its preconditions and its verdict."""
    lhs, rhs, than = _quantities(claim, run_sets)
    parts = list(dict.fromkeys(p for p in (lhs.detail, rhs.detail) if p))
    holds, relation = _relation(claim, lhs, rhs, than)
    reached = _reached(lhs, rhs, than)
    checks = check_preconditions(claim, run_sets, (lhs, rhs, than), holds)
    if not reached:
        verdict = "not reached"
    elif not all(c.met for c in checks):
        verdict = "inconclusive"
    else:
        verdict = "confirmed" if holds else "refuted"
    against = rhs.value * claim.factor if claim.op not in ("within", "closer") else rhs.value
    return ClaimResult(claim.id, claim.text, claim.paper, lhs.value, against, verdict,
                       "; ".join([relation] + parts), tuple(checks))
