"""Boosting: fit fresh approximators to the scaled training residual, K stages in all.

After the chain before it has produced f₁, stage k = 2, …, K computes the
residual of the current ensemble F_{k−1} = f₁ + Σ_{j<k} f_j / c_j,

    r_k = y − F_{k−1}(x),   c_k = 1 / scale(r_k),

where ``scale`` is mean|r| (the paper), the RMS or max|r|, and fits a fresh
model f_k (same shape as the main model unless ``model`` says otherwise,
freshly initialised) to c_k r_k with its own optimizer chain ``train``. The
prediction becomes F_k = F_{k−1} + f_k / c_k. Because c_k r_k is O(1), the
stage's optimizers work at their comfortable scale while F gains the orders
of magnitude. A stage that does not lower the ensemble's training MSE is
discarded and ends the boosting (``no_progress``).

The stage must be the last in a chain (later refinement goes into its own
``train`` list). :func:`precision_jax.training.train_chain` runs it, since it
needs the model config; its :class:`BoostResult` carries the ensemble.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax.config import ConfigError, checked, stage_config
from precision_jax.stages.base import MAX_STEPS, NO_PROGRESS, CurvePoint, Problem, StageResult


def _at_least_two(value, key):
    if value < 2:
        raise ConfigError(f"boosting needs K >= 2 stages (the main model counts as stage 1), got {value}", key)


@stage_config
class BoostConfig:
    kind: Literal["boost"] = "boost"
    train: Any = None  # the optimizer chain of every boosting stage (list of stages)
    stages: int = checked(2, _at_least_two, doc="K, counting the main model as stage 1")
    normalize: Literal["mean_abs", "rms", "max"] = "mean_abs"
    model: Any = None  # None: the main model's shape

    def __post_init__(self):
        from precision_jax.config import _parse_model, _parse_stages

        if self.train is None:
            raise ConfigError("a boost stage needs its own optimizer chain, e.g. train: [{kind: bfgs}]", "train")
        if isinstance(self.train, (list, tuple)) and all(isinstance(s, Mapping) for s in self.train):
            object.__setattr__(self, "train", _parse_stages(self.train, "train"))
        elif not isinstance(self.train, tuple):
            raise ConfigError(f"expected a list of stages, got {self.train!r}", "train")
        if not self.train:
            raise ConfigError("a boost stage needs at least one optimizer stage", "train")
        for i, s in enumerate(self.train):
            if getattr(s, "kind", None) == "boost":
                raise ConfigError("boost stages do not nest; raise `stages` instead", f"train.{i}.kind")
        if isinstance(self.model, Mapping):
            object.__setattr__(self, "model", _parse_model(self.model, "model"))


def residual_scale(r: np.ndarray, how: str) -> float:
    """The size of a residual vector: mean|r|, √mean(r²) or max|r|."""
    a = np.abs(np.asarray(r, np.float64))
    return float({"mean_abs": np.mean(a), "rms": np.sqrt(np.mean(a * a)), "max": np.max(a)}[how])


@dataclass
class Ensemble:
    """F(x) = Σ_k coefficients[k] · applies[k](thetas[k], x), coefficient 1 for the main model."""

    applies: list[Callable[[jax.Array, jax.Array], jax.Array]]
    thetas: list[jax.Array]
    coefficients: list[float]
    descriptions: list[str] = field(default_factory=list)

    def predict(self, x: jax.Array) -> jax.Array:
        return _predict(self.applies, self.thetas, self.coefficients, x)

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``boost.npz`` holds: ``theta_k`` for every stage and the ``coefficients`` (1/c_k)."""
        data = {f"theta_{k}": np.asarray(t, np.float64) for k, t in enumerate(self.thetas)}
        data["coefficients"] = np.asarray(self.coefficients, np.float64)
        return data


@dataclass
class BoostResult(StageResult):
    ensemble: Ensemble | None = None


