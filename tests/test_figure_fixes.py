"""The fixes the paper's figures need (issue 11, item 4): fast 1-D spline evaluation on unsorted points, an LCS
line search that follows the loss past α_max, boosted learning curves at their true step offsets, the minimum
test RMSE over training as a metric, regular-grid training data, and the paper's own Fig 9 chain configs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import precision_jax  # noqa: F401
from precision_jax.analysis.figures import runs as figure_runs
from precision_jax.analysis.figures import store_figures
from precision_jax.engine.stages.base import CurvePoint, mse
from precision_jax.engine.stages.lcs import LCSConfig, make_lcs_step
from precision_jax.experiment import ConfigError, build_config, load_config
from precision_jax.models.spline import fit_spline
from precision_jax.problems.sampling import grid_points_per_axis
from precision_jax.runs import store
from precision_jax.runs.plan import preflight, resolve_target
from precision_jax.runs.training import run_data, run_experiment

ROOT = Path(__file__).resolve().parent.parent


# --- 1. 1-D spline evaluation ------------------------------------------------------------------------------------

def test_spline_evaluates_a_million_unsorted_points_in_one_sorted_pass():
    # A fine grid is the slow case for scipy's interval walk: unsorted, 1e6 points took minutes at p = 1e5;
    # sorted, the walk is linear. So scipy must see the points once, in order (benchmarks/spline_unsorted.py
    # times it against scipy on the same points presorted).
    spline = fit_spline(lambda x: np.exp(x[:, 0]), [-1.0], [1.0], 100_000, 3)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (1_000_000, 1))
    seen = []

    def watched(points):
        seen.append(np.array(points))
        return spline._spline(points)

    values = dataclasses.replace(spline, _spline=watched).predict(x)
    assert len(seen) == 1 and seen[0].shape == (1_000_000,) and np.all(np.diff(seen[0]) >= 0)
    assert np.sqrt(np.mean((values - np.exp(x[:, 0])) ** 2)) < 1e-14
    # Each value depends only on its own point: bit for bit scipy's own evaluation, sorted or not.
    few = x[:2000, 0]
    np.testing.assert_array_equal(values[:2000], spline._spline(few))
    ordered = np.sort(few)
    np.testing.assert_array_equal(spline.predict(ordered[:, None]), spline._spline(ordered))


# --- 2. LCS line search past α_max -------------------------------------------------------------------------------

def _flat_problem(scale: float):
    """f(θ, x) = scale·θ₀·x fitted to y = x from θ = 0: one direction of curvature 2·scale²·mean(x²)."""
    x = jnp.linspace(-1.0, 1.0, 64)[:, None]
    y = x[:, 0]
    return (lambda theta, z: scale * theta[0] * z[:, 0]), x, y


def test_lcs_follows_a_falling_loss_past_alpha_max():
    # Curvature ~7e-19 < τ: the loss falls along −g until α* = 1/λ ~ 1e18, far past α_max = 1e12.
    predict, x, y = _flat_problem(1e-9)
    cfg = LCSConfig(steps=1, tau=1e-15)
    step = jax.jit(make_lcs_step(cfg, predict, chunk=64))
    theta0 = jnp.zeros(1)
    theta, loss, accepted, alpha, n_low, _, _ = step(theta0, x, y, x, y)
    assert bool(accepted) and int(n_low) == 1
    assert float(alpha) > 1e13  # the paper's rule reaches ~1e14 with 15 points and 4 refinements
    assert float(loss) < float(mse(predict, theta0, x, y))
    assert float(loss) < float(mse(predict, theta0 - 1e12 * jax.grad(lambda t: mse(predict, t, x, y))(theta0), x, y))


def test_lcs_keeps_an_interior_optimum():
    # Curvature λ ~ 7e-6 (τ = 1e-3): along −g the loss is least at α = 1/λ ~ 1.5e5, inside the grid.
    predict, x, y = _flat_problem(3e-3)
    step = jax.jit(make_lcs_step(LCSConfig(steps=1, tau=1e-3), predict, chunk=64))
    _, _, accepted, alpha, _, lam, _ = step(jnp.zeros(1), x, y, x, y)
    assert bool(accepted) and abs(np.log10(float(alpha) * float(lam))) < 0.05


# --- 3 and 4. Boosted learning curves and min_test_rmse ----------------------------------------------------------

def _tiny_boosted_config(**data):
    return build_config({
        "name": "tiny_boost", "seed": 0,
        "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
        "data": {"train_points": 200, "test_points": 100, **data},
        "model": {"kind": "mlp", "depth": 3, "width": 5, "activation": "tanh"},
        "train": [{"kind": "adam", "lr": 1e-2, "steps": 20}, {"kind": "adam", "lr": 1e-3, "steps": 10}],
        "boost": {"rounds": 1, "train": [{"kind": "adam", "lr": 1e-2, "steps": 20}]},
        "output": {"log_every": 10}})


@pytest.fixture(scope="module")
def boosted_run(tmp_path_factory):
    """A two-round run (a main chain of two stages, then one boosting round), stored."""
    record = run_experiment(_tiny_boosted_config())
    return store.write_run(tmp_path_factory.mktemp("store"), record), record


def test_boosted_curve_draws_each_round_at_its_step_offset(boosted_run):
    path, record = boosted_run
    rows = figure_runs.stage_offsets(store.read_curve(path))
    assert {r["round"] for r in rows} == {0, 1}
    offsets = {}
    for r in rows:
        offsets.setdefault(r["segment"], r["total_step"] - r["step"])
    segments = list(offsets)
    assert segments == [(0, 0), (0, 1), (1, 0)]
    assert all(b > a for a, b in zip(list(offsets.values()), list(offsets.values())[1:]))
    # The true offset: the steps the earlier segments took.
    assert offsets[(0, 1)] == 20 and offsets[(1, 0)] == 30
    totals = [r["total_step"] for r in rows]
    assert all(b >= a for a, b in zip(totals, totals[1:])) and totals[-1] == 50
    assert store_figures.learning_curve(path, path.parent / "plots")


def test_stage_offsets_on_curve_rows():
    # A stage that took no step (an LCS stage that found no lower loss) still occupies one step.
    points = [CurvePoint(round=r, stage=s, kind=k, step=t, train_rmse=1.0, test_rmse=1.0, seconds=0.0)
              for r, s, k, steps in [(0, 0, "bfgs", (0, 30)), (0, 1, "lcs", (0,)), (1, 0, "bfgs", (0, 10, 20)),
                                     (1, 1, "lcs", (0, 5))] for t in steps]
    rows = figure_runs.stage_offsets(points)
    assert [r["total_step"] for r in rows] == [0, 30, 30, 31, 41, 51, 51, 56]


def test_min_test_rmse_is_the_curve_minimum(boosted_run):
    path, record = boosted_run
    metrics = store.read_summary(path).metrics
    curve_min = min(p.test_rmse for p in store.read_curve(path))
    assert metrics["min_test_rmse"] <= metrics["test_rmse"]
    assert metrics["min_test_rmse"] == pytest.approx(curve_min, rel=1e-12)


# --- 5. Regular-grid sampling -----------------------------------------------------------------------------------

def test_grid_points_per_axis_rounds_exactly():
    assert [grid_points_per_axis(n, d) for n, d in [(64, 3), (45, 3), (1000, 2), (50, 1), (1, 1), (3, 2), (2, 2)]] \
        == [4, 4, 32, 50, 1, 2, 1]
    assert all(grid_points_per_axis(k**d, d) == k for k in range(1, 40) for d in (1, 2, 3, 6))


def _grid_config(formula, variables, model, train_points, **data):
    return build_config({"name": "grid", "seed": 0, "target": {"formula": formula, "variables": variables},
                         "data": {"train_points": train_points, "test_points": 2000, "sampling": "grid", **data},
                         "model": model})


def test_grid_sampled_spline_fits_e_to_the_x_on_its_grid():
    cfg = _grid_config("exp(x)", {"x": [-1, 1]}, {"kind": "spline", "order": 3}, 50)
    data = run_data(cfg, resolve_target(cfg), 0, standardize=False)
    np.testing.assert_array_equal(np.asarray(data.x_train)[:, 0], np.linspace(-1.0, 1.0, 50))
    record = run_experiment(cfg)
    assert record.summary.D == 50 and record.summary.N == 50
    assert record.summary.metrics["test_rmse"] < 1e-6 and record.summary.metrics["train_rmse"] < 1e-15
    assert record.summary.metrics["min_test_rmse"] == record.summary.metrics["test_rmse"]


def test_grid_sampling_in_2d_for_spline_simplex_and_nets():
    cfg = _grid_config("exp(x*y)", {"x": [-1, 1], "y": [-1, 1]}, {"kind": "spline", "order": 3}, 1000)
    data = run_data(cfg, resolve_target(cfg), 0, standardize=False)
    x = np.asarray(data.x_train)
    assert x.shape == (1024, 2)  # round(√1000) = 32 per axis
    for axis in range(2):
        np.testing.assert_array_equal(np.unique(x[:, axis]), np.linspace(-1.0, 1.0, 32))
    spline = run_experiment(cfg)
    assert spline.summary.D == 1024 and spline.summary.metrics["test_rmse"] < 1e-7
    simplex = run_experiment(_grid_config("exp(x*y)", {"x": [-1, 1], "y": [-1, 1]}, {"kind": "simplex"}, 100))
    assert simplex.summary.D == 100 and simplex.summary.metrics["outside_hull"] == 0
    assert simplex.summary.metrics["test_rmse"] < 1e-2
    net = _grid_config("exp(x*y)", {"x": [-1, 1], "y": [-1, 1]}, {"kind": "mlp", "depth": 2, "width": 4}, 50,
                       standardize=True)
    assert run_data(net, resolve_target(net), 0).n_train == 49


@pytest.mark.parametrize("model, train_points, variables", [
    ({"kind": "chebyshev"}, 64, {"x": [-1, 1]}),
    ({"kind": "spline", "order": 1}, 1, {"x": [-1, 1]}),
    ({"kind": "simplex"}, 2, {"x": [-1, 1], "y": [-1, 1]}),
])
def test_grid_sampling_refuses_what_cannot_work(model, train_points, variables):
    formula = "exp(x)" if len(variables) == 1 else "exp(x*y)"
    with pytest.raises(ConfigError) as info:
        preflight([_grid_config(formula, variables, model, train_points)])
    assert info.value.key == "data.sampling"


def test_sampling_key_is_checked():
    with pytest.raises(ConfigError) as info:
        _grid_config("exp(x)", {"x": [-1, 1]}, {"kind": "spline"}, 50, sampling="lattice")
    assert "sampling" in str(info.value)


# --- 6. The paper's Fig 9 chain ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, d", [("xy_paper", 2), ("I.11.19_paper", 6)])
def test_paper_chain_configs_load_and_pass_preflight(name, d):
    cfg = load_config(ROOT / "configs" / "precision" / f"{name}.yaml")
    assert [s.kind for s in cfg.train] == ["bfgs", "lcs"] and cfg.train[1].steps == 500
    assert cfg.boost.rounds == 1 and [s.kind for s in cfg.boost.train] == ["bfgs", "lcs"]
    assert cfg.boost.normalize == "mean_abs" and cfg.data.standardize is False
    assert (cfg.data.train_points, cfg.data.test_points) == (100_000, 10_000)
    assert preflight([cfg]).target.d == d
