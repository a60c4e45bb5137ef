"""Levenberg–Marquardt on the training residual vector, with Nielsen's damping rule.

With residuals r(θ) = f(θ, x) − y (shape ``(D,)``) and Jacobian J = ∂r/∂θ
(``D×N``), each iteration minimizes the damped Gauss–Newton model

    m(δ) = ‖r + J δ‖² + μ ‖δ‖²   ⇒   (JᵀJ + μ I) δ = −Jᵀ r.

J is never formed whole: the data are processed in chunks of ``chunk_size``
points (per-sample gradients, ``vmap(grad)``) and folded either into

- ``solver: qr`` (default) — an incremental QR of the augmented matrix
  [J | r]: T ← R-factor of [T; J_c | r_c] (T of the first chunk alone), so that at the end
  JᵀJ = RᵀR and Jᵀr = Rᵀz with R = T[:N, :N], z = T[:N, N]. Each trial
  damping μ then takes one QR of [[R, z], [√μ I, 0]], whose R-factor
  [[R_μ, w], [0, ρ]] gives δ(μ) = −R_μ⁻¹ w, the least-squares solution of
  min ‖[R; √μ I] δ + [z; 0]‖ (Moré's MINPACK step). Neither JᵀJ nor its
  condition number's square is ever formed, which is what keeps the tiny
  singular directions accurate near the float64 floor, and the ~3N³ flops
  per trial are a fraction of an SVD of R (~1.2 trials per accepted step in
  the runs of ``benchmarks/auto_chain.py``); or
- ``solver: normal`` — JᵀJ and Jᵀr accumulated directly and ``eigh``-ed
  (half the flops, squared condition number). In the eigenbasis (λ_i, v_i)
  with β = Vᵀ Jᵀ r every trial damping is a diagonal solve,
  δ(μ) = −V β/(λ+μ).

The model's predicted decrease for the exact step is ‖Jδ‖² + 2μ‖δ‖²
(= ‖R δ‖² + 2μ‖δ‖², or Σ β_i² (λ_i + 2μ)/(λ_i + μ)² in the eigenbasis), free
of the cancellation in ‖r‖² − ‖r + Jδ‖². Nielsen's rule: with
ρ = actual/predicted decrease, accept when ρ > 0 and set
μ ← μ·max(1/3, 1 − (2ρ − 1)³), ν ← 2; otherwise μ ← μ·ν, ν ← 2ν and retry
with the same Jacobian. μ₀ = τ·max λ(JᵀJ). With ``geodesic: true``
(Transtrum & Sethna's geodesic acceleration) the step is δ + a/2 with
a = −(JᵀJ + μI)⁻¹ Jᵀ r'', r'' the second directional derivative of r along δ
(one forward-over-forward pass and one vector–Jacobian product), accepted
only when 2‖a‖ ≤ ``geodesic_ratio``·‖δ‖: it lets steps follow the narrow
curved valleys that otherwise force a large damping. The stage stops with
``no_progress`` after ``max_rejections`` consecutive failed dampings.

``solver: cg`` never forms J or JᵀJ: each trial damping solves the same
system by CGLS (:func:`precision_jax.engine.krylov.damped_least_squares`) from
Jacobian–vector and vector–Jacobian products of one linearization of r at θ,
at most ``cg_maxiter`` iterations to a relative residual ``cg_tol``; μ₀ takes
max λ from 20 Lanczos steps on JᵀJ, and the predicted decrease
‖J δ‖² + 2μ‖δ‖² stays exact for a truncated solve (CG's Galerkin condition).
Memory is O(N + D) plus one forward pass's activations, instead of O(N²); CG
needs more iterations the smaller μ is relative to max λ (√cond), so
``cg_maxiter`` truncates the solve near the floor (the truncated step is still
a descent step, judged by the same ρ). With ``cg_forcing: eisenstat_walker`` (the
default; ``fixed`` solves every step to ``cg_tol``) the stage is a truncated
(inexact) Newton method: step k solves to a relative residual
‖(JᵀJ + μI) δ + Jᵀr‖ ≤ η_k ‖Jᵀr‖ with Eisenstat & Walker's second forcing term
(SIAM J. Sci. Comput. 17, 1996) on the gradient g = Jᵀr,

    η_k = γ (‖g_k‖ / ‖g_{k−1}‖)^α,   γ = 0.9, α = 2,   η₀ = η_max = 0.5,

raised to γ η_{k−1}^α whenever that exceeds 0.1 (so η cannot collapse after one
lucky step) and kept in [``cg_tol``, η_max]; the acceleration's solve uses the
same η. Far from a minimum a few CG iterations make a step as good as an exact
solve would (the model itself is only a local one), and η shrinks as the
gradient does, so the solves tighten where a step's accuracy starts to matter.
``solver: auto`` takes ``qr`` up to ``max_params`` parameters (0.8 GB of
dense matrices at the default 4,000) and ``cg`` above; the choice depends only
on N and the config, so a run computes the same numbers on every machine. The
damping and acceptance logic below is the same code for every solver.

``subsample: m`` fits m of the D training points (drawn once per stage, see
:meth:`Problem.training_subset`; ``focus`` takes a fraction of them from the
largest residuals): a step then costs O(m N²) instead of O(D N²). For a smooth
low-dimensional target a few thousand points determine the net as well as
100k do (on the teacher–student task, 1,500 points give the same RMSE on all
100k and on the test set), so the stage's curve, scored on the full sets,
shows whether the subsample was enough.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Literal, NamedTuple, Optional

import jax
import jax.numpy as jnp

from precision_jax.config.engine import checked, fraction, positive
from precision_jax.config.kinds import stage_config
from precision_jax.engine import krylov
from precision_jax.engine.data_chunks import chunk_data
from precision_jax.engine.hessian import DENSE_LIMIT
from precision_jax.engine.stages.base import (
    CONVERGED,
    FOCUS_DOC,
    MAX_STEPS,
    NO_PROGRESS,
    NON_FINITE,
    RUNNING,
    SUBSAMPLE_DOC,
    Problem,
    StageConfig,
    training_subset,
)
from precision_jax.engine.stages.dense import DenseStage


@stage_config
class LMConfig(StageConfig):
    kind: Literal["lm"] = "lm"
    maxiter: int = checked(200, positive, doc="accepted steps at most")
    solver: Literal["qr", "normal", "cg", "auto"] = checked(
        "qr", doc="qr: QR of [J | r], then one QR of [R; √μI] per trial damping (accurate); normal: eigh of "
        "JᵀJ; cg: matrix-free conjugate gradients (O(N + D) memory); auto: qr up to max_params parameters, cg above")
    damping: float = checked(1e-9, positive, doc="τ in μ₀ = τ·max eig(JᵀJ)")
    max_rejections: int = checked(40, positive, doc="consecutive failed dampings before stopping")
    chunk_size: Optional[int] = checked(None, positive, doc="points per Jacobian chunk (null: by memory budget)")
    max_params: int = checked(DENSE_LIMIT, positive, doc="largest N for the dense N×N factorization")
    cg_maxiter: int = checked(200, positive, doc="solver cg: CG iterations per linear solve at most")
    cg_tol: float = checked(1e-10, positive, doc="solver cg: stop at ‖normal-equation residual‖ ≤ tol·‖Jᵀr‖")
    cg_forcing: Literal["fixed", "eisenstat_walker"] = checked(
        "eisenstat_walker", doc="solver cg: fixed: every solve to cg_tol; eisenstat_walker: a truncated-Newton "
        "tolerance η_k = 0.9(‖Jᵀr_k‖/‖Jᵀr_k−1‖)² per step, safeguarded, in [cg_tol, 0.5]")
    geodesic: bool = checked(True, doc="geodesic acceleration (Transtrum & Sethna)")
    geodesic_ratio: float = checked(0.75, positive, doc="accept only if 2‖a‖ ≤ ratio·‖δ‖")
    subsample: Optional[int] = checked(None, positive, doc=SUBSAMPLE_DOC)
    focus: float = checked(0.0, fraction, doc=FOCUS_DOC)

    display_name, shade = "LM", "#f6e3cf"

    def build(self, predict, n_params: int) -> "LevenbergMarquardt":
        return LevenbergMarquardt(self, predict, n_params)

    def iteration_work(self, n_params: int, points: int) -> float:
        return super().iteration_work(n_params, points) + n_params * n_params * points  # the Jacobian's QR: D·N²

    @classmethod
    def id_neutral_keys(cls, fields: dict) -> tuple[str, ...]:
        # The matrix-free solver's settings came with it; the dense solvers never read them. cg_forcing came
        # later: at "fixed" it does what a config without it did before its default became eisenstat_walker.
        if fields.get("solver") in ("qr", "normal"):
            return "cg_maxiter", "cg_tol", "cg_forcing"
        return ("cg_forcing",) if fields.get("cg_forcing") == "fixed" else ()

    @classmethod
    def former_defaults(cls) -> dict:
        # Until 2026-12-07 a matrix-free LM without the key solved every step to cg_tol; that choice took one
        # iteration in 5 min after Adam on a 20k-parameter net (docs/benchmarks.md#big-nets), so it is no longer
        # the default, but runs stored without the key ran it.
        return {"cg_forcing": "fixed"}


class LMState(NamedTuple):
    theta: jax.Array
    sse: jax.Array  # ‖r‖² at theta
    mu: jax.Array
    nu: jax.Array
    iteration: jax.Array  # accepted steps
    evaluations: jax.Array  # trial dampings (loss evaluations)
    status: jax.Array
    x: jax.Array  # the points fitted (the training set or its subsample)
    y: jax.Array
    krylov_iterations: jax.Array  # solver cg: CG iterations over all solves (0 for the dense solvers)
    forcing: jax.Array  # cg_forcing eisenstat_walker: the last step's η (η_max before the first step)
    gradient_norm: jax.Array  # ... and ‖Jᵀr‖ where it was chosen (−1 before the first step)


class DampedSolve(NamedTuple):
    """The system (JᵀJ + μI) δ = −Jᵀr at one damping μ: the step, and the same matrix's solve for the
    acceleration, ``accelerate(v) -> (−(JᵀJ + μI)⁻¹ Jᵀ v, iterations)`` for a data-space vector v."""

    step: jax.Array
    iterations: jax.Array  # Krylov iterations of the step's solve (0 for the dense solvers)
    accelerate: Callable


class GaussNewtonSystem(NamedTuple):
    """The damped Gauss–Newton system (JᵀJ + μI) δ = −Jᵀr at one θ, as the damping loop uses it.

    ``damped(μ) -> DampedSolve``: the LM step at μ (one factorization per μ, shared with the
    acceleration); ``predicted(μ, δ)``: the decrease ‖r‖² − ‖r + Jδ‖² of the Gauss–Newton model for
    the step δ(μ); ``largest()``: max eig JᵀJ; ``zero_gradient``: Jᵀr = 0.
    """

    damped: Callable
    predicted: Callable
    largest: Callable
    zero_gradient: jax.Array
    gradient_norm: Optional[jax.Array] = None  # ‖Jᵀr‖ (solver cg)
    tolerance: Optional[jax.Array] = None  # the solves' relative tolerance (solver cg)


def galerkin_decrease(j_delta: jax.Array, mu, delta: jax.Array) -> jax.Array:
    """‖Jδ‖² + 2μ‖δ‖²: the Gauss–Newton model's decrease ‖r‖² − ‖r + Jδ‖² for a step δ that solves
    (JᵀJ + μI) δ = −Jᵀr exactly or in CG's Galerkin sense, without the cancellation (``j_delta`` = Jδ,
    or Rδ with JᵀJ = RᵀR)."""
    return jnp.vdot(j_delta, j_delta) + 2 * mu * jnp.vdot(delta, delta)


# Lanczos steps for max eig JᵀJ (μ₀ of the matrix-free solver): the extreme Ritz value converges first.
LARGEST_EIGENVALUE_STEPS = 20

# Eisenstat & Walker's choice 2 (module docstring): η_k = γ (‖g_k‖/‖g_{k−1}‖)^α, at most η_max, safeguarded.
FORCING_MAX, FORCING_GAMMA, FORCING_ALPHA, FORCING_SAFEGUARD = 0.5, 0.9, 2.0, 0.1


def forcing_term(previous_eta, previous_norm, norm, floor: float) -> jax.Array:
    """η_k from η_{k−1}, ‖g_{k−1}‖ and ‖g_k‖ (η_max when ``previous_norm`` < 0: the first step), in [floor, η_max]."""
    ratio = norm / jnp.where(previous_norm > 0, previous_norm, 1.0)
    eta = FORCING_GAMMA * ratio ** FORCING_ALPHA
    safeguard = FORCING_GAMMA * previous_eta ** FORCING_ALPHA
    eta = jnp.where(safeguard > FORCING_SAFEGUARD, jnp.maximum(eta, safeguard), eta)
    eta = jnp.where(previous_norm > 0, eta, FORCING_MAX)
    return jnp.clip(eta, floor, FORCING_MAX)


def make_lm(cfg: LMConfig, predict, chunk: int, solver: str | None = None):
    """``(init, iterate, system)``: ``init(θ, x, y) -> LMState``, one accepted step (or a stop) ``iterate(state)``,
    and ``system(θ, x, y) -> GaussNewtonSystem`` for the ``solver`` (default ``cfg.solver``; not ``auto``)."""
    solver = solver or cfg.solver

    def sse(theta, x, y):
        r = predict(theta, x) - y
        return jnp.sum(r * r)

    def factors(theta, x, y):
        """``solver: normal``: (λ, V, β = Vᵀ Jᵀr) of JᵀJ; ``solver: qr``: (R, z) with JᵀJ = RᵀR, Jᵀr = Rᵀz.

        Built chunk by chunk from per-sample gradients.
        """
        xs, ys, ws = chunk_data(x, y, chunk)
        n = theta.shape[0]
        per_sample = jax.vmap(jax.grad(lambda t, xi: predict(t, xi[None])[0]), in_axes=(None, 0))

        def rows(xc, yc, wc):
            jac = per_sample(theta, xc) * wc[:, None]
            r = (predict(theta, xc) - yc) * wc
            return jac, r

        if solver == "normal":
            def body(carry, batch):
                a, b = carry
                jac, r = rows(*batch)
                return (a + jac.T @ jac, b + jac.T @ r), None

            (a, b), _ = jax.lax.scan(body, (jnp.zeros((n, n)), jnp.zeros(n)), (xs, ys, ws))
            lam, vec = jnp.linalg.eigh((a + a.T) / 2)
            return jnp.maximum(lam, 0.0), vec, vec.T @ b

        def triangle(block):
            """The (N+1)×(N+1) R-factor of a k×(N+1) block (zero rows appended when k ≤ N)."""
            short = n + 1 - block.shape[0]
            if short > 0:
                block = jnp.concatenate([block, jnp.zeros((short, n + 1), block.dtype)])
            return jnp.linalg.qr(block, mode="r")[: n + 1]

        def augmented(batch):
            jac, r = rows(*batch)
            return jnp.concatenate([jac, r[:, None]], axis=1)

        def body(t, batch):
            return triangle(jnp.concatenate([t, augmented(batch)])), None

        # The first chunk is factored alone: stacking it under a zero triangle would cost 2(N+1)³ flops for
        # nothing, a quarter of the whole factorization when the fitted points are one chunk of ~3N.
        t = triangle(augmented((xs[0], ys[0], ws[0])))
        if xs.shape[0] > 1:
            t, _ = jax.lax.scan(body, t, (xs[1:], ys[1:], ws[1:]))
        return t[:n, :n], t[:n, n]

    def vjp_at(theta, x):
        return lambda v: jax.vjp(lambda t: predict(t, x), theta)[1](v)[0]

    def eigenbasis_system(theta, x, y) -> GaussNewtonSystem:
        """``solver: normal``: in the eigenbasis of JᵀJ every damping is a diagonal solve."""
        lam, vec, beta = factors(theta, x, y)
        no_iterations = jnp.zeros((), jnp.int64)
        jt = vjp_at(theta, x)

        def damped(mu):
            return DampedSolve(-(vec @ (beta / (lam + mu))), no_iterations,
                               lambda v: (-(vec @ ((vec.T @ jt(v)) / (lam + mu))), no_iterations))

        return GaussNewtonSystem(
            damped=damped,
            predicted=lambda mu, delta: jnp.sum(beta * beta * (lam + 2 * mu) / (lam + mu) ** 2),
            largest=lambda: jnp.max(lam),
            zero_gradient=jnp.all(beta == 0))

    def triangular_system(theta, x, y) -> GaussNewtonSystem:
        """``solver: qr``: each damping μ is one QR of the 2N×(N+1) matrix [[R, z], [√μ I, 0]].

        Its R-factor [[R_μ, w], [0, ρ]] gives the least-squares step δ = −R_μ⁻¹ w of
        min ‖[R; √μ I] δ + [z; 0]‖ (backward stable, no squared condition number),
        and R_μᵀR_μ = RᵀR + μI serves the acceleration's second solve.
        """
        r_fac, z = factors(theta, x, y)
        n = r_fac.shape[0]
        no_iterations = jnp.zeros((), jnp.int64)
        jt = vjp_at(theta, x)
        solve_upper = functools.partial(jax.scipy.linalg.solve_triangular, lower=False)

        def damped(mu):
            augmented = jnp.concatenate([jnp.concatenate([r_fac, z[:, None]], axis=1),
                                         jnp.concatenate([jnp.sqrt(mu) * jnp.eye(n), jnp.zeros((n, 1))], axis=1)])
            t = jnp.linalg.qr(augmented, mode="r")
            r_mu, w = t[:n, :n], t[:n, n]

            def accelerate(v):
                return -solve_upper(r_mu, solve_upper(r_mu, jt(v), trans="T")), no_iterations

            return DampedSolve(-solve_upper(r_mu, w), no_iterations, accelerate)

        return GaussNewtonSystem(
            damped=damped,
            predicted=lambda mu, delta: galerkin_decrease(r_fac @ delta, mu, delta),
            largest=lambda: jnp.linalg.svd(r_fac, compute_uv=False)[0] ** 2,
            zero_gradient=jnp.all(r_fac.T @ z == 0))

    def matrix_free_system(theta, x, y, tolerance: Callable | None = None) -> GaussNewtonSystem:
        """J only as products: one linearization of r at θ and its transpose (never D×N).

        ``tolerance(‖Jᵀr‖) -> η``: the solves' relative tolerance (default ``cfg.cg_tol``).
        """
        r, jvp = jax.linearize(lambda t: predict(t, x) - y, theta)
        transpose = jax.linear_transpose(jvp, theta)
        vjp = lambda u: transpose(u)[0]  # noqa: E731
        gradient = vjp(r)  # Jᵀr
        gradient_norm = jnp.linalg.norm(gradient)
        tol = cfg.cg_tol if tolerance is None else tolerance(gradient_norm)
        n = theta.shape[0]

        def solve(mu, b, jtb=None):
            found = krylov.damped_least_squares(jvp, vjp, b, mu, n, tol, cfg.cg_maxiter, jtb)
            return found.x, found.iterations

        def damped(mu):
            step, iterations = solve(mu, -r, -gradient)
            return DampedSolve(step, iterations, lambda v: solve(mu, -v))

        k = min(LARGEST_EIGENVALUE_STEPS, n)
        return GaussNewtonSystem(
            damped=damped,
            predicted=lambda mu, delta: galerkin_decrease(jvp(delta), mu, delta),
            largest=lambda: krylov.largest_eigenvalue(lambda v: vjp(jvp(v)), gradient, k),
            zero_gradient=jnp.all(gradient == 0),
            gradient_norm=gradient_norm, tolerance=jnp.asarray(tol))

    system = {"cg": matrix_free_system, "normal": eigenbasis_system, "qr": triangular_system}[solver]

    def init(theta, x, y):
        value = sse(theta, x, y)
        zero = jnp.zeros((), jnp.int64)
        status = jnp.where(jnp.isfinite(value), RUNNING, NON_FINITE).astype(jnp.int64)
        return LMState(theta, value, -jnp.ones(()), 2.0 * jnp.ones(()), zero, zero, status, x, y, zero,
                       FORCING_MAX * jnp.ones(()), -jnp.ones(()))

    def iterate(state: LMState) -> LMState:
        x, y = state.x, state.y
        if solver == "cg" and cfg.cg_forcing == "eisenstat_walker":
            gn = matrix_free_system(state.theta, x, y, lambda norm: forcing_term(
                state.forcing, state.gradient_norm, norm, cfg.cg_tol))
            forcing, gradient_norm = gn.tolerance, gn.gradient_norm
        else:
            gn = system(state.theta, x, y)
            forcing, gradient_norm = state.forcing, state.gradient_norm
        mu0 = jax.lax.cond(state.mu < 0, lambda: cfg.damping * gn.largest(), lambda: state.mu)
        mu0 = jnp.maximum(mu0, jnp.finfo(jnp.float64).tiny)

        def trial(carry):
            mu, nu, rejections, _, _, _, evals, solves = carry
            solved = gn.damped(mu)
            delta, iterations = solved.step, solved.iterations
            step_ok = jnp.asarray(True)
            predicted = gn.predicted(mu, delta)
            if cfg.geodesic:
                # Geodesic acceleration: r'' = d²/dt² r(θ + tδ) at t=0 (forward-over-forward), then
                # a = −(JᵀJ + μI)⁻¹ Jᵀ r'' and the step δ + a/2 follows the curved valley.
                f = lambda t: predict(t, x)  # noqa: E731
                rpp = jax.jvp(lambda t: jax.jvp(f, (t,), (delta,))[1], (state.theta,), (delta,))[1]
                accel, more = solved.accelerate(rpp)
                iterations = iterations + more
                step_ok = 2 * jnp.linalg.norm(accel) <= cfg.geodesic_ratio * jnp.linalg.norm(delta)
                delta = delta + 0.5 * accel
            new_theta = state.theta + delta
            new_sse = sse(new_theta, x, y)
            rho = (state.sse - new_sse) / predicted
            ok = jnp.isfinite(new_sse) & (new_sse < state.sse) & (predicted > 0) & step_ok
            mu_ok = mu * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            return (jnp.where(ok, mu_ok, mu * nu), jnp.where(ok, 2.0, 2.0 * nu),
                    jnp.where(ok, rejections, rejections + 1), ok, new_theta, new_sse, evals + 1,
                    solves + iterations)

        def keep_trying(carry):
            mu, _, rejections, ok, _, _, _, _ = carry
            return ~ok & (rejections < cfg.max_rejections) & jnp.isfinite(mu)

        carry = (mu0, state.nu, jnp.zeros((), jnp.int64), jnp.asarray(False), state.theta, state.sse,
                 state.evaluations, state.krylov_iterations)
        mu, nu, _, ok, new_theta, new_sse, evals, solves = jax.lax.while_loop(keep_trying, trial, carry)
        iteration = state.iteration + ok.astype(jnp.int64)
        status = jnp.where(ok, jnp.where(iteration >= cfg.maxiter, MAX_STEPS, RUNNING),
                           jnp.where(gn.zero_gradient, CONVERGED, NO_PROGRESS))
        return LMState(jnp.where(ok, new_theta, state.theta), jnp.where(ok, new_sse, state.sse),
                       jnp.maximum(mu, jnp.finfo(jnp.float64).tiny), nu,
                       iteration, evals, status.astype(jnp.int64), x, y, solves, forcing, gradient_norm)

    return init, iterate, system


class LevenbergMarquardt(DenseStage):
    kind = "lm"
    dense_solver, matrix_free_solver = "qr", "cg"

    # Each chunk re-factors the (N+1)² triangle with its rows (see ``solver: qr``), so LM takes the
    # fewest chunks that memory allows: 64 MB of per-sample gradients instead of the default 16.
    chunk_numbers = 2**23

    def functions(self, n_points: int):
        return make_lm(self.cfg, self.predict, self.chunk(n_points), self.solver)

    def init(self, problem: Problem, theta) -> LMState:
        x, y = training_subset(problem, self.cfg.subsample, self.predict, theta, self.cfg.focus)
        return self.functions(x.shape[0])[0](theta, x, y)

    def step(self, state: LMState, problem: Problem) -> LMState:
        return self.functions(state.x.shape[0])[1](state)

    def memory_bytes(self, n_points: int) -> int:
        n, fit = self.n_params, min(n_points, self.cfg.subsample or n_points)
        if self.matrix_free:
            # CGLS's and Lanczos's vectors of N and D, and what autodiff keeps of a forward pass over the fitted
            # points (its activations; ~√N per point for a dense net) for the linearization, its transpose and
            # the geodesic second derivative.
            return 8 * (4 * LARGEST_EIGENVALUE_STEPS * n + 20 * n + 16 * fit + 24 * fit * math.isqrt(n))
        # The (N+1)² QR factor, the SVD's U, S, Vᵀ and one chunk of per-sample gradients (with autodiff temporaries).
        return 8 * (6 * (n + 1) ** 2 + 3 * self.chunk(fit) * n + 6 * fit)

    def info(self, state: LMState) -> dict:
        info = {"damping_trials": state.evaluations, "final_damping": state.mu,
                "fitted_points": jnp.asarray(state.x.shape[0])}
        if self.matrix_free:
            return {**info, "cg_iterations": state.krylov_iterations}
        return {**info, "chunk_size": jnp.asarray(self.chunk(state.x.shape[0]))}

    def describe(self, info: dict) -> dict:
        return {**super().describe(info), "solver": self.solver}


