"""Seed-batched training: S runs that differ only in their seed, in one compiled loop per stage.

For seeds s = 1..S the data (x_s, y_s) and initial parameters θ_s differ, the
model and the optimizer chain do not. Every stage's inner loop is a pure
function of (state, data) (:func:`precision_jax.stages.adam.make_adam_chunk`,
:func:`precision_jax.stages.quasi_newton.make_quasi_newton`), so

    state_{1..S} ← lax.map(chunk)(state_{1..S}, x_{1..S}, y_{1..S})

advances all seeds in one call: one compiled program per (model, stage,
shape) instead of S, reused across seed groups, and one dispatch per chunk.
The seeds run one after another inside that program (``lax.map``), not
``vmap``-ed: a vmapped chunk turns its matrix products into batched ones, which
XLA's CPU backend blocks differently depending on the batch size, so some
widths rounded differently in the last bit — and Adam followed by BFGS
amplified that one ulp into test RMSEs 1.5e-2 apart from ``prec run``'s. Under
``lax.map`` each seed executes exactly the operations ``jax.jit(chunk)``
executes alone.

Everything between chunks — curve points, best-θ tracking, stop decisions,
the chain's hand-over of the lowest-loss θ — replays
:func:`precision_jax.training.train_chain` and
:class:`precision_jax.stages.base.Monitor` per seed, so each seed's
:class:`~precision_jax.training.RunResult` is what ``prec run`` produces, bit
for bit on CPU. The scalars the sequential path computes op by op (the BFGS
objective scale, the chain's best-loss comparisons, the final predictions) are
computed the same way here, because BFGS amplifies a one-ulp difference in its
scale into a visibly different run.

A seed that stops early (BFGS converged or failed line search, a non-finite
loss) is frozen: its quasi-Newton ``while_loop`` gets ``until = iteration``
and does nothing, and its Adam state is restored between chunks.

Compiled programs are cached per (model config, input dimension, variable
names for models wired by name, stage config, chunk length), so a sweep
reuses them across seed groups of the same shape (e.g. the same net on
several equations of equal dimension).
"""

from __future__ import annotations

import inspect
import json
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax import approximators
from precision_jax.config import ExperimentConfig, to_dict
from precision_jax.stages.adam import make_adam_chunk
from precision_jax.stages.base import MAX_STEPS, NON_FINITE, CurvePoint, Problem, StageResult
from precision_jax.stages.quasi_newton import _STOP_REASONS, RUNNING, make_quasi_newton

BATCHABLE_STAGES = ("adam", "bfgs", "lbfgs")

_CACHE: dict[tuple, Any] = {}


def can_batch(configs: Sequence[ExperimentConfig]) -> bool:
    """True when every config is a trainable model whose stages all have a seed-mappable loop."""
    if not configs:
        return False
    first = configs[0]
    return (first.model.kind in approximators.BUILDERS
            and first.model.kind not in approximators.INTERPOLANTS
            and all(stage.kind in BATCHABLE_STAGES and getattr(stage, "subsample", None) is None
                    for stage in first.train)
            and all(_without_seed(c) == _without_seed(first) for c in configs))


def _without_seed(cfg: ExperimentConfig) -> str:
    d = to_dict(cfg)
    d.pop("seed", None)
    d.pop("output", None)
    return json.dumps(d, sort_keys=True)


def _cached(key: tuple, build: Callable[[], Any]) -> Any:
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


