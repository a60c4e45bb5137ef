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

from precision_jax.config.engine import checked, fraction, non_negative, positive
from precision_jax.config.kinds import stage_config
from precision_jax.engine.stages.base import (
    CONVERGED,
    FOCUS_DOC,
    LINE_SEARCH_FAILED,
    MAX_STEPS,
    NON_FINITE,
    RUNNING,
    SUBSAMPLE_DOC,
    Problem,
    StageBase,
    StageConfig,
    mse,
    training_subset,
)


@stage_config
class BFGSConfig(StageConfig):
    kind: Literal["bfgs"] = "bfgs"
    maxiter: int = checked(5000, positive, doc="iterations at most")
    gtol: float = checked(0.0, non_negative, doc="stop when ‖∇L‖∞ ≤ gtol (0: never)")
    max_linesearch_steps: int = checked(40, positive, doc="function evaluations per line search")
    approx_dec_rtol: Optional[float] = checked(1e-6, non_negative, doc="approximate-Wolfe switch (null: exact Wolfe)")
    curvature_eps: float = checked(1e-12, non_negative, doc="skip updates with yᵀs ≤ eps‖s‖‖y‖")
    rescale: bool = checked(True, doc="minimize L / L(θ₀) so line-search tolerances act on O(1) values")
    subsample: Optional[int] = checked(None, positive, doc=SUBSAMPLE_DOC)
    focus: float = checked(0.0, fraction, doc=FOCUS_DOC)

    display_name, shade = "BFGS", "#dbe7f4"

    def build(self, predict, n_params: int) -> "QuasiNewton":
        settings = Settings("bfgs", self.maxiter, self.gtol, self.max_linesearch_steps, self.approx_dec_rtol,
                            curvature_eps=self.curvature_eps, subsample=self.subsample, focus=self.focus)
        return QuasiNewton("bfgs", settings, predict, n_params, self.rescale)

    def iteration_work(self, n_params: int, points: int) -> float:
        return super().iteration_work(n_params, points) + 2 * n_params * n_params  # H g and H's update


@stage_config
class LBFGSConfig(StageConfig):
    kind: Literal["lbfgs"] = "lbfgs"
    maxiter: int = checked(5000, positive, doc="iterations at most")
    memory_size: int = checked(20, positive, doc="curvature pairs kept")
    gtol: float = checked(0.0, non_negative, doc="stop when ‖∇L‖∞ ≤ gtol (0: never)")
    max_linesearch_steps: int = checked(40, positive, doc="function evaluations per line search")
    approx_dec_rtol: Optional[float] = checked(1e-6, non_negative, doc="approximate-Wolfe switch (null: exact Wolfe)")
    rescale: bool = checked(True, doc="minimize L / L(θ₀) so line-search tolerances act on O(1) values")
    subsample: Optional[int] = checked(None, positive, doc=SUBSAMPLE_DOC)
    focus: float = checked(0.0, fraction, doc=FOCUS_DOC)

    display_name, shade = "L-BFGS", "#dbe7f4"

    def build(self, predict, n_params: int) -> "QuasiNewton":
        settings = Settings("lbfgs", self.maxiter, self.gtol, self.max_linesearch_steps, self.approx_dec_rtol,
                            memory_size=self.memory_size, subsample=self.subsample, focus=self.focus)
        return QuasiNewton("lbfgs", settings, predict, n_params, self.rescale)


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


class Settings(NamedTuple):
    """What the BFGS/L-BFGS loop needs, whichever stage config (bfgs, lbfgs, rescale) it came from."""

    optimizer: str  # "bfgs" or "lbfgs"
    maxiter: int
    gtol: float
    max_linesearch_steps: int
    approx_dec_rtol: Optional[float]
    curvature_eps: float = 1e-12
    memory_size: int = 20
    subsample: Optional[int] = None
    focus: float = 0.0


def make_optimizer(settings: Settings) -> optax.GradientTransformationExtraArgs:
    linesearch = optax.scale_by_zoom_linesearch(
        max_linesearch_steps=settings.max_linesearch_steps, approx_dec_rtol=settings.approx_dec_rtol,
        initial_guess_strategy="one")
    if settings.optimizer == "bfgs":
        return optax.chain(scale_by_dense_bfgs(settings.curvature_eps), linesearch)
    return optax.chain(optax.scale_by_lbfgs(settings.memory_size), optax.scale(-1.0), linesearch)


class QuasiNewtonState(NamedTuple):
    theta: jax.Array
    opt_state: optax.OptState
    value: jax.Array  # scaled objective at theta
    grad: jax.Array
    iteration: jax.Array
    status: jax.Array
    failures: jax.Array  # consecutive rejected steps
    linesearch_steps: jax.Array  # total function evaluations spent in line searches
    x: jax.Array  # the points fitted (the training set or its subsample)
    y: jax.Array
    scale: jax.Array  # the objective is L / scale


