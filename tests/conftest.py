"""Shared fixtures: small configs that train in seconds."""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import pytest

import precision_jax  # noqa: F401  (enables float64 before any test builds arrays)
from precision_jax.models import MLPConfig, build_mlp

SMALL_TEACHER = {
    "name": "small_teacher",
    "seed": 0,
    "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 500, "test_points": 500, "test_compactification": 1.0},
    "model": {"kind": "mlp", "depth": 3, "width": 10, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-2, "steps": 300}, {"kind": "bfgs", "maxiter": 800}],
    "output": {"log_every": 100},
}


@pytest.fixture
def small_teacher() -> dict:
    """A 1-D teacher–student problem (student 1-10-10-1 tanh) as a plain config mapping."""
    return copy.deepcopy(SMALL_TEACHER)


@pytest.fixture(scope="module")
def small_net():
    """A 1-8-8-1 tanh net (N = 97) at its initialization, 200 points of sin(3x) + x²:
    ``(predict, theta, x, y)``, for the second-order solvers' tests."""
    model = build_mlp(MLPConfig(depth=3, width=8, activation="tanh"), 1)
    theta = model.init(jax.random.key(0))
    x = jnp.linspace(-1.0, 1.0, 200)[:, None]
    y = jnp.sin(3 * x[:, 0]) + x[:, 0] ** 2
    return model.apply, theta, x, y
