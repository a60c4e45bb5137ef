"""Low-curvature-subspace (LCS) steps: gradient descent restricted to the flat directions of the Hessian.

Each step at θ (flat, shape ``(N,)``) on the full-batch MSE L:

1. g = ∇L(θ) and H = ∇²L(θ) exactly (``N×N``, summed over data chunks);
2. H = V diag(λ) Vᵀ (``eigh``); the low-curvature projector keeps the
   eigenvectors with |λ_i| < τ:  g_low = V_low V_lowᵀ g;
3. a log-spaced search over α ∈ [α_min, α_max] (``alpha_points`` values),
   refined ``refinements`` times around the best value (each refinement spans
   the best point's two grid neighbours), minimizes L(θ − α g_low);
4. the step is taken only if it lowers L — the paper's code stepped
   unconditionally. A step that does not lower L ends the stage (the next
   attempt would be the same computation), with ``no_progress``.

Near a BFGS solution the spectrum spans ~24 orders of magnitude and the
gradient lies mostly along stiff directions that line searches cannot use;
its small component along the flat ones can take huge steps (α up to 1e12).
Every step records its spectrum summary: the count of |λ| < τ, λ_min, λ_max.
"""

from __future__ import annotations

from typing import Literal, Optional

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax.config import ConfigError, checked, positive, stage_config
from precision_jax.hessian import DENSE_LIMIT, default_chunk, mse_hessian, mse_value_and_grad
from precision_jax.stages.base import MAX_STEPS, NO_PROGRESS, NON_FINITE, Monitor, Problem, StageResult


@stage_config
class LCSConfig:
    kind: Literal["lcs"] = "lcs"
    steps: int = checked(500, positive, doc="the paper's 500 steps per stage")
    tau: float = checked(1e-15, positive, doc="eigenvalues with |λ| < tau span the low-curvature subspace")
    alpha_min: float = checked(1e-12, positive)
    alpha_max: float = checked(1e12, positive)
    alpha_points: int = checked(15, lambda v, k: positive(v - 2, k), doc="grid size, ≥ 3")
    refinements: int = checked(4, lambda v, k: positive(v + 1, k))
    chunk_size: Optional[int] = checked(None, lambda v, k: positive(v, k), doc="points per Hessian chunk")
    max_params: int = checked(DENSE_LIMIT, positive, doc="largest N for a dense Hessian")
    subsample: Optional[int] = checked(None, positive, doc="build the Hessian from this many training points "
                                       "(null: all); gradient, line search and acceptance use the full set")

    def __post_init__(self):
        if not self.alpha_min < self.alpha_max:
            raise ConfigError(f"needs alpha_min < alpha_max, got {self.alpha_min} and {self.alpha_max}", "alpha_max")


def check_dense_size(n_params: int, limit: int, kind: str) -> None:
    """Reject a model whose N×N matrices the stage cannot afford, stating the limit."""
    if n_params > limit:
        gib = n_params * n_params * 8 / 2**30
        raise ConfigError(
            f"the model has N = {n_params} parameters; a {kind} stage needs dense N×N matrices "
            f"({gib:.1f} GiB each, O(N³) factorizations) and is limited to N ≤ {limit} "
            f"(raise max_params at your own risk, or use bfgs/lbfgs)", "train")


