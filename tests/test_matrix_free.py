"""Matrix-free second-order stages (issue 14, item 1): LM by CGLS and LCS by Lanczos agree with the dense ones
on a small net, train, and are what ``solver: auto`` picks for nets too big for N×N matrices."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import precision_jax  # noqa: F401
from precision_jax.config.engine import ConfigError
from precision_jax.engine import krylov
from precision_jax.engine.hessian import mse_hessian, mse_value_and_grad
from precision_jax.engine.stages.base import build_stage
from precision_jax.engine.stages.lcs import LCSConfig, lanczos_ritz_pairs, make_low_curvature_direction
from precision_jax.engine.stages.lm import LMConfig, make_lm
from precision_jax.experiment import build_config
from precision_jax.runs.training import run_experiment

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("dense_solver", ["qr", "normal"])
def test_cg_levenberg_marquardt_step_equals_the_dense_step(small_net, dense_solver):
    predict, theta, x, y = small_net
    cfg = LMConfig(cg_tol=1e-15, cg_maxiter=5000)
    dense, free = (make_lm(cfg, predict, 64, solver)[2] for solver in (dense_solver, "cg"))

    @jax.jit
    def compare(t, relative_mu):
        gd, gf = dense(t, x, y), free(t, x, y)
        mu = relative_mu * gd.largest()
        solved_d, solved_f = gd.damped(mu), gf.damped(mu)
        step_d, step_f, iterations = solved_d.step, solved_f.step, solved_f.iterations
        rpp = jnp.sin(jnp.arange(x.shape[0]))  # any data-space vector for the acceleration solve
        return (step_d, step_f, iterations, solved_d.accelerate(rpp)[0], solved_f.accelerate(rpp)[0],
                gd.predicted(mu, step_d), gf.predicted(mu, step_f), gd.largest(), gf.largest())

    for relative_mu in (1e-2, 1e-5):
        sd, sf, iterations, ad, af, pd, pf, ld, lf = compare(theta, relative_mu)
        assert int(iterations) < 5000
        assert float(jnp.linalg.norm(sf - sd) / jnp.linalg.norm(sd)) < 1e-8
        assert float(jnp.linalg.norm(af - ad) / jnp.linalg.norm(ad)) < 1e-8
        assert abs(float(pf / pd) - 1) < 1e-8
    assert abs(float(lf / ld) - 1) < 1e-6  # 20 Lanczos steps pin the top eigenvalue of JᵀJ


def test_lanczos_with_k_equal_n_gives_the_dense_spectrum_and_subspace(small_net):
    predict, theta, x, y = small_net
    n = theta.shape[0]
    _, grad = mse_value_and_grad(predict, theta, x, y)
    lam = np.asarray(jnp.linalg.eigh(mse_hessian(predict, theta, x, y, 64))[0])
    ritz = np.asarray(jax.jit(lambda t, g: lanczos_ritz_pairs(predict, t, g, x, y, n)[0])(theta, grad))
    scale = np.max(np.abs(lam))
    assert np.max(np.abs(ritz - lam)) / scale < 1e-8
    # The smallest |λ| — what LCS keeps — match too, relative to max |λ|.
    smallest = np.argsort(np.abs(lam))[:20]
    assert np.max(np.abs(np.sort(np.abs(ritz))[:20] - np.abs(lam)[smallest])) / scale < 1e-8
    # The projector onto |λ| < τ, with τ in the widest gap of the spectrum's lower half above rounding level
    # (eigenvalues below ~1e-15·max|λ| are noise in both, ordered differently): the same g_low.
    mags = np.sort(np.abs(lam))
    gaps = np.log(mags[1:n // 2]) - np.log(mags[:n // 2 - 1])
    i = int(np.argmax(np.where(mags[:n // 2 - 1] > 1e-10 * scale, gaps, -np.inf)))
    tau = float(np.sqrt(mags[i] * mags[i + 1]))
    directions = [jax.jit(make_low_curvature_direction(LCSConfig(tau=tau, lanczos_steps=n), predict, 64, solver))
                  for solver in ("dense", "lanczos")]
    dense, free = (d(theta, grad, x, y) for d in directions)
    assert int(dense.n_low) == int(free.n_low) == i + 1
    assert float(jnp.linalg.norm(free.g_low - dense.g_low) / jnp.linalg.norm(dense.g_low)) < 1e-8


def test_lanczos_restarts_when_the_krylov_space_is_exhausted():
    # A start vector inside a 2-dimensional invariant subspace: the process must leave it to find all eigenvalues.
    diagonal = jnp.concatenate([jnp.ones(5), jnp.linspace(2.0, 3.0, 5)])
    start = jnp.zeros(10).at[0].set(1.0).at[6].set(1.0)
    ritz, _ = krylov.ritz_pairs(krylov.lanczos(lambda v: diagonal * v, start, 10))
    np.testing.assert_allclose(np.asarray(ritz), np.sort(np.asarray(diagonal)), atol=1e-13)


TINY = {
    "name": "tiny_matrix_free", "seed": 0,
    "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 200, "test_points": 100, "test_compactification": 1.0},
    "model": {"kind": "mlp", "depth": 3, "width": 6, "activation": "tanh"},
    "output": {"log_every": 5},
}


# (tests/test_driver.py runs both with their defaults — geodesic acceleration on — alone and batched.)
@pytest.mark.parametrize("chain", [[{"kind": "lm", "solver": "cg", "maxiter": 15, "geodesic": False}],
                                   [{"kind": "adam", "lr": 1e-2, "steps": 20},
                                    {"kind": "lcs", "solver": "lanczos", "steps": 3, "tau": 1e-4,
                                     "lanczos_steps": 30}]])
def test_a_short_matrix_free_run_lowers_the_loss(chain):
    stage = chain[-1]
    record = run_experiment(build_config({**copy.deepcopy(TINY), "train": chain}))
    row = record.summary.stages[-1]
    assert row["solver"] == stage["solver"] and row["steps"] >= 1
    points = [p for p in record.curve if p.stage == len(chain) - 1]
    assert points[-1].train_rmse < points[0].train_rmse
    if stage["kind"] == "lm":
        assert row["cg_iterations"] > 0


def test_auto_is_dense_for_small_nets_and_matrix_free_above_max_params():
    predict = lambda t, x: x[:, 0] * jnp.sum(t)  # noqa: E731  (never called: building only)
    small, large = 500, 30_000
    lm = {n: build_stage(LMConfig(solver="auto"), predict, n) for n in (small, large)}
    lcs = {n: build_stage(LCSConfig(solver="auto"), predict, n) for n in (small, large)}
    assert (lm[small].solver, lm[large].solver, lcs[small].solver, lcs[large].solver) == \
           ("qr", "cg", "dense", "lanczos")
    # Matrix-free memory is O(N + D) (plus activations), far below the N² a dense stage would need.
    for stage in (lm[large], lcs[large]):
        assert stage.memory_bytes(20_000) < 2 * 2**30 < 8 * large * large
    # An explicit dense solver still refuses a net beyond max_params, and names the way out.
    with pytest.raises(ConfigError, match="solver: auto"):
        build_stage(LMConfig(), predict, large)
    with pytest.raises(ConfigError, match="max_params"):
        build_stage(LCSConfig(solver="dense"), predict, large)


@pytest.mark.slow
def test_matrix_free_stages_train_a_20k_parameter_net_on_20k_points_within_2_gb():
    # Each stage in its own process so that its peak RSS is its own (benchmarks/matrix_free_memory.py).
    for stage in ("lm", "lcs"):
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "matrix_free_memory.py"), "--stage", stage,
                              "--iterations", "2", "--cg-maxiter", "20"], capture_output=True, text=True, timeout=1800,
                             check=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        line = [row for row in out.stdout.splitlines() if row.startswith("RESULT")][-1]
        fields = dict(item.split("=") for item in line.split()[1:])
        assert int(fields["n_params"]) >= 20_000 and int(fields["points"]) >= 20_000
        assert float(fields["peak_rss_gb"]) <= 2.0
        assert float(fields["rmse_end"]) < float(fields["rmse_start"])
