"""Tensor-product Chebyshev interpolation on a box, d <= 3.

Each axis ``[lo, hi]`` is mapped affinely to ``[-1, 1]`` and ``f`` is sampled
at the tensor grid of Chebyshev points of the *second* kind (Chebyshev–Lobatto
points, the extrema of T_n, endpoints included):

    t_j = cos(π j / n),   j = 0, ..., n        (n = degree).

The interpolant is ``p(t) = Σ_k c_k T_k(t)`` per axis (tensor product in d-D),
with coefficients from a type-I DCT of the samples (exact in exact arithmetic):

    c_k = (2/n) Σ''_j f(t_j) cos(π j k / n),   c_0 and c_n halved,

(Σ'' halves the j = 0 and j = n terms), applied along every axis. It is
evaluated with Clenshaw's recurrence (``numpy.polynomial.chebyshev.chebval`` /
``chebval2d`` / ``chebval3d``), which is backward stable on [-1, 1].

Error: for f analytic in the Bernstein ellipse of parameter ρ > 1 around
[-1, 1] the error is O(ρ^(-n)) per axis -- geometric, not algebraic -- so
e^x or sin(πx) reach the float64 floor (~1e-16 relative, times the Lebesgue
constant O(log n)) by degree ~20–30. Parameter count:
``n_params = n_train = (degree + 1) ** d``.

As a model kind (``model: {kind: chebyshev, degree: n}``, :class:`ChebyshevConfig`)
the degree defaults to ``floor(D^(1/d)) − 1`` for ``data.train_points`` D, and
the fit uses its own (degree+1)^d nodes (a ``train_points`` that disagrees with
a set ``degree`` is refused). A data file's rows are not at the nodes, so there
it is a least-squares series (:func:`fit_rows`): degree n per axis (default the
largest n with (n+1)^d ≤ D/4, which keeps the fit well conditioned on scattered
points) and the coefficients of

    min_c ‖V c − y‖₂,   V[r, (i, j, …)] = T_i(t_{r,0}) T_j(t_{r,1}) …,

by ``numpy.linalg.lstsq`` (SVD), refused when V is rank-deficient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Optional, Sequence

import numpy as np
from numpy.polynomial import chebyshev as C

from precision_jax.config.engine import ConfigError, checked, positive
from precision_jax.config.kinds import model_config, register_model
from precision_jax.models.fitting import described, numpy_target, training_rows
from precision_jax.models.spline import _check_box, evaluate_on_grid, points_in_box, points_per_axis_for, tensor_points

__all__ = ["ChebyshevConfig", "ChebyshevInterpolant", "fit_chebyshev", "restore", "chebyshev_points", "MAX_DIM",
           "default_rows_degree"]

MAX_DIM = 3  # numpy provides chebval, chebval2d and chebval3d
_VALFUNCS = {1: C.chebval, 2: C.chebval2d, 3: C.chebval3d}
# Clenshaw over the first axis materialises (n+1)^(d-1) x (points) values;
# evaluate in chunks so that this stays below ~32 MiB.
_EVAL_BUDGET = 1 << 22
_MAX_LSQ_ENTRIES = 1 << 27  # a least-squares design matrix of at most 1 GiB


def chebyshev_points(degree: int) -> np.ndarray:
    """Chebyshev points of the second kind ``cos(π j / n)``, j = 0..n (descending, from 1 to -1).

    Computed as ``sin(π (n - 2j) / (2n))`` so that the points are exactly
    symmetric about 0 and the middle one is exactly 0 for even n.
    """
    n = int(degree)
    if n < 1:
        raise ValueError(f"degree must be >= 1, got {n}")
    j = np.arange(n + 1)
    return np.sin(np.pi * (n - 2 * j) / (2 * n))


def _values_to_coefficients(values: np.ndarray) -> np.ndarray:
    """Chebyshev coefficients from samples at second-kind points, along every axis."""
    from scipy.fft import dct

    coef = np.asarray(values, dtype=np.float64)
    for ax in range(coef.ndim):
        n = coef.shape[ax] - 1
        # DCT-I: y_k = v_0 + (-1)^k v_n + 2 Σ_{j=1}^{n-1} v_j cos(πjk/n) = 2 Σ''_j v_j cos(πjk/n).
        coef = dct(coef, type=1, axis=ax) / n
        ends = [slice(None)] * coef.ndim
        for k in (0, n):
            ends[ax] = k
            coef[tuple(ends)] *= 0.5
    return coef


@dataclass(frozen=True, eq=False)
class ChebyshevInterpolant:
    """Tensor-product Chebyshev interpolant on a box; NaN outside the box.

    Attributes
    ----------
    n_params, n_train : int -- both ``(degree + 1) ** d``.
    d, degree : int.
    coefficients : ndarray, shape (degree+1,)*d -- ``c[i, j, ...]`` multiplies
        ``T_i(t_0) T_j(t_1) ...`` in the mapped variables ``t ∈ [-1, 1]^d``.
    lows, highs : ndarray, shape (d,).
    """

    n_params: int
    n_train: int
    d: int
    degree: int
    coefficients: np.ndarray = field(repr=False)
    lows: np.ndarray = field(repr=False)
    highs: np.ndarray = field(repr=False)
    _values: Optional[np.ndarray] = field(default=None, repr=False)  # f at the nodes; kept by fit_chebyshev only

    def fitted_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The Chebyshev nodes it interpolates, ``((degree+1)^d, d)``, and f there (its training points).

        Only a fresh fit knows f's values; a restored interpolant raises ValueError.
        """
        if self._values is None:
            raise ValueError("a restored Chebyshev interpolant does not keep the values it was fitted to")
        return tensor_points(node_axes(self.lows, self.highs, self.degree)), self._values.reshape(-1).copy()

    def predict(self, x) -> np.ndarray:
        """Interpolant values at ``x`` of shape (n, d); returns shape (n,), NaN outside the box."""
        x, inside, out = points_in_box(x, self.lows, self.highs)
        mid = 0.5 * (self.lows + self.highs)
        half = 0.5 * (self.highs - self.lows)
        # Clip: the affine map may round a boundary point to 1 + ulp.
        t = np.clip((x[inside] - mid) / half, -1.0, 1.0)
        val = _VALFUNCS[self.d]
        chunk = max(1, _EVAL_BUDGET // (self.degree + 1) ** (self.d - 1))
        res = np.empty(t.shape[0])
        for s in range(0, t.shape[0], chunk):
            tc = t[s:s + chunk]
            res[s:s + chunk] = val(*(tc[:, i] for i in range(self.d)), self.coefficients)
        out[inside] = res
        return out

    __call__ = predict

    def state(self) -> dict[str, np.ndarray]:
        """The coefficients and the box; all :func:`restore` needs."""
        return {"coefficients": self.coefficients.copy(), "lows": self.lows.copy(), "highs": self.highs.copy()}


def restore(model_cfg, arrays: dict[str, np.ndarray]) -> ChebyshevInterpolant:
    """The interpolant whose :meth:`ChebyshevInterpolant.state` is ``arrays``."""
    lows, highs = _check_box(arrays["lows"], arrays["highs"])
    coef = np.asarray(arrays["coefficients"], np.float64)
    d = lows.size
    if d > MAX_DIM or coef.ndim != d or len(set(coef.shape)) != 1 or coef.shape[0] < 2:
        raise ValueError(f"chebyshev state needs (degree+1,)*d coefficients for d={d} <= {MAX_DIM}, got {coef.shape}")
    n = coef.shape[0] - 1
    return ChebyshevInterpolant((n + 1) ** d, (n + 1) ** d, d, n, coef, lows, highs)


def fit_chebyshev(f: Callable[[np.ndarray], np.ndarray], lows: Sequence[float], highs: Sequence[float],
                  degree: int) -> ChebyshevInterpolant:
    """Interpolate ``f`` at tensor Chebyshev points of the second kind, degree ``degree`` per axis.

    Parameters
    ----------
    f : callable, (m, d) float64 -> (m,) float64 -- the target.
    lows, highs : sequences of length d <= 3 -- the box.
    degree : int >= 1 -- polynomial degree n per axis; ``(n + 1)**d`` samples.

    Returns
    -------
    ChebyshevInterpolant with ``n_params = n_train = (degree + 1) ** d``.
    Error: geometric in n for analytic f, down to ~1e-16 relative.

    Raises
    ------
    ValueError for d > 3, degree < 1, a bad box, or non-finite values of f.
    """
    lows, highs = _check_box(lows, highs)
    d = lows.size
    if d > MAX_DIM:
        raise ValueError(f"Chebyshev interpolation supports d <= {MAX_DIM}, got d={d}")
    n = int(degree)
    if (n + 1) ** d > 1 << 27:
        raise ValueError(f"(degree+1)**d = {(n + 1) ** d} coefficients is too many (limit {1 << 27})")
    values = evaluate_on_grid(f, node_axes(lows, highs, n))
    coef = _values_to_coefficients(values)
    return ChebyshevInterpolant((n + 1) ** d, (n + 1) ** d, d, n, coef, lows, highs, values)


def node_axes(lows: np.ndarray, highs: np.ndarray, degree: int) -> list[np.ndarray]:
    """Per axis, the second-kind Chebyshev points of ``degree`` mapped to ``[low, high]`` (ends exactly on the box)."""
    t = chebyshev_points(degree)
    mid = 0.5 * (lows + highs)
    half = 0.5 * (highs - lows)
    axes = [mid[i] + half[i] * t for i in range(lows.size)]
    for i in range(lows.size):  # put the end nodes exactly on the box
        axes[i][0], axes[i][-1] = highs[i], lows[i]
    return axes


# --------------------------------------------------------------------------- the model kind


@model_config
class ChebyshevConfig:
    """Tensor-product Chebyshev interpolation at second-kind Chebyshev points (d ≤ 3)."""

    kind: Literal["chebyshev"] = checked("chebyshev", doc="tensor-product Chebyshev interpolation, d ≤ 3")
    degree: Optional[int] = checked(None, positive, doc="per axis; null: floor(D^(1/d)) − 1")


def fit(cfg: ChebyshevConfig, target, data) -> ChebyshevInterpolant:
    """Interpolation of the target at the (degree+1)^d nodes; sizes that disagree are a :class:`ConfigError`."""
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
        fitted = fit_chebyshev(numpy_target(target), target.lows, target.highs, degree)
    except ValueError as e:
        raise ConfigError(str(e), "model.degree") from None
    return described(fitted, f"chebyshev degree {degree}")


def default_rows_degree(n_points: int, d: int) -> int:
    """The largest n with (n+1)^d ≤ D/4 (at least 1): enough rows per coefficient for a stable fit."""
    n = 1
    while (n + 2) ** d <= n_points / 4:
        n += 1
    return n


def fit_rows(cfg: ChebyshevConfig, target, data) -> ChebyshevInterpolant:
    """A least-squares tensor Chebyshev series of degree ``cfg.degree`` per axis through scattered rows.

    The box is the target's (the data's range), mapped to [-1, 1]^d; the design matrix holds
    T_i(t_0) T_j(t_1) … at every training point (``chebvander``/``chebvander2d``/``chebvander3d``). The
    result is stored and restored as any :class:`ChebyshevInterpolant`; its training error is the
    least-squares residual at the rows.
    """
    x, y = training_rows(data)
    D, d = x.shape
    if d > MAX_DIM:
        raise ConfigError(f"a Chebyshev series supports d ≤ {MAX_DIM}, got d = {d}", "model.kind")
    n = cfg.degree if cfg.degree is not None else default_rows_degree(D, d)
    m = (n + 1) ** d
    if m > D:
        raise ConfigError(f"degree {n} has {m} coefficients but there are {D} training points: lower model.degree",
                          "model.degree")
    lows, highs = np.asarray(target.lows, np.float64), np.asarray(target.highs, np.float64)
    t = np.clip((x - 0.5 * (lows + highs)) / (0.5 * (highs - lows)), -1.0, 1.0)
    if d == 1:
        design = C.chebvander(t[:, 0], n)
    elif d == 2:
        design = C.chebvander2d(t[:, 0], t[:, 1], [n, n])
    else:
        design = C.chebvander3d(t[:, 0], t[:, 1], t[:, 2], [n, n, n])
    coefficients, _, rank, singular = np.linalg.lstsq(design, y, rcond=None)
    if rank < m:
        raise ConfigError(f"the {D} training points do not determine a degree-{n} Chebyshev series (rank {rank} of "
                          f"{m}): lower model.degree", "model.degree")
    fitted = ChebyshevInterpolant(m, D, d, n, coefficients.reshape((n + 1,) * d), lows, highs)
    condition = singular[0] / singular[-1]
    return described(fitted, f"chebyshev least squares degree {n} ({m} coefficients, {D} points, "
                             f"condition {condition:.1e})", (x, y))


def check_rows(cfg, target, n_train: int, source: str) -> None:
    """A data file has d ≤ 3 inputs and enough rows for the series' coefficients, in a design matrix ≤ 1 GiB."""
    d, name = target.d, target.data.train.name
    if d > MAX_DIM:
        raise ConfigError(f"a Chebyshev series supports d ≤ {MAX_DIM}; {name} has d = {d} inputs: use "
                          f"kind: mlp, simplex or spline", "model.kind")
    degree = cfg.model.degree if cfg.model.degree is not None else default_rows_degree(n_train, d)
    if (degree + 1) ** d > n_train:
        raise ConfigError(f"on data, chebyshev is a least-squares series; degree {degree} has "
                          f"{(degree + 1) ** d} coefficients but there are {n_train} training points"
                          f"{source}: lower model.degree", "model.degree")
    if (degree + 1) ** d * n_train > _MAX_LSQ_ENTRIES:
        raise ConfigError(f"a least-squares fit of {(degree + 1) ** d} coefficients to {n_train} points needs a "
                          f"{n_train} × {(degree + 1) ** d} matrix (over 1 GiB): lower model.degree or "
                          f"data.train_points", "model.degree")


register_model(ChebyshevConfig, fit=fit, fit_rows=fit_rows, restore=restore, check_rows=check_rows)
