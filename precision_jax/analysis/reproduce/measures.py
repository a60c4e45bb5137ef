"""Numbers measured on finished runs for the claims of ``prec reproduce``, and the maps panels draw.

Every measure is ``MEASURES[name](runs, options) -> float``: ``runs`` are
complete run directories (read through :mod:`precision_jax.runs.store`, never
written), ``options`` a dict of the measure's settings. A run that cannot be
measured (unreadable, not a net, too many parameters, not 2-D, ...) is left out;
with no measurable run the answer is NaN, never an exception. With several
runs the answer is the mean over them.

Hessian measures use the exact Hessian ∇²L of the run's full-batch training
MSE L(θ) = (1/D) Σ (f(θ, x_i) − y_i)² at its fitted θ (:mod:`precision_jax.engine.hessian`),
on the run's own training set regenerated from its config
(:func:`precision_jax.runs.training.run_data`), eigenvalues λ_i sorted from most
positive to most negative with eigenvectors v_i, and g = ∇L:

* ``hessian_small_fraction``  — share of i with |λ_i| < ``threshold`` (default 1e-10);
* ``hessian_negative_fraction`` — share of i with λ_i < 0;
* ``gradient_top_fraction``  — Σ_{i ∈ top} (g·v_i)² / Σ_i (g·v_i)², top = the ⌈``top``·N⌉
  (default 10 %) eigenvectors of largest |λ_i|: how much of the gradient lies along the stiff directions;
* ``hessian_orders``          — log10(max |λ| / min |λ|), the decades the spectrum spans;
* ``hessian_top_gap``         — how far a cluster of top eigenvalues stands above the bulk: with the positive
  eigenvalues λ₁ ≥ λ₂ ≥ …, max over k ≤ ``among`` (default 10) of log10(λ_k / λ_{k+1}), the widest gap
  between one of the ``among`` largest and the next (decades). Only the top of the spectrum is searched:
  the bulk near zero spans many decades of its own, and a gap there is no cluster standing out.

Gadget measure (:mod:`precision_jax.analysis.reproduce.gadget`), ``gadget_rmse`` with ``pairs`` (default
[[0, 1]]) and ``scale`` (or ``scales``: the best of them): the relative RMSE of the built four-neurons-per-
product tanh net for Σ x_i·x_j over ``pairs`` on the run's own test points (regenerated from its config),
against the run's target there (so ``pairs`` that do not make up the target give an error of order one). It
reads only the points: it measures the architecture error a trained net of that shape could reach, on the
points the trained nets are tested on.

``options["round"]`` (default 0) picks the boosting round's model; round k ≥ 1
is measured on what it was fitted to, the scaled residual of the rounds before
it (as ``prec hessian --round k``). A run directory that already holds
``hessian.npz`` from ``prec hessian`` for that round is read instead of recomputed.

Region measure (2-D runs), ``region_count`` with ``resolution`` (default 400)
and ``tolerance`` (default 1e-8): a ``resolution``² grid over the target's box;
for a network (a sum of parts, standardized or not) each point's input gradient
∇_x F (``jax.jacfwd`` of the fitted model in raw inputs) is rounded to
``tolerance`` × max |∇_x F| over the grid, and the number of distinct rounded
gradients is the number of linear regions the grid hits (for a ReLU net the
gradient is exactly constant on a region, so rounding only merges regions whose
gradients agree to 1e-8; a smooth net has as many "regions" as grid points).
For a simplex interpolant it is the number of distinct Delaunay simplices
(``scipy.spatial.Delaunay.find_simplex``) the grid hits; grid points outside
the convex hull of the training points belong to no region.

Spectra and region maps are expensive; they are cached in-process, keyed by the
run directory, its ``summary.json`` modification time and the options.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from precision_jax.runs import store

__all__ = ["MEASURES", "Spectrum", "RegionMap", "run_spectrum", "region_map", "region_count",
           "hessian_small_fraction", "hessian_negative_fraction", "gradient_top_fraction", "hessian_orders",
           "hessian_top_gap", "top_gap", "gadget_rmse", "gadget_errors", "spectrum_numbers"]


class MeasureError(ValueError):
    """A run that this measure cannot be taken on: one line saying why."""


def _stamp(path) -> tuple[str, int]:
    """(resolved path, mtime of summary.json): the cache key of a run directory."""
    p = Path(path).resolve()
    try:
        return str(p), (p / store.SUMMARY_FILE).stat().st_mtime_ns
    except OSError:
        raise MeasureError(f"{path}: not a run directory (no {store.SUMMARY_FILE})") from None


# --------------------------------------------------------------------------- Hessian spectra


@dataclass(frozen=True)
class Spectrum:
    """λ_i most positive first, |g·v_i| for each, the loss at θ, and which round's model it belongs to."""

    eigenvalues: np.ndarray
    projections: np.ndarray
    loss: float
    round: int

    @property
    def n_params(self) -> int:
        return int(self.eigenvalues.size)


