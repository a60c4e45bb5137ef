"""Tensor-product spline interpolation on a regular grid.

The target ``f`` is sampled on the grid ``linspace(lows[i], highs[i], p)`` per
axis (endpoints included; ``p = points_per_axis``), and interpolated by a
spline of degree ``order`` ("order n" in the paper) with not-a-knot end
conditions in every axis. For a smooth target with grid spacing ``h`` the
error is ``O(h^(n+1))``; with ``D = p^d`` grid points, ``h ~ D^(-1/d)``, so

    RMSE ∝ D^(-(n+1)/d),

until the float64 floor (relative RMSE ~1e-16 times the conditioning of the
interpolation, in practice ~1e-15…1e-16) is reached.

Implementation
--------------
* d == 1: ``scipy.interpolate.make_interp_spline(x, y, k=order)``, any order 1..7.
* d >= 2, order 1: ``scipy.interpolate.RegularGridInterpolator(method="linear")``
  (multilinear interpolation; identical to ``method="slinear"``).
* d >= 2, orders 3 and 5: the same tensor-product not-a-knot B-spline that
  ``RegularGridInterpolator(method="cubic" / "quintic")`` builds (an
  ``NdBSpline`` with the knots of ``make_interp_spline``), but with the
  coefficients computed exactly by one banded 1-D solve per axis
  (``make_interp_spline(..., axis=i)`` applied to the previous axis'
  coefficients) -- the interpolation matrix is a Kronecker product of 1-D
  collocation matrices, so this is the exact solution. scipy's RGI solves the
  full system with the iterative solver ``gcrotmk`` at ``atol=1e-6`` by
  default, which caps the relative error near 1e-6 (measured on e^{xy}: 2e-6
  at 50×50 where the exact solve gives 9e-9); ``solver=spsolve`` is exact but
  its sparse LU fills in badly on large grids.

Outside the box the interpolant is undefined: :meth:`SplineInterpolant.predict`
returns NaN there. Parameter count: ``n_params = n_train = p^d`` (one value
per grid point, as in the paper).

As a model kind (``model: {kind: spline, order: n}``, :class:`SplineConfig`)
the grid has ``floor(D^(1/d))`` points per axis for ``data.train_points`` D;
with ``data.sampling: grid`` D is already a whole grid of ``round(D^(1/d))``
points per axis and the spline interpolates exactly the run's training points.
On a data file's rows (:func:`fit_rows`) the rows must be a lookup table: a full
tensor grid (:func:`tensor_grid`), the same number of values on every axis in
d ≥ 2 (order 1 also needs them equally spaced); the spline interpolates every
row, so in d ≥ 2 the test points come from ``target.test_data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Optional, Sequence

import numpy as np

from precision_jax.config.engine import ConfigError, between, checked
from precision_jax.config.kinds import model_config, register_model
from precision_jax.models.fitting import described, numpy_target, training_rows
from precision_jax.models.simplex import default_memory_limit_gib

__all__ = [
    "SplineConfig",
    "SplineInterpolant",
    "tensor_grid",
    "fit_spline",
    "restore",
    "points_per_axis_for",
    "supported_orders",
    "grid_axes",
    "tensor_points",
    "evaluate_on_grid",
]

ORDERS_1D = (1, 2, 3, 4, 5, 6, 7)
# Orders for d >= 2 and the RegularGridInterpolator method each corresponds to.
METHODS_ND = {1: "linear", 3: "cubic", 5: "quintic"}

# Grid evaluations of f are done in chunks of at most this many points, so a
# large grid never materialises a (p^d, d) coordinate array at once.
_EVAL_CHUNK = 1 << 20


def supported_orders(d: int) -> tuple[int, ...]:
    """Spline orders :func:`fit_spline` supports in ``d`` dimensions."""
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    return ORDERS_1D if d == 1 else tuple(METHODS_ND)


def points_per_axis_for(D: int, d: int) -> int:
    """Largest ``p`` with ``p**d <= D`` -- i.e. ``floor(D**(1/d))`` without float rounding.

    ``64 ** (1/3)`` is ``3.9999999999999996`` in float64; this returns 4.
    """
    D, d = int(D), int(d)
    if D < 1 or d < 1:
        raise ValueError(f"need D >= 1 and d >= 1, got D={D}, d={d}")
    p = max(1, int(round(D ** (1.0 / d))))
    # Correct the float estimate with exact integer arithmetic.
    while p > 1 and p**d > D:
        p -= 1
    while (p + 1) ** d <= D:
        p += 1
    return p


def _check_box(lows, highs) -> tuple[np.ndarray, np.ndarray]:
    lows = np.asarray(lows, dtype=np.float64).reshape(-1)
    highs = np.asarray(highs, dtype=np.float64).reshape(-1)
    if lows.shape != highs.shape or lows.size == 0:
        raise ValueError(f"lows and highs must be non-empty and of equal length, got {lows.size} and {highs.size}")
    if not (np.all(np.isfinite(lows)) and np.all(np.isfinite(highs)) and np.all(highs > lows)):
        raise ValueError(f"need finite lows < highs on every axis, got lows={lows.tolist()}, highs={highs.tolist()}")
    return lows, highs


def points_in_box(x, lows: np.ndarray, highs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check ``x`` has shape (n, d); return it as float64, the mask of rows inside the box and a NaN-filled (n,)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(lows):
        raise ValueError(f"x must have shape (n, {len(lows)}), got {x.shape}")
    inside = np.all((x >= lows) & (x <= highs), axis=1)
    return x, inside, np.full(x.shape[0], np.nan)


def grid_axes(lows, highs, points_per_axis: int) -> tuple[np.ndarray, ...]:
    """``linspace(lows[i], highs[i], points_per_axis)`` for every axis ``i`` (endpoints included)."""
    lows, highs = _check_box(lows, highs)
    return tuple(np.linspace(lo, hi, int(points_per_axis)) for lo, hi in zip(lows, highs))


def tensor_points(axes: Sequence[np.ndarray]) -> np.ndarray:
    """Every point of the tensor grid ``axes`` as rows of an ``(∏ len(a), d)`` array, last axis fastest."""
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1)


def evaluate_on_grid(f: Callable[[np.ndarray], np.ndarray], axes: Sequence[np.ndarray]) -> np.ndarray:
    """Values of ``f`` on the tensor grid ``axes``, shape ``tuple(len(a) for a in axes)``.

    ``f`` maps (m, d) float64 -> (m,); it is called on C-ordered chunks of
    grid points (last axis fastest). Raises ValueError if ``f`` returns the
    wrong shape or non-finite values (one NaN would spread through a global
    spline or Chebyshev fit).
    """
    shape = tuple(len(a) for a in axes)
    total = int(np.prod(shape))
    out = np.empty(total, dtype=np.float64)
    for start in range(0, total, _EVAL_CHUNK):
        idx = np.unravel_index(np.arange(start, min(start + _EVAL_CHUNK, total)), shape)
        pts = np.stack([a[i] for a, i in zip(axes, idx)], axis=1)
        vals = np.asarray(f(pts), dtype=np.float64)
        if vals.shape != (pts.shape[0],):
            raise ValueError(f"f must map (m, {len(axes)}) to (m,), got output shape {vals.shape} for m={pts.shape[0]}")
        out[start:start + pts.shape[0]] = vals
    if not np.all(np.isfinite(out)):
        raise ValueError(f"f returned non-finite values at {int(np.count_nonzero(~np.isfinite(out)))} grid points")
    return out.reshape(shape)


@dataclass(frozen=True, eq=False)
class SplineInterpolant:
    """Tensor-product spline on a regular grid; NaN outside the box.

    Attributes
    ----------
    n_params, n_train : int -- both ``points_per_axis ** d``.
    d, order, points_per_axis : int.
    method : str -- ``"make_interp_spline"`` (1-D), ``"linear"``, ``"cubic"`` or ``"quintic"``.
    lows, highs : ndarray, shape (d,) -- the box.
    """

    n_params: int
    n_train: int
    d: int
    order: int
    points_per_axis: int
    method: str
    lows: np.ndarray = field(repr=False)
    highs: np.ndarray = field(repr=False)
    _spline: Callable = field(repr=False)
    _values: Optional[np.ndarray] = field(default=None, repr=False)  # f on the grid; kept by fit_spline only

    def fitted_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The grid points the spline interpolates, ``(p^d, d)``, and f there, ``(p^d,)`` (C order, last axis fastest).

        Its training error is measured here: these are the D points it was fitted
        to. Only a fresh fit knows f's values; a restored spline raises ValueError.
        """
        if self._values is None:
            raise ValueError("a restored spline does not keep the values it was fitted to")
        axes = grid_axes(self.lows, self.highs, self.points_per_axis)
        return tensor_points(axes), self._values.reshape(-1).copy()

    def predict(self, x) -> np.ndarray:
        """Spline values at ``x`` of shape (n, d); returns shape (n,), NaN outside the box."""
        x, inside, out = points_in_box(x, self.lows, self.highs)
        if inside.any():
            xi = x[inside]
            if self.d == 1:
                # scipy's BSpline finds each point's knot interval by a linear walk from the previous
                # point's interval, so unsorted points cost O(n · knots) (2.2M random points on a
                # fine grid took minutes); sorted they cost O(n + knots). Each value depends only on
                # its own point, so sorting changes no bit of the result.
                order = np.argsort(xi[:, 0], kind="stable")
                values = np.empty(xi.shape[0])
                values[order] = self._spline(xi[order, 0])
                out[inside] = values
            else:
                out[inside] = self._spline(xi)
        return out

    __call__ = predict

    def state(self) -> dict[str, np.ndarray]:
        """What :func:`restore` needs: the box, order, grid size and the fitted spline's own arrays.

        1-D and tensor B-splines store their knots (``t``, or ``t_<axis>``) and
        coefficients ``c``; multilinear interpolation stores the grid ``values``.
        Evaluating the same knots and coefficients gives bit-identical values.
        """
        arrays = {"lows": self.lows.copy(), "highs": self.highs.copy(), "order": np.asarray(self.order, np.int64),
                  "points_per_axis": np.asarray(self.points_per_axis, np.int64)}
        if self.d == 1:
            arrays.update(t=np.array(self._spline.t, np.float64), c=np.array(self._spline.c, np.float64))
        elif self.method == "linear":
            arrays["values"] = np.array(self._spline.values, np.float64)
        else:
            arrays.update({f"t_{axis}": np.array(t, np.float64) for axis, t in enumerate(self._spline.t)})
            arrays["c"] = np.array(self._spline.c, np.float64)
        return arrays