class _Model:
    """The model of a group, shared by its compiled programs (cached by its config)."""

    def __init__(self, cfg: ExperimentConfig, d: int, variables: Sequence[str] | None = None):
        structure = to_dict(cfg.model)
        structure.pop("init_seed", None)  # the initial θ is an input, not part of the program
        names = tuple(variables) if variables is not None else None
        # Graph-wired models (modular) wire inputs by name, so their names are part of the program;
        # other models ignore them, and their programs stay shared across equations of equal d.
        wired = "variables" in inspect.signature(approximators.BUILDERS[cfg.model.kind]).parameters
        key = ("model", json.dumps(structure, sort_keys=True), d, names if wired else None)
        self.key = key
        self.model = _cached(key, lambda: approximators.build_model(cfg.model, d, names))
        # A data-free Problem: the chunk functions only call loss(θ, x, y), i.e. predict.
        self.problem = Problem(self.model.apply, None, None, None, None, self.model.n_params)

    def evaluate(self):
        """``(θ, x_tr, y_tr, x_te, y_te) -> (train MSE, test MSE)`` per seed, the Monitor's numbers."""
        problem = self.problem

        def one(args):
            t, xa, ya, xb, yb = args
            return problem.loss(t, xa, ya), problem.loss(t, xb, yb)

        # lax.map, not vmap: a batched reduction over the test set may round differently.
        return _cached(self.key + ("evaluate",), lambda: jax.jit(lambda *a: jax.lax.map(one, a)))


class _Monitor:
    """:class:`~precision_jax.stages.base.Monitor` for S seeds at once (only ``active`` ones log)."""

    def __init__(self, model: _Model, data: dict, n_seeds: int):
        self.evaluate = model.evaluate()
        self.data = data
        self.curves: list[list[CurvePoint]] = [[] for _ in range(n_seeds)]
        self.stage, self.kind, self.t0 = 0, "", time.perf_counter()
        self.best_loss = np.full(n_seeds, np.inf)
        self.best_theta: list[Any] = [None] * n_seeds

    def start_stage(self, index: int, kind: str) -> None:
        self.stage, self.kind, self.t0 = index, kind, time.perf_counter()
        self.best_loss[:] = np.inf
        self.best_theta = [None] * len(self.best_theta)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def log(self, theta: jax.Array, steps: np.ndarray, active: np.ndarray) -> np.ndarray:
        d = self.data
        train, test = (np.asarray(v) for v in self.evaluate(theta, d["x_train"], d["y_train"],
                                                             d["x_test"], d["y_test"]))
        seconds = self.elapsed()
        theta_host = np.asarray(theta)
        for s in np.flatnonzero(active):
            finite = np.isfinite(train[s])
            point = CurvePoint(self.stage, self.kind, int(steps[s]), float(np.sqrt(train[s])) if finite else np.nan,
                               float(np.sqrt(test[s])) if np.isfinite(test[s]) else np.nan, seconds)
            self.curves[s].append(point)
            if finite and train[s] < self.best_loss[s]:
                self.best_loss[s], self.best_theta[s] = train[s], theta_host[s].copy()
        return np.where(np.isfinite(train), train, np.inf)

    def result(self, s: int, kind: str, fallback: np.ndarray, steps: int, reason: str, **info) -> StageResult:
        theta = self.best_theta[s] if self.best_theta[s] is not None else fallback
        return StageResult(kind, jnp.asarray(theta), int(steps), reason, self.elapsed(), info)


def _eager_losses(model: _Model, theta: jax.Array, x: jax.Array, y: jax.Array) -> np.ndarray:
    """Per-seed training MSE evaluated op by op, exactly as ``float(problem.loss(θ))`` in the sequential path.

    A jitted or vmapped evaluation may differ in the last bit, and BFGS rescales its
    objective by this value, so a one-ulp difference would grow into a different run.
    """
    return np.array([float(model.problem.loss(theta[s], x[s], y[s])) for s in range(theta.shape[0])])


def _seed_map(run: Callable) -> Callable:
    """``run`` applied to each seed's slice of its (stacked) arguments, in one jitted program.

    ``lax.map`` compiles ``run``'s own unbatched computation into a loop over the
    leading axis, so every seed executes the operations ``jax.jit(run)`` executes
    alone. ``vmap`` would turn its matrix products into batched ones, which XLA's
    CPU backend blocks differently depending on the batch size: results then
    differ in the last bit (seen at width 16 with 4 seeds), and BFGS amplifies
    that into a different run.
    """
    return jax.jit(lambda *args: jax.lax.map(lambda a: run(*a), args))