@functools.lru_cache(maxsize=32)
def _spectrum_cached(path: str, stamp: int, round_: int) -> Spectrum | MeasureError:
    """The spectrum, or the reason there is none (cached too: a failure costs a Hessian as well)."""
    try:
        return _compute_spectrum(path, round_)
    except MeasureError as e:
        return e


def _compute_spectrum(path: str, round_: int) -> Spectrum:
    from precision_jax.engine.hessian import DENSE_LIMIT
    from precision_jax.runs.training import run_round_spectrum

    run = Path(path)
    stored = _stored_spectrum(run, round_)
    if stored is not None:
        return stored
    try:
        record = store.read_run(run, extra=False)
        model = store.load_model(record)
    except store.StoreError as e:
        raise MeasureError(str(e)) from None
    if not 0 <= round_ < len(record.parts):
        raise MeasureError(f"{run}: no boosting round {round_} (rounds 0..{len(record.parts) - 1})")
    part = model.models[round_]
    if not hasattr(part, "apply"):
        raise MeasureError(f"{run}: round {round_} is a {record.parts[round_].model.kind} interpolant, "
                           f"it has no parameters")
    if part.n_params > DENSE_LIMIT:
        raise MeasureError(f"{run}: N = {part.n_params} is beyond the dense Hessian limit {DENSE_LIMIT}")
    if not all(np.all(np.isfinite(p.arrays["theta"])) for p in record.parts[:round_ + 1]):
        raise MeasureError(f"{run}: the parameters are not finite (a diverged run)")
    s = run_round_spectrum(record, model, round_)
    if not (np.all(np.isfinite(s.eigenvalues)) and np.all(np.isfinite(s.projections))):
        raise MeasureError(f"{run}: the Hessian is not finite at the run's parameters")
    return Spectrum(np.asarray(s.eigenvalues, np.float64), np.asarray(s.projections, np.float64), s.loss, round_)


def _stored_spectrum(run: Path, round_: int) -> Optional[Spectrum]:
    """The spectrum ``prec hessian`` left in the run directory for this round, if any and readable."""
    npz, meta = run / "hessian.npz", run / "hessian.json"
    if not (npz.is_file() and meta.is_file()):
        return None
    try:
        info = store.read_json(meta)
        if not isinstance(info, dict) or int(info.get("round", 0)) != round_:
            return None
        arrays = store.read_arrays(npz)
        lam = np.asarray(arrays["eigenvalues"], np.float64).ravel()
        proj = np.abs(np.asarray(arrays["projections"], np.float64).ravel())
    except (store.StoreError, KeyError, TypeError, ValueError):
        return None
    if lam.size == 0 or proj.shape != lam.shape or not (np.all(np.isfinite(lam)) and np.all(np.isfinite(proj))):
        return None
    order = np.argsort(-lam, kind="stable")
    return Spectrum(lam[order], proj[order], float(info.get("loss", math.nan)), round_)


def run_spectrum(run, round_: int = 0) -> Spectrum:
    """The Hessian spectrum of ``run``'s round ``round_`` model (cached); :class:`MeasureError` if there is none."""
    path, stamp = _stamp(run)
    found = _spectrum_cached(path, stamp, int(round_))
    if isinstance(found, MeasureError):
        raise found
    return found


