"""Our Levenberg–Marquardt stage checked against an independent implementation, ``jaxopt.LevenbergMarquardt``.

The two minimize the same thing with the same damping rule (Nielsen's, as in
Madsen & Nielsen), but differ in conventions, reconciled here explicitly:

- objective: ours ‖r‖², jaxopt's ½‖r‖². The step (JᵀJ + μI) δ = −Jᵀr and the
  gain ratio ρ = actual/predicted decrease do not depend on the factor.
- initial damping: ours μ₀ = τ·max eig(JᵀJ), jaxopt's μ₀ = p·max diag(JᵀJ);
  we pass p = τ·max eig(JᵀJ) / max diag(JᵀJ).
- a trial: jaxopt's ``update`` is one trial damping (accepted or not); our
  ``iterate`` retries (μ ← μν, ν ← 2ν, as jaxopt) until one is accepted. One of
  our steps is jaxopt's updates up to the first that moves θ, and the trial
  counts must agree.
- geodesic acceleration (both: δ = v + a/2, a = −(JᵀJ + μI)⁻¹ Jᵀ r''(v, v)):
  ours accepts when 2‖a‖ ≤ ratio·‖v‖ (Transtrum & Sethna's form), jaxopt when
  ‖a‖/‖v‖ ≤ ``contribution_ratio_threshold``; we set that to ratio/2. Its gain
  ratio then takes the predicted decrease of v + a/2 where ours takes v's, so
  the damping after an accepted geodesic step may differ; it is compared
  without acceleration only.

The linear algebra is independent: jaxopt materializes J (``jacfwd``) and
solves the augmented least-squares system [J; √μ I] by QR, ours folds chunked
per-sample gradients into an incremental QR and takes the SVD of its factor.

jaxopt 0.8.5 is its final release and warns on import that it is no longer
maintained; only this test and benchmarks/precision_milestones.py import it,
with that warning filtered (and the test skips if it is not installed).
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import precision_jax  # noqa: F401  (float64)
from precision_jax.engine.stages.base import RUNNING
from precision_jax.engine.stages.lm import LMConfig, make_lm
from precision_jax.experiment import MLPConfig
from precision_jax.models import build_mlp, mlp

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="JAXopt is no longer maintained", category=DeprecationWarning)
    jaxopt = pytest.importorskip("jaxopt")

POINTS, CHUNK = 80, 32  # 32 does not divide 80: the last chunk is padded
STUDENT = build_mlp(MLPConfig(depth=3, width=4), 1)  # 1-4-4-1 tanh, N = 33
# 1-2-1 tanh, N = 7: the Jacobian at its own fit has full rank and cond(J) ≈ 1.6e4, so a zero-residual fit is an
# isolated minimum; the 1-4-4-1's J is numerically rank-deficient (cond ≈ 5e17 at θ₀), its minima form a valley.
SMALL = build_mlp(MLPConfig(depth=2, width=2), 1)


def residual_of(model):
    return lambda theta, x, y: model.apply(theta, x) - y


@functools.cache
def ours(model, geodesic: bool):
    """(init, iterate) of our LM stage (τ = 1e-9, qr), jitted once per setting (the shapes never change here)."""
    init, iterate = make_lm(LMConfig(damping=1e-9, geodesic=geodesic), model.apply, CHUNK)[:2]
    return jax.jit(init), jax.jit(iterate)


def reference(model, geodesic: bool, theta, x, y):
    """jaxopt's solver for the problem, with our τ and geodesic ratio translated to its conventions."""
    residual = residual_of(model)
    jac = jax.jacfwd(residual)(theta, x, y)
    jtj = jac.T @ jac
    defaults = LMConfig()
    solver = jaxopt.LevenbergMarquardt(
        residual, damping_parameter=defaults.damping * jnp.linalg.eigvalsh(jtj)[-1] / jnp.max(jnp.diag(jtj)),
        geodesic=geodesic, materialize_jac=True, solver="qr")
    solver.contribution_ratio_threshold = defaults.geodesic_ratio / 2  # not a constructor argument in 0.8.5
    return solver


@functools.partial(jax.jit, static_argnums=(0, 1))
def reference_updates(model, geodesic: bool, theta, x, y, until_accepted, updates):
    """Up to ``updates`` of jaxopt's trials from θ — what its ``run`` loops over — stopping at the first
    accepted one if ``until_accepted``: (θ', μ after, trials). One compilation serves both uses."""
    solver = reference(model, geodesic, theta, x, y)
    state = solver.init_state(theta, x, y)
    state = state._replace(increase_factor=jnp.asarray(2.0))  # a float from the start, as update leaves it

    def more(carry):
        params, _, trials = carry
        return (trials < updates) & ~(until_accepted & jnp.any(params != theta))

    def update(carry):
        params, state, trials = carry
        params, state = solver.update(params, state, x, y)
        return params, state, trials + 1

    params, after, trials = jax.lax.while_loop(more, update, (theta, state, jnp.zeros((), jnp.int64)))
    return params, after.damping_factor, trials


def points():
    return jax.random.uniform(jax.random.PRNGKey(1), (POINTS, 1), jnp.float64, -1, 1)


@pytest.mark.parametrize("model, geodesic", [(STUDENT, True), (SMALL, False)], ids=["1-4-4-1 geodesic", "1-2-1"])
def test_first_step_matches_jaxopt(model, geodesic):
    """A random student on 80 points of a 1-3-3-1 tanh teacher: one accepted step each."""
    x = points()
    y = mlp.mlp_apply(mlp.init_mlp(jax.random.PRNGKey(0), (1, 3, 3, 1)), x, "tanh")
    theta0 = model.init(jax.random.PRNGKey(2))
    init, iterate = ours(model, geodesic)
    state = iterate(init(theta0, x, y))
    assert int(state.status) == RUNNING and int(state.iteration) == 1
    theta, mu_after, trials = reference_updates(model, geodesic, theta0, x, y, True, 50)

    assert int(trials) == int(state.evaluations)
    if geodesic:  # from this start the first geodesic trials are rejected: the retry rule is compared too
        assert int(trials) > 1
    step, ref_step = state.theta - theta0, theta - theta0
    assert float(jnp.linalg.norm(step - ref_step) / jnp.linalg.norm(ref_step)) < 1e-10
    np.testing.assert_allclose(float(state.sse), float(jnp.sum((model.apply(theta, x) - y) ** 2)), rtol=1e-10)
    if not geodesic:  # the same ρ, so the same damping for the next step
        np.testing.assert_allclose(float(state.mu), float(mu_after), rtol=1e-10)


def test_same_minimum_as_jaxopt():
    """An exactly solvable problem (y = f(θ*, x), the 1-2-1 net): both solvers, run to the end, return θ*."""
    x = points()
    theta_star = SMALL.init(jax.random.PRNGKey(0))
    y = SMALL.apply(theta_star, x)
    theta0 = theta_star + 0.1 * jax.random.normal(jax.random.PRNGKey(2), theta_star.shape)

    init, iterate = ours(SMALL, False)
    state = init(theta0, x, y)
    while int(state.status) == RUNNING and int(state.iteration) < 60:
        state = iterate(state)
    theta_ref = reference_updates(SMALL, False, theta0, x, y, False, 60)[0]

    scale = float(jnp.linalg.norm(theta_star))
    for theta in (state.theta, theta_ref):
        assert float(jnp.sqrt(jnp.mean((SMALL.apply(theta, x) - y) ** 2))) < 1e-15
        assert float(jnp.linalg.norm(theta - theta_star)) / scale < 1e-11
    assert float(jnp.linalg.norm(state.theta - theta_ref)) / scale < 1e-11
