"""Linear simplex interpolation (piecewise-linear on a Delaunay triangulation).

Given ``D`` scattered training points in ``d`` dimensions, the interpolant is
linear on every simplex of the Delaunay triangulation of the points and fits
them exactly. For a smooth target and quasi-uniform points the error at a
point is ``O(h² |∇²f|)`` with ``h ~ D^(-1/d)`` the local spacing, so

    RMSE ∝ D^(-2/d).

Outside the convex hull of the points the interpolant is undefined and
:meth:`SimplexInterpolant.predict` returns NaN there (not an extrapolation, and
not a clamped value); use :meth:`SimplexInterpolant.outside_hull_count`, or
``precision_jax.numerics.error_metrics.masked_errors`` / ``nan_policy="omit"`` on the metrics,
to count those points instead of silently dropping them as the paper did.

Parameter count: the paper counts ``N = D (d + 1)`` (each point carries its
``d`` coordinates and one value).

Cost: the number of Delaunay simplices of ``D`` random points grows like
``D · c(d)`` with ``c(d)`` exploding in ``d`` (≈2 in 2-D, 6.8 in 3-D, 32 in
4-D, hundreds in 5-D, thousands in 7-D), and qhull needs a few hundred bytes
per simplex. :func:`fit_simplex` estimates that memory up front and raises
``ValueError`` for infeasible ``(D, d)`` instead of hanging or being killed.

As a model kind (``model: {kind: simplex}``, :class:`SimplexConfig`) it is fitted
to the run's D training points (random, or with ``data.sampling: grid`` a
regular grid), N = D(d+1); on a data file's rows, to at least d + 1 rows that
span the d inputs. Test points outside the hull are counted (``outside_hull``),
never dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from precision_jax.config.engine import ConfigError, checked
from precision_jax.config.kinds import model_config, register_model
from precision_jax.models.fitting import described, training_rows

__all__ = ["SimplexConfig", "SimplexInterpolant", "fit_simplex", "restore", "estimate_triangulation_bytes",
           "default_memory_limit_gib"]

# Expected Delaunay d-simplices per point for uniform random points at large D.
# d = 2, 3, 4 are the Poisson–Delaunay values (2, 24π²/35 ≈ 6.77, ≈ 31.8);
# d = 5..7 are rounded *up* from counts measured with scipy/qhull on uniform
# points in the unit cube (155 at D=1e4 in 5-D, 777 at D=3e3 in 6-D,
# 3134 at D=1e3 in 7-D, still rising with D because of boundary effects).
_SIMPLICES_PER_POINT = {1: 1.0, 2: 2.0, 3: 6.8, 4: 32.0, 5: 200.0, 6: 1200.0, 7: 7500.0}


def _simplices_per_point(d: int) -> float:
    if d in _SIMPLICES_PER_POINT:
        return _SIMPLICES_PER_POINT[d]
    # Beyond the table the per-dimension growth factor itself keeps growing
    # (3.4, 4.7, 6, 6, 6.3 for d = 3..7); extrapolate with a factor ~d.
    c = _SIMPLICES_PER_POINT[7]
    for k in range(8, d + 1):
        c *= k
    return c


def estimate_triangulation_bytes(D: int, d: int) -> float:
    """Rough peak memory (bytes) of ``Delaunay`` + ``LinearNDInterpolator`` on ``D`` uniform points in ``d``-D.

    Model: ``D · c(d)`` simplices times ``1.25 · (250 + 45 d)`` bytes each, fitted
    to peak RSS measured for scipy 1.17 / qhull (≈340 B per simplex in 2-D,
    ≈540 B in 7-D) with a 25 % margin.
    """
    if d <= 1:
        return 16.0 * D  # sorted copy of x and y
    return D * _simplices_per_point(d) * 1.25 * (250.0 + 45.0 * d)


def default_memory_limit_gib() -> float:
    """Half of the machine's physical memory in GiB (8 GiB if it cannot be read)."""
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return 8.0