def spectrum_numbers(spectrum: Spectrum, threshold: float = 1e-10, top: float = 0.1) -> dict:
    """The facts a Hessian panel reports: sizes, sign counts, small / negative shares, gradient concentration."""
    lam, proj = spectrum.eigenvalues, spectrum.projections
    finite = np.isfinite(lam)
    n = int(lam.size)
    absl = np.abs(lam[finite])
    nonzero = absl[absl > 0]
    weight = proj[finite] ** 2
    total = float(np.sum(weight[np.isfinite(weight)]))
    k = max(1, int(math.ceil(top * absl.size))) if absl.size else 0
    stiff = np.argsort(-absl, kind="stable")[:k]
    return {
        "n_params": n,
        "n_positive": int(np.sum(lam > 0)), "n_negative": int(np.sum(lam < 0)),
        "lambda_max": float(np.max(lam[finite])) if absl.size else math.nan,
        "lambda_min": float(np.min(lam[finite])) if absl.size else math.nan,
        "orders_of_magnitude": float(np.log10(nonzero.max() / nonzero.min())) if nonzero.size else math.nan,
        "threshold": float(threshold),
        "small_fraction": float(np.mean(absl < threshold)) if absl.size else math.nan,
        "negative_fraction": float(np.mean(lam[finite] < 0)) if absl.size else math.nan,
        "top": float(top),
        "gradient_top_fraction": float(np.nansum(weight[stiff]) / total) if total > 0 else math.nan,
        "gradient_norm": float(math.sqrt(total)) if np.isfinite(total) else math.nan,
        "loss": float(spectrum.loss),
        "round": spectrum.round,
    }


# --------------------------------------------------------------------------- 2-D region maps


@dataclass(frozen=True)
class RegionMap:
    """``ids`` (resolution, resolution): region index per grid point (row = y, column = x), −1 in no region.

    ``box`` = (x_low, x_high, y_low, y_high); ``kind`` "net" or "simplex"; ``n_simplices``
    the triangulation's size for a simplex (0 for a net).
    """

    ids: np.ndarray
    count: int
    box: tuple[float, float, float, float]
    kind: str
    n_simplices: int = 0


def _grid(box: tuple[float, float, float, float], resolution: int) -> np.ndarray:
    xs = np.linspace(box[0], box[1], resolution)
    ys = np.linspace(box[2], box[3], resolution)
    gx, gy = np.meshgrid(xs, ys)  # row i is y = ys[i]
    return np.column_stack([gx.ravel(), gy.ravel()])


def _net_gradients(model, record, points: np.ndarray) -> np.ndarray:
    """∇_x F at ``points`` (n, 2) in raw inputs for a fitted sum of trainable parts; (n, 2)."""
    import jax
    import jax.numpy as jnp

    thetas = [jnp.asarray(np.asarray(p.arrays["theta"], np.float64)) for p in record.parts]
    applies = [m.apply for m in model.models]
    coefficients = model.coefficients
    shift = None if model.input_shift is None else jnp.asarray(model.input_shift)
    scale = None if model.input_scale is None else jnp.asarray(model.input_scale)

    def fitted(x):  # x (2,) raw → scalar F(x)
        z = x if shift is None else (x - shift) / scale
        out = 0.0
        for apply, theta, c in zip(applies, thetas, coefficients):
            out = out + c * apply(theta, z[None, :])[0]
        return out

    gradient = jax.jit(jax.vmap(jax.jacfwd(fitted)))
    chunks = [np.asarray(gradient(jnp.asarray(points[i:i + 40000]))) for i in range(0, len(points), 40000)]
    return np.concatenate(chunks) if chunks else np.zeros((0, 2))


@functools.lru_cache(maxsize=8)
def _region_map_cached(path: str, stamp: int, resolution: int, tolerance: float) -> RegionMap | MeasureError:
    try:
        return _compute_region_map(Path(path), resolution, tolerance)
    except MeasureError as e:
        return e