class QuasiNewton(StageBase):
    """BFGS/L-BFGS on L/scale; ``scale`` is L(θ₀) on the fitted points when rescaling, a fixed number else."""

    def __init__(self, kind: str, settings: Settings, predict, n_params: int, rescale: bool,
                 fixed_scale: Optional[float] = None):
        self.kind, self.settings, self.predict, self.n_params = kind, settings, predict, n_params
        self.rescale, self.fixed_scale = rescale, fixed_scale
        self.summary_fields: dict = {}  # static facts for the summary row (rescale: its factor)
        self.optimizer = make_optimizer(settings)

    def objective(self, theta, x, y, scale):
        return mse(self.predict, theta, x, y) / scale

    def init(self, problem: Problem, theta) -> QuasiNewtonState:
        s = self.settings
        x, y = training_subset(problem, s.subsample, self.predict, theta, s.focus)
        loss0 = mse(self.predict, theta, x, y)
        if self.fixed_scale is not None:
            scale = jnp.asarray(self.fixed_scale, jnp.float64)
        elif self.rescale:
            scale = jnp.where((loss0 > 0) & jnp.isfinite(loss0), loss0, 1.0)
        else:
            scale = jnp.ones((), jnp.float64)
        value, grad = jax.value_and_grad(self.objective)(theta, x, y, scale)
        zero = jnp.zeros((), jnp.int64)
        status = jnp.where(jnp.isfinite(loss0), RUNNING, NON_FINITE).astype(jnp.int64)
        return QuasiNewtonState(theta, self.optimizer.init(theta), value, grad, zero, status, zero, zero, x, y, scale)

    @property
    def max_steps(self) -> int:
        return self.settings.maxiter

    def step(self, state: QuasiNewtonState, problem: Problem) -> QuasiNewtonState:
        fn = lambda t: self.objective(t, state.x, state.y, state.scale)  # noqa: E731
        updates, opt_state = self.optimizer.update(state.grad, state.opt_state, state.theta,
                                                   value=state.value, grad=state.grad, value_fn=fn)
        theta = state.theta + updates
        linesearch = opt_state[-1]  # the zoom line search already evaluated f and ∇f at θ + update
        value, grad, info = linesearch.value, linesearch.grad, linesearch.info
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad))
        accepted = finite & (value < state.value)
        failures = jnp.where(accepted, 0, state.failures + 1)
        # A rejected step keeps θ, and restarts the quasi-Newton model from scratch.
        fresh = self.optimizer.init(state.theta)
        opt_state = jax.tree.map(lambda a, b: jnp.where(accepted, a, b), opt_state, fresh)
        gnorm = jnp.max(jnp.abs(jnp.where(accepted, grad, state.grad)))
        iteration = state.iteration + 1
        status = jnp.where(iteration >= self.settings.maxiter, MAX_STEPS, RUNNING)
        status = jnp.where(failures >= 2, LINE_SEARCH_FAILED, status)
        status = jnp.where(accepted & (gnorm <= self.settings.gtol), CONVERGED, status)
        return state._replace(
            theta=jnp.where(accepted, theta, state.theta), opt_state=opt_state,
            value=jnp.where(accepted, value, state.value), grad=jnp.where(accepted, grad, state.grad),
            iteration=iteration, status=status.astype(jnp.int64), failures=failures.astype(jnp.int64),
            linesearch_steps=state.linesearch_steps + info.num_linesearch_steps)

    def memory_bytes(self, n_points: int) -> int:
        n, fit = self.n_params, min(n_points, self.settings.subsample or n_points)
        # Dense BFGS: H, its update and the outer-product temporaries are N×N each.
        matrices = 6 * n * n if self.settings.optimizer == "bfgs" else 4 * self.settings.memory_size * n
        return 8 * (matrices + 12 * n + 6 * fit)

    def info(self, state: QuasiNewtonState) -> dict:
        return {"linesearch_evaluations": state.linesearch_steps, "fitted_points": jnp.asarray(state.x.shape[0])}

    def describe(self, info: dict) -> dict:
        return {**super().describe(info), **self.summary_fields}


@stage_config
class RescaleConfig(StageConfig):
    """The appendix experiment: BFGS/L-BFGS continued on the loss times ``factor``.

    ``factor: null`` divides by the loss at the stage start instead (what the
    bfgs stage does by default), so both variants of "just rescale the
    objective" can be compared with boosting.
    """

    kind: Literal["rescale"] = "rescale"
    factor: Optional[float] = checked(None, positive, doc="L ← factor·L; null: L ← L / L(θ₀)")
    optimizer: Literal["bfgs", "lbfgs"] = checked("bfgs", doc="the quasi-Newton method continued")
    maxiter: int = checked(5000, positive, doc="iterations at most")
    memory_size: int = checked(20, positive, doc="L-BFGS history length")
    gtol: float = checked(0.0, non_negative, doc="stop when ‖∇(factor·L)‖∞ ≤ gtol (0: never)")
    max_linesearch_steps: int = checked(40, positive, doc="function evaluations per line search")
    approx_dec_rtol: Optional[float] = checked(1e-6, non_negative, doc="approximate-Wolfe switch (null: exact Wolfe)")
    curvature_eps: float = checked(1e-12, non_negative, doc="skip BFGS updates with yᵀs ≤ eps‖s‖‖y‖")

    display_name, shade = "rescale", "#efdcef"

    def build(self, predict, n_params: int) -> "QuasiNewton":
        settings = Settings(self.optimizer, self.maxiter, self.gtol, self.max_linesearch_steps, self.approx_dec_rtol,
                            curvature_eps=self.curvature_eps, memory_size=self.memory_size)
        fixed = None if self.factor is None else 1.0 / self.factor
        stage = QuasiNewton("rescale", settings, predict, n_params, rescale=self.factor is None, fixed_scale=fixed)
        stage.summary_fields = {"factor": self.factor if self.factor is not None else "1/L0"}
        return stage

    def iteration_work(self, n_params: int, points: int) -> float:
        # Priced as dense BFGS whichever optimizer it continues (the estimate is a ceiling).
        return super().iteration_work(n_params, points) + 2 * n_params * n_params