@dataclass(frozen=True, eq=False)
class SimplexInterpolant:
    """Piecewise-linear interpolant of scattered data; NaN outside the convex hull.

    Attributes
    ----------
    n_params : int -- the paper's count ``D (d + 1)``.
    n_train : int -- number of training points ``D``.
    d : int -- input dimension.
    """

    n_params: int
    n_train: int
    d: int
    _x_sorted: np.ndarray | None = field(default=None, repr=False)  # d == 1
    _y_sorted: np.ndarray | None = field(default=None, repr=False)  # d == 1
    _interp: object = field(default=None, repr=False)  # LinearNDInterpolator, d >= 2

    def _check_x(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must have shape (n, {self.d}), got {x.shape}")
        return x

    def predict(self, x) -> np.ndarray:
        """Interpolated values at ``x`` of shape (n, d); returns shape (n,), NaN outside the hull."""
        x = self._check_x(x)
        if self.d == 1:
            return np.interp(x[:, 0], self._x_sorted, self._y_sorted, left=np.nan, right=np.nan)
        return np.asarray(self._interp(x), dtype=np.float64).reshape(-1)

    __call__ = predict

    def outside_hull_count(self, x) -> int:
        """Number of rows of ``x`` (n, d) outside the convex hull (where ``predict`` gives NaN)."""
        x = self._check_x(x)
        if self.d == 1:
            t = x[:, 0]
            return int(np.count_nonzero(~((t >= self._x_sorted[0]) & (t <= self._x_sorted[-1]))))
        return int(np.count_nonzero(self._interp.tri.find_simplex(x) < 0))

    def state(self) -> dict[str, np.ndarray]:
        """The training points as given: ``x`` (D, d) and ``y`` (D,); :func:`restore` rebuilds from them.

        The triangulation itself is not stored: qhull is deterministic for the
        same points in the same order with the same options, so re-triangulating
        gives the same simplices and, with the same barycentric transforms,
        bit-identical predictions.
        """
        if self.d == 1:
            return {"x": self._x_sorted[:, None].copy(), "y": self._y_sorted.copy()}
        return {"x": np.array(self._interp.points, np.float64),
                "y": np.array(self._interp.values, np.float64).reshape(-1)}


def _precompute_barycentric_transforms(tri) -> None:
    """Fill ``tri.transform`` with one batched numpy inverse instead of scipy's per-simplex LAPACK calls.

    Why: the first point location (``find_simplex``, hence every
    ``LinearNDInterpolator`` call) computes the barycentric transforms of all
    simplices with one small ``dgetrf``/``dgecon``/``dgetrs`` call each, and
    with scipy's multithreaded OpenBLAS on a loaded 2-core machine that took
    1–3 s per 10^5 simplices (20x slower than with OPENBLAS_NUM_THREADS=1);
    the batched inverse takes ~0.05 s either way. The layout is scipy's:
    ``transform[s, :d, :] = T⁻¹`` with ``T = [r_1 - r_n, ..., r_d - r_n]``
    (vertex vectors as columns), ``transform[s, d, :] = r_n``, and NaN rows
    for numerically degenerate simplices (reciprocal 1-norm condition number
    below machine ε, scipy's criterion). If anything does not fit (other scipy
    internals, an exactly singular simplex), scipy computes them itself.

    Why not ``threadpoolctl.threadpool_limits(1)`` around scipy's own computation:
    it is as fast, but LAPACK's per-simplex LU gives transforms that differ from
    the batched inverse in the last bits (predictions up to ~4e-15 apart on
    random 2-D to 4-D points, measured with scipy 1.17), so every stored simplex
    run's metrics, and exported predictors' bit-for-bit agreement with them,
    would change.
    """
    if getattr(tri, "_transform", 0) is not None:  # not the scipy internals we know, or already done
        return
    pts = tri.points[tri.simplices]  # (nsimplex, d+1, d)
    r_n = pts[:, -1, :]
    T = np.swapaxes(pts[:, :-1, :] - r_n[:, None, :], 1, 2)
    try:
        Tinv = np.linalg.inv(T)
    except np.linalg.LinAlgError:
        return
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        rcond = 1.0 / (np.abs(T).sum(axis=1).max(axis=1) * np.abs(Tinv).sum(axis=1).max(axis=1))
    bad = ~(rcond >= np.finfo(np.float64).eps)
    transform = np.empty((T.shape[0], T.shape[1] + 1, T.shape[1]))
    transform[:, :-1, :] = Tinv
    transform[:, -1, :] = r_n
    transform[bad] = np.nan
    tri._transform = transform


def fit_simplex(x_train, y_train, *, max_memory_gib: float | None = None) -> SimplexInterpolant:
    """Fit a linear simplex interpolant to scattered data.

    Parameters
    ----------
    x_train : array_like, shape (D, d) -- training inputs, D >= d + 1.
    y_train : array_like, shape (D,) -- training targets.
    max_memory_gib : float, optional -- refuse triangulations whose estimated
        peak memory (:func:`estimate_triangulation_bytes`) exceeds this;
        default half the machine's physical memory.

    Returns
    -------
    SimplexInterpolant

    Notes
    -----
    d == 1 uses sorted linear interpolation (``np.interp``); d >= 2 uses
    ``scipy.spatial.Delaunay`` + ``scipy.interpolate.LinearNDInterpolator``
    with ``fill_value=nan``. Error order: RMSE ∝ D^(-2/d) for smooth targets.

    Raises
    ------
    ValueError for bad shapes, non-finite data, D < d + 1, or an infeasible
    triangulation (message states the estimate and the limit).
    """
    x = np.asarray(x_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x_train must have shape (D, d), got {x.shape}")
    D, d = x.shape
    if y.shape != (D,):
        raise ValueError(f"y_train must have shape ({D},), got {y.shape}")
    if d < 1:
        raise ValueError("x_train must have at least one column")
    if D < d + 1:
        raise ValueError(f"simplex interpolation in d={d} dimensions needs at least d+1={d + 1} points, got D={D}")

    limit_gib = default_memory_limit_gib() if max_memory_gib is None else float(max_memory_gib)
    need_gib = estimate_triangulation_bytes(D, d) / 2**30
    if need_gib > limit_gib:
        # Checked before touching qhull: in high d it would run for hours and
        # then be OOM-killed. Largest D this model allows on 12 GiB: ~7e5 in
        # 4-D, ~1e5 in 5-D, ~1.6e4 in 6-D, ~2.4e3 in 7-D, ~250 in 8-D.
        raise ValueError(
            f"simplex interpolation with D={D} points in d={d} dimensions needs ~{need_gib:.3g} GiB "
            f"for the triangulation (~{D * _simplices_per_point(d):.3g} simplices); "
            f"limit is {limit_gib:.3g} GiB (max_memory_gib)")

    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x_train and y_train must be finite")

    return _interpolant(x, y)


def _interpolant(x: np.ndarray, y: np.ndarray) -> SimplexInterpolant:
    """The interpolant of checked data ``x`` (D, d), ``y`` (D,); shared by the fit and :func:`restore`."""
    D, d = x.shape
    n_params = D * (d + 1)
    if d == 1:
        order = np.argsort(x[:, 0], kind="stable")
        return SimplexInterpolant(n_params, D, 1, _x_sorted=x[order, 0].copy(), _y_sorted=y[order].copy())

    # Imported here so that 1-D use and the feasibility check stay cheap.
    from scipy.interpolate import LinearNDInterpolator
    from scipy.spatial import Delaunay

    tri = Delaunay(x)  # scipy's default qhull options ("Qbb Qc Qz Q12", plus "Qx" for d > 4)
    _precompute_barycentric_transforms(tri)
    interp = LinearNDInterpolator(tri, y, fill_value=np.nan)
    return SimplexInterpolant(n_params, D, d, _interp=interp)


def restore(model_cfg, arrays: dict[str, np.ndarray]) -> SimplexInterpolant:
    """The interpolant whose :meth:`SimplexInterpolant.state` is ``arrays`` (``model_cfg`` has no size keys)."""
    x = np.asarray(arrays["x"], np.float64)
    y = np.asarray(arrays["y"], np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] < x.shape[1] + 1:
        raise ValueError(f"simplex state needs x (D, d) and y (D,) with D > d, got {x.shape} and {y.shape}")
    return _interpolant(x, y)


# --------------------------------------------------------------------------- the model kind


@model_config
class SimplexConfig:
    """Linear simplex interpolation (Delaunay + barycentric; sorted linear interpolation in 1-D)."""

    kind: Literal["simplex"] = checked("simplex", doc="linear interpolation on a Delaunay mesh of the D points")


def fit(cfg: SimplexConfig, target, data) -> SimplexInterpolant:
    """The interpolant of the run's training points; a bad size is a :class:`ConfigError` at ``data.train_points``."""
    try:
        fitted = fit_simplex(*training_rows(data))
    except ValueError as e:
        raise ConfigError(str(e), "data.train_points") from None
    return described(fitted, f"simplex d={target.d}")


def fit_rows(cfg: SimplexConfig, target, data) -> SimplexInterpolant:
    """:func:`fit` on a data file's rows, refusing rows that lie in a lower-dimensional subspace (qhull would)."""
    x = np.asarray(data.x_train, np.float64)
    if x.shape[1] >= 2 and np.linalg.matrix_rank(x - x.mean(axis=0)) < x.shape[1]:
        raise ConfigError(f"the {x.shape[0]} training points of {target.data.train.name} lie in a "
                          f"lower-dimensional subspace; simplex interpolation needs points that span all "
                          f"{x.shape[1]} inputs (use kind: mlp)", "model.kind")
    try:
        return fit(cfg, target, data)
    except RuntimeError as e:  # qhull's QhullError on degenerate point sets
        raise ConfigError(f"triangulating {target.data.train.name}'s points failed: {' '.join(str(e).split())[:200]}",
                          "model.kind") from None


def check_rows(cfg, target, n_train: int, source: str) -> None:
    """A data file gives at least d + 1 training rows (``cfg`` is the experiment config)."""
    d = target.d
    if n_train < d + 1:
        raise ConfigError(f"simplex interpolation in d = {d} needs at least d + 1 = {d + 1} training points; "
                          f"{target.data.train.name} gives {n_train}{source}", "data.train_points")


register_model(SimplexConfig, fit=fit, fit_rows=fit_rows, restore=restore, check_rows=check_rows)
