"""Training and test sets: seeded uniform sampling, or a regular grid, in the target's box.

``sampling: uniform`` (the default): training points are i.i.d. uniform per
variable on ``[low, high]``. ``sampling: grid``: training points are the
tensor grid ``linspace(low_i, high_i, n)`` on every axis (endpoints
included, last axis fastest) with ``n = round(D^(1/d))``, so the set holds
``n^d`` points -- ``D`` rounded to a whole grid, and that count is the run's
``D`` -- the same points a spline of ``n`` points per axis interpolates
(the paper's Fig 1). Test points are uniform on the box shrunk about its
centre by the factor ``test_compactification`` (the paper's 0.8 keeps simplex
interpolation inside the convex hull of the training points) for both, drawn
from the same key, so a grid run and a uniform run of one seed share their
test set. Optional standardization rescales inputs with the *training* mean
and standard deviation; outputs stay raw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax.config.engine import ConfigError

if TYPE_CHECKING:
    from precision_jax.problems.targets import Target

SAMPLINGS = ("uniform", "grid")


@dataclass(frozen=True)
class Dataset:
    """Arrays are float64; ``x_*`` of shape ``(n, d)`` (already standardized if asked), ``y_*`` of shape ``(n,)``."""

    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    input_shift: Optional[np.ndarray] = None  # subtract, then divide by input_scale
    input_scale: Optional[np.ndarray] = None

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])


def sample_box(key: jax.Array, n: int, lows, highs, shrink: float = 1.0) -> jax.Array:
    """``n`` uniform points in the box ``[lows, highs]`` shrunk by ``shrink`` about its centre; shape ``(n, d)``."""
    lows, highs = jnp.asarray(lows, jnp.float64), jnp.asarray(highs, jnp.float64)
    centre, half = (lows + highs) / 2, (highs - lows) / 2 * shrink
    u = jax.random.uniform(key, (n, lows.shape[0]), jnp.float64)
    return centre - half + 2 * half * u


def grid_points_per_axis(n: int, d: int) -> int:
    """``round(n^(1/d))`` without float error: the largest ``k ≥ 1`` with ``(k − ½)^d ≤ n``.

    In integers: ``(2k−1)^d ≤ 2^d n``.
    """
    n, d = int(n), int(d)
    k = max(1, int(round(n ** (1.0 / d))))
    while k > 1 and (2 * k - 1) ** d > 2**d * n:
        k -= 1
    while (2 * k + 1) ** d <= 2**d * n:
        k += 1
    return k


def grid_box(points_per_axis: int, lows, highs) -> jax.Array:
    """The tensor grid ``linspace(lows[i], highs[i], points_per_axis)`` per axis as ``(points_per_axis^d, d)`` rows,
    last axis fastest (the order and the values of :func:`precision_jax.models.spline.tensor_points`)."""
    axes = [np.linspace(lo, hi, int(points_per_axis)) for lo, hi in zip(np.asarray(lows, np.float64),
                                                                         np.asarray(highs, np.float64))]
    mesh = np.meshgrid(*axes, indexing="ij")
    return jnp.asarray(np.stack([m.reshape(-1) for m in mesh], axis=1), jnp.float64)


def check_sampling(sampling: str, n_train: int, d: int, model_kind: str) -> None:
    """Refuse a sampling that cannot work for this size and model, as a :class:`ConfigError` naming ``data.sampling``.

    A grid needs at least 2 points per axis to span the box; a Chebyshev
    interpolant is fitted at its own nodes, never at a regular grid.
    """
    if sampling != "grid":
        return
    if model_kind == "chebyshev":
        raise ConfigError("a chebyshev model is fitted at its own Chebyshev nodes; sampling: grid does not apply "
                          "(use uniform)", "data.sampling")
    n = grid_points_per_axis(n_train, d)
    if n < 2:
        raise ConfigError(f"sampling: grid with train_points = {n_train} in d = {d} gives round({n_train}^(1/{d})) "
                          f"= {n} point per axis, which cannot span the box; give train_points ≥ "
                          f"{_smallest_grid_request(d)}", "data.sampling")


def _smallest_grid_request(d: int) -> int:
    """The least ``n`` with ``grid_points_per_axis(n, d) ≥ 2``: ``ceil(1.5^d)``."""
    return -(-(3**d) // 2**d)


def make_dataset(target: "Target", n_train: int, n_test: int, key: jax.Array,
                 test_compactification: float = 0.8, standardize: bool = False,
                 sampling: str = "uniform") -> Dataset:
    """Sample a training and a test set for ``target``; the same ``key`` gives the same sets.

    ``sampling``: ``"uniform"`` draws ``n_train`` points; ``"grid"`` lays ``grid_points_per_axis(n_train, d)^d``
    points on the box's regular grid (see the module docstring).
    """
    if sampling not in SAMPLINGS:
        raise ConfigError(f"unknown sampling {sampling!r}; one of {', '.join(SAMPLINGS)}", "data.sampling")
    k_train, k_test = jax.random.split(key)
    if sampling == "grid":
        check_sampling(sampling, n_train, len(target.lows), "")
        x_train = grid_box(grid_points_per_axis(n_train, len(target.lows)), target.lows, target.highs)
    else:
        x_train = sample_box(k_train, n_train, target.lows, target.highs)
    x_test = sample_box(k_test, n_test, target.lows, target.highs, test_compactification)
    y_train, y_test = target.fn(x_train), target.fn(x_test)
    if not standardize:
        return Dataset(x_train, y_train, x_test, y_test)
    shift = np.asarray(jnp.mean(x_train, axis=0))
    scale = np.asarray(jnp.std(x_train, axis=0))
    scale = np.where(scale > 0, scale, 1.0)  # one training point: keep the raw scale
    return Dataset((x_train - shift) / scale, y_train, (x_test - shift) / scale, y_test, shift, scale)
