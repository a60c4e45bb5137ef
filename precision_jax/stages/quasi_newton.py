"""Quasi-Newton stages: dense BFGS and L-BFGS with a Wolfe line search.

Dense BFGS keeps the inverse-Hessian approximation H (N×N) and updates it
with the curvature pair s = θ_{k+1} − θ_k, y = g_{k+1} − g_k:

    H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ,     ρ = 1 / (yᵀs),

skipping the update when yᵀs ≤ ε_curv ‖s‖‖y‖ (the pair carries no reliable
curvature), and scaling H₀ = (yᵀs / yᵀy) I at the first pair. The step
θ ← θ − α H g takes α from optax's zoom line search (strong Wolfe conditions),
which switches to Hager–Zhang's *approximate* Wolfe conditions once trial
values fall within ``approx_dec_rtol`` of the current one: near RMSE 1e-7 the
MSE is ~1e-14 and plain Armijo decreases are lost in rounding, while slopes
still resolve them.

The objective is the training MSE divided by its value at the start of the
stage, so the line search's tolerances act on an O(1) quantity. A step whose
value is not below the current one is rejected; the stage then resets H to
the scaled identity once and stops with ``line_search_failed`` if that fails
too. L-BFGS uses optax's two-loop recursion in place of the dense H.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from precision_jax.config import checked, fraction, non_negative, positive, stage_config
from precision_jax.stages.base import (CONVERGED, FOCUS_DOC, LINE_SEARCH_FAILED, MAX_STEPS, NON_FINITE,
                                           SUBSAMPLE_DOC, Monitor, Problem, StageResult)


@stage_config
class BFGSConfig:
    kind: Literal["bfgs"] = "bfgs"
    maxiter: int = checked(5000, positive)
    gtol: float = checked(0.0, non_negative, doc="stop when ‖∇L‖∞ ≤ gtol (0: never)")
    max_linesearch_steps: int = checked(40, positive)
    approx_dec_rtol: Optional[float] = checked(1e-6, non_negative, doc="None: exact Wolfe only")
    curvature_eps: float = checked(1e-12, non_negative, doc="skip updates with yᵀs ≤ eps‖s‖‖y‖")
    rescale: bool = True
    subsample: Optional[int] = checked(None, positive, doc=SUBSAMPLE_DOC)
    focus: float = checked(0.0, fraction, doc=FOCUS_DOC)


@stage_config
class LBFGSConfig:
    kind: Literal["lbfgs"] = "lbfgs"
    maxiter: int = checked(5000, positive)
    memory_size: int = checked(20, positive)
    gtol: float = checked(0.0, non_negative)
    max_linesearch_steps: int = checked(40, positive)
    approx_dec_rtol: Optional[float] = checked(1e-6, non_negative)
    rescale: bool = True
    subsample: Optional[int] = checked(None, positive, doc=SUBSAMPLE_DOC)
    focus: float = checked(0.0, fraction, doc=FOCUS_DOC)


class DenseBFGSState(NamedTuple):
    count: jax.Array
    inv_hessian: jax.Array  # (N, N)
    last_theta: jax.Array  # parameters at the last update
    last_grad: jax.Array  # gradient there


def scale_by_dense_bfgs(curvature_eps: float = 1e-12) -> optax.GradientTransformation:
    """Map the gradient g to the BFGS direction −H g (flat parameter vectors only)."""

    def init(theta):
        n = theta.shape[0]
        return DenseBFGSState(jnp.zeros((), jnp.int32), jnp.eye(n, dtype=theta.dtype),
                              jnp.zeros_like(theta), jnp.zeros_like(theta))

    def update(grad, state, theta):
        s, y = theta - state.last_theta, grad - state.last_grad
        sy, yy = s @ y, y @ y
        usable = (state.count > 0) & (sy > curvature_eps * jnp.linalg.norm(s) * jnp.sqrt(yy))
        rho = jnp.where(usable, 1.0 / jnp.where(usable, sy, 1.0), 0.0)
        h = jnp.where((state.count == 1) & usable, (sy / jnp.where(usable, yy, 1.0)) * jnp.eye(s.shape[0]),
                      state.inv_hessian)
        hy = h @ y
        updated = h - rho * (jnp.outer(s, hy) + jnp.outer(hy, s)) + (rho * rho * (y @ hy) + rho) * jnp.outer(s, s)
        h = jnp.where(usable, updated, h)
        # The very first direction is the gradient capped to unit length, as optax's L-BFGS does.
        first_scale = jnp.minimum(1.0, 1.0 / (jnp.linalg.norm(grad) + 1e-300))
        direction = jnp.where(state.count == 0, -first_scale * grad, -(h @ grad))
        return direction, DenseBFGSState(state.count + 1, h, theta, grad)

    return optax.GradientTransformation(init, update)


def make_optimizer(cfg) -> optax.GradientTransformationExtraArgs:
    linesearch = optax.scale_by_zoom_linesearch(
        max_linesearch_steps=cfg.max_linesearch_steps, approx_dec_rtol=cfg.approx_dec_rtol,
        initial_guess_strategy="one")
    if cfg.kind == "bfgs":
        return optax.chain(scale_by_dense_bfgs(cfg.curvature_eps), linesearch)
    return optax.chain(optax.scale_by_lbfgs(cfg.memory_size), optax.scale(-1.0), linesearch)


RUNNING, STOP_CONVERGED, STOP_LINE_SEARCH, STOP_NON_FINITE = 0, 1, 2, 3
_STOP_REASONS = {STOP_CONVERGED: CONVERGED, STOP_LINE_SEARCH: LINE_SEARCH_FAILED, STOP_NON_FINITE: NON_FINITE}


class LoopState(NamedTuple):
    theta: jax.Array
    opt_state: optax.OptState
    value: jax.Array
    grad: jax.Array
    iteration: jax.Array
    status: jax.Array
    failures: jax.Array  # consecutive rejected steps
    linesearch_steps: jax.Array  # total function evaluations spent in line searches


def make_quasi_newton(cfg, problem: Problem):
    """``(init, run_chunk)`` for the BFGS/L-BFGS loop on the scaled objective.

    ``init(θ, x, y, scale)`` builds a :class:`LoopState`; ``run_chunk(state, x,
    y, scale, until)`` iterates in a ``while_loop`` until ``iteration == until``
    or a stop. Data are arguments so the loop can be ``vmap``-ed over seeds.
    """
    optimizer = make_optimizer(cfg)

    def objective(theta, x, y, scale):
        return problem.loss(theta, x, y) / scale

    def init(theta, x, y, scale):
        value, grad = jax.value_and_grad(objective)(theta, x, y, scale)
        zero = jnp.zeros((), jnp.int64)
        return LoopState(theta, optimizer.init(theta), value, grad, zero, zero, zero, zero)

    def step(state: LoopState, x, y, scale) -> LoopState:
        fn = lambda t: objective(t, x, y, scale)  # noqa: E731
        updates, opt_state = optimizer.update(state.grad, state.opt_state, state.theta,
                                              value=state.value, grad=state.grad, value_fn=fn)
        theta = state.theta + updates
        linesearch = opt_state[-1]  # the zoom line search already evaluated f and ∇f at θ + update
        value, grad, info = linesearch.value, linesearch.grad, linesearch.info
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad))
        accepted = finite & (value < state.value)
        failures = jnp.where(accepted, 0, state.failures + 1)
        # A rejected step keeps θ, and restarts the quasi-Newton model from scratch.
        fresh = optimizer.init(state.theta)
        opt_state = jax.tree.map(lambda a, b: jnp.where(accepted, a, b), opt_state, fresh)
        gnorm = jnp.max(jnp.abs(jnp.where(accepted, grad, state.grad)))
        status = jnp.where(failures >= 2, STOP_LINE_SEARCH, RUNNING)
        status = jnp.where(accepted & (gnorm <= cfg.gtol), STOP_CONVERGED, status)
        status = jnp.where(~jnp.isfinite(state.value), STOP_NON_FINITE, status)
        return LoopState(
            jnp.where(accepted, theta, state.theta), opt_state,
            jnp.where(accepted, value, state.value), jnp.where(accepted, grad, state.grad),
            state.iteration + 1, status.astype(jnp.int64), failures.astype(jnp.int64),
            state.linesearch_steps + info.num_linesearch_steps)

    def run_chunk(state: LoopState, x, y, scale, until):
        return jax.lax.while_loop(lambda s: (s.iteration < until) & (s.status == RUNNING),
                                  lambda s: step(s, x, y, scale), state)

    return init, run_chunk


@stage_config
class RescaleConfig:
    """The appendix experiment: BFGS/L-BFGS continued on the loss times ``factor``.

    ``factor: null`` divides by the loss at the stage start instead (what the
    bfgs stage does by default), so both variants of "just rescale the
    objective" can be compared with boosting.
    """

    kind: Literal["rescale"] = "rescale"
    factor: Optional[float] = checked(None, positive, doc="L ← factor·L; null: L ← L / L(θ₀)")
    optimizer: Literal["bfgs", "lbfgs"] = "bfgs"
    maxiter: int = checked(5000, positive)
    memory_size: int = checked(20, positive)
    gtol: float = checked(0.0, non_negative)
    max_linesearch_steps: int = checked(40, positive)
    approx_dec_rtol: Optional[float] = checked(1e-6, non_negative)
    curvature_eps: float = checked(1e-12, non_negative)


def run_rescale(cfg: RescaleConfig, problem: Problem, theta: jax.Array, monitor: Monitor,
                log_every: int) -> StageResult:
    common = dict(maxiter=cfg.maxiter, gtol=cfg.gtol, max_linesearch_steps=cfg.max_linesearch_steps,
                  approx_dec_rtol=cfg.approx_dec_rtol, rescale=cfg.factor is None)
    inner = (BFGSConfig(curvature_eps=cfg.curvature_eps, **common) if cfg.optimizer == "bfgs"
             else LBFGSConfig(memory_size=cfg.memory_size, **common))
    scale = None if cfg.factor is None else 1.0 / cfg.factor
    result = run_quasi_newton(inner, problem, theta, monitor, log_every, scale=scale)
    result.kind = "rescale"
    result.info["factor"] = cfg.factor if cfg.factor is not None else "1/L0"
    return result


def run_quasi_newton(cfg, problem: Problem, theta: jax.Array, monitor: Monitor, log_every: int,
                     scale: Optional[float] = None) -> StageResult:
    """Run BFGS/L-BFGS on L/scale; ``scale`` None: L(θ₀) if ``cfg.rescale`` else 1."""
    init, run_chunk = make_quasi_newton(cfg, problem)
    init, run_chunk = jax.jit(init), jax.jit(run_chunk)
    # rescale stages build a BFGSConfig with neither field: they fit the whole set.
    x, y = problem.training_subset(getattr(cfg, "subsample", None), monitor.stage, theta,
                                   getattr(cfg, "focus", 0.0))
    loss0 = float(problem.loss(theta, x, y))
    if scale is None:
        scale = loss0 if cfg.rescale and loss0 > 0 and jnp.isfinite(loss0) else 1.0
    scale = jnp.asarray(scale)
    state = init(theta, x, y, scale)
    monitor.log(theta, 0)
    if not jnp.isfinite(loss0):
        return monitor.result(cfg.kind, theta, 0, NON_FINITE)
    while int(state.iteration) < cfg.maxiter and int(state.status) == RUNNING:
        until = min(int(state.iteration) + log_every, cfg.maxiter)
        state = run_chunk(state, x, y, scale, jnp.asarray(until, jnp.int64))
        monitor.log(state.theta, int(state.iteration))
    reason = _STOP_REASONS.get(int(state.status), MAX_STEPS)
    return monitor.result(cfg.kind, state.theta, int(state.iteration), reason,
                          linesearch_evaluations=int(state.linesearch_steps), fitted_points=int(x.shape[0]))
