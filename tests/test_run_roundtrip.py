"""A run saved and read back is the same model: predictions on raw inputs match the in-memory fit.

For every kind of fitted model (a standardized net, a boosted net, simplex,
spline, Chebyshev), a real run is trained, written to the store, read back
with ``store.load_model`` and evaluated on the raw test inputs. The reloaded
model must reproduce the run's own test RMSE and agree pointwise with the
in-memory model to 1e-15 relative.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from precision_jax.experiment import build_config
from precision_jax.models.fitted import FittedModel
from precision_jax.runs import store
from precision_jax.runs.plan import resolve_target
from precision_jax.runs.training import run_data, run_experiment

BOX_2D = {"formula": "exp(sin(x) * y) + x", "variables": {"x": [1.0, 3.0], "y": [-2.0, 0.5]}}

CASES = {
    "standardized net": {
        "target": BOX_2D, "data": {"train_points": 300, "test_points": 200, "standardize": True},
        "model": {"kind": "mlp", "depth": 3, "width": 8},
        "train": [{"kind": "adam", "lr": 1e-2, "steps": 50}, {"kind": "lm", "maxiter": 20}],
    },
    "boosted net": {
        "target": BOX_2D, "data": {"train_points": 300, "test_points": 200, "standardize": True},
        "model": {"kind": "mlp", "depth": 3, "width": 8},
        "train": [{"kind": "lm", "maxiter": 20}],
        "boost": {"rounds": 2, "normalize": "rms", "train": [{"kind": "lm", "maxiter": 15}]},
    },
    "simplex": {"target": BOX_2D, "data": {"train_points": 400, "test_points": 200}, "model": {"kind": "simplex"}},
    "spline": {"target": BOX_2D, "data": {"train_points": 400, "test_points": 200},
               "model": {"kind": "spline", "order": 3}},
    "chebyshev": {"target": {"formula": "exp(x)", "variables": {"x": [-1.0, 2.0]}},
                  "data": {"train_points": 16, "test_points": 300}, "model": {"kind": "chebyshev"}},
}


def in_memory_model(record) -> FittedModel:
    """The record's parts evaluated directly, without the store."""
    return FittedModel(record.parts, record.input_shift, record.input_scale, record.summary.target)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_saved_run_predicts_on_raw_inputs_like_the_fitted_model(case, tmp_path):
    cfg = build_config({"name": case.replace(" ", "_"), "seed": 3, **copy.deepcopy(CASES[case])})
    record = run_experiment(cfg)
    path = store.write_run(tmp_path, record)
    target = resolve_target(cfg)
    raw = run_data(cfg, target, record.summary.N, standardize=False)  # the test points in the target's variables

    reloaded = store.load_model(path)
    prediction = reloaded(np.asarray(raw.x_test))
    expected = in_memory_model(record)(np.asarray(raw.x_test))
    scale = np.max(np.abs(expected))
    assert np.max(np.abs(prediction - expected)) <= 1e-15 * scale
    rmse = float(np.sqrt(np.mean((prediction - np.asarray(raw.y_test)) ** 2)))
    assert rmse == pytest.approx(record.summary.metrics["test_rmse"], rel=1e-12)
    assert prediction.dtype == np.float64
    if case == "boosted net":
        assert len(reloaded.parts) == len(record.parts) >= 2
    if case.endswith("net"):
        assert record.input_shift is not None  # standardized: raw inputs are not what the net saw
        assert not np.allclose(raw.x_test, run_data(cfg, target, record.summary.N).x_test)