def _compute_region_map(run: Path, resolution: int, tolerance: float) -> RegionMap:
    try:
        record = store.read_run(run, extra=False)
    except store.StoreError as e:
        raise MeasureError(str(e)) from None
    target = record.summary.target
    if target.d != 2:
        raise MeasureError(f"{run}: a region map needs a 2-D target, this one has d = {target.d}")
    box = (float(target.lows[0]), float(target.highs[0]), float(target.lows[1]), float(target.highs[1]))
    points = _grid(box, resolution)
    kinds = [p.model.kind for p in record.parts]
    if kinds == ["simplex"]:
        from scipy.spatial import Delaunay

        tri = Delaunay(np.asarray(record.parts[0].arrays["x"], np.float64))  # the fit's own (deterministic) mesh
        simplex = np.asarray(tri.find_simplex(points))
        hit = np.unique(simplex[simplex >= 0])
        ids = np.full(simplex.shape, -1)
        ids[simplex >= 0] = np.searchsorted(hit, simplex[simplex >= 0])
        return RegionMap(ids.reshape(resolution, resolution), int(hit.size), box, "simplex", int(len(tri.simplices)))
    from precision_jax.models import is_trainable

    if not all(is_trainable(kind) for kind in kinds):
        raise MeasureError(f"{run}: regions are drawn for networks and simplex interpolants, not {'+'.join(kinds)}")
    if not all(np.all(np.isfinite(p.arrays.get("theta", np.nan))) for p in record.parts):
        raise MeasureError(f"{run}: the parameters are not finite (a diverged run)")
    try:
        model = store.load_model(record)
    except store.StoreError as e:
        raise MeasureError(str(e)) from None
    grads = _net_gradients(model, record, points)
    finite = np.all(np.isfinite(grads), axis=1)
    if not finite.any():
        raise MeasureError(f"{run}: the fitted model's input gradient is not finite anywhere on the grid")
    ids = np.full(len(points), -1)
    if finite.any():
        g = grads[finite]
        unit = float(np.max(np.abs(g))) * float(tolerance)
        keys = np.round(g / unit) if unit > 0 else np.zeros_like(g)
        _, inverse = np.unique(keys, axis=0, return_inverse=True)
        ids[finite] = inverse.ravel()
    count = int(ids.max() + 1)
    return RegionMap(ids.reshape(resolution, resolution), count, box, "net")


def region_map(run, resolution: int = 400, tolerance: float = 1e-8) -> RegionMap:
    """The linear regions of a 2-D run over a ``resolution``² grid of its box (cached; see the module docstring)."""
    path, stamp = _stamp(run)
    if not (isinstance(resolution, int) and 2 <= resolution <= 4000):
        raise MeasureError(f"resolution must be an integer in [2, 4000], got {resolution!r}")
    found = _region_map_cached(path, stamp, int(resolution), float(tolerance))
    if isinstance(found, MeasureError):
        raise found
    return found


# --------------------------------------------------------------------------- measures


def _mean_over(runs: Sequence, measure: Callable[[Path], float]) -> float:
    values = []
    for run in runs or ():
        try:
            value = float(measure(Path(run)))
        except (MeasureError, store.StoreError, ValueError, TypeError, KeyError):
            continue  # this run cannot be measured: left out, as the module docstring says
        if math.isfinite(value):
            values.append(value)
    return float(np.mean(values)) if values else math.nan


def region_count(runs: Sequence, options: Optional[dict] = None) -> float:
    """Mean number of linear regions a ``resolution``² grid hits (options: resolution 400, tolerance 1e-8)."""
    options = options or {}
    resolution, tolerance = int(options.get("resolution", 400)), float(options.get("tolerance", 1e-8))
    return _mean_over(runs, lambda run: region_map(run, resolution, tolerance).count)