def restore(model_cfg, arrays: dict[str, np.ndarray]) -> SplineInterpolant:
    """The interpolant whose :meth:`SplineInterpolant.state` is ``arrays`` (no refit, no samples of f)."""
    from scipy.interpolate import BSpline, NdBSpline, RegularGridInterpolator

    lows, highs = _check_box(arrays["lows"], arrays["highs"])
    d, order, p = lows.size, int(arrays["order"]), int(arrays["points_per_axis"])
    if d == 1:
        spl = BSpline(np.asarray(arrays["t"], np.float64), np.asarray(arrays["c"], np.float64), order,
                      extrapolate=False)
        method = "make_interp_spline"
    elif order == 1:
        spl = RegularGridInterpolator(grid_axes(lows, highs, p), np.asarray(arrays["values"], np.float64),
                                      method="linear", bounds_error=False, fill_value=np.nan)
        method = "linear"
    else:
        knots = tuple(np.asarray(arrays[f"t_{axis}"], np.float64) for axis in range(d))
        spl = NdBSpline(knots, np.ascontiguousarray(arrays["c"], np.float64), order, extrapolate=False)
        method = METHODS_ND[order]
    return SplineInterpolant(p**d, p**d, d, order, p, method, lows, highs, spl)


def fit_spline(f: Callable[[np.ndarray], np.ndarray], lows: Sequence[float], highs: Sequence[float],
               points_per_axis: int, order: int, *, max_memory_gib: float | None = None) -> SplineInterpolant:
    """Interpolate ``f`` by a tensor-product spline of degree ``order`` on a regular grid.

    Parameters
    ----------
    f : callable, (m, d) float64 -> (m,) float64 -- the target.
    lows, highs : sequences of length d -- the box ``∏ [lows[i], highs[i]]``.
    points_per_axis : int -- grid points per axis ``p`` (endpoints included),
        ``p >= order + 1``. Use :func:`points_per_axis_for` to get ``p`` from a
        total budget ``D``.
    order : int -- spline degree n; 1..7 in 1-D, 1, 3 or 5 for d >= 2
        (see :func:`supported_orders`).
    max_memory_gib : float, optional -- refuse grids whose estimated memory
        exceeds this; default half the machine's physical memory.

    Returns
    -------
    SplineInterpolant with ``n_params = n_train = p**d``.
    Error order: RMSE ∝ h^(n+1) ∝ D^(-(n+1)/d).

    Raises
    ------
    ValueError for an unsupported order (naming the supported ones), too
    few points per axis, a bad box, a grid too large for memory, or
    non-finite values of ``f``.
    """
    lows, highs = _check_box(lows, highs)
    d = lows.size
    order, p = int(order), int(points_per_axis)
    orders = supported_orders(d)
    if order not in orders:
        raise ValueError(f"spline order {order} is not supported in d={d}; supported orders: {list(orders)}")
    if p < order + 1:
        raise ValueError(f"spline order {order} needs points_per_axis >= {order + 1}, got {p}")
    n_train = p**d
    # values + coefficients + per-axis solve temporaries (~6 grid-sized
    # float64 arrays) plus one chunk of grid coordinates.
    need_gib = (8.0 * n_train * 6 + 8.0 * d * min(n_train, _EVAL_CHUNK)) / 2**30
    limit_gib = default_memory_limit_gib() if max_memory_gib is None else float(max_memory_gib)
    if need_gib > limit_gib:
        raise ValueError(f"spline grid of {p}^{d} = {n_train} points needs ~{need_gib:.3g} GiB; "
                         f"limit is {limit_gib:.3g} GiB (max_memory_gib)")

    axes = grid_axes(lows, highs, p)
    values = evaluate_on_grid(f, axes)
    spl, method = tensor_spline(axes, values, order)
    return SplineInterpolant(n_train, n_train, d, order, p, method, lows, highs, spl, values)