def _stack(arrays: Sequence[Any]) -> jax.Array:
    return jnp.stack([jnp.asarray(a) for a in arrays])


def _adam_stage(cfg, model: _Model, monitor: _Monitor, theta: jax.Array, active: np.ndarray,
                log_every: int) -> list[StageResult | None]:
    """Replays :func:`precision_jax.stages.adam.run_adam` for every active seed."""
    x, y = monitor.data["x_train"], monitor.data["y_train"]
    S = theta.shape[0]

    def chunk_fn(length: int):
        key = model.key + ("adam", repr(cfg), length)
        return _cached(key, lambda: _seed_map(make_adam_chunk(cfg, model.problem, length)[1]))

    optimizer = make_adam_chunk(cfg, model.problem, 1)[0]
    chunk = min(log_every, cfg.steps)
    run = chunk_fn(chunk)
    opt_state = jax.vmap(optimizer.init)(theta)
    step = jnp.zeros(S, jnp.int64)
    monitor.log(theta, np.zeros(S, np.int64), active)
    running = active.copy()
    results: list[StageResult | None] = [None] * S
    done = 0
    while done < cfg.steps and running.any():
        if cfg.steps - done < chunk:
            chunk = cfg.steps - done
            run = chunk_fn(chunk)
        new_theta, new_state, new_step, finite = run(theta, opt_state, step, x, y)
        keep = jnp.asarray(running)
        # Stopped seeds keep their state, as their own loop would have ended.
        select = lambda a, b: jnp.where(keep.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)  # noqa: E731
        theta = select(new_theta, theta)
        opt_state = jax.tree.map(select, new_state, opt_state)
        step = select(new_step, step)
        steps_host, finite_host = np.asarray(step), np.asarray(finite)
        done = int(steps_host[running].max()) if running.any() else done
        monitor.log(theta, steps_host, running)
        theta_host = np.asarray(theta)
        for s in np.flatnonzero(running & ~finite_host):
            results[s] = monitor.result(s, "adam", theta_host[s], int(steps_host[s]), NON_FINITE)
            running[s] = False
    theta_host = np.asarray(theta)
    for s in np.flatnonzero(running):
        results[s] = monitor.result(s, "adam", theta_host[s], int(np.asarray(step)[s]), MAX_STEPS)
    return results


def _quasi_newton_stage(cfg, model: _Model, monitor: _Monitor, theta: jax.Array, active: np.ndarray,
                        log_every: int) -> list[StageResult | None]:
    """Replays :func:`precision_jax.stages.quasi_newton.run_quasi_newton` for every active seed."""
    x, y = monitor.data["x_train"], monitor.data["y_train"]
    S = theta.shape[0]

    def build():
        init, run_chunk = make_quasi_newton(cfg, model.problem)
        return _seed_map(init), _seed_map(run_chunk)

    init, run_chunk = _cached(model.key + ("qn", repr(cfg)), build)
    loss0 = _eager_losses(model, theta, x, y)  # the objective's scale: must match run_quasi_newton bit for bit
    usable = cfg.rescale & (loss0 > 0) & np.isfinite(loss0)
    scale = jnp.asarray(np.where(usable, loss0, 1.0))
    state = init(theta, x, y, scale)
    monitor.log(theta, np.zeros(S, np.int64), active)
    results: list[StageResult | None] = [None] * S
    theta_host = np.asarray(theta)
    for s in np.flatnonzero(active & ~np.isfinite(loss0)):
        results[s] = monitor.result(s, cfg.kind, theta_host[s], 0, NON_FINITE)
    running = active & np.isfinite(loss0)
    # Lanes that are not running get ``until = iteration`` and stay untouched by the while_loop.
    iteration = np.zeros(S, np.int64)
    while True:
        status = np.asarray(state.status)
        running &= (iteration < cfg.maxiter) & (status == RUNNING)
        if not running.any():
            break
        until = np.where(running, np.minimum(iteration + log_every, cfg.maxiter), iteration)
        state = run_chunk(state, x, y, scale, jnp.asarray(until, jnp.int64))
        iteration = np.asarray(state.iteration)
        monitor.log(state.theta, iteration, running)
    status, theta_host = np.asarray(state.status), np.asarray(state.theta)
    evaluations = np.asarray(state.linesearch_steps)
    for s in np.flatnonzero(active & np.isfinite(loss0)):
        reason = _STOP_REASONS.get(int(status[s]), MAX_STEPS)
        results[s] = monitor.result(s, cfg.kind, theta_host[s], int(iteration[s]), reason,
                                    linesearch_evaluations=int(evaluations[s]))
    return results


