"""What the fitted model kinds (``simplex``, ``spline``, ``chebyshev``) share.

A fitted kind has no optimizer chain: one fit from the run's training points
(or a grid or nodes it samples itself) gives an interpolant, an object with
``n_params``, ``n_train``, ``description``, ``state()`` and ``predict(x) -> (n,)``
(NaN where undefined). Its training error is measured at the points it was
fitted to: ``fitted_points()`` where the interpolant has it, else the run's
training points.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import numpy as np


def numpy_target(target) -> Callable[[np.ndarray], np.ndarray]:
    """The target's function as numpy (m, d) -> (m,), jitted once, for the kinds that sample it on their grid."""
    fn = jax.jit(target.fn)
    return lambda x: np.asarray(fn(np.asarray(x, np.float64)))


def described(interpolant, description: str, points: Optional[tuple[np.ndarray, np.ndarray]] = None):
    """``interpolant`` with its run description and, for a fit to data rows, the rows (x, y) it was fitted to."""
    object.__setattr__(interpolant, "description", description)
    if points is not None:
        object.__setattr__(interpolant, "fitted_points", lambda: points)
    return interpolant


def training_rows(data) -> tuple[np.ndarray, np.ndarray]:
    """The data set's training inputs (D, d) and outputs (D,) as float64 numpy."""
    return np.asarray(data.x_train, np.float64), np.asarray(data.y_train, np.float64)
