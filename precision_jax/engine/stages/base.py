"""The stage protocol: what every optimizer stage is, and what the driver needs from it.

A stage improves the flat parameter vector θ (shape ``(N,)``) of a model
``predict(θ, x)`` on the training mean squared error

    L(θ) = (1/D) Σ_i (f(θ, x_i) − y_i)².

As optimistix's solvers are to its ``iterative_solve``, a stage is an object
with four pure, jittable methods, and :mod:`precision_jax.engine.driver` owns
the only loop around them:

``init(problem, θ) -> state``
    Everything the stage needs from the start point: its training subsample
    (drawn with ``problem.key``), objective scale, optimizer state.
``step(state, problem) -> state``
    One iteration. The driver calls it up to ``log_every`` times per chunk,
    in a ``lax.while_loop`` that stops as soon as ``terminate`` says so, or,
    for a stage with ``loop = "scan"``, in a fixed-length ``lax.scan`` of
    ``min(log_every, max_steps)`` calls (XLA runs Adam's ~20 % faster so):
    such a stage's ``step`` must leave a stopped state as it is, since the
    steps past its end are computed and discarded.
``terminate(state) -> (done, reason)``
    ``reason`` is one of the codes below; ``RUNNING`` while not done.
``result(state) -> (θ, steps, info)``
    The current parameters, the steps done so far (the curve's x axis) and a
    dict of arrays for the run summary, turned into JSON by ``describe(info)``.

Besides these, ``memory_bytes(n_points)`` estimates the stage's peak memory
so that a run too big for the machine is refused before it starts.

A state is a pytree of arrays, so the driver can ``lax.map`` these functions
over a batch of seeds: one compiled program serves one run or many, and a
seed's numbers do not depend on the batch it ran in. The driver also records
the curve, keeps each stage's lowest-loss θ and hands it to the next stage.

A stage kind is its config class, a :class:`StageConfig` registered with
``config.kinds.stage_config`` (the one registry, ``STAGE_KINDS``): its fields
are the schema, and its methods the kind's other facts (``build`` the stage
object, the display name and plot shade, a cost estimate, the keys a run id
leaves out). A new stage is one new file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional, Protocol

import jax
import jax.numpy as jnp
import numpy as np

# Why a stage ended (the status codes every stage's state uses; 0 while running). GOAL is set by the driver, not a
# stage: the chain's training RMSE reached its goal at a curve point (a budgeted `train: auto`).
RUNNING, MAX_STEPS, CONVERGED, LINE_SEARCH_FAILED, NO_PROGRESS, NON_FINITE, GOAL = range(7)
REASONS = {MAX_STEPS: "max_steps", CONVERGED: "converged", LINE_SEARCH_FAILED: "line_search_failed",
           NO_PROGRESS: "no_progress", NON_FINITE: "non_finite", GOAL: "goal"}

SUBSAMPLE_DOC = ("fit this many training points, drawn once per stage (null: all); "
                 "the curve still scores the full sets")
FOCUS_DOC = "fraction of the subsample taken as the points of largest |residual| at the stage start"

Predict = Callable[[jax.Array, jax.Array], jax.Array]


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Problem:
    """One seed's data for a stage: a pytree of arrays, so a batch of seeds stacks along axis 0.

    ``x_*`` have shape ``(n, d)``, ``y_*`` ``(n,)``; ``x_train``/``y_train``
    is what the stage fits (for a boosting round, the scaled residual),
    ``x_test``/``y_test`` what the curve reports. ``key`` draws this stage's
    training subsample (:func:`precision_jax.numerics.random_keys.stage_key`).
    """

    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    key: jax.Array


class StageOutput(NamedTuple):
    theta: jax.Array
    steps: jax.Array
    info: dict


class Stage(Protocol):
    kind: str
    loop: str  # "while" or "scan": how the driver runs a chunk of steps (module docstring)
    max_steps: int  # iterations at most; a "scan" chunk is never longer

    def init(self, problem: Problem, theta: jax.Array) -> Any: ...

    def step(self, state: Any, problem: Problem) -> Any: ...

    def terminate(self, state: Any) -> tuple[jax.Array, jax.Array]: ...

    def result(self, state: Any) -> StageOutput: ...

    def describe(self, info: dict) -> dict: ...

    def memory_bytes(self, n_points: int) -> int: ...


@dataclass(frozen=True)
class CurvePoint:
    round: int  # 0: the main chain; k ≥ 1: boosting round k
    stage: int  # index in that round's chain
    kind: str
    step: int
    train_rmse: float  # of the whole fitted model so far, full training set
    test_rmse: float
    seconds: float  # since the stage started


class StageConfig:
    """What a stage kind is besides its fields: a base for the (frozen dataclass) stage configs.

    The methods here are the kind's facts that live outside the loop; a config
    class overrides those that differ for its kind.
    """

    display_name = ""  # in figures and tables
    shade = "#eeeeee"  # background of the stage's span on a learning curve

    def build(self, predict: Predict, n_params: int) -> "Stage":
        """The stage object for a model ``predict`` with ``n_params`` parameters (ConfigError if it cannot run it)."""
        raise NotImplementedError

    def iterations(self) -> int:
        """The most iterations the stage may run."""
        for key in ("steps", "maxiter"):
            if hasattr(self, key):
                return int(getattr(self, key))
        return 1

    def fitted_points(self, n_train: int) -> int:
        """The training points one iteration works on (a subsample or a mini-batch, else all ``n_train``)."""
        for key in ("subsample", "batch_size"):
            value = getattr(self, key, None)
            if value:
                return min(int(value), n_train)
        return n_train

    def iteration_work(self, n_params: int, points: int) -> float:
        """One iteration's work in parameter·point units: a gradient, N·points (overridden by costlier kinds)."""
        return float(n_params * points)

    def work(self, n_params: int, n_train: int) -> float:
        """A rough ceiling of the stage's work (parameter·point units), for a wall-time estimate before a run."""
        return self.iterations() * self.iteration_work(n_params, self.fitted_points(n_train))

    @classmethod
    def id_neutral_keys(cls, fields: dict) -> tuple[str, ...]:
        """Keys of a resolved stage config (``fields``) that a run id leaves out: keys added to the schema after
        runs were first written, while they hold the value that does what a config without them did."""
        return ()

    @classmethod
    def former_defaults(cls) -> dict:
        """Keys whose default changed, with the value a stored config written without them ran at: reading a
        stored run's config back (``store.read_config``) fills them in, so it still says what the run did."""
        return {}


