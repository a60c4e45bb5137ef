"""From a validated config to a finished run: target → data → model → optimizer chain → metrics.

The chain's stages run in order, each starting from the best parameters (lowest
full-batch training loss) of the previous one. The run's reported parameters
are the best seen over the whole chain, so the headline figure is the paper's
"test RMSE at the step of lowest training loss".
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax import approximators, stages, scaling
from precision_jax.config import ConfigError, ExperimentConfig
from precision_jax.data import Dataset, make_dataset
from precision_jax.stages.base import NON_FINITE, CurvePoint, Monitor, Problem, StageResult
from precision_jax.stages.boost import BoostResult, Ensemble, run_boost
from precision_jax.targets import Target, equation_target, formula_target, teacher_target


def resolve_target(cfg: ExperimentConfig) -> Target:
    """The :class:`Target` a config names; unknown equations become a :class:`ConfigError`."""
    t = cfg.target
    try:
        if t.equation is not None:
            return equation_target(t.equation)
        if t.formula is not None:
            return formula_target(t.formula, t.variables)
        return teacher_target(t.teacher.widths, t.teacher.activation, t.teacher.seed)
    except (KeyError, ValueError) as e:
        key = "target.equation" if t.equation is not None else "target.formula" if t.formula else "target.teacher"
        message = e.args[0] if e.args else str(e)
        raise ConfigError(str(message), key) from None


def resolve_train_points(cfg: ExperimentConfig, n_params: int, d: int) -> int:
    """``D``: the configured number, or the paper's tie ``D = N // (d + 1)`` for ``auto``."""
    if cfg.data.train_points != "auto":
        return int(cfg.data.train_points)
    n = n_params // (d + 1)
    if n < 1:
        raise ConfigError(f"auto gives D = N // (d+1) = {n_params} // {d + 1} = 0 training points",
                          "data.train_points")
    return n


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("prec", "jax", "jaxlib", "optax", "jaxopt", "numpy", "scipy", "sympy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def error_metrics(prediction: jax.Array, y: jax.Array) -> dict[str, float]:
    """RMSE, relative RMSE (÷ √mean(y²)) and max |error|, in float64, over the points with a prediction.

    Points where ``prediction`` is NaN (outside an interpolant's domain) are
    left out and counted in ``undefined``; they are never silently dropped.
    """
    rmse, undefined = scaling.rmse(prediction, y, nan_policy="omit")
    return {"rmse": rmse, "relative_rmse": scaling.relative_rmse(prediction, y, nan_policy="omit")[0],
            "max_abs_error": scaling.max_abs_error(prediction, y, nan_policy="omit")[0], "undefined": undefined}


@dataclass
class RunResult:
    config: ExperimentConfig
    summary: dict
    curve: list[CurvePoint]
    theta: Optional[np.ndarray]  # final flat parameters (None for interpolants)
    stages: list[StageResult] = field(default_factory=list)
    extra_files: dict = field(default_factory=dict)  # more files for the run directory (store.save_run)


@dataclass(frozen=True)
class BoostContext:
    """What a ``boost`` stage needs beyond the problem: how to build fresh models, and a PRNG key."""

    model_cfg: object
    d: int
    variables: Optional[tuple] = None
    key: Optional[jax.Array] = None

    def build(self, model_cfg=None):
        return approximators.build_model(model_cfg if model_cfg is not None else self.model_cfg, self.d,
                                         self.variables)


def train_chain(stages, problem: Problem, theta: jax.Array, log_every: int,
                on_log: Optional[Callable[[CurvePoint], None]] = None,
                stage_offset: int = 0, boost: Optional[BoostContext] = None,
                ) -> tuple[jax.Array, list[StageResult], list[CurvePoint]]:
    """Run the optimizer stages in order; returns the best θ, each stage's result and the curve.

    A stage that ends on a non-finite loss stops the chain (the run is
    ``diverged``); its last finite parameters are kept. A ``boost`` stage
    (last in the chain, needs ``boost``) returns a :class:`BoostResult` whose
    ``ensemble`` is the final model; θ stays the main model's.
    """
    monitor = Monitor(problem, on_log)
    results: list[StageResult] = []
    curve: list[CurvePoint] = monitor.curve
    best_theta, best_loss = theta, float(problem.loss(theta))
    for index, stage in enumerate(stages):
        if stage.kind == "boost":
            if index != len(stages) - 1:
                raise ConfigError("a boost stage must be the last of its chain; put later stages in its "
                                  "own train list", f"train.{index}")
            if boost is None:
                raise ConfigError("boosting is not available here (no model to build)", f"train.{index}")
            # The boost stage starts from the best θ so far, like every stage.
            key = boost.key if boost.key is not None else jax.random.PRNGKey(0)
            result, boost_curve = run_boost(stage, problem, best_theta, boost.build, key, log_every,
                                            on_log, stage_offset + index, train_chain)
            results.append(result)
            curve.extend(boost_curve)
            break
        monitor.start_stage(stage_offset + index, stage.kind)
        result = stages.RUNNERS[stage.kind](stage, problem, theta, monitor, log_every)
        results.append(result)
        theta = result.theta
        loss = float(problem.loss(theta))
        if np.isfinite(loss) and (loss <= best_loss or not np.isfinite(best_loss)):
            best_theta, best_loss = theta, loss
        if result.stop_reason == NON_FINITE:
            break
    return best_theta, results, curve


def seeded_data(cfg: ExperimentConfig, target: Target, n_params: int) -> tuple[Dataset, jax.Array]:
    """The run's datasets and its initialisation key: ``PRNGKey(seed)`` splits into (data, init) keys.

    Every path that must see a run's exact data (``prec run``, seed-batched
    sweeps, ``prec hessian``) goes through here.
    """
    data_key, init_key = jax.random.split(jax.random.PRNGKey(cfg.seed))
    if getattr(cfg.model, "init_seed", None) is not None:
        init_key = jax.random.PRNGKey(cfg.model.init_seed)
    data = make_dataset(target, resolve_train_points(cfg, n_params, target.d), cfg.data.test_points, data_key,
                        cfg.data.test_compactification, cfg.data.standardize)
    return data, init_key


def run_experiment(cfg: ExperimentConfig, on_log: Optional[Callable[[CurvePoint], None]] = None) -> RunResult:
    """Train (or fit) the configured approximator and measure it; deterministic for a given config."""
    start = time.perf_counter()
    target = resolve_target(cfg)
    if cfg.model.kind in approximators.INTERPOLANTS:
        return fit_interpolant(cfg, target, start)
    model = approximators.build_model(cfg.model, target.d, target.variables)
    data, init_key = seeded_data(cfg, target, model.n_params)
    problem = Problem.from_model(model, data, jax.random.fold_in(init_key, 2))
    theta0 = model.init(init_key)
    context = BoostContext(cfg.model, target.d, tuple(target.variables), jax.random.fold_in(init_key, 1))
    theta, stages, curve = train_chain(cfg.train, problem, theta0, cfg.output.log_every, on_log, boost=context)
    diverged = any(s.stop_reason == NON_FINITE for s in stages)
    ensemble = stages[-1].ensemble if stages and isinstance(stages[-1], BoostResult) else None
    predict = ensemble.predict if ensemble is not None else (lambda x: model.apply(theta, x))
    summary = summarize(cfg, target, data, model.n_params, model.description,
                        predict(data.x_train), predict(data.x_test),
                        stages, curve, time.perf_counter() - start, "diverged" if diverged else "complete")
    extra = {}
    if ensemble is not None:
        summary["boost_stages"] = len(ensemble.thetas)
        summary["N_total"] = int(sum(int(np.size(t)) for t in ensemble.thetas))
        extra["boost.npz"] = ensemble.arrays()
    return RunResult(cfg, summary, curve, np.asarray(theta), stages, extra)


def load_run_model(run_dir) -> Callable[[np.ndarray], np.ndarray]:
    """The trained model of a saved run as ``predict(x (n, d)) -> (n,)``, boosting stages included.

    Reads ``config.yaml``, ``summary.json`` and ``params.npz`` (plus
    ``boost.npz`` when the run boosted). Inputs are in the model's own input
    space, i.e. already standardized when the config standardizes.
    """
    import json
    from pathlib import Path

    from precision_jax.config import build_config, read_yaml

    run_dir = Path(run_dir)
    cfg = build_config(read_yaml(run_dir / "config.yaml"), source=str(run_dir / "config.yaml"))
    target = json.loads((run_dir / "summary.json").read_text())["target"]
    context = BoostContext(cfg.model, int(target["d"]), tuple(target["variables"]))
    main = context.build()
    boost_file = run_dir / "boost.npz"
    if not boost_file.exists():
        theta = jnp.asarray(np.load(run_dir / "params.npz")["theta"])
        return lambda x: np.asarray(main.apply(theta, jnp.asarray(x, jnp.float64)))
    arrays = np.load(boost_file)
    coefficients = [float(c) for c in arrays["coefficients"]]
    boost_cfg = cfg.train[-1]
    models = [main] + [context.build(boost_cfg.model) for _ in coefficients[1:]]
    ensemble = Ensemble([m.apply for m in models], [jnp.asarray(arrays[f"theta_{k}"]) for k in range(len(models))],
                        coefficients)
    return lambda x: np.asarray(ensemble.predict(jnp.asarray(x, jnp.float64)))


def fit_interpolant(cfg: ExperimentConfig, target: Target, start: float) -> RunResult:
    """Classical approximators: no optimizer chain, one fit from training data or a grid of samples.

    ``approximators.INTERPOLANTS[kind](model_cfg, target, dataset)`` returns an
    object with ``n_params``, ``n_train`` and ``predict(x) -> (n,)`` (NaN where
    undefined, e.g. outside a triangulation's convex hull).
    """
    if cfg.train:
        raise ConfigError(f"a {cfg.model.kind} model is fitted directly; remove the optimizer stages", "train")
    if cfg.data.train_points == "auto":
        raise ConfigError(f"give a number of training points for a {cfg.model.kind} model", "data.train_points")
    data = make_dataset(target, int(cfg.data.train_points), cfg.data.test_points,
                        jax.random.PRNGKey(cfg.seed), cfg.data.test_compactification, False)
    try:
        interpolant = approximators.INTERPOLANTS[cfg.model.kind](cfg.model, target, data)
    except ConfigError:
        raise
    except ValueError as e:
        raise ConfigError(str(e), "model") from None
    fit_seconds = time.perf_counter() - start
    test_prediction = np.asarray(interpolant.predict(np.asarray(data.x_test)))
    train_prediction = np.asarray(interpolant.predict(np.asarray(data.x_train)))
    undefined = int((~np.isfinite(test_prediction)).sum())
    summary = summarize(cfg, target, data, interpolant.n_params, getattr(interpolant, "description", cfg.model.kind),
                        train_prediction, test_prediction,
                        [StageResult("fit", None, 0, "fitted", fit_seconds)], [], time.perf_counter() - start,
                        "complete", {"outside_hull": undefined,
                                     "test_points_scored": int(test_prediction.size - undefined)})
    summary["D"] = int(interpolant.n_train)  # grid-based interpolants sample their own points
    return RunResult(cfg, summary, [], None, [])


def summarize(cfg: ExperimentConfig, target: Target, data: Dataset, n_params: int, description: str,
              train_prediction, test_prediction, stages: list[StageResult], curve: list[CurvePoint],
              wall_seconds: float, status: str, extra_metrics: Optional[dict] = None) -> dict:
    """The run's ``summary.json`` content: metrics, stop reasons, sizes, provenance."""
    train = error_metrics(train_prediction, data.y_train)
    test = error_metrics(test_prediction, data.y_test)
    metrics = {
        "train_rmse": train["rmse"], "test_rmse": test["rmse"],
        "train_relative_rmse": train["relative_rmse"], "test_relative_rmse": test["relative_rmse"],
        "test_max_abs_error": test["max_abs_error"], "train_max_abs_error": train["max_abs_error"],
        # The reported θ is the lowest-training-loss one, so its test RMSE is the paper's headline figure.
        "test_rmse_at_best_train": test["rmse"],
        **(extra_metrics or {}),
    }
    stage_rows = []
    for s in stages:
        points = [p for p in curve if p.stage == len(stage_rows)]
        stage_rows.append({
            "kind": s.kind, "steps": s.steps, "stop_reason": s.stop_reason, "seconds": s.seconds,
            "train_rmse": min((p.train_rmse for p in points if np.isfinite(p.train_rmse)), default=float("nan")),
            "test_rmse_end": points[-1].test_rmse if points else float("nan"), **s.info,
        })
    return {
        "name": cfg.name, "seed": cfg.seed, "status": status,
        "target": {"name": target.name, "d": target.d, "variables": list(target.variables),
                   "lows": list(target.lows), "highs": list(target.highs)},
        "model": description, "N": int(n_params), "D": int(data.n_train), "n_test": int(data.n_test),
        "metrics": metrics, "stages": stage_rows, "wall_seconds": wall_seconds,
        "numerics": {"dtype": str(jnp.asarray(data.y_train).dtype), "jax_enable_x64": bool(jax.config.jax_enable_x64),
                     "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]},
        "versions": package_versions(),
    }
