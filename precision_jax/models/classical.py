"""Config kinds for the classical approximators: ``simplex``, ``spline``, ``chebyshev``.

These are fitted once, without an optimizer chain, and go through the same
data protocol, metrics and store as networks. Sizes come from
``data.train_points`` (D):

* ``simplex``: the run's D training points (random, or with ``data.sampling: grid`` a regular grid); N = D(d+1).
* ``spline``: a regular grid of ``floor(D^(1/d))`` points per axis; N = D_grid. With ``data.sampling: grid``
  (the way to ask for grid data) D is already a whole grid of ``round(D^(1/d))`` points per axis, and the
  spline interpolates exactly the run's training points.
* ``chebyshev``: ``degree`` per axis (default ``floor(D^(1/d)) − 1``); N = D = (degree+1)^d, its nodes
  (a ``train_points`` that disagrees with a set ``degree`` is refused).

Training errors are measured on the points each was fitted to: simplex's D
points, a spline's grid, Chebyshev's nodes (``fitted_points()``).

Bad sizes or orders for the target's dimension are :class:`ConfigError` naming the key.
"""

from __future__ import annotations

from typing import Literal, Optional

import jax
import numpy as np

from precision_jax.models.chebyshev import fit_chebyshev
from precision_jax.models.simplex import fit_simplex
from precision_jax.models.spline import fit_spline, points_per_axis_for, supported_orders
from precision_jax.config.engine import ConfigError, between, checked, positive
from precision_jax.config.kinds import model_config


@model_config
class SimplexConfig:
    """Linear simplex interpolation (Delaunay + barycentric; sorted linear interpolation in 1-D)."""

    kind: Literal["simplex"] = checked("simplex", doc="linear interpolation on a Delaunay mesh of the D points")


@model_config
class SplineConfig:
    """Tensor-product spline of degree ``order`` on a regular grid."""

    kind: Literal["spline"] = checked("spline", doc="tensor-product spline on a floor(D^(1/d))^d grid")
    order: int = checked(3, between(1, 7), doc="polynomial degree; 1–7 in 1-D, 1, 3 or 5 for d ≥ 2")


@model_config
class ChebyshevConfig:
    """Tensor-product Chebyshev interpolation at second-kind Chebyshev points (d ≤ 3)."""

    kind: Literal["chebyshev"] = checked("chebyshev", doc="tensor-product Chebyshev interpolation, d ≤ 3")
    degree: Optional[int] = checked(None, positive, doc="per axis; null: floor(D^(1/d)) − 1")


def _numpy_target(target):
    fn = jax.jit(target.fn)
    return lambda x: np.asarray(fn(np.asarray(x, np.float64)))


def _with_description(interpolant, description: str):
    object.__setattr__(interpolant, "description", description)
    return interpolant


def build_simplex(cfg: SimplexConfig, target, data):
    try:
        fitted = fit_simplex(np.asarray(data.x_train), np.asarray(data.y_train))
    except ValueError as e:
        raise ConfigError(str(e), "data.train_points") from None
    return _with_description(fitted, f"simplex d={target.d}")


def build_spline(cfg: SplineConfig, target, data):
    if cfg.order not in supported_orders(target.d):
        raise ConfigError(f"order {cfg.order} is not supported in d={target.d}; supported: "
                          f"{', '.join(map(str, supported_orders(target.d)))}", "model.order")
    points = points_per_axis_for(data.n_train, target.d)
    try:
        fitted = fit_spline(_numpy_target(target), target.lows, target.highs, points, cfg.order)
    except ValueError as e:
        raise ConfigError(str(e), "data.train_points") from None
    return _with_description(fitted, f"spline order {cfg.order}, {points}^{target.d} grid")


def build_chebyshev(cfg: ChebyshevConfig, target, data):
    if target.d > 3:
        raise ConfigError(f"chebyshev interpolation supports d ≤ 3; the target has d = {target.d}", "model.kind")
    degree = cfg.degree if cfg.degree is not None else points_per_axis_for(data.n_train, target.d) - 1
    if cfg.degree is not None and data.n_train != (degree + 1) ** target.d:
        raise ConfigError(f"a chebyshev model of degree {degree} is fitted at its own (degree+1)^d = "
                          f"{(degree + 1) ** target.d} nodes, not at {data.n_train} points", "data.train_points")
    if degree < 1:
        raise ConfigError(f"D = {data.n_train} gives degree {degree}; need at least 2^d points",
                          "data.train_points")
    try:
        fitted = fit_chebyshev(_numpy_target(target), target.lows, target.highs, degree)
    except ValueError as e:
        raise ConfigError(str(e), "model.degree") from None
    return _with_description(fitted, f"chebyshev degree {degree}")


INTERPOLANT_BUILDERS = {"simplex": build_simplex, "spline": build_spline, "chebyshev": build_chebyshev}

# kind -> restore(model_cfg, arrays) -> interpolant, the inverse of the interpolant's ``state()``: the store
# saves a fitted interpolant as its state arrays and rebuilds it with these, without refitting.
from precision_jax.models import chebyshev as _chebyshev, simplex as _simplex, spline as _spline  # noqa: E402

RESTORERS = {"simplex": _simplex.restore, "spline": _spline.restore, "chebyshev": _chebyshev.restore}
