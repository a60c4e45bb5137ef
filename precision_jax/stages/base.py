"""What every optimizer stage shares: the objective, the monitor, the result.

A stage is a function ``run(cfg, problem, theta, monitor) -> StageResult``
that starts from the flat parameter vector ``theta`` and improves the
full-batch mean squared error

    L(θ) = (1/D) Σ_i (f(θ, x_i) − y_i)²

over the training set. Stages run their steps inside jitted
``lax.scan``/``lax.while_loop`` chunks of ``log_every`` steps and return to
Python only between chunks, to let the :class:`Monitor` record a curve point.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax.approximators import TrainableModel
from precision_jax.data import Dataset

# Why a stage ended; written to the run summary.
MAX_STEPS = "max_steps"
CONVERGED = "converged"
LINE_SEARCH_FAILED = "line_search_failed"
NO_PROGRESS = "no_progress"
NON_FINITE = "non_finite"

SUBSAMPLE_DOC = ("fit this many training points, drawn once per stage (null: all); "
                 "the curve still scores the full sets")
FOCUS_DOC = "fraction of the subsample taken as the points of largest |residual| at the stage start"


@dataclass(frozen=True)
class Problem:
    """A model, its data and the jitted functions that every stage needs.

    ``predict(θ, x)`` maps θ ``(N,)`` and x ``(n, d)`` to ``(n,)``;
    ``x_train``/``y_train`` are what the stage fits (for boosting, a scaled
    residual), ``x_test``/``y_test`` what it is monitored on.
    """

    predict: Callable[[jax.Array, jax.Array], jax.Array]
    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    n_params: int
    key: Optional[jax.Array] = None  # draws the stages' training subsets; None: PRNGKey(0)

    @staticmethod
    def from_model(model: TrainableModel, data: Dataset, key: Optional[jax.Array] = None) -> "Problem":
        return Problem(model.apply, data.x_train, data.y_train, data.x_test, data.y_test, model.n_params, key)

    def loss(self, theta: jax.Array, x: jax.Array | None = None, y: jax.Array | None = None) -> jax.Array:
        """Mean squared error on ``(x, y)``, the training set by default."""
        x = self.x_train if x is None else x
        y = self.y_train if y is None else y
        r = self.predict(theta, x) - y
        return jnp.mean(r * r)

    def residuals(self, theta: jax.Array) -> jax.Array:
        """``f(θ, x_i) − y_i`` on the training set, shape ``(D,)``."""
        return self.predict(theta, self.x_train) - self.y_train

    def stage_key(self, salt: int) -> jax.Array:
        """The problem's key (``PRNGKey(0)`` if it has none) folded with ``salt``."""
        return jax.random.fold_in(self.key if self.key is not None else jax.random.PRNGKey(0), salt)

    def training_subset(self, size: Optional[int], salt: int, theta: Optional[jax.Array] = None,
                        focus: float = 0.0) -> tuple[jax.Array, jax.Array]:
        """``(x, y)``: ``size`` training points drawn without replacement (all of them for ``None``).

        A stage with a ``subsample`` fits these points only; the monitor still
        scores the full training and test sets. A fraction ``focus`` of them are
        the points of largest |f(θ, x_i) − y_i| at ``theta`` (where a uniform
        draw is thinnest, e.g. near the box's faces, is where a boosted residual
        is largest); the rest are uniform over the others. The draw depends on
        the problem's key and ``salt`` (the stage index), so consecutive stages
        and boosting rounds see different subsets and the run stays reproducible.
        """
        n = int(self.x_train.shape[0])
        if size is None or size >= n:
            return self.x_train, self.y_train
        key = self.stage_key(salt)
        n_worst = int(round(focus * size)) if theta is not None else 0
        if n_worst:
            worst = jnp.argsort(-jnp.abs(self.residuals(theta)))[:n_worst]
            others = jnp.ones(n).at[worst].set(0.0)
            rest = jax.random.choice(key, n, (int(size) - n_worst,), replace=False, p=others / jnp.sum(others))
            rows = jnp.sort(jnp.concatenate([worst, rest]))
        else:
            rows = jnp.sort(jax.random.choice(key, n, (int(size),), replace=False))
        return self.x_train[rows], self.y_train[rows]


@dataclass
class CurvePoint:
    stage: int
    kind: str
    step: int
    train_rmse: float
    test_rmse: float
    seconds: float


@dataclass
class StageResult:
    kind: str
    theta: jax.Array  # the stage's best parameters (lowest training loss seen)
    steps: int
    stop_reason: str
    seconds: float = 0.0
    info: dict = field(default_factory=dict)  # stage-specific records (line-search counts, spectra, ...)


class Monitor:
    """Records curve points and keeps the parameters of lowest training loss.

    ``log(θ, step)`` evaluates train and test RMSE (full sets, float64) in one
    jitted call, appends a :class:`CurvePoint`, updates the best parameters and
    calls ``on_log(point)`` (the CLI's live display).
    """

    def __init__(self, problem: Problem, on_log: Optional[Callable[[CurvePoint], None]] = None):
        self.problem = problem
        self.on_log = on_log
        self.curve: list[CurvePoint] = []
        self.best_loss = np.inf
        self.best_theta: jax.Array | None = None
        self.best_test_rmse = np.nan
        self.stage, self.kind, self.t0 = 0, "", time.perf_counter()

        @jax.jit
        def evaluate(theta):
            return problem.loss(theta), problem.loss(theta, problem.x_test, problem.y_test)

        self._evaluate = evaluate

    def start_stage(self, index: int, kind: str) -> None:
        self.stage, self.kind, self.t0 = index, kind, time.perf_counter()
        # A stage's own best starts fresh, but it never hands back worse than it got.
        self.best_loss, self.best_theta = np.inf, None

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def log(self, theta: jax.Array, step: int) -> float:
        """Record a point at ``step``; returns the training MSE (``inf`` if not finite)."""
        train_mse, test_mse = (float(v) for v in self._evaluate(theta))
        finite = np.isfinite(train_mse)
        point = CurvePoint(self.stage, self.kind, int(step), float(np.sqrt(train_mse)) if finite else np.nan,
                           float(np.sqrt(test_mse)) if np.isfinite(test_mse) else np.nan, self.elapsed())
        self.curve.append(point)
        if finite and train_mse < self.best_loss:
            self.best_loss, self.best_theta, self.best_test_rmse = train_mse, theta, point.test_rmse
        if self.on_log is not None:
            self.on_log(point)
        return train_mse if finite else np.inf

    def result(self, kind: str, theta_fallback: jax.Array, steps: int, stop_reason: str, **info) -> StageResult:
        theta = self.best_theta if self.best_theta is not None else theta_fallback
        return StageResult(kind, theta, int(steps), stop_reason, self.elapsed(), info)


def tree_where(condition: jax.Array, new: Any, old: Any) -> Any:
    """Elementwise select between two pytrees of the same structure."""
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)