def tensor_spline(axes: Sequence[np.ndarray], values: np.ndarray, order: int) -> tuple[Any, str]:
    """The spline of degree ``order`` through ``values`` (shape ``(len(a) for a in axes)``) on the tensor grid
    of the increasing ``axes``, and the name of its method: one not-a-knot ``make_interp_spline`` in 1-D,
    multilinear interpolation for order 1, else the exact tensor-product solve, one axis at a time. NaN
    outside the grid, never a polynomial extrapolation."""
    from scipy.interpolate import NdBSpline, RegularGridInterpolator, make_interp_spline

    if len(axes) == 1:
        spl = make_interp_spline(axes[0], values, k=order)
        spl.extrapolate = False
        return spl, "make_interp_spline"
    if order == 1:
        return RegularGridInterpolator(tuple(axes), values, method="linear", bounds_error=False,
                                       fill_value=np.nan), "linear"
    # make_interp_spline puts the interpolation axis first in .c, so move it back each time.
    coef, knots = values, []
    for ax in range(len(axes)):
        s = make_interp_spline(axes[ax], coef, k=order, axis=ax)
        coef = np.moveaxis(s.c, 0, ax)
        knots.append(s.t)
    return NdBSpline(tuple(knots), np.ascontiguousarray(coef), order, extrapolate=False), METHODS_ND[order]


