"""The one training loop: any chain of stages, for one seed or a batch of seeds.

:func:`run_chain` runs stages in order. Every stage starts from the previous
stage's best parameters (lowest full-training-set loss among its curve
points), and the chain's result is the best parameters seen over all its
stages, so the headline figure is the paper's "test RMSE at the step of lowest
training loss". A stage that ends on a non-finite loss stops its seed's chain
(the run is ``diverged``), keeping the last finite parameters.

A stage (:mod:`precision_jax.engine.stages.base`) supplies one iteration, and
the driver owns the loop, as optimistix's ``iterative_solve`` does for its
solvers: a chunk is up to ``log_every`` calls of the stage's ``step``, in a
``lax.while_loop`` that ends when the stage's ``terminate`` says so, or in a
fixed-length ``lax.scan`` of ``min(log_every, max_steps)`` calls for a stage
that asks for one (``loop = "scan"``: Adam, which XLA runs ~20 % faster so;
its steps past the end are computed and discarded). A chunk runs for all
seeds in one jitted program through ``lax.map``: the seeds' computations
are the unbatched ones, looped over, so a seed's numbers are the same whether
it runs alone (a batch of one) or with others. (``vmap`` would batch the
matrix products, which XLA's CPU backend blocks differently with the batch
size: results then differ in the last bit, and BFGS amplifies that into a
different run.) Between chunks of ``log_every`` iterations the driver is
the only place that records curve points, tracks each seed's best θ and
decides which seeds still run; a seed that has stopped is passed over by a
``lax.cond`` while the others continue.

Stage objects are cached per (stage config, model function, N), compiled
programs per (stage config, model function, N, ``log_every``) and, within
that, per argument shapes, so boosting rounds, seed groups and sweeps reuse
them. Each stage is compiled ahead of its first step
(``jit(...).lower(...).compile()``), so that its compile time is measured on
its own and reported (a stage row's ``compile_seconds``; a :class:`Compiling`
event for the progress display) instead of hiding in the first chunk's time.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax.config.engine import ConfigError
from precision_jax.engine.stages.base import (
    GOAL,
    NON_FINITE,
    REASONS,
    CurvePoint,
    Predict,
    Problem,
    Stage,
    build_stage,
    mse,
)
from precision_jax.numerics.random_keys import stage_key


@dataclass(frozen=True)
class Compiling:
    """Event for ``on_compile``: the programs of stage ``stage`` of round ``round`` are about to be compiled."""

    round: int
    stage: int
    kind: str

    def label(self) -> str:
        return f"{'train' if self.round == 0 else f'boost.{self.round}'}.{self.stage} ({self.kind})"


@dataclass
class ChainOutcome:
    """One seed's chain: best θ, its training MSE, a row per stage, the curve, whether it diverged or reached
    its goal."""

    theta: np.ndarray
    loss: float
    stages: list[dict] = field(default_factory=list)
    curve: list[CurvePoint] = field(default_factory=list)
    diverged: bool = False
    goal_reached: bool = False


@dataclass(frozen=True)
class Programs:
    """A stage and its compiled batch programs (leading axis: seeds)."""

    stage: Stage
    start: "SeedProgram"  # (problems, θ) -> (state, report)
    advance: "SeedProgram"  # (state, problems, running) -> (state, report)
    result: "SeedProgram"  # state -> StageOutput, batched

    def compiled(self, problems: Problem, theta: jax.Array) -> bool:
        """Whether the programs for these argument shapes are compiled already."""
        return self.start.compiled(problems, theta)

    def compile(self, problems: Problem, theta: jax.Array) -> float:
        """Compile the three programs for these shapes (if not yet); the seconds it took."""
        seconds = self.start.compile(problems, theta)
        state = self.start.shapes(problems, theta)[0]
        running = jax.ShapeDtypeStruct((theta.shape[0],), jnp.bool_)
        seconds += self.advance.compile(state, problems, running)
        return seconds + self.result.compile(state)


_STAGES: dict[tuple, Stage] = {}
_PROGRAMS: dict[tuple, Programs] = {}
DIVERGED_FACTOR = 2.0


def build_chain(stage_cfgs: Sequence, predict: Predict, n_params: int, prefix: str = "train") -> list[Stage]:
    """The chain's stage objects; a stage that cannot run this model raises a ConfigError at ``prefix.i``.

    Building checks sizes and settings but compiles nothing, so it runs before any data are drawn.
    """
    stages = []
    for i, cfg in enumerate(stage_cfgs):
        try:
            stages.append(stage_for(cfg, predict, n_params))
        except ConfigError as e:
            raise ConfigError(f"({cfg.kind}) {e.what}", ".".join(p for p in (f"{prefix}.{i}", e.key) if p)) from None
    return stages


def stage_for(cfg, predict: Predict, n_params: int) -> Stage:
    """The stage object of config ``cfg`` for this model (built once per config, model and N)."""
    key = (cfg, predict, n_params)
    if key not in _STAGES:
        _STAGES[key] = build_stage(cfg, predict, n_params)
    return _STAGES[key]


def programs(cfg, predict: Predict, n_params: int, log_every: int) -> Programs:
    key = (cfg, predict, n_params, log_every)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = _compile(stage_for(cfg, predict, n_params), predict, log_every)
    return _PROGRAMS[key]


def chunk(stage: Stage, log_every: int) -> Callable:
    """``advance(state, problem) -> state``: up to ``log_every`` of the stage's steps (module docstring).

    The while loop counts its own steps, so a stage's counters are its own
    business: LM counts accepted steps, LCS attempts and accepted steps.
    """
    if stage.loop == "scan":
        length = min(log_every, stage.max_steps)

        def advance(state, problem: Problem):
            return jax.lax.scan(lambda s, _: (stage.step(s, problem), None), state, None, length=length)[0]

        return advance
    if stage.loop != "while":
        raise ValueError(f"stage {stage.kind!r}: loop must be 'while' or 'scan', not {stage.loop!r}")

    def advance(state, problem: Problem):
        def running(carry):
            done, _ = stage.terminate(carry[1])
            return (carry[0] < log_every) & ~done

        def one_step(carry):
            return carry[0] + 1, stage.step(carry[1], problem)

        return jax.lax.while_loop(running, one_step, (jnp.zeros((), jnp.int64), state))[1]

    return advance


def _compile(stage: Stage, predict: Predict, log_every: int) -> Programs:
    advance = chunk(stage, log_every)

    def report(state, problem: Problem):
        theta, steps, _ = stage.result(state)
        done, reason = stage.terminate(state)
        return (theta, steps, done, reason, mse(predict, theta, problem.x_train, problem.y_train),
                mse(predict, theta, problem.x_test, problem.y_test))

    def start_one(args):
        problem, theta = args
        state = stage.init(problem, theta)
        return state, report(state, problem)

    def advance_one(args):
        state, problem, running = args
        state = jax.lax.cond(running, lambda s: advance(s, problem), lambda s: s, state)
        return state, report(state, problem)

    def advance_alone(args):
        state, problem, _ = args  # a lone seed is advanced only while it runs
        state = advance(state, problem)
        return state, report(state, problem)

    return Programs(
        stage,
        SeedProgram(start_one),
        SeedProgram(advance_one, advance_alone),
        SeedProgram(stage.result),
    )


class SeedProgram:
    """``one`` (a function of one seed's pytree of arguments) over the leading seed axis, jitted.

    Several seeds go through ``lax.map``; a batch of one calls ``alone`` (default
    ``one``) directly: the same per-seed computation without the loop and the
    ``lax.cond`` around it (~5 % per dense-BFGS iteration on the quickstart, 1.48
    vs 1.56 ms). ``tests/test_driver.py`` checks both give the same bits.
    Executables are kept per argument shapes; :meth:`compile` builds one ahead
    of its first call (arguments may be ``jax.ShapeDtypeStruct``s).
    """

    def __init__(self, one: Callable, alone: Optional[Callable] = None):
        self._mapped = jax.jit(lambda *args: jax.lax.map(one, args if len(args) > 1 else args[0]))
        single_fn = alone or one
        self._single = jax.jit(lambda *args: jax.tree.map(lambda v: v[None], single_fn(
            jax.tree.map(lambda v: v[0], args if len(args) > 1 else args[0]))))
        self._executables: dict[tuple, Callable] = {}
        self._lock = threading.Lock()  # the chain's compiler thread and the caller may ask for the same program

    @staticmethod
    def _signature(args) -> tuple:
        leaves, tree = jax.tree.flatten(args)
        return tree, tuple((tuple(v.shape), str(v.dtype)) for v in leaves)

    def _jitted(self, args) -> Callable:
        return self._single if jax.tree.leaves(args)[0].shape[0] == 1 else self._mapped

    def compiled(self, *args) -> bool:
        return self._signature(args) in self._executables

    def shapes(self, *args):
        """The outputs' shapes and dtypes (``jax.eval_shape``), compiling nothing."""
        return jax.eval_shape(self._jitted(args), *args)

    def compile(self, *args) -> float:
        signature = self._signature(args)
        with self._lock:
            if signature in self._executables:
                return 0.0
            t0 = time.perf_counter()
            self._executables[signature] = self._jitted(args).lower(*args).compile()
            return time.perf_counter() - t0

    def __call__(self, *args):
        signature = self._signature(args)
        if signature not in self._executables:
            self.compile(*args)
        return self._executables[signature](*args)


def _compile_ahead(jobs: list[tuple[int, Programs, Problem, jax.ShapeDtypeStruct]]) -> dict[int, Future]:
    """Compile later stages' programs in a background thread while the first one runs: {stage index: Future
    of its compile seconds}. XLA compiles outside the GIL, so on a machine with a core to spare the next
    stage is ready when the current one ends instead of compiling then (the daemon thread never holds up exit).
    """
    futures = {index: Future() for index, *_ in jobs}

    def work():
        for index, progs, problems, theta in jobs:
            if futures[index].set_running_or_notify_cancel():
                try:
                    futures[index].set_result(progs.compile(problems, theta))
                except BaseException as e:  # noqa: BLE001  (handed to the stage that needs it, which raises it there)
                    futures[index].set_exception(e)

    if jobs:
        threading.Thread(target=work, name="prec-compile-ahead", daemon=True).start()
    return futures


def _stage_problems(problems: Problem, subsets: jax.Array, index: int) -> Problem:
    """``problems`` with each seed's key set to its stage-``index`` subsample key."""
    return replace(problems, key=jax.vmap(stage_key, in_axes=(0, None))(subsets, index))


Offer = Callable[[Callable[[], dict], str, bool], None]


def run_chain(stage_cfgs: Sequence, predict: Predict, n_params: int, problems: Problem, theta: jax.Array,
              log_every: int, *, active: Optional[np.ndarray] = None, round_index: int = 0,
              units: Optional[np.ndarray] = None, on_log: Optional[Callable[[CurvePoint], None]] = None,
              on_compile: Optional[Callable[[Compiling], None]] = None,
              resume: Optional[dict] = None, offer: Optional[Offer] = None,
              goal: Optional[float] = None) -> list[Optional[ChainOutcome]]:
    """Run the stages for every seed; one :class:`ChainOutcome` per seed (``None`` for inactive seeds).

    ``problems`` and ``theta`` are stacked over seeds (leading axis S);
    ``problems.key`` holds each seed's subsets key (:class:`precision_jax.numerics.random_keys.RunKeys`).
    Curve RMSEs are multiplied by ``units`` (per seed; a boosting round's
    residual scale, so the curve reads in the fitted model's units).
    ``on_log`` sees the first active seed's points as they come;
    ``on_compile`` a :class:`Compiling` event before a stage whose programs
    must still be compiled (the caller waits for that).

    Checkpoints: at every chunk boundary ``offer(snapshot, position, force)``
    is called with a function that builds this chain's snapshot (a dict of
    arrays and plain data); ``resume`` is such a snapshot, and the chain then
    continues from that boundary exactly. A Ctrl-C during a chunk offers the
    last boundary's snapshot with ``force=True`` before it propagates.

    A seed's chain stops (``diverged``) when a stage ends on a non-finite loss
    or with a training RMSE above ``DIVERGED_FACTOR`` times the one it started from.
    With a ``goal``, a seed whose curve point has a training RMSE (in ``units``) at or below it ends its stage
    there (``stop_reason: goal``) and its chain (``goal_reached``): the check costs nothing, as the curve's
    full-training-set loss is computed at every chunk boundary anyway.
    """
    S = int(theta.shape[0])
    units = np.ones(S) if units is None else np.asarray(units, np.float64)
    stages = build_chain(stage_cfgs, predict, n_params)
    if resume is None:
        active = np.ones(S, bool) if active is None else np.asarray(active, bool).copy()
        theta_host = np.asarray(theta).copy()
        outcomes = [ChainOutcome(theta_host[s].copy(), np.inf) if active[s] else None for s in range(S)]
        first_stage = 0
    else:
        active, theta_host = np.asarray(resume["active"], bool).copy(), np.asarray(resume["theta_host"]).copy()
        outcomes = [None if o is None else ChainOutcome(np.asarray(o["theta"]), float(o["loss"]), list(o["stages"]),
                                                        list(o["curve"]), bool(o["diverged"]),
                                                        bool(o.get("goal_reached", False)))
                    for o in resume["outcomes"]]
        first_stage = int(resume["stage"])
    watched = int(np.flatnonzero(active)[0]) if active.any() else -1
    subsets = problems.key
    theta_shape = jax.ShapeDtypeStruct(theta_host.shape, theta_host.dtype)
    ahead = _compile_ahead([(i, programs(stage_cfgs[i], predict, n_params, log_every),
                             _stage_problems(problems, subsets, i), theta_shape)
                            for i in range(first_stage + 1, len(stages))])
    for index in range(first_stage, len(stages)):
        cfg, stage = stage_cfgs[index], stages[index]
        if not active.any():  # every seed diverged: the stages still waiting to be compiled never will run
            for future in ahead.values():
                future.cancel()
            break
        progs = programs(cfg, predict, n_params, log_every)
        stage_problems = _stage_problems(problems, subsets, index)
        inner = resume["in_stage"] if resume is not None and index == first_stage else None
        if inner is None:
            best_loss, best_theta = np.full(S, np.inf), theta_host.copy()
            points: list[list[CurvePoint]] = [[] for _ in range(S)]
            reasons, steps = np.zeros(S, np.int64), np.zeros(S, np.int64)
            t0 = time.perf_counter()
        else:
            best_loss, best_theta = np.asarray(inner["best_loss"]).copy(), np.asarray(inner["best_theta"]).copy()
            points = [list(p) for p in inner["points"]]
            reasons, steps = np.asarray(inner["reasons"]).copy(), np.asarray(inner["steps"]).copy()
            t0 = time.perf_counter() - float(inner["seconds"])

        def log(report, lanes):
            thetas, step_counts, done, reason, train_mse, test_mse = (np.asarray(v) for v in report)
            seconds = time.perf_counter() - t0
            for s in np.flatnonzero(lanes):
                finite = np.isfinite(train_mse[s])
                point = CurvePoint(round_index, index, stage.kind, int(step_counts[s]),
                                   float(np.sqrt(train_mse[s]) * units[s]) if finite else np.nan,
                                   float(np.sqrt(test_mse[s]) * units[s]) if np.isfinite(test_mse[s]) else np.nan,
                                   seconds)
                points[s].append(point)
                if finite and train_mse[s] < best_loss[s]:
                    best_loss[s], best_theta[s] = train_mse[s], thetas[s]
                if on_log is not None and s == watched:
                    on_log(point)
            reasons[lanes] = reason[lanes]
            steps[lanes] = step_counts[lanes]
            done = np.asarray(done, bool)
            if goal is not None:
                reached = lanes & (np.sqrt(train_mse) * units <= goal)
                reasons[reached] = GOAL
                done = done | reached
            return done

        def snapshot(state, running):
            """This boundary's state, copied: a later chunk's bookkeeping must not leak into it."""
            return {"stage": index, "active": active.copy(), "theta_host": theta_host.copy(),
                    "outcomes": [None if o is None else {"theta": o.theta, "loss": o.loss, "stages": list(o.stages),
                                                         "curve": list(o.curve), "diverged": o.diverged,
                                                         "goal_reached": o.goal_reached}
                                 for o in outcomes],
                    "in_stage": {"state": jax.tree.leaves(state), "running": running.copy(),
                                 "best_loss": best_loss.copy(), "best_theta": best_theta.copy(),
                                 "points": [list(p) for p in points], "reasons": reasons.copy(),
                                 "steps": steps.copy(), "seconds": time.perf_counter() - t0}}

        theta_now = jnp.asarray(theta_host)
        if on_compile is not None and not progs.compiled(stage_problems, theta_now):
            on_compile(Compiling(round_index, index, stage.kind))
        compile_seconds = ahead[index].result() if index in ahead else progs.compile(stage_problems, theta_now)
        if inner is None:
            state, report = progs.start(stage_problems, theta_now)
            running = active & ~log(report, active)
        else:
            shapes = progs.start.shapes(stage_problems, theta_now)[0]
            state = jax.tree.unflatten(jax.tree.structure(shapes), [jnp.asarray(a) for a in inner["state"]])
            running = np.asarray(inner["running"], bool).copy()
        position = f"{'train' if round_index == 0 else f'boost round {round_index}'} stage {index} ({stage.kind})"
        while running.any():
            boundary = snapshot(state, running) if offer is not None else None
            if offer is not None:
                offer(lambda: boundary, position, False)
            try:
                # The wait for a chunk happens where its results are read (in log), so both are covered.
                new_state, report = progs.advance(state, stage_problems, jnp.asarray(running))
                done = log(report, running)
            except KeyboardInterrupt:
                if offer is not None:
                    offer(lambda: boundary, position, True)
                raise
            state = new_state
            running &= ~done
        seconds = time.perf_counter() - t0
        info = jax.tree.map(np.asarray, progs.result(state).info)
        for s in np.flatnonzero(active):
            outcome = outcomes[s]
            curve = points[s]
            finite_train = [p.train_rmse for p in curve if np.isfinite(p.train_rmse)]
            # A stage that ends far above where it started diverged, even if its loss stayed finite. The margin
            # keeps a subsampled stage, which may end a little above its start on the full set, from counting.
            rose = (len(curve) > 1 and np.isfinite(curve[0].train_rmse)
                    and not curve[-1].train_rmse <= DIVERGED_FACTOR * curve[0].train_rmse)
            outcome.stages.append({
                "round": round_index, "stage": index, "kind": stage.kind, "steps": int(steps[s]),
                "stop_reason": REASONS.get(int(reasons[s]), "max_steps"), "seconds": seconds,
                "compile_seconds": compile_seconds,
                "train_rmse": min(finite_train) if finite_train else float("nan"),
                "test_rmse_end": curve[-1].test_rmse if curve else float("nan"),
                **({"diverged": f"ended above {DIVERGED_FACTOR:g}× its starting RMSE"} if rose else {}),
                **stage.describe({k: v[s] for k, v in info.items()}),
            })
            outcome.curve.extend(curve)
            if np.isfinite(best_loss[s]):
                theta_host[s] = best_theta[s]
                if best_loss[s] <= outcome.loss or not np.isfinite(outcome.loss):
                    outcome.theta, outcome.loss = best_theta[s].copy(), float(best_loss[s])
            if reasons[s] == NON_FINITE or rose:
                outcome.diverged = True
                active[s] = False
            elif reasons[s] == GOAL:
                outcome.goal_reached = True
                active[s] = False
    return outcomes
