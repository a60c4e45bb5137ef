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

from typing import Literal, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax.hessian import DENSE_LIMIT, mse_hessian, mse_value_and_grad
from precision_jax.parse import ConfigError, at_least, checked, positive
from precision_jax.registry import stage_config
from precision_jax.stages.base import (MAX_STEPS, NO_PROGRESS, NON_FINITE, RUNNING, Problem, mse,
                                       register_builder, training_subset)
from precision_jax.stages.lm import DenseStage


@stage_config
class LCSConfig:
    kind: Literal["lcs"] = "lcs"
    steps: int = checked(500, positive, doc="step attempts at most (the paper's 500 per stage)")
    tau: float = checked(1e-15, positive, doc="eigenvalues with |λ| < tau span the low-curvature subspace")
    alpha_min: float = checked(1e-12, positive, doc="smallest step size α searched")
    alpha_max: float = checked(1e12, positive, doc="largest step size α searched")
    alpha_points: int = checked(15, at_least(3), doc="log-spaced α grid size")
    refinements: int = checked(4, at_least(0), doc="grid refinements around the best α")
    chunk_size: Optional[int] = checked(None, positive, doc="points per Hessian chunk (null: by memory budget)")
    max_params: int = checked(DENSE_LIMIT, positive, doc="largest N for a dense Hessian")
    subsample: Optional[int] = checked(None, positive, doc="build the Hessian from this many training points "
                                       "(null: all); gradient, line search and acceptance use the full set")

    def __post_init__(self):
        if not self.alpha_min < self.alpha_max:
            raise ConfigError(f"needs alpha_min < alpha_max, got {self.alpha_min} and {self.alpha_max}", "alpha_max")


def make_lcs_step(cfg: LCSConfig, predict, chunk: int):
    """A pure ``step(θ, x, y, xh, yh) -> (θ', L', accepted, α, n_low, λ_min, λ_max)``; data are arguments.

    ``(xh, yh)`` is what the Hessian is built from (the whole set, or a subsample:
    the Hessian is the O(D N²) part, and the low-curvature subspace of a few
    thousand points of a smooth target is that of all of them).
    """
    n_grid = cfg.alpha_points

    def step(theta, x, y, xh, yh):
        value, grad = mse_value_and_grad(predict, theta, x, y)
        h = mse_hessian(predict, theta, xh, yh, chunk)
        lam, vec = jnp.linalg.eigh(h)
        low = jnp.abs(lam) < cfg.tau
        g_low = vec @ jnp.where(low, vec.T @ grad, 0.0)
        trial = jax.vmap(lambda a: mse(predict, theta - a * g_low, x, y))

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


class LCSState(NamedTuple):
    theta: jax.Array
    iteration: jax.Array  # accepted steps (the curve's x axis)
    attempts: jax.Array
    status: jax.Array
    xh: jax.Array  # the points the Hessian is built from
    yh: jax.Array
    records: jax.Array  # (steps, 6): accepted, α, train MSE, count |λ| < τ, λ_min, λ_max per attempt


@register_builder("lcs")
class LowCurvatureSubspace(DenseStage):
    kind = "lcs"

    def init(self, problem: Problem, theta) -> LCSState:
        xh, yh = training_subset(problem, self.cfg.subsample, self.predict, theta)
        finite = jnp.isfinite(mse(self.predict, theta, problem.x_train, problem.y_train))
        zero = jnp.zeros((), jnp.int64)
        status = jnp.where(finite, RUNNING, NON_FINITE).astype(jnp.int64)
        return LCSState(theta, zero, zero, status, xh, yh, jnp.zeros((self.cfg.steps, 6)))

    def step(self, state: LCSState, problem: Problem) -> LCSState:
        attempt = make_lcs_step(self.cfg, self.predict, self.chunk(state.xh.shape[0]))
        until = state.attempts + self.log_every

        def body(s: LCSState) -> LCSState:
            theta, value, accepted, alpha, n_low, lmin, lmax = attempt(s.theta, problem.x_train, problem.y_train,
                                                                       s.xh, s.yh)
            record = jnp.stack([accepted.astype(jnp.float64), alpha, value, n_low.astype(jnp.float64), lmin, lmax])
            attempts = s.attempts + 1
            # A step that does not lower L ends the stage: the next attempt would repeat the same computation.
            status = jnp.where(accepted, jnp.where(attempts >= self.cfg.steps, MAX_STEPS, RUNNING), NO_PROGRESS)
            return LCSState(theta, s.iteration + accepted.astype(jnp.int64), attempts, status.astype(jnp.int64),
                            s.xh, s.yh, s.records.at[s.attempts].set(record))

        return jax.lax.while_loop(lambda s: (s.attempts < until) & (s.status == RUNNING), body, state)

    def memory_bytes(self, n_points: int) -> int:
        n, fit = self.n_params, min(n_points, self.cfg.subsample or n_points)
        # The Hessian, its eigenvectors and eigh's workspace, and one chunk of per-sample Hessian-vector work.
        return 8 * (5 * n * n + 3 * self.chunk(fit) * n + self.cfg.alpha_points * n_points + 6 * n_points)

    def info(self, state: LCSState) -> dict:
        n = state.xh.shape[0]
        return {"attempts": state.attempts, "records": state.records, "hessian_points": jnp.asarray(n),
                "chunk_size": jnp.asarray(self.chunk(n))}

    def describe(self, info: dict) -> dict:
        attempts = int(info["attempts"])
        spectra = [{"step": i + 1, "accepted": bool(r[0]), "alpha": float(r[1]), "train_mse": float(r[2]),
                    "n_below_tau": int(r[3]), "lambda_min": float(r[4]), "lambda_max": float(r[5])}
                   for i, r in enumerate(np.asarray(info["records"])[:attempts])]
        return {"attempts": attempts, "tau": self.cfg.tau, "chunk_size": int(info["chunk_size"]),
                "hessian_points": int(info["hessian_points"]), "spectra": spectra}
