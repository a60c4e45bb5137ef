"""Precision stages: LCS, boosting, Levenberg–Marquardt, rescaling, Hessians — real fits at small sizes."""

from __future__ import annotations

import copy
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import precision_jax  # noqa: F401
from precision_jax import store
from precision_jax.approximators import build_mlp, mlp
from precision_jax.config import ConfigError, MLPConfig, build_config
from precision_jax.hessian import hessian_spectrum, mse_hessian
from precision_jax.stages import RUNNERS
from precision_jax.stages.base import Monitor, Problem
from precision_jax.stages.lcs import LCSConfig
from precision_jax.stages.lm import LMConfig
from precision_jax.stages.quasi_newton import BFGSConfig, RescaleConfig
from precision_jax.training import load_run_model, run_experiment


def teacher_problem(n_train=400, n_test=200, width=8, seed=1):
    """A 1-3-3-1 tanh teacher on [-1, 1] and a 1-w-w-1 tanh student; returns (problem, θ₀)."""
    teacher = mlp.init_mlp(jax.random.PRNGKey(0), (1, 3, 3, 1))
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    x = jax.random.uniform(k1, (n_train, 1), jnp.float64, -1, 1)
    xt = jax.random.uniform(k2, (n_test, 1), jnp.float64, -1, 1)
    f = lambda z: mlp.mlp_apply(teacher, z, "tanh")  # noqa: E731
    model = build_mlp(MLPConfig(depth=3, width=width), 1)
    return Problem(model.apply, x, f(x), xt, f(xt), model.n_params), model.init(k3)


def run_stage(cfg, problem, theta, log_every=50):
    monitor = Monitor(problem)
    monitor.start_stage(0, cfg.kind)
    return RUNNERS[cfg.kind](cfg, problem, theta, monitor, log_every), monitor


@pytest.fixture(scope="module")
def after_bfgs():
    problem, theta0 = teacher_problem()
    result, _ = run_stage(BFGSConfig(maxiter=300), problem, theta0)
    return problem, result.theta


def rmse(problem, theta):
    return float(jnp.sqrt(problem.loss(theta)))


def test_hessian_matches_finite_differences():
    problem, theta = teacher_problem(n_train=37, width=3)
    h = np.asarray(mse_hessian(problem.predict, theta, problem.x_train, problem.y_train, chunk=10))
    grad = jax.grad(problem.loss)
    eps = 1e-5
    fd = np.stack([(np.asarray(grad(theta + eps * e)) - np.asarray(grad(theta - eps * e))) / (2 * eps)
                   for e in np.eye(theta.shape[0])])
    assert h.shape == (theta.shape[0],) * 2
    np.testing.assert_allclose(h, fd, atol=1e-7 * np.abs(h).max())
    # Chunking does not change the sum (37 points: padded last chunk).
    np.testing.assert_allclose(h, mse_hessian(problem.predict, theta, problem.x_train, problem.y_train, 37),
                               rtol=1e-12, atol=1e-14)
    spectrum = hessian_spectrum(problem.predict, theta, problem.x_train, problem.y_train, chunk=16)
    assert np.all(np.diff(spectrum.eigenvalues) <= 0)
    np.testing.assert_allclose(np.sum(spectrum.projections**2), np.sum(spectrum.gradient**2), rtol=1e-10)


def test_lcs_never_increases_loss(after_bfgs):
    problem, theta = after_bfgs
    before = float(problem.loss(theta))
    result, monitor = run_stage(LCSConfig(steps=4, tau=1e-10), problem, theta, log_every=2)
    spectra = result.info["spectra"]
    assert spectra and all(s["train_mse"] <= before for s in spectra)
    mses = [before] + [s["train_mse"] for s in spectra if s["accepted"]]
    assert all(b <= a for a, b in zip(mses, mses[1:]))
    assert float(problem.loss(result.theta)) <= before
    assert all(0 <= s["n_below_tau"] <= problem.n_params and s["lambda_min"] <= s["lambda_max"] for s in spectra)
    # An absurd tau leaves no low-curvature direction: no step, the stage says so.
    none, _ = run_stage(LCSConfig(steps=3, tau=1e-300), problem, theta)
    assert none.stop_reason == "no_progress" and none.steps == 0
    assert float(problem.loss(none.theta)) == before


