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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
from numpy.polynomial import chebyshev as C

from precision_jax.models.spline import _check_box, evaluate_on_grid, points_in_box, tensor_points

__all__ = ["ChebyshevInterpolant", "fit_chebyshev", "restore", "chebyshev_points", "MAX_DIM"]

MAX_DIM = 3  # numpy provides chebval, chebval2d and chebval3d
_VALFUNCS = {1: C.chebval, 2: C.chebval2d, 3: C.chebval3d}
# Clenshaw over the first axis materialises (n+1)^(d-1) x (points) values;
# evaluate in chunks so that this stays below ~32 MiB.
_EVAL_BUDGET = 1 << 22


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
