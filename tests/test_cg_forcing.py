"""Truncated-Newton LM (issue 25, item 4): CGLS to a per-step tolerance, chosen by Eisenstat & Walker's
forcing term from the gradient norms, and a run with it still trains, with fewer CG iterations."""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import precision_jax  # noqa: F401
from precision_jax.config.engine import to_dict
from precision_jax.engine import krylov
from precision_jax.engine.stages.lm import FORCING_MAX, LMConfig, forcing_term, make_lm
from precision_jax.experiment import build_config
from precision_jax.runs import store
from precision_jax.runs.store import run_id
from precision_jax.runs.training import run_experiment


def test_forcing_term_follows_eisenstat_walker_choice_2():
    floor = 1e-10
    # First step: η_max.
    assert float(forcing_term(0.5, -1.0, 3.0, floor)) == FORCING_MAX
    # The gradient fell 10×: η = 0.9·(1/10)² = 9e-3, the safeguard 0.9·η_prev² = 9e-5·… is below 0.1.
    assert float(forcing_term(0.01, 1.0, 0.1, floor)) == pytest.approx(0.9e-2, rel=1e-14)
    # A previous η of 0.5 keeps the next at ≥ 0.9·0.25 = 0.225 however fast the gradient fell.
    assert float(forcing_term(0.5, 1.0, 1e-6, floor)) == pytest.approx(0.225, rel=1e-14)
    # A growing gradient is capped at η_max, a collapsing one floored at cg_tol.
    assert float(forcing_term(0.01, 1.0, 5.0, floor)) == FORCING_MAX
    assert float(forcing_term(1e-6, 1.0, 1e-12, floor)) == floor


def test_cgls_stops_at_a_traced_relative_tolerance():
    a = jax.random.normal(jax.random.key(1), (300, 60)) * jnp.logspace(0, -2, 60)
    b = jax.random.normal(jax.random.key(2), (300,))
    mu = 1e-3
    normal = a.T @ a + mu * jnp.eye(60)

    @jax.jit
    def solve(tol):
        found = krylov.damped_least_squares(lambda v: a @ v, lambda u: a.T @ u, b, mu, 60, tol, 2000)
        return found.x, found.iterations, jnp.linalg.norm(a.T @ b - normal @ found.x) / jnp.linalg.norm(a.T @ b)

    counts = []
    for tol in (1e-1, 1e-4, 1e-8):
        _, iterations, relative = solve(tol)
        assert float(relative) <= tol * 1.0001  # the recurred residual tracks the true one this far
        counts.append(int(iterations))
    assert counts[0] < counts[1] < counts[2] < 2000


def test_a_truncated_step_meets_its_forcing_bound_and_its_predicted_decrease_is_exact(small_net):
    predict, theta, x, y = small_net
    system = make_lm(LMConfig(solver="cg", cg_maxiter=5000), predict, 64)[2]
    jac = jax.jacfwd(lambda t: predict(t, x))(theta)
    r = predict(theta, x) - y
    g = jac.T @ r
    for eta in (0.5, 1e-3):
        gn = system(theta, x, y, lambda norm, eta=eta: jnp.asarray(eta))
        mu = 1e-4 * gn.largest()
        step = gn.damped(mu).step
        residual = jac.T @ (jac @ step) + mu * step + g
        assert float(jnp.linalg.norm(residual)) <= eta * float(jnp.linalg.norm(g)) * 1.0001
        assert float(gn.tolerance) == eta and float(gn.gradient_norm) == pytest.approx(float(jnp.linalg.norm(g)))
        actual = float(jnp.sum(r * r) - jnp.sum((r + jac @ step) ** 2))
        assert float(gn.predicted(mu, step)) == pytest.approx(actual, rel=1e-8)


TINY = {
    "name": "tiny_forcing", "seed": 0,
    "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 300, "test_points": 100, "test_compactification": 1.0},
    "model": {"kind": "mlp", "depth": 3, "width": 8, "activation": "tanh"},
    "output": {"log_every": 10},
}


def lm_run(forcing: str):
    chain = [{"kind": "adam", "lr": 1e-2, "steps": 50},
             {"kind": "lm", "solver": "cg", "maxiter": 30, "cg_forcing": forcing}]
    record = run_experiment(build_config({**copy.deepcopy(TINY), "train": chain}))
    points = [p for p in record.curve if p.stage == 1]
    return record.summary.stages[-1], points[0].train_rmse, points[-1].train_rmse


def test_eisenstat_walker_trains_with_fewer_cg_iterations_per_step():
    fixed, ew = lm_run("fixed"), lm_run("eisenstat_walker")
    for _, start, end in (fixed, ew):
        assert end < 0.1 * start
    per_step = [row["cg_iterations"] / row["steps"] for row, _, _ in (fixed, ew)]
    assert per_step[1] < per_step[0]


def test_eisenstat_walker_is_the_default_and_fixed_keeps_the_run_ids_of_configs_written_before_it():
    def config(stage):
        return build_config({**copy.deepcopy(TINY), "train": [{"kind": "lm", "solver": "cg", **stage}]})

    assert LMConfig.id_neutral_keys({"solver": "cg", "cg_forcing": "fixed"}) == ("cg_forcing",)
    assert LMConfig.id_neutral_keys({"solver": "cg", "cg_forcing": "eisenstat_walker"}) == ()
    assert "cg_forcing" in LMConfig.id_neutral_keys({"solver": "qr", "cg_forcing": "eisenstat_walker"})
    np.testing.assert_equal(LMConfig().cg_forcing, "eisenstat_walker")
    # A config without the key now means the truncated-Newton solve, so it is not found complete among the
    # runs stored when it meant "fixed" (whose ids lack the key); written out, fixed still finds them.
    assert run_id(config({})) == run_id(config({"cg_forcing": "eisenstat_walker"}))
    assert run_id(config({})) != run_id(config({"cg_forcing": "fixed"}))


def test_a_stored_config_written_before_the_default_changed_reads_back_as_what_it_ran(tmp_path):
    resolved = to_dict(build_config({**copy.deepcopy(TINY), "train": [{"kind": "lm", "solver": "cg"}],
                                     "boost": {"rounds": 1, "train": [{"kind": "lm", "solver": "cg"}]}}))
    for stage in (resolved["train"][0], resolved["boost"]["train"][0]):
        del stage["cg_forcing"]  # as a run written before the key existed stored it
    (tmp_path / store.CONFIG_FILE).write_text(yaml.safe_dump(resolved))
    cfg = store.read_config(tmp_path)
    assert (cfg.train[0].cg_forcing, cfg.boost.train[0].cg_forcing) == ("fixed", "fixed")
    written_out = build_config({**copy.deepcopy(TINY), "train": [{"kind": "lm", "solver": "cg", "cg_forcing": "fixed"}],
                                "boost": {"rounds": 1, "train": [{"kind": "lm", "solver": "cg",
                                                                  "cg_forcing": "fixed"}]}})
    assert run_id(cfg) == run_id(written_out)
