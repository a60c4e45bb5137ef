"""Error metrics of predictions against targets (plain numpy, float64).

``rmse``, ``relative_rmse`` and ``max_abs_error`` compare predictions ``pred``
with targets ``y`` (same shape, flattened). NaN predictions are what the
interpolants return where they are undefined (outside the convex hull of a
simplex interpolant, outside the box of a grid interpolant). By default a NaN
propagates into the metric, so a silently partial evaluation cannot happen;
with ``nan_policy="omit"`` the NaN positions (NaN in ``pred`` or in ``y``) are
dropped and the metric is returned together with the number dropped -- the
paper dropped such points silently, ``prec`` reports how many.
``masked_errors`` gives the raw finite-position errors and that count.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["rmse", "relative_rmse", "max_abs_error", "masked_errors"]

NanPolicy = Literal["propagate", "omit", "raise"]

def _pair(pred, y) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if pred.shape != y.shape:
        raise ValueError(f"pred and y must have the same number of elements, got {pred.size} and {y.size}")
    return pred, y


def _apply_nan_policy(pred, y, nan_policy: str):
    """Return (pred, y, n_omitted) after applying ``nan_policy``."""
    if nan_policy not in ("propagate", "omit", "raise"):
        raise ValueError(f"nan_policy must be 'propagate', 'omit' or 'raise', got {nan_policy!r}")
    bad = np.isnan(pred) | np.isnan(y)
    n_bad = int(bad.sum())
    if nan_policy == "raise" and n_bad:
        raise ValueError(f"{n_bad} of {pred.size} positions are NaN")
    if nan_policy == "omit" and n_bad:
        pred, y = pred[~bad], y[~bad]
    return pred, y, n_bad


def _finish(value: float, n_omitted: int, nan_policy: str):
    return (value, n_omitted) if nan_policy == "omit" else value


def masked_errors(pred, y) -> tuple[np.ndarray, int]:
    """Errors ``pred - y`` at the positions where neither is NaN.

    Parameters
    ----------
    pred, y : array_like, same number of elements (flattened).

    Returns
    -------
    errors : ndarray, shape (m,), float64 -- ``pred - y`` where both are not NaN.
    n_outside : int -- number of dropped (NaN) positions, e.g. test points
        outside a simplex interpolant's convex hull.
    """
    pred, y = _pair(pred, y)
    bad = np.isnan(pred) | np.isnan(y)
    return pred[~bad] - y[~bad], int(bad.sum())


def rmse(pred, y, *, nan_policy: NanPolicy = "propagate"):
    """Root-mean-square error ``sqrt(mean((pred - y)²))``.

    Parameters
    ----------
    pred, y : array_like, same number of elements (flattened), float64.
    nan_policy : ``"propagate"`` (default; a NaN gives NaN), ``"omit"`` (drop
        NaN positions and return ``(value, n_omitted)``), or ``"raise"``.

    Returns
    -------
    float, or ``(float, int)`` with ``nan_policy="omit"``. NaN if no position is left.
    """
    pred, y = _pair(pred, y)
    pred, y, n_bad = _apply_nan_policy(pred, y, nan_policy)
    value = float(np.sqrt(np.mean((pred - y) ** 2))) if pred.size else float("nan")
    return _finish(value, n_bad, nan_policy)


def relative_rmse(pred, y, *, nan_policy: NanPolicy = "propagate"):
    """``rmse(pred, y) / sqrt(mean(y²))``, both over the same (kept) positions.

    The float64 floor of this quantity is about 1e-16 (machine ε = 2.2e-16).
    Same ``nan_policy`` semantics as :func:`rmse`.
    """
    pred, y = _pair(pred, y)
    pred, y, n_bad = _apply_nan_policy(pred, y, nan_policy)
    if pred.size:
        value = float(np.sqrt(np.mean((pred - y) ** 2)) / np.sqrt(np.mean(y ** 2)))
    else:
        value = float("nan")
    return _finish(value, n_bad, nan_policy)


def max_abs_error(pred, y, *, nan_policy: NanPolicy = "propagate"):
    """``max |pred - y|``. Same ``nan_policy`` semantics as :func:`rmse`."""
    pred, y = _pair(pred, y)
    pred, y, n_bad = _apply_nan_policy(pred, y, nan_policy)
    if not pred.size:
        value = float("nan")
    elif nan_policy == "propagate" and n_bad:
        value = float("nan")  # np.max would propagate too; be explicit
    else:
        value = float(np.max(np.abs(pred - y)))
    return _finish(value, n_bad, nan_policy)