def test_lm_converges_on_small_teacher():
    problem, theta0 = teacher_problem(n_train=300, width=6)
    bfgs, _ = run_stage(BFGSConfig(maxiter=200), problem, theta0)
    result, _ = run_stage(LMConfig(maxiter=300), problem, bfgs.theta, log_every=100)
    assert rmse(problem, result.theta) < 1e-10
    assert rmse(problem, result.theta) < rmse(problem, bfgs.theta) / 100
    normal, _ = run_stage(LMConfig(maxiter=300, solver="normal"), problem, bfgs.theta, log_every=100)
    assert rmse(problem, normal.theta) < 1e-8


def test_precise_bfgs_reaches_below_1e6():
    problem, theta0 = teacher_problem(n_train=400, width=8)
    result, _ = run_stage(BFGSConfig(maxiter=1500), problem, theta0, log_every=500)
    assert rmse(problem, result.theta) < 1e-6
    assert result.stop_reason in ("max_steps", "line_search_failed", "converged")


def test_rescale_stage_runs_and_records_factor(after_bfgs):
    problem, theta = after_bfgs
    result, _ = run_stage(RescaleConfig(factor=1e8, maxiter=50), problem, theta)
    assert result.kind == "rescale" and result.info["factor"] == 1e8
    assert float(problem.loss(result.theta)) <= float(problem.loss(theta))


BOOST = {
    "name": "boost_test", "seed": 0,
    "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 400, "test_points": 200, "test_compactification": 1.0},
    "model": {"kind": "mlp", "depth": 3, "width": 8, "activation": "tanh"},
    "train": [{"kind": "bfgs", "maxiter": 60},
              {"kind": "boost", "stages": 3, "normalize": "mean_abs", "train": [{"kind": "bfgs", "maxiter": 300}]}],
    "output": {"log_every": 50},
}


def test_boosting_lowers_training_rmse_by_orders_and_reloads(tmp_path):
    cfg = build_config(copy.deepcopy(BOOST))
    result = run_experiment(cfg)
    first = result.stages[0]
    stage_one = min(p.train_rmse for p in result.curve if p.stage == 0)
    boost = result.stages[-1].info["boost"]
    assert len(boost) == 2 and all(b["accepted"] for b in boost)
    assert result.summary["metrics"]["train_rmse"] < stage_one / 100
    assert all(b["scale"] > 0 and np.isfinite(b["test_rmse"]) for b in boost)
    assert boost[1]["train_rmse"] < boost[0]["train_rmse"] < boost[0]["train_rmse_before"]
    assert first.kind == "bfgs" and result.summary["boost_stages"] == 3
    path = store.save_run(tmp_path, result)
    predict = load_run_model(path)
    from precision_jax.training import resolve_target
    from precision_jax.data import make_dataset

    data = make_dataset(resolve_target(cfg), 400, 200, jax.random.split(jax.random.PRNGKey(0))[0], 1.0)
    error = predict(np.asarray(data.x_test)) - np.asarray(data.y_test)
    assert np.sqrt(np.mean(error**2)) == pytest.approx(result.summary["metrics"]["test_rmse"], rel=1e-9)
    summary = json.loads((path / "summary.json").read_text())
    assert summary["stages"][-1]["kind"] == "boost" and len(summary["stages"][-1]["boost"]) == 2
    from cli.main import app

    out = CliRunner().invoke(app, ["hessian", str(path), "--stage", "1"])
    assert out.exit_code == 0, out.output
    spectrum = np.load(path / "hessian.npz")
    facts = json.loads((path / "hessian.json").read_text())
    assert spectrum["eigenvalues"].shape == (facts["n_params"],) and facts["stage"] == 1
    assert facts["lambda_max"] == spectrum["eigenvalues"][0] >= spectrum["eigenvalues"][-1]


def test_boost_config_errors():
    bad = copy.deepcopy(BOOST)
    bad["train"][1]["stages"] = 1
    with pytest.raises(ConfigError, match=r"train\.1\.stages"):
        build_config(bad)
    bad = copy.deepcopy(BOOST)
    bad["train"][1]["train"][0]["kind"] = "bfsg"
    with pytest.raises(ConfigError, match=r"train\.1\.train\.0\.kind"):
        build_config(bad)
    bad = copy.deepcopy(BOOST)
    bad["train"].append({"kind": "bfgs"})
    with pytest.raises(ConfigError, match="last"):
        run_experiment(build_config(bad))