def run_boost(cfg: BoostConfig, problem: Problem, theta: jax.Array, build: Callable, key: jax.Array,
              log_every: int, on_log, stage_index: int, chain: Callable) -> tuple[BoostResult, list[CurvePoint]]:
    """Fit stages 2..K; ``build(model_cfg_or_None) -> TrainableModel``, ``chain`` is ``train_chain``.

    Returns the result (its ``info['boost']`` has each stage's scale, RMSEs,
    sub-stage rows) and the curve points of every sub-stage in ensemble units.
    """
    import time

    t0 = time.perf_counter()
    ensemble = Ensemble([problem.predict], [theta], [1.0], ["main"])
    rows, curve = [], []
    reason = MAX_STEPS
    x, y, xt, yt = problem.x_train, problem.y_train, problem.x_test, problem.y_test
    for k in range(1, cfg.stages):
        f_train = np.asarray(_predict(ensemble.applies, ensemble.thetas, ensemble.coefficients, x))
        f_test = np.asarray(_predict(ensemble.applies, ensemble.thetas, ensemble.coefficients, xt))
        r, r_test = np.asarray(y) - f_train, np.asarray(yt) - f_test
        before = float(np.mean(r * r))
        scale = residual_scale(r, cfg.normalize)
        if not scale > 0 or not np.isfinite(scale):
            reason = NO_PROGRESS
            break
        model = build(cfg.model)
        # Each round draws its own training subsets (stages with ``subsample``), independent of the last.
        sub = Problem(model.apply, x, jnp.asarray(r / scale), xt, jnp.asarray(r_test / scale), model.n_params,
                      problem.stage_key(1000 + k))
        label = f"boost{k}"

        def relabel(p: CurvePoint, scale=scale, label=label) -> CurvePoint:
            return CurvePoint(stage_index, f"{label}/{p.kind}", p.step, p.train_rmse * scale, p.test_rmse * scale,
                              p.seconds)

        sub_on_log = (lambda p: on_log(relabel(p))) if on_log is not None else None
        theta_k, results, sub_curve = chain(cfg.train, sub, model.init(jax.random.fold_in(key, k)), log_every,
                                            sub_on_log)
        curve.extend(relabel(p) for p in sub_curve)
        candidate = Ensemble(ensemble.applies + [model.apply], ensemble.thetas + [theta_k],
                             ensemble.coefficients + [scale], ensemble.descriptions + [model.description])
        g_train = np.asarray(_predict(candidate.applies, candidate.thetas, candidate.coefficients, x))
        g_test = np.asarray(_predict(candidate.applies, candidate.thetas, candidate.coefficients, xt))
        after = float(np.mean((g_train - np.asarray(y)) ** 2))
        accepted = bool(np.isfinite(after) and after < before)
        rows.append({
            "stage": k + 1, "scale": scale, "coefficient": 1.0 / scale, "model": model.description,
            "n_params": model.n_params, "accepted": accepted,
            "train_rmse_before": float(np.sqrt(before)), "train_rmse": float(np.sqrt(after)),
            "test_rmse": float(np.sqrt(np.mean((g_test - np.asarray(yt)) ** 2))),
            "substages": [{"kind": s.kind, "steps": s.steps, "stop_reason": s.stop_reason, "seconds": s.seconds,
                           **{k2: v for k2, v in s.info.items() if k2 != "spectra"}} for s in results],
        })
        if not accepted:
            reason = NO_PROGRESS
            break
        ensemble = candidate
    info = {"stages": len(ensemble.thetas), "normalize": cfg.normalize, "boost": rows}
    result = BoostResult("boost", theta, sum(len(r["substages"]) for r in rows), reason,
                         time.perf_counter() - t0, info, ensemble)
    return result, curve


def _predict(applies, thetas, coefficients, x):
    out = applies[0](thetas[0], x) * coefficients[0]
    for apply, theta, c in zip(applies[1:], thetas[1:], coefficients[1:]):
        out = out + c * apply(theta, x)
    return out
