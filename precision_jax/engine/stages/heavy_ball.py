"""Heavy-ball gradient descent (Polyak momentum), written only against the stage protocol.

With g_t = ∇L(θ_{t−1}) on the full training set,

    v_t = β v_{t−1} − η g_t,     θ_t = θ_{t−1} + v_t.

This file is the whole stage: a config and a state, and a pure ``init`` and
``step`` (one iteration); the driver gives it the loop, curves, best-θ
tracking, seed batching and chain hand-over.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp

from precision_jax.config.engine import checked, fraction, positive
from precision_jax.config.kinds import stage_config
from precision_jax.engine.stages.base import MAX_STEPS, NON_FINITE, RUNNING, Problem, StageBase, StageConfig, mse


@stage_config
class HeavyBallConfig(StageConfig):
    kind: Literal["heavy_ball"] = "heavy_ball"
    lr: float = checked(1e-2, positive, doc="step size η")
    momentum: float = checked(0.9, fraction, doc="β, the fraction of the last step kept")
    steps: int = checked(1000, positive, doc="steps")

    display_name, shade = "heavy ball", "#f3efcf"

    def build(self, predict, n_params: int) -> "HeavyBall":
        return HeavyBall(self, predict, n_params)


class HeavyBallState(NamedTuple):
    theta: jax.Array
    velocity: jax.Array
    iteration: jax.Array
    status: jax.Array


class HeavyBall(StageBase):
    kind = "heavy_ball"

    def init(self, problem: Problem, theta) -> HeavyBallState:
        return HeavyBallState(theta, jnp.zeros_like(theta), jnp.zeros((), jnp.int64),
                              jnp.asarray(RUNNING, jnp.int64))

    def step(self, s: HeavyBallState, problem: Problem) -> HeavyBallState:
        cfg = self.cfg
        grad = jax.grad(lambda t: mse(self.predict, t, problem.x_train, problem.y_train))(s.theta)
        velocity = cfg.momentum * s.velocity - cfg.lr * grad
        ok = jnp.all(jnp.isfinite(velocity))
        iteration = s.iteration + 1
        status = jnp.where(ok, jnp.where(iteration >= cfg.steps, MAX_STEPS, RUNNING), NON_FINITE)
        return HeavyBallState(jnp.where(ok, s.theta + velocity, s.theta), jnp.where(ok, velocity, s.velocity),
                              iteration, status.astype(jnp.int64))