@pytest.mark.parametrize("kind", ["lcs", "lm"])
def test_too_large_model_is_a_clean_config_error(kind, tmp_path):
    data = copy.deepcopy(BOOST)
    data["model"]["width"] = 12
    data["train"] = [{"kind": kind, "max_params": 100}]
    with pytest.raises(ConfigError, match=r"N = 193 .*N ≤ 100"):
        run_experiment(build_config(data))
    path = tmp_path / "big.yaml"
    data["train"] = [{"kind": kind}]
    data["model"]["width"] = 80  # N = 6,721 > the default dense limit of 4,000
    path.write_text(yaml.safe_dump(data))
    from cli.main import app

    out = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "res")])
    assert out.exit_code == 2
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "N ≤ 4000" in lines[0] and "Traceback" not in out.output


def test_training_subset_is_reproducible_distinct_per_salt_and_focused():
    problem, theta = teacher_problem(n_train=500)
    problem = Problem(problem.predict, problem.x_train, problem.y_train, problem.x_test, problem.y_test,
                      problem.n_params, jax.random.PRNGKey(7))
    x1, y1 = problem.training_subset(100, salt=3)
    x2, _ = problem.training_subset(100, salt=3)
    x3, _ = problem.training_subset(100, salt=4)
    assert x1.shape == (100, 1) and y1.shape == (100,)
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(np.asarray(x1), np.asarray(x3))
    assert len(np.unique(np.asarray(x1))) == 100  # without replacement
    # Rows are training rows, with their own targets.
    train_x = np.asarray(problem.x_train[:, 0])
    rows = np.array([np.flatnonzero(train_x == v)[0] for v in np.asarray(x1[:, 0])])
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(problem.y_train)[rows])
    full_x, _ = problem.training_subset(None, salt=0)
    assert full_x.shape[0] == 500 and problem.training_subset(10**6, salt=0)[0].shape[0] == 500
    # focus: the largest residuals at θ are all in the subset, the rest is uniform over the others.
    xf, yf = problem.training_subset(100, salt=3, theta=theta, focus=0.3)
    worst = np.argsort(-np.abs(np.asarray(problem.residuals(theta))))[:30]
    assert np.all(np.isin(np.asarray(problem.x_train[worst, 0]), np.asarray(xf[:, 0])))
    assert len(np.unique(np.asarray(xf[:, 0]))) == 100


def test_subsampled_lm_generalizes_and_boosting_with_lm_reaches_1e12():
    cfg = copy.deepcopy(BOOST)
    cfg["data"] = {"train_points": 4000, "test_points": 1000, "test_compactification": 1.0}
    cfg["train"] = [{"kind": "lm", "maxiter": 150, "subsample": 400},
                    {"kind": "boost", "stages": 2, "normalize": "rms",
                     "train": [{"kind": "lm", "maxiter": 150, "subsample": 400, "focus": 0.25}]}]
    result = run_experiment(build_config(cfg))
    lm = result.stages[0]
    assert lm.info["fitted_points"] == 400
    stage_one = min(p.train_rmse for p in result.curve if p.stage == 0)
    stage_one_test = [p.test_rmse for p in result.curve if p.stage == 0][-1]
    # 400 points of a smooth 1-D target pin the net down on all 4,000 and on the test set.
    assert stage_one < 1e-8 and stage_one_test < 3 * stage_one
    boost = result.stages[-1].info["boost"][0]
    assert boost["accepted"] and boost["substages"][0]["fitted_points"] == 400
    metrics = result.summary["metrics"]
    assert metrics["train_rmse"] < min(1e-12, stage_one / 1000)
    assert metrics["test_rmse"] < 3 * metrics["train_rmse"]


@pytest.mark.parametrize("stage, key", [({"kind": "lm", "focus": 1.5}, "focus"),
                                        ({"kind": "bfgs", "subsample": 0}, "subsample"),
                                        ({"kind": "lcs", "subsample": -3}, "subsample")])
def test_subsample_options_are_checked(stage, key):
    bad = copy.deepcopy(BOOST)
    bad["train"] = [stage]
    with pytest.raises(ConfigError, match=rf"train\.0\.{key}"):
        build_config(bad)


def test_subsampled_stages_are_not_seed_batched():
    from precision_jax.batched import can_batch

    plain = build_config(copy.deepcopy(BOOST) | {"train": [{"kind": "bfgs", "maxiter": 5}]})
    sub = build_config(copy.deepcopy(BOOST) | {"train": [{"kind": "bfgs", "maxiter": 5, "subsample": 50}]})
    assert can_batch([plain]) and not can_batch([sub])