STAGE_LOOPS = {"adam": _adam_stage, "bfgs": _quasi_newton_stage, "lbfgs": _quasi_newton_stage}


def run_seeds(configs: Sequence[ExperimentConfig]) -> list:
    """Train the seed group ``configs`` together; one :class:`~precision_jax.training.RunResult` per config.

    Each result equals ``run_experiment(config)``'s (bit for bit on CPU);
    ``summary["wall_seconds"]`` is the group's wall time divided by its size,
    and ``summary["batch"]`` records how many seeds shared the loop.
    """
    from precision_jax.training import RunResult, resolve_target, seeded_data, summarize

    if not can_batch(configs):
        raise ValueError("these configs cannot be trained as one seed batch")
    start = time.perf_counter()
    first = configs[0]
    target = resolve_target(first)
    model = _Model(first, target.d, target.variables)
    datasets, thetas = [], []
    for cfg in configs:
        dataset, init_key = seeded_data(cfg, target, model.model.n_params)
        datasets.append(dataset)
        thetas.append(model.model.init(init_key))
    data = {k: _stack([getattr(ds, k) for ds in datasets]) for k in ("x_train", "y_train", "x_test", "y_test")}
    S = len(configs)
    theta = _stack(thetas)
    monitor = _Monitor(model, data, S)

    # train_chain, per seed: the best θ over the chain, stop after a non-finite stage.
    best_theta = np.asarray(theta).copy()
    best_loss = _eager_losses(model, theta, data["x_train"], data["y_train"])
    stages: list[list[StageResult]] = [[] for _ in range(S)]
    active = np.ones(S, bool)
    for index, stage in enumerate(first.train):
        if not active.any():
            break
        monitor.start_stage(index, stage.kind)
        results = STAGE_LOOPS[stage.kind](stage, model, monitor, theta, active, first.output.log_every)
        theta_host = np.asarray(theta).copy()
        for s in np.flatnonzero(active):
            stages[s].append(results[s])
            theta_host[s] = np.asarray(results[s].theta)
        theta = jnp.asarray(theta_host)
        new_loss = _eager_losses(model, theta, data["x_train"], data["y_train"])
        for s in np.flatnonzero(active):
            if np.isfinite(new_loss[s]) and (new_loss[s] <= best_loss[s] or not np.isfinite(best_loss[s])):
                best_theta[s], best_loss[s] = theta_host[s], new_loss[s]
            if results[s].stop_reason == NON_FINITE:
                active[s] = False

    # The final predictions op by op, as run_experiment makes them (a few calls per seed).
    apply = model.model.apply
    train_pred = [np.asarray(apply(jnp.asarray(best_theta[s]), data["x_train"][s])) for s in range(S)]
    test_pred = [np.asarray(apply(jnp.asarray(best_theta[s]), data["x_test"][s])) for s in range(S)]
    wall = time.perf_counter() - start
    out = []
    for s, cfg in enumerate(configs):
        diverged = any(r.stop_reason == NON_FINITE for r in stages[s])
        summary = summarize(cfg, target, datasets[s], model.model.n_params, model.model.description,
                            train_pred[s], test_pred[s], stages[s], monitor.curves[s], wall / S,
                            "diverged" if diverged else "complete")
        summary["batch"] = {"seeds": S, "group_wall_seconds": wall}
        out.append(RunResult(cfg, summary, monitor.curves[s], best_theta[s], stages[s]))
    return out