def build_stage(cfg: StageConfig, predict: Predict, n_params: int) -> Stage:
    return cfg.build(predict, n_params)


class StageBase:
    """Defaults shared by the stages: ``terminate`` and ``result`` read ``theta``, ``iteration``, ``status``."""

    kind = ""
    loop = "while"

    def __init__(self, cfg, predict: Predict, n_params: int):
        self.cfg, self.predict, self.n_params = cfg, predict, n_params

    @property
    def max_steps(self) -> int:
        return self.cfg.iterations()

    def terminate(self, state):
        return state.status != RUNNING, state.status

    def result(self, state) -> StageOutput:
        return StageOutput(state.theta, state.iteration, self.info(state))

    def info(self, state) -> dict:
        return {}

    def memory_bytes(self, n_points: int) -> int:
        """Peak memory of one seed's stage on ``n_points`` training points (a few vectors of N and D)."""
        return 8 * (8 * self.n_params + 4 * n_points)

    def describe(self, info: dict) -> dict:
        """JSON-ready summary fields from ``info``'s arrays (scalars become Python numbers)."""
        return {k: np.asarray(v).item() if np.ndim(v) == 0 else np.asarray(v).tolist() for k, v in info.items()}


def mse(predict: Predict, theta: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of ``predict(θ, ·)`` on ``(x, y)``."""
    r = predict(theta, x) - y
    return jnp.mean(r * r)


def training_subset(problem: Problem, size: Optional[int], predict: Predict, theta: jax.Array,
                    focus: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """``(x, y)``: ``size`` training points drawn without replacement (all of them for ``None``).

    A fraction ``focus`` of them are the points of largest |f(θ, x_i) − y_i|
    (where a uniform draw is thinnest, e.g. near the box's faces, is where a
    boosted residual is largest); the rest are uniform over the others. The
    draw depends on ``problem.key`` only, so it is the same for a seed alone
    or in a batch. Jittable: ``size`` and ``focus`` are static.
    """
    n = problem.x_train.shape[0]
    if size is None or size >= n:
        return problem.x_train, problem.y_train
    n_worst = int(round(focus * size))
    if n_worst:
        worst = jnp.argsort(-jnp.abs(predict(theta, problem.x_train) - problem.y_train))[:n_worst]
        others = jnp.ones(n).at[worst].set(0.0)
        rest = jax.random.choice(problem.key, n, (int(size) - n_worst,), replace=False, p=others / jnp.sum(others))
        rows = jnp.sort(jnp.concatenate([worst, rest]))
    else:
        rows = jnp.sort(jax.random.choice(problem.key, n, (int(size),), replace=False))
    return problem.x_train[rows], problem.y_train[rows]


def tree_where(condition: jax.Array, new: Any, old: Any) -> Any:
    """Elementwise select between two pytrees of the same structure."""
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)
