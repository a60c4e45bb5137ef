"""Low-curvature-subspace (LCS) steps: gradient descent restricted to the flat directions of the Hessian.

Each step at θ (flat, shape ``(N,)``) on the full-batch MSE L:

1. g = ∇L(θ) and H = ∇²L(θ) exactly (``N×N``, summed over data chunks);
2. H = V diag(λ) Vᵀ (``eigh``); the low-curvature projector keeps the
   eigenvectors with |λ_i| < τ:  g_low = V_low V_lowᵀ g;
3. a log-spaced search over α ∈ [α_min, α_max] (``alpha_points`` values),
   refined ``refinements`` times around the best value, minimizes L(θ − α g_low).
   Each refinement spans one grid step either side of the best point; when the
   best point is an end of the grid, that reaches one step past the end, as the
   paper's ``logarithmic_line_search`` does. So a loss that keeps falling beyond
   α_max is followed up to ~2 decades further with the defaults (the reach is
   s·(1 + 2/(m−1) + (2/(m−1))² + …) past the edge for a first grid step
   s = log10(α_max/α_min)/(m−1) and m = ``alpha_points``: 10^14.0 for [1e-12, 1e12],
   15 points, 4 refinements), and likewise below α_min;
4. the step is taken only if it lowers L — the paper's code stepped
   unconditionally. A step that does not lower L ends the stage (the next
   attempt would be the same computation), with ``no_progress``.

``solver: lanczos`` replaces steps 1–2 by k = ``lanczos_steps`` Lanczos
steps (:func:`precision_jax.engine.krylov.lanczos`, full reorthogonalization) on
Hessian–vector products v ↦ ∇²L v (``jax.linearize`` of ∇L: forward over
reverse), started from g. The Krylov space then holds g exactly, and with the
Ritz pairs (θ_i, u_i) of the k×k tridiagonal, g = Σ_i (u_iᵀg) u_i; the step
keeps g_low = Σ_{|θ_i| < τ} (u_iᵀg) u_i. The extreme (stiff) eigenpairs
converge first, so what is removed is g's component along the well-resolved
stiff directions, and with k = N the Ritz pairs are the eigenpairs (the
dense projector). Ritz values below τ appear early when the low end of the
spectrum is its extreme, as near a minimum, where the Hessian is nearly
positive semidefinite (the regime LCS is for); far from one, 0 lies inside
the spectrum, interior Ritz values converge slowly, and a small τ finds none
(the stage then stops with ``no_progress``). Memory: the k×N basis and one
forward/backward pass's activations instead of N×N matrices;
``n_below_tau`` counts Ritz values.
``solver: auto`` is ``dense`` up to ``max_params`` parameters and ``lanczos``
above (a choice made from N and the config alone). Steps 3–4 are the same code.

Near a BFGS solution the spectrum spans ~24 orders of magnitude and the
gradient lies mostly along stiff directions that line searches cannot use;
its small component along the flat ones can take huge steps (α of 1e12 and beyond).
Every step records its spectrum summary: the count of |λ| < τ, λ_min, λ_max.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax.config.engine import ConfigError, at_least, checked, positive
from precision_jax.config.kinds import stage_config
from precision_jax.engine import krylov
from precision_jax.engine.hessian import DENSE_LIMIT, mse_hessian, mse_value_and_grad
from precision_jax.engine.stages.base import (
    MAX_STEPS,
    NO_PROGRESS,
    NON_FINITE,
    RUNNING,
    Problem,
    StageConfig,
    mse,
    training_subset,
)
from precision_jax.engine.stages.dense import DenseStage


@stage_config
class LCSConfig(StageConfig):
    kind: Literal["lcs"] = "lcs"
    steps: int = checked(500, positive, doc="step attempts at most (the paper's 500 per stage)")
    tau: float = checked(1e-15, positive, doc="eigenvalues with |λ| < tau span the low-curvature subspace")
    alpha_min: float = checked(1e-12, positive, doc="smallest step size α of the first grid")
    alpha_max: float = checked(1e12, positive, doc="largest step size α of the first grid (refinements "
                               "may go ~2 decades past it when the best α sits on the edge)")
    alpha_points: int = checked(15, at_least(3), doc="log-spaced α grid size")
    refinements: int = checked(4, at_least(0), doc="grid refinements around the best α")
    chunk_size: Optional[int] = checked(None, positive, doc="points per Hessian chunk (null: by memory budget)")
    max_params: int = checked(DENSE_LIMIT, positive, doc="largest N for a dense Hessian")
    solver: Literal["dense", "lanczos", "auto"] = checked(
        "dense", doc="dense: eigh of the exact Hessian; lanczos: matrix-free Lanczos on Hessian–vector products "
        "(O(k N) memory); auto: dense up to max_params parameters, lanczos above")
    lanczos_steps: int = checked(100, positive, doc="solver lanczos: Krylov dimension k (capped at N; "
                                 "k = N reproduces the dense subspace)")
    subsample: Optional[int] = checked(None, positive, doc="build the Hessian from this many training points "
                                       "(null: all); gradient, line search and acceptance use the full set")

    def __post_init__(self):
        if not self.alpha_min < self.alpha_max:
            raise ConfigError(f"needs alpha_min < alpha_max, got {self.alpha_min} and {self.alpha_max}", "alpha_max")

    display_name, shade = "LCS", "#dcefd9"

    def build(self, predict, n_params: int) -> "LowCurvatureSubspace":
        return LowCurvatureSubspace(self, predict, n_params)

    def iteration_work(self, n_params: int, points: int) -> float:
        # The Hessian by N Hessian–vector products, then its eigh.
        return super().iteration_work(n_params, points) + 2.5 * n_params * n_params * points + 10 * n_params**3

    @classmethod
    def id_neutral_keys(cls, fields: dict) -> tuple[str, ...]:
        # solver and lanczos_steps came with the Lanczos solver; the dense one is what LCS always did.
        return ("solver", "lanczos_steps") if fields.get("solver") == "dense" else ()


class LowCurvatureDirection(NamedTuple):
    g_low: jax.Array  # the gradient's component in the low-curvature subspace
    n_low: jax.Array  # eigenvalues (dense) or Ritz values (lanczos) with |λ| < τ
    lambda_min: jax.Array
    lambda_max: jax.Array


def lanczos_ritz_pairs(predict, theta, start, x, y, steps: int):
    """``(θ, S, lanczos result)``: Ritz values (ascending) and vectors (``basis.T @ S``) of the MSE Hessian on
    ``(x, y)`` after ``min(steps, N)`` Lanczos steps from ``start``, from Hessian–vector products only."""
    _, hvp = jax.linearize(jax.grad(lambda t: mse(predict, t, x, y)), theta)
    found = krylov.lanczos(hvp, start, min(steps, theta.shape[0]))
    ritz, s = krylov.ritz_pairs(found)
    return ritz, s, found


def make_low_curvature_direction(cfg: LCSConfig, predict, chunk: int, solver: str = "dense"):
    """``direction(θ, g, xh, yh) -> LowCurvatureDirection`` from the Hessian of the MSE on ``(xh, yh)``."""

    def dense(theta, grad, xh, yh):
        h = mse_hessian(predict, theta, xh, yh, chunk)
        lam, vec = jnp.linalg.eigh(h)
        low = jnp.abs(lam) < cfg.tau
        g_low = vec @ jnp.where(low, vec.T @ grad, 0.0)
        return LowCurvatureDirection(g_low, jnp.sum(low), lam[0], lam[-1])

    def lanczos(theta, grad, xh, yh):
        ritz, s, found = lanczos_ritz_pairs(predict, theta, grad, xh, yh, cfg.lanczos_steps)
        low = jnp.abs(ritz) < cfg.tau
        g_low = found.basis.T @ (s @ jnp.where(low, s.T @ (found.basis @ grad), 0.0))
        return LowCurvatureDirection(g_low, jnp.sum(low), ritz[0], ritz[-1])

    return lanczos if solver == "lanczos" else dense


def make_lcs_step(cfg: LCSConfig, predict, chunk: int, solver: str = "dense"):
    """A pure ``step(θ, x, y, xh, yh) -> (θ', L', accepted, α, n_low, λ_min, λ_max)``; data are arguments.

    ``(xh, yh)`` is what the Hessian is built from (the whole set, or a subsample:
    the Hessian is the O(D N²) part, and the low-curvature subspace of a few
    thousand points of a smooth target is that of all of them).
    """
    n_grid = cfg.alpha_points
    direction = make_low_curvature_direction(cfg, predict, chunk, solver)

    def step(theta, x, y, xh, yh):
        value, grad = mse_value_and_grad(predict, theta, x, y)
        g_low, n_low, lambda_min, lambda_max = direction(theta, grad, xh, yh)
        trial = jax.vmap(lambda a: mse(predict, theta - a * g_low, x, y))

        def search(carry, _):
            lo, hi, best_a, best_v = carry
            logs = jnp.linspace(lo, hi, n_grid)
            values = trial(10.0**logs)
            values = jnp.where(jnp.isfinite(values), values, jnp.inf)
            i = jnp.argmin(values)
            better = values[i] < best_v
            best_a, best_v = jnp.where(better, 10.0 ** logs[i], best_a), jnp.where(better, values[i], best_v)
            # Refine to one grid step either side of the best point. At an end of the grid this widens
            # the bracket past it (the paper's rule): near a BFGS solution the loss can keep falling
            # beyond α = 1e12 along the flattest directions.
            step = logs[1] - logs[0]
            lo2, hi2 = logs[i] - step, logs[i] + step
            return (lo2, hi2, best_a, best_v), None

        init = (jnp.log10(cfg.alpha_min), jnp.log10(cfg.alpha_max), jnp.zeros(()), value)
        (_, _, alpha, best), _ = jax.lax.scan(search, init, None, length=cfg.refinements + 1)
        accepted = (best < value) & (n_low > 0)
        new_theta = jnp.where(accepted, theta - alpha * g_low, theta)
        return (new_theta, jnp.where(accepted, best, value), accepted, jnp.where(accepted, alpha, 0.0),
                n_low, lambda_min, lambda_max)

    return step


class LCSState(NamedTuple):
    theta: jax.Array
    iteration: jax.Array  # accepted steps (the curve's x axis)
    attempts: jax.Array
    status: jax.Array
    xh: jax.Array  # the points the Hessian is built from
    yh: jax.Array
    records: jax.Array  # (steps, 6): accepted, α, train MSE, count |λ| < τ, λ_min, λ_max per attempt


class LowCurvatureSubspace(DenseStage):
    kind = "lcs"
    dense_solver, matrix_free_solver = "dense", "lanczos"

    def init(self, problem: Problem, theta) -> LCSState:
        xh, yh = training_subset(problem, self.cfg.subsample, self.predict, theta)
        finite = jnp.isfinite(mse(self.predict, theta, problem.x_train, problem.y_train))
        zero = jnp.zeros((), jnp.int64)
        status = jnp.where(finite, RUNNING, NON_FINITE).astype(jnp.int64)
        return LCSState(theta, zero, zero, status, xh, yh, jnp.zeros((self.cfg.steps, 6)))

    def step(self, state: LCSState, problem: Problem) -> LCSState:
        attempt = make_lcs_step(self.cfg, self.predict, self.chunk(state.xh.shape[0]), self.solver)
        theta, value, accepted, alpha, n_low, lmin, lmax = attempt(state.theta, problem.x_train, problem.y_train,
                                                                   state.xh, state.yh)
        record = jnp.stack([accepted.astype(jnp.float64), alpha, value, n_low.astype(jnp.float64), lmin, lmax])
        attempts = state.attempts + 1
        # A step that does not lower L ends the stage: the next attempt would repeat the same computation.
        status = jnp.where(accepted, jnp.where(attempts >= self.cfg.steps, MAX_STEPS, RUNNING), NO_PROGRESS)
        return LCSState(theta, state.iteration + accepted.astype(jnp.int64), attempts, status.astype(jnp.int64),
                        state.xh, state.yh, state.records.at[state.attempts].set(record))

    def memory_bytes(self, n_points: int) -> int:
        n, fit = self.n_params, min(n_points, self.cfg.subsample or n_points)
        if self.matrix_free:
            # The k×N Lanczos basis, the Hessian–vector product's forward/backward activations on the Hessian
            # points (~√N per point for a dense net), and the line search's alpha_points forward passes over
            # the full set, batched.
            k, width = min(self.cfg.lanczos_steps, n), math.isqrt(n)
            return 8 * (k * n + 12 * n + 12 * fit * width + 3 * self.cfg.alpha_points * n_points * width)
        # The Hessian, its eigenvectors and eigh's workspace, and one chunk of per-sample Hessian-vector work.
        return 8 * (5 * n * n + 3 * self.chunk(fit) * n + self.cfg.alpha_points * n_points + 6 * n_points)

    def info(self, state: LCSState) -> dict:
        n = state.xh.shape[0]
        return {"attempts": state.attempts, "records": state.records, "hessian_points": jnp.asarray(n),
                "chunk_size": jnp.asarray(0 if self.matrix_free else self.chunk(n))}

    def describe(self, info: dict) -> dict:
        attempts = int(info["attempts"])
        spectra = [{"step": i + 1, "accepted": bool(r[0]), "alpha": float(r[1]), "train_mse": float(r[2]),
                    "n_below_tau": int(r[3]), "lambda_min": float(r[4]), "lambda_max": float(r[5])}
                   for i, r in enumerate(np.asarray(info["records"])[:attempts])]
        solver = {"lanczos_steps": min(self.cfg.lanczos_steps, self.n_params)} if self.matrix_free \
            else {"chunk_size": int(info["chunk_size"])}
        return {"attempts": attempts, "tau": self.cfg.tau, "solver": self.solver, **solver,
                "hessian_points": int(info["hessian_points"]), "spectra": spectra}