# --------------------------------------------------------------------------- the model kind


@model_config
class SplineConfig:
    """Tensor-product spline of degree ``order`` on a regular grid."""

    kind: Literal["spline"] = checked("spline", doc="tensor-product spline on a floor(D^(1/d))^d grid")
    order: int = checked(3, between(1, 7), doc="polynomial degree; 1–7 in 1-D, 1, 3 or 5 for d ≥ 2")


def _check_order(order: int, d: int) -> None:
    if order not in supported_orders(d):
        raise ConfigError(f"order {order} is not supported in d={d}; supported: "
                          f"{', '.join(map(str, supported_orders(d)))}", "model.order")


def fit(cfg: SplineConfig, target, data) -> SplineInterpolant:
    """The spline through the target sampled on a ``floor(D^(1/d))``-per-axis grid of its box."""
    _check_order(cfg.order, target.d)
    points = points_per_axis_for(data.n_train, target.d)
    try:
        fitted = fit_spline(numpy_target(target), target.lows, target.highs, points, cfg.order)
    except ValueError as e:
        raise ConfigError(str(e), "data.train_points") from None
    return described(fitted, f"spline order {cfg.order}, {points}^{target.d} grid")


def tensor_grid(x: np.ndarray) -> Optional[tuple[np.ndarray, ...]]:
    """The sorted distinct values per column if the rows of ``x`` (n, d) are a full tensor grid (every
    combination exactly once), else None."""
    x = np.asarray(x, np.float64)
    axes = tuple(np.unique(x[:, i]) for i in range(x.shape[1]))
    if int(np.prod([a.size for a in axes], dtype=object)) != x.shape[0]:
        return None
    index = np.ravel_multi_index(tuple(np.searchsorted(a, x[:, i]) for i, a in enumerate(axes)),
                                 tuple(a.size for a in axes))
    return axes if np.unique(index).size == x.shape[0] else None


