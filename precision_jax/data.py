"""Training and test sets: seeded uniform sampling in the target's box.

Training points are i.i.d. uniform per variable on ``[low, high]``. Test
points are uniform on the box shrunk about its centre by the factor
``test_compactification`` (the paper's 0.8 keeps simplex interpolation inside
the convex hull of the training points). Optional standardization rescales
inputs with the *training* mean and standard deviation; outputs stay raw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import jax
import jax.numpy as jnp
import numpy as np

if TYPE_CHECKING:
    from precision_jax.targets import Target


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

    def prepare_inputs(self, x: jax.Array) -> jax.Array:
        """Map raw inputs into the space the model was trained in."""
        if self.input_shift is None:
            return x
        return (x - self.input_shift) / self.input_scale


def sample_box(key: jax.Array, n: int, lows, highs, shrink: float = 1.0) -> jax.Array:
    """``n`` uniform points in the box ``[lows, highs]`` shrunk by ``shrink`` about its centre; shape ``(n, d)``."""
    lows, highs = jnp.asarray(lows, jnp.float64), jnp.asarray(highs, jnp.float64)
    centre, half = (lows + highs) / 2, (highs - lows) / 2 * shrink
    u = jax.random.uniform(key, (n, lows.shape[0]), jnp.float64)
    return centre - half + 2 * half * u


def make_dataset(target: "Target", n_train: int, n_test: int, key: jax.Array,
                 test_compactification: float = 0.8, standardize: bool = False) -> Dataset:
    """Sample a training and a test set for ``target``; the same ``key`` gives the same sets."""
    k_train, k_test = jax.random.split(key)
    x_train = sample_box(k_train, n_train, target.lows, target.highs)
    x_test = sample_box(k_test, n_test, target.lows, target.highs, test_compactification)
    y_train, y_test = target.fn(x_train), target.fn(x_test)
    if not standardize:
        return Dataset(x_train, y_train, x_test, y_test)
    shift = np.asarray(jnp.mean(x_train, axis=0))
    scale = np.asarray(jnp.std(x_train, axis=0))
    scale = np.where(scale > 0, scale, 1.0)  # one training point: keep the raw scale
    return Dataset((x_train - shift) / scale, y_train, (x_test - shift) / scale, y_test, shift, scale)
