"""Adam stage: first-order steps on the MSE, full batch or cyclic mini-batches.

Update (Kingma & Ba), per coordinate, with g_t = ∇L_batch(θ_{t-1}):

    m_t = β₁ m_{t-1} + (1−β₁) g_t,   v_t = β₂ v_{t-1} + (1−β₂) g_t²,
    θ_t = θ_{t-1} − η_t m̂_t / (√v̂_t + ε)

Cyclic batching (the paper's, for training sets larger than ``batch_size``):
step ``s`` uses the ``batch_size`` consecutive training points starting at
``(s · batch_size) mod D``, wrapping around the end of the set.
"""

from __future__ import annotations

from typing import Literal, Optional

import jax
import jax.numpy as jnp
import optax

from precision_jax.config import checked, non_negative, positive, stage_config
from precision_jax.stages.base import MAX_STEPS, NON_FINITE, Monitor, Problem, StageResult, tree_where


@stage_config
class AdamConfig:
    kind: Literal["adam"] = "adam"
    lr: float = checked(1e-3, positive, doc="peak learning rate η")
    steps: int = checked(20000, positive)
    schedule: Literal["constant", "cosine", "exponential"] = "constant"
    final_lr: float = checked(1e-6, positive, doc="η at the last step for cosine/exponential schedules")
    warmup_steps: int = checked(0, non_negative)
    batch_size: Optional[int] = checked(None, lambda v, k: positive(v, k), doc="None: full batch")
    b1: float = 0.9
    b2: float = 0.999
    eps: float = checked(1e-8, positive)


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


def make_adam_chunk(cfg: AdamConfig, problem: Problem, chunk: int):
    """A pure function ``(θ, opt_state, step, x, y) -> (θ, opt_state, step, finite)`` running ``chunk`` steps.

    It takes the training set as arguments (not closed over) so it can be
    ``vmap``-ed over seeds. A non-finite loss freezes θ at its last finite
    value and clears ``finite``.
    """
    optimizer = optax.adam(learning_rate_schedule(cfg), b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)

    def run(theta, opt_state, step, x, y):
        n = x.shape[0]
        batch = n if cfg.batch_size is None else min(cfg.batch_size, n)

        def one_step(carry, _):
            theta, opt_state, step, finite = carry
            if batch == n:
                xb, yb = x, y
            else:
                idx = (step * batch + jnp.arange(batch)) % n
                xb, yb = x[idx], y[idx]
            loss, grad = jax.value_and_grad(problem.loss)(theta, xb, yb)
            updates, new_state = optimizer.update(grad, opt_state, theta)
            ok = finite & jnp.isfinite(loss) & jnp.all(jnp.isfinite(updates))
            theta, opt_state = tree_where(ok, (optax.apply_updates(theta, updates), new_state), (theta, opt_state))
            return (theta, opt_state, step + ok.astype(step.dtype), ok), None

        (theta, opt_state, step, finite), _ = jax.lax.scan(
            one_step, (theta, opt_state, step, jnp.asarray(True)), None, length=chunk)
        return theta, opt_state, step, finite

    return optimizer, run


def run_adam(cfg: AdamConfig, problem: Problem, theta: jax.Array, monitor: Monitor, log_every: int) -> StageResult:
    chunk = min(log_every, cfg.steps)
    optimizer, run = make_adam_chunk(cfg, problem, chunk)
    run = jax.jit(run)
    opt_state = optimizer.init(theta)
    step = jnp.asarray(0, jnp.int64)
    monitor.log(theta, 0)
    done = 0
    while done < cfg.steps:
        if cfg.steps - done < chunk:  # a last, shorter chunk compiles once more
            chunk = cfg.steps - done
            run = jax.jit(make_adam_chunk(cfg, problem, chunk)[1])
        theta, opt_state, step, finite = run(theta, opt_state, step, problem.x_train, problem.y_train)
        done = int(step)
        monitor.log(theta, done)
        if not bool(finite):
            return monitor.result("adam", theta, done, NON_FINITE)
    return monitor.result("adam", theta, done, MAX_STEPS)