def _uniform(axis: np.ndarray) -> bool:
    steps = np.diff(axis)
    return bool(np.all(np.abs(steps - (axis[-1] - axis[0]) / (axis.size - 1)) <= 1e-9 * np.abs(steps).max()))


def _grid_problem(x: np.ndarray, inputs: Sequence[str], name: str, order: int) -> Optional[str]:
    """Why rows ``x`` (n, d) of file ``name`` cannot carry a spline of ``order`` (None if they can)."""
    axes = tensor_grid(x)
    d = x.shape[1]
    if axes is None:
        counts = ", ".join(f"{c}: {np.unique(x[:, i]).size}" for i, c in enumerate(inputs))
        return (f"a spline needs data on a full tensor grid (a lookup table: every combination of the inputs' "
                f"values once); these {x.shape[0]} points of {name} are scattered (distinct values per input: "
                f"{counts}): use kind: simplex or mlp")
    short = [(c, a.size) for c, a in zip(inputs, axes) if a.size < order + 1]
    if short:
        return (f"a spline of order {order} needs at least {order + 1} values per input; {name} has "
                f"{', '.join(f'{n} of {c}' for c, n in short)}")
    if d >= 2 and len({a.size for a in axes}) != 1:
        return (f"a spline in d ≥ 2 needs the same number of values on every axis; {name} has "
                f"{' × '.join(f'{a.size} ({c})' for c, a in zip(inputs, axes))}: use kind: simplex or mlp")
    if d >= 2 and order == 1 and not all(_uniform(a) for a in axes):
        return (f"a multilinear spline (order 1) in d ≥ 2 needs equally spaced values on every axis; "
                f"{name}'s are not: use order 3 or 5, or kind: simplex")
    return None


def fit_rows(cfg: SplineConfig, target, data) -> SplineInterpolant:
    """A tensor-product spline through every row of a lookup table (the data set's training rows).

    1-D: ``make_interp_spline`` on the sorted points (any spacing); d ≥ 2, order 1: multilinear on the
    (equally spaced) grid; orders 3 and 5: the exact tensor not-a-knot solve of :func:`fit_spline` on the
    table's own axes. The result is stored and restored like any spline.
    """
    x, y = training_rows(data)
    d, order = x.shape[1], cfg.order
    _check_order(order, d)
    problem = _grid_problem(x, target.variables, target.data.train.name, order)
    if problem is not None:
        raise ConfigError(problem, "model.kind")
    axes = tensor_grid(x)
    p = axes[0].size
    values = np.empty(tuple(a.size for a in axes))
    values[tuple(np.searchsorted(a, x[:, i]) for i, a in enumerate(axes))] = y
    lows, highs = np.array([a[0] for a in axes]), np.array([a[-1] for a in axes])
    # Multilinear interpolation on the regular axes that a restored spline rebuilds, so the fit and the stored
    # model agree bit for bit; the B-splines keep their knots, from the table's own axes.
    spline, method = tensor_spline(grid_axes(lows, highs, p) if d > 1 and order == 1 else axes, values, order)
    fitted = SplineInterpolant(p**d, p**d, d, order, p, method, lows, highs, spline, values)
    # The training error of a data fit is measured at the rows it was fitted to.
    return described(fitted, f"spline order {order} on a {'×'.join(str(a.size) for a in axes)} table", (x, y))


def check_rows(cfg, target, n_train: int, source: str) -> None:
    """A data file is a lookup table this order can interpolate, used whole, tested on ``test_data`` in d ≥ 2."""
    points, d, order = target.data, target.d, cfg.model.order
    _check_order(order, d)
    if cfg.data.train_points != "auto":
        raise ConfigError("a spline interpolates every row of the table; leave data.train_points auto",
                          "data.train_points")
    problem = _grid_problem(points.train.x, points.train.inputs, points.train.name, order)
    if problem is not None:
        raise ConfigError(problem, "model.kind")
    if d >= 2 and points.test is None:
        raise ConfigError(f"a spline interpolates every row of the lookup table {points.train.name}; holding 20 % "
                          f"of them out for testing would leave holes in it: give target.test_data (points off "
                          f"the grid)", "target.test_data")


register_model(SplineConfig, fit=fit, fit_rows=fit_rows, restore=restore, check_rows=check_rows)