def _spectrum_measure(key: str, runs: Sequence, options: Optional[dict]) -> float:
    options = options or {}
    threshold, top, round_ = float(options.get("threshold", 1e-10)), float(options.get("top", 0.1)), \
        int(options.get("round", 0))
    return _mean_over(runs, lambda run: spectrum_numbers(run_spectrum(run, round_), threshold, top)[key])


def hessian_small_fraction(runs: Sequence, options: Optional[dict] = None) -> float:
    """Share of Hessian eigenvalues with |λ| < ``threshold`` (default 1e-10)."""
    return _spectrum_measure("small_fraction", runs, options)


def hessian_negative_fraction(runs: Sequence, options: Optional[dict] = None) -> float:
    """Share of Hessian eigenvalues below zero."""
    return _spectrum_measure("negative_fraction", runs, options)


def gradient_top_fraction(runs: Sequence, options: Optional[dict] = None) -> float:
    """Share of Σ(g·v)² on the eigenvectors of the largest ``top`` (default 0.1) share of |λ|."""
    return _spectrum_measure("gradient_top_fraction", runs, options)


def hessian_orders(runs: Sequence, options: Optional[dict] = None) -> float:
    """Decades spanned by |λ|: log10(max |λ| / min nonzero |λ|)."""
    return _spectrum_measure("orders_of_magnitude", runs, options)


def top_gap(eigenvalues: np.ndarray, among: int = 10) -> tuple[float, int]:
    """(decades, k): the widest log10(λ_k / λ_{k+1}) over k ≤ ``among`` of the positive eigenvalues, largest
    first; (NaN, 0) with fewer than two positive eigenvalues."""
    lam = np.sort(np.asarray(eigenvalues, np.float64)[np.asarray(eigenvalues) > 0])[::-1]
    lam = lam[:int(among) + 1]
    if lam.size < 2:
        return math.nan, 0
    gaps = np.log10(lam[:-1] / lam[1:])
    k = int(np.argmax(gaps))
    return float(gaps[k]), k + 1


def hessian_top_gap(runs: Sequence, options: Optional[dict] = None) -> float:
    """Decades between the cluster of top Hessian eigenvalues and the rest (see the module docstring)."""
    options = options or {}
    among, round_ = int(options.get("among", 10)), int(options.get("round", 0))
    return _mean_over(runs, lambda run: top_gap(run_spectrum(run, round_).eigenvalues, among)[0])


def gadget_errors(run, pairs: list, scales: list) -> np.ndarray:
    """The gadget net's relative RMSE at each of ``scales`` on ``run``'s test points (the panel's curve)."""
    from precision_jax.analysis.reproduce import gadget
    from precision_jax.runs.plan import resolve_target
    from precision_jax.runs.training import run_data

    record = store.read_run(run, extra=False)
    cfg = record.config
    target = resolve_target(cfg)
    if any(not 0 <= i < target.d for pair in pairs for i in pair):
        raise MeasureError(f"{run}: pairs {pairs} name inputs beyond the target's d = {target.d}")
    data = run_data(cfg, target, int(record.summary.N), standardize=False)
    points, exact = np.asarray(data.x_test), np.asarray(data.y_test)
    return np.array([gadget.relative_rmse(points, pairs, s, exact) for s in scales], dtype=np.float64)


def gadget_rmse(runs: Sequence, options: Optional[dict] = None) -> float:
    """Relative RMSE of the built multiplication-gadget net on each run's test points (see the module docstring)."""
    options = options or {}
    pairs = [[int(i) for i in pair] for pair in options.get("pairs", [[0, 1]])]
    scales = [float(s) for s in options.get("scales", [options.get("scale", 1e-4)])]
    return _mean_over(runs, lambda run: float(np.min(gadget_errors(Path(run), pairs, scales))))


MEASURES: dict[str, Callable[[list, dict], float]] = {
    "region_count": region_count,
    "hessian_small_fraction": hessian_small_fraction,
    "hessian_negative_fraction": hessian_negative_fraction,
    "gradient_top_fraction": gradient_top_fraction,
    "hessian_orders": hessian_orders,
    "hessian_top_gap": hessian_top_gap,
    "gadget_rmse": gadget_rmse,
}
