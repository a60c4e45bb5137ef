"""Adam stage: first-order steps on the MSE, full batch or cyclic mini-batches.

Update (Kingma & Ba), per coordinate, with g_t = ∇L_batch(θ_{t-1}):

    m_t = β₁ m_{t-1} + (1−β₁) g_t,   v_t = β₂ v_{t-1} + (1−β₂) g_t²,
    θ_t = θ_{t-1} − η_t m̂_t / (√v̂_t + ε)

Cyclic batching (the paper's, for training sets larger than ``batch_size``):
step ``s`` uses the ``batch_size`` consecutive training points starting at
``(s · batch_size) mod D``, wrapping around the end of the set. A step whose
loss or update is not finite is not taken, and ends the stage (``non_finite``)
with θ at its last finite value.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from precision_jax.config.engine import checked, non_negative, positive
from precision_jax.config.kinds import stage_config
from precision_jax.engine.stages.base import (
    MAX_STEPS,
    NON_FINITE,
    RUNNING,
    Problem,
    StageBase,
    StageConfig,
    mse,
    tree_where,
)


@stage_config
class AdamConfig(StageConfig):
    kind: Literal["adam"] = "adam"
    lr: float = checked(1e-3, positive, doc="peak learning rate η")
    steps: int = checked(20000, positive, doc="Adam steps")
    schedule: Literal["constant", "cosine", "exponential"] = checked("constant",
                                                                     doc="learning-rate schedule after warm-up")
    final_lr: float = checked(1e-6, positive, doc="η at the last step for cosine/exponential schedules")
    warmup_steps: int = checked(0, non_negative, doc="linear warm-up from η = 0 over this many steps")
    batch_size: Optional[int] = checked(None, positive, doc="cyclic mini-batch size (null: full batch)")
    b1: float = checked(0.9, doc="β₁, first-moment decay")
    b2: float = checked(0.999, doc="β₂, second-moment decay")
    eps: float = checked(1e-8, positive, doc="ε in the denominator")

    display_name, shade = "Adam", "#ececec"

    def build(self, predict, n_params: int) -> "Adam":
        return Adam(self, predict, n_params)


def learning_rate_schedule(cfg: AdamConfig) -> optax.Schedule:
    """η(step) for the configured schedule, with optional linear warm-up from 0."""
    decay_steps = max(cfg.steps - cfg.warmup_steps, 1)
    if cfg.schedule == "constant":
        main = optax.constant_schedule(cfg.lr)
    elif cfg.schedule == "cosine":
        main = optax.cosine_decay_schedule(cfg.lr, decay_steps, alpha=cfg.final_lr / cfg.lr)
    else:
        main = optax.exponential_decay(cfg.lr, decay_steps, cfg.final_lr / cfg.lr)
    if cfg.warmup_steps == 0:
        return main
    warmup = optax.linear_schedule(0.0, cfg.lr, cfg.warmup_steps)
    return optax.join_schedules([warmup, main], [cfg.warmup_steps])


class AdamState(NamedTuple):
    theta: jax.Array
    opt_state: optax.OptState
    iteration: jax.Array
    status: jax.Array


class Adam(StageBase):
    kind = "adam"
    # A fixed-length scan: XLA runs it ~20% faster than a while_loop. The steps past the stage's end are
    # computed and discarded (``step`` takes none once stopped), at most one chunk's worth once per stage.
    loop = "scan"

    def __init__(self, cfg: AdamConfig, predict, n_params: int):
        super().__init__(cfg, predict, n_params)
        self.optimizer = optax.adam(learning_rate_schedule(cfg), b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)

    def init(self, problem: Problem, theta):
        return AdamState(theta, self.optimizer.init(theta), jnp.zeros((), jnp.int64), jnp.asarray(RUNNING, jnp.int64))

    def step(self, state: AdamState, problem: Problem) -> AdamState:
        cfg = self.cfg
        x, y = problem.x_train, problem.y_train
        n = x.shape[0]
        batch = n if cfg.batch_size is None else min(cfg.batch_size, n)
        if batch == n:
            xb, yb = x, y
        else:
            idx = (state.iteration * batch + jnp.arange(batch)) % n
            xb, yb = x[idx], y[idx]
        loss, grad = jax.value_and_grad(lambda t: mse(self.predict, t, xb, yb))(state.theta)
        updates, new_opt_state = self.optimizer.update(grad, state.opt_state, state.theta)
        running = state.status == RUNNING
        ok = jnp.isfinite(loss) & jnp.all(jnp.isfinite(updates))
        take = running & ok
        theta, opt_state = tree_where(take, (optax.apply_updates(state.theta, updates), new_opt_state),
                                      (state.theta, state.opt_state))
        iteration = state.iteration + take.astype(state.iteration.dtype)
        status = jnp.where(running, jnp.where(ok, jnp.where(iteration >= cfg.steps, MAX_STEPS, RUNNING),
                                              NON_FINITE), state.status).astype(jnp.int64)
        return AdamState(theta, opt_state, iteration, status)
