"""The worst case of a fitted model over its box: a search for max_{x ∈ B} |f(x) − m(x)|.

Let B = [a, b] ⊂ ℝᵈ be the target's box, f the target, m the fitted model and
e(x) = f(x) − m(x). A surrogate used inside a simulation answers for every
x ∈ B, so the number that matters is the uniform error

    E∞ = max_{x ∈ B} |e(x)|,

while a run's ``test_max_abs_error`` is a sample max Ê_T = maxᵢ |e(xᵢ)| over its
test points, with Ê_T ≤ E∞ and no bound on the gap: a spike of e narrower than
the spacing of the test points is invisible to them. :func:`search_max_abs_error`
looks for E∞ in two phases.

1. **Dense sampling.** e is evaluated, in jitted batches, on the caller's own
   points (a run's test points), on the 2ᵈ corners of B (d ≤ 10) and on
   n = 2ᵐ scrambled Sobol points of B (scipy.stats.qmc; a low-discrepancy set
   leaves no gap much wider than n^(−1/d) per axis, where n uniform draws leave
   gaps a factor ~log n wider). Ê = the max of |e| over all of them.
2. **Multi-start local maximisation.** From the k sampled points of largest
   |e|, kept at least n^(−1/d) apart (in the unit cube) so that the starts
   reach k different basins rather than k copies of the tallest one,
   L-BFGS-B maximises h(u) = (e(a + (b − a)u) / Ê)² over u ∈ [0, 1]ᵈ. Its
   gradient 2 e ∇e (b − a) / Ê² is ``jax.grad`` through f and m: the run's own
   derivatives, in float64. Dividing by Ê keeps h of order one, so the
   optimizer's relative tolerances still mean something when |e| ~ 1e-15. A
   model that is not a JAX function (the numpy interpolants) gets scipy's
   finite-difference gradient instead (``differentiable=False``).

The result is E = max(Ê, |e| at every point the local phase evaluated), and
the point x* where it is attained.

What "certified" means here: E is the outcome of a reproducible search of a
stated budget (points, starts, iterations, evaluations, all recorded), *not*
a proof. It guarantees E ≥ Ê ≥ Ê_T: the sampled points, the caller's test
points among them, are candidates, so the search never reports less than the
sample maxima it started from, and every reported value is an attained |e(x*)|
(a lower bound on E∞). It does not guarantee E = E∞: a spike narrower than the
sampling's gaps whose basin no start reaches is missed. An upper bound on E∞
would need a Lipschitz constant of e or interval arithmetic through f and m;
neither is attempted. Near the float64 floor (|e| ~ 1e-16) e is rounding
noise, its gradient carries no information, and E is in effect the sampled max.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize
from scipy.stats import qmc

__all__ = ["WorstCase", "search_max_abs_error"]

MAX_CORNER_DIMENSION = 10  # 2^10 corners; beyond that the corners are left to the Sobol points


@dataclass(frozen=True)
class WorstCase:
    """The search's answer: the largest |f − m| found, where, what sampling alone found, and the budget spent.

    ``value`` = |e(x)| at ``x`` (d,); ``sampled_max`` = |e(sampled_x)|, the max over the sampled points (the
    caller's, the corners and the Sobol points); ``points`` how many were sampled (``undefined`` of them gave
    NaN, e.g. outside an interpolant's hull, and were left out); ``starts`` local searches ran, ``iterations``
    L-BFGS-B iterations and ``evaluations`` function evaluations in all; ``seconds`` the wall time.
    """

    value: float
    x: np.ndarray
    sampled_max: float
    sampled_x: np.ndarray
    points: int
    starts: int
    iterations: int
    evaluations: int
    undefined: int
    seconds: float
    gradients: str  # "jax" or "finite differences"


def _sobol(d: int, points: int, seed: int) -> np.ndarray:
    """At least ``points`` scrambled Sobol points in [0, 1)ᵈ, a power of two of them (Sobol's balance)."""
    m = max(0, int(np.ceil(np.log2(max(points, 1)))))
    return qmc.Sobol(d, scramble=True, seed=seed).random_base2(m)


def _corners(d: int) -> np.ndarray:
    if d > MAX_CORNER_DIMENSION:
        return np.zeros((0, d))
    return ((np.arange(2 ** d)[:, None] >> np.arange(d)[None, :]) & 1).astype(np.float64)


def _spread_starts(u: np.ndarray, errors: np.ndarray, starts: int, separation: float) -> np.ndarray:
    """Indices of up to ``starts`` rows of ``u`` of largest error, pairwise ≥ ``separation`` apart (max norm);
    where too few are that far apart, the next largest fill the rest."""
    finite = np.flatnonzero(np.isfinite(errors))
    pool = finite[np.argsort(-errors[finite], kind="stable")[:max(starts * 32, starts)]]
    chosen: list[int] = []
    for i in pool:
        if len(chosen) == starts:
            break
        if not chosen or np.min(np.max(np.abs(u[chosen] - u[i]), axis=1)) >= separation:
            chosen.append(int(i))
    for i in pool:  # fewer distinct basins than starts: the rest start from the next largest errors
        if len(chosen) == starts:
            break
        if int(i) not in chosen:
            chosen.append(int(i))
    return np.asarray(chosen, dtype=np.int64)


def search_max_abs_error(f: Callable, model: Callable, lows: Sequence[float], highs: Sequence[float], *,
                         points: int = 65536, starts: int = 16, maxiter: int = 200, seed: int = 0,
                         extra_points: Optional[np.ndarray] = None, differentiable: bool = True,
                         batch: int = 8192) -> WorstCase:
    """Search the box [``lows``, ``highs``] for the largest |f(x) − model(x)| (see the module docstring).

    ``f`` and ``model`` map x of shape (n, d) to (n,); with ``differentiable`` both are JAX functions (traced,
    jitted and differentiated), else ``model`` may be any numpy function and the local phase uses finite
    differences. ``points`` Sobol points are drawn (rounded up to a power of two), ``starts`` local searches
    of at most ``maxiter`` L-BFGS-B iterations each start from the best of them; ``extra_points`` (m, d) are
    evaluated too (a run's test points, so the result is never below their max). Float64 throughout.
    """
    start_time = time.perf_counter()
    lows = np.asarray(lows, np.float64)
    highs = np.asarray(highs, np.float64)
    d = lows.shape[0]
    if highs.shape != (d,) or not np.all(highs > lows):
        raise ValueError(f"the box needs highs > lows in each of its {d} coordinates, got {lows} and {highs}")
    if points < 1 or starts < 0 or maxiter < 1 or batch < 1:
        raise ValueError(f"points, maxiter and batch must be ≥ 1 and starts ≥ 0, got {points}, {maxiter}, "
                         f"{batch} and {starts}")
    width = highs - lows

    if differentiable:
        def error_of(x):
            return f(x) - model(x)

        batched = jax.jit(error_of)

        def errors_on(x: np.ndarray) -> np.ndarray:
            out = np.empty(x.shape[0])
            for s in range(0, x.shape[0], batch):
                chunk = x[s:s + batch]
                # One batch shape, one compilation: the last chunk is padded with copies of its first row.
                padded = np.concatenate([chunk, np.repeat(chunk[:1], batch - chunk.shape[0], axis=0)])
                out[s:s + chunk.shape[0]] = np.asarray(batched(jnp.asarray(padded)))[:chunk.shape[0]]
            return np.abs(out)
    else:
        def errors_on(x: np.ndarray) -> np.ndarray:
            out = np.empty(x.shape[0])
            for s in range(0, x.shape[0], batch):
                chunk = x[s:s + batch]
                out[s:s + chunk.shape[0]] = (np.asarray(f(jnp.asarray(chunk)), np.float64)
                                             - np.asarray(model(chunk), np.float64))
            return np.abs(out)

    given = np.zeros((0, d)) if extra_points is None else np.asarray(extra_points, np.float64).reshape(-1, d)
    u = np.concatenate([(given - lows) / width, _corners(d), _sobol(d, points, seed)])
    # The caller's points exactly as given; the rest mapped from the unit cube (clipped: no ulp outside the box).
    x = np.concatenate([given, np.clip(lows + width * u[given.shape[0]:], lows, highs)])
    errors = errors_on(x)
    undefined = int(np.count_nonzero(~np.isfinite(errors)))
    if undefined == errors.size:
        raise ValueError(f"|f − model| is undefined (NaN) at all {errors.size} sampled points")
    best = int(np.nanargmax(errors))
    sampled_max, sampled_x = float(errors[best]), x[best].copy()

    found = {"value": sampled_max, "x": sampled_x}
    scale = sampled_max if sampled_max > 0 else 1.0

    def note(xs: np.ndarray, value: float) -> None:
        if np.isfinite(value) and value > found["value"]:
            found["value"], found["x"] = float(value), xs.copy()

    if differentiable:
        def h(v):  # v: (d,) in the unit cube
            xs = jnp.clip(jnp.asarray(lows) + jnp.asarray(width) * v, lows, highs)  # no ulp outside the box
            return (error_of(xs[None, :])[0] / scale) ** 2

        value_and_grad = jax.jit(jax.value_and_grad(h))

        def objective(v):
            value, grad = value_and_grad(jnp.asarray(v, jnp.float64))
            value = float(value)
            note(np.clip(lows + width * v, lows, highs), np.sqrt(value) * scale)
            if not np.isfinite(value):  # outside the model's domain: a wall the line search backs away from
                return np.inf, np.zeros(d)
            return -value, -np.asarray(grad, np.float64)
    else:
        def objective(v):
            xs = np.clip(lows + width * v, lows, highs)
            value = float(errors_on(xs[None, :])[0])
            note(xs, value)
            return -(value / scale) ** 2 if np.isfinite(value) else np.inf

    separation = float(x.shape[0]) ** (-1.0 / d)
    chosen = _spread_starts(u, errors, starts, separation)
    iterations = evaluations = 0
    for i in chosen:
        result = minimize(objective, np.clip(u[i], 0.0, 1.0), jac=differentiable, method="L-BFGS-B",
                          bounds=[(0.0, 1.0)] * d,
                          options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-12, "maxls": 30})
        iterations += int(result.nit)
        evaluations += int(result.nfev)
    return WorstCase(value=found["value"], x=np.asarray(found["x"], np.float64), sampled_max=sampled_max,
                     sampled_x=sampled_x, points=int(x.shape[0]), starts=int(len(chosen)), iterations=iterations,
                     evaluations=evaluations, undefined=undefined, seconds=time.perf_counter() - start_time,
                     gradients="jax" if differentiable else "finite differences")