def make_lcs_step(cfg: LCSConfig, problem: Problem, chunk: int):
    """A pure ``step(θ, x, y, xh, yh) -> (θ', L', accepted, α, n_low, λ_min, λ_max)``; data are arguments.

    ``(xh, yh)`` is what the Hessian is built from (the whole set, or a subsample:
    the Hessian is the O(D N²) part, and the low-curvature subspace of a few
    thousand points of a smooth target is that of all of them).
    """
    n_grid = cfg.alpha_points

    def loss_at(theta, x, y):
        r = problem.predict(theta, x) - y
        return jnp.mean(r * r)

    def step(theta, x, y, xh, yh):
        value, grad = mse_value_and_grad(problem.predict, theta, x, y)
        h = mse_hessian(problem.predict, theta, xh, yh, chunk)
        lam, vec = jnp.linalg.eigh(h)
        low = jnp.abs(lam) < cfg.tau
        g_low = vec @ jnp.where(low, vec.T @ grad, 0.0)
        trial = jax.vmap(lambda a: loss_at(theta - a * g_low, x, y))

        def search(carry, _):
            lo, hi, best_a, best_v = carry
            logs = jnp.linspace(lo, hi, n_grid)
            values = trial(10.0**logs)
            values = jnp.where(jnp.isfinite(values), values, jnp.inf)
            i = jnp.argmin(values)
            better = values[i] < best_v
            best_a, best_v = jnp.where(better, 10.0 ** logs[i], best_a), jnp.where(better, values[i], best_v)
            # Refine between the best grid point's neighbours (clamped at the ends).
            lo2, hi2 = logs[jnp.maximum(i - 1, 0)], logs[jnp.minimum(i + 1, n_grid - 1)]
            return (lo2, hi2, best_a, best_v), None

        init = (jnp.log10(cfg.alpha_min), jnp.log10(cfg.alpha_max), jnp.zeros(()), value)
        (_, _, alpha, best), _ = jax.lax.scan(search, init, None, length=cfg.refinements + 1)
        accepted = (best < value) & jnp.any(low)
        new_theta = jnp.where(accepted, theta - alpha * g_low, theta)
        return (new_theta, jnp.where(accepted, best, value), accepted, jnp.where(accepted, alpha, 0.0),
                jnp.sum(low), lam[0], lam[-1])

    return step


def run_lcs(cfg: LCSConfig, problem: Problem, theta: jax.Array, monitor: Monitor, log_every: int) -> StageResult:
    check_dense_size(problem.n_params, cfg.max_params, "lcs")
    xh, yh = problem.training_subset(cfg.subsample, monitor.stage)
    n = int(xh.shape[0])
    chunk = cfg.chunk_size or default_chunk(problem.n_params, n)
    step = make_lcs_step(cfg, problem, chunk)
    per_call = max(1, min(log_every, cfg.steps))

    def run_chunk(theta, x, y, xh, yh, stopped, length):
        def body(carry, _):
            theta, stopped = carry

            def do(t):
                t2, v, acc, a, n_low, lmin, lmax = step(t, x, y, xh, yh)
                return t2, (v, acc, a, n_low, lmin, lmax)

            def skip(t):
                z = jnp.zeros((), t.dtype)
                return t, (jnp.nan * z, jnp.asarray(False), z, jnp.zeros((), jnp.int64), z, z)

            t2, record = jax.lax.cond(stopped, skip, do, theta)
            return (t2, stopped | ~record[1]), (record, ~stopped)

        (theta, stopped), (records, ran) = jax.lax.scan(body, (theta, stopped), None, length=length)
        return theta, stopped, records, ran

    run_chunk = jax.jit(run_chunk, static_argnums=6)

    monitor.log(theta, 0)
    if not np.isfinite(float(problem.loss(theta))):
        return monitor.result("lcs", theta, 0, NON_FINITE)
    spectra = []
    done, stopped = 0, jnp.asarray(False)
    while done < cfg.steps and not bool(stopped):
        length = min(per_call, cfg.steps - done)  # a shorter last chunk compiles once more
        theta, stopped, records, ran = run_chunk(theta, problem.x_train, problem.y_train, xh, yh, stopped, length)
        values, accepted, alphas, n_low, lmin, lmax = (np.asarray(r) for r in records)
        for i in np.flatnonzero(np.asarray(ran)):
            done += 1
            spectra.append({"step": done, "accepted": bool(accepted[i]), "alpha": float(alphas[i]),
                            "train_mse": float(values[i]), "n_below_tau": int(n_low[i]),
                            "lambda_min": float(lmin[i]), "lambda_max": float(lmax[i])})
        monitor.log(theta, sum(s["accepted"] for s in spectra))
    accepted_steps = sum(s["accepted"] for s in spectra)
    reason = NO_PROGRESS if bool(stopped) else MAX_STEPS
    return monitor.result("lcs", theta, accepted_steps, reason, attempts=len(spectra), tau=cfg.tau,
                          chunk_size=chunk, hessian_points=n, spectra=spectra)
