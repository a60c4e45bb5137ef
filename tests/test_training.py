"""Training: float64 end to end, parameter counts, real fits, determinism, divergence."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from precision_jax import models
from precision_jax.engine.stages.base import NON_FINITE, REASONS
from precision_jax.experiment import ConfigError, build_config
from precision_jax.models import mlp
from precision_jax.problems.sampling import make_dataset
from precision_jax.problems.targets import teacher_target
from precision_jax.runs.training import run_experiment


def test_float64_end_to_end(small_teacher):
    assert jax.config.jax_enable_x64
    small_teacher["train"] = [{"kind": "adam", "steps": 10}]
    result = run_experiment(build_config(small_teacher))
    assert result.parts[0].arrays["theta"].dtype == np.float64
    assert result.summary.numerics["dtype"] == "float64"
    cfg = build_config(small_teacher)
    model = models.build_model(cfg.model, 1)
    theta = model.init(jax.random.PRNGKey(0))
    data = make_dataset(teacher_target((1, 3, 3, 1)), 16, 16, jax.random.PRNGKey(1))
    assert theta.dtype == jnp.float64 and data.x_train.dtype == jnp.float64
    assert model.apply(theta, data.x_train).dtype == jnp.float64
    # A float64-only value survives: 1 + 2^-40 is 1 in float32.
    assert float(model.apply(theta + 2.0**-40, data.x_train)[0]) != float(model.apply(theta, data.x_train)[0])


@pytest.mark.parametrize("d, depth, width", [(1, 2, 51), (3, 3, 13), (6, 4, 9), (2, 3, 20)])
def test_parameter_count_matches_paper_formula(d, depth, width):
    paper = (d + 1) * width + (depth - 2) * (width**2 + width) + (width + 1)
    widths = mlp.layer_widths(d, depth, width)
    params = mlp.init_mlp(jax.random.PRNGKey(0), widths)
    assert mlp.parameter_count(widths) == paper == sum(w.size + b.size for w, b in params)


def test_init_follows_pytorch_default_bounds():
    params = mlp.init_mlp(jax.random.PRNGKey(0), (4, 200, 1))
    w, b = params[0]
    bound = 1 / np.sqrt(4)
    assert np.all(np.abs(w) <= bound) and np.abs(w).max() > 0.9 * bound
    assert np.all(np.abs(b) <= bound)


def test_bfgs_reaches_below_1e6_on_teacher_student(small_teacher):
    result = run_experiment(build_config(small_teacher, ["model.width=20", "train.1.maxiter=1500"]))
    assert result.summary.metrics["test_rmse"] < 1e-6
    assert result.summary.status == "complete"
    stages = result.summary.stages
    assert [s["kind"] for s in stages] == ["adam", "bfgs"]
    assert stages[1]["train_rmse"] < stages[0]["train_rmse"] / 100


def test_same_config_and_seed_give_identical_numbers(small_teacher):
    small_teacher["train"][1]["maxiter"] = 200
    a = run_experiment(build_config(small_teacher))
    b = run_experiment(build_config(small_teacher))
    assert a.summary.metrics == b.summary.metrics
    np.testing.assert_array_equal(a.parts[0].arrays["theta"], b.parts[0].arrays["theta"])
    c = run_experiment(build_config(small_teacher, ["seed=1"]))
    assert c.summary.metrics["test_rmse"] != a.summary.metrics["test_rmse"]


def test_divergence_is_reported_and_last_finite_parameters_kept(small_teacher):
    small_teacher["train"] = [{"kind": "adam", "lr": 1e200, "steps": 50}]
    result = run_experiment(build_config(small_teacher, ["output.log_every=10"]))
    assert result.summary.status == "diverged"
    assert result.summary.stages[0]["stop_reason"] == REASONS[NON_FINITE] == "non_finite"
    assert np.all(np.isfinite(result.parts[0].arrays["theta"]))


def test_minibatch_adam_cycles_through_data(small_teacher):
    small_teacher["train"] = [{"kind": "adam", "lr": 1e-2, "steps": 300, "batch_size": 64}]
    result = run_experiment(build_config(small_teacher))
    first = result.curve[0].train_rmse
    assert result.summary.metrics["train_rmse"] < first / 5


def test_lbfgs_stage_improves_on_adam(small_teacher):
    small_teacher["train"][1] = {"kind": "lbfgs", "maxiter": 300, "memory_size": 10}
    result = run_experiment(build_config(small_teacher))
    adam, lbfgs = result.summary.stages
    assert lbfgs["train_rmse"] < adam["train_rmse"] / 10


def test_auto_train_points_tie_data_to_parameters(small_teacher):
    small_teacher["data"]["train_points"] = "auto"
    small_teacher["train"] = [{"kind": "adam", "steps": 1}]
    result = run_experiment(build_config(small_teacher))
    assert result.summary.N == 141 and result.summary.D == 141 // 2


def test_unknown_equation_is_a_config_error(small_teacher):
    # The schema refuses it while the config is built, naming the key and the nearest ids: no run starts.
    small_teacher["target"] = {"equation": "I.8.41"}
    message = r"^target\.equation: unknown equation 'I\.8\.41'; did you mean I\.8\.14"
    with pytest.raises(ConfigError, match=message) as error:
        build_config(small_teacher)
    assert error.value.key == "target.equation"
