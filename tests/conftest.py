"""Shared fixtures: small configs that train in seconds."""

from __future__ import annotations

import copy

import pytest

import precision_jax  # noqa: F401  (enables float64 before any test builds arrays)

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
