"""Probes: small real fits of the candidate methods, so a recommendation is tested, not just asserted.

:func:`probe` fits each candidate at two or three sizes with configs built in memory and
:func:`precision_jax.runs.training.run_experiment` (nothing is written), and fits the slope α of the test RMSE
against the parameter count N, log RMSE = log A + α log N (:func:`precision_jax.analysis.power_laws.fit_power_law`),
over the points above :data:`FLOOR_MARGIN` × the float64 floor (below it the error measures rounding, not the
method). It compares α with the expected exponent α₀: ``agrees`` when α < 0 and 1/2 ≤ α/α₀ ≤ 2; a spectral
method (no α₀) is "steep, as expected" when α ≤ −4/d; a range of expected exponents (a net on data, d* unknown)
agrees within twice its ends.

Networks are probed as ReLU nets trained with Adam on D = N // (d+1) points (the paper's scaling protocol):
that is where −2/d* is a prediction; interpolants at their own sizes. Everything is small: about 10 s for
d ≤ 3, about a minute for a 6-D formula on two cores, and a time budget stops what would run past it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from precision_jax.analysis.guide.candidates import Candidate, Recommendation
from precision_jax.analysis.guide.net_sizing import dense_params, modular_model, modular_params, width_for
from precision_jax.analysis.guide.recommendation import NET_KEYS
from precision_jax.analysis.guide.target_analysis import Analysis
from precision_jax.analysis.power_laws import fit_power_law
from precision_jax.config.engine import ConfigError
from precision_jax.experiment import build_config
from precision_jax.runs.training import run_experiment

__all__ = ["FLOOR_MARGIN", "PROBE_TEST_POINTS", "PROBE_BUDGET_S", "ProbePoint", "ProbeResult", "probe",
           "probe_verdict"]

FLOOR_MARGIN = 100.0                   # probe points below margin × floor are "at the floor", not fitted
PROBE_TEST_POINTS = 2000
PROBE_BUDGET_S = 120.0


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
    verdict: str = ""
    skipped: Optional[str] = None


def _probe_net(a: Analysis, c: Candidate, n_target: int) -> tuple[int, dict]:
    """(N, model section): the probe net whose parameter count is closest to ``n_target``."""
    if c.key == "net":
        def count(w: int) -> int:
            return dense_params(a.d, w)
    else:
        def count(w: int) -> int:
            return modular_params(a.graph, w)
    width = width_for(count, n_target)
    model = {**c.model, "width": width} if c.key == "net" else modular_model(a.graph, "relu", width)
    return count(width), model


def _probe_configs(a: Analysis, c: Candidate, quick: bool) -> list[dict]:
    sizes = c.quick_sizes if quick else c.sizes
    base = {"name": "guide_probe", "seed": 0, "target": dict(a.target),
            "data": {"test_points": PROBE_TEST_POINTS}}
    if a.kind != "data":
        base["data"]["test_compactification"] = 0.8
    out = []
    for size in sizes:
        cfg = {**base, "data": dict(base["data"])}
        if c.key in NET_KEYS:
            n, cfg["model"] = _probe_net(a, c, size)
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
        result.slope = fit_power_law([p.N for p in usable], [p.test_rmse for p in usable]).exponent
    if at_floor and len(usable) < 2:
        result.verdict = f"at the float64 floor by N = {min(p.N for p in at_floor):,}"
        return
    if result.slope is None:
        result.verdict = "too few points for a slope"
        return
    s = result.slope
    if s >= 0:
        verdict = "not converging"
    elif c.exponent is None and c.exponent_range is not None:
        steepest, shallowest = c.exponent_range
        verdict = ("agrees (within the expected range)" if 2 * steepest <= s <= 0.5 * shallowest else
                   "steeper than expected" if s < 2 * steepest else "shallower than expected")
    elif c.exponent is None:
        verdict = "steep, as expected" if s <= -4 / a.d else "slower than spectral"
    elif 0.5 <= s / c.exponent <= 2:
        verdict = "agrees"
    elif s / c.exponent > 2:
        verdict = "steeper than expected"
    else:
        verdict = "shallower than expected"
    floor_note = f" (floor reached by N = {min(p.N for p in at_floor):,})" if at_floor else ""
    result.verdict = verdict + floor_note


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
    order = sorted(rec.candidates, key=lambda c: (c is not rec.method, c.key in NET_KEYS))
    results = {id(c): ProbeResult(c) for c in rec.candidates}
    first_net: Optional[float] = None  # seconds of the first net fit: a floor for the next one's estimate
    for c in order:
        result = results[id(c)]
        estimate = first_net if c.key in NET_KEYS and first_net is not None else 0.0
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
            if c.key in NET_KEYS and first_net is None:
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
    chosen = rec.method
    if lowest.candidate is chosen and (steep_text is None or steepest.candidate is chosen):
        return f"the probe agrees: {chosen.label} has {low_text}" + (f" and {steep_text}" if steep_text else "")
    if steep_text and steepest.candidate is chosen:
        return (f"the probe partly agrees: {chosen.label} has {steep_text}, {lowest.candidate.label} "
                f"{low_text} at these small sizes")
    if lowest.candidate is chosen:
        return (f"the probe partly agrees: {chosen.label} has {low_text}, {steepest.candidate.label} "
                f"{steep_text}: it may win at larger N")
    other = f"; {steepest.candidate.label} has {steep_text}" if steep_text and steepest is not lowest else \
        (f" and {steep_text}" if steep_text else "")
    return (f"the probe favours {lowest.candidate.label}: it has {low_text}{other}, ahead of the recommended "
            f"{chosen.label}; consider it (`prec guide` reasons from d, d* and smoothness alone)")
