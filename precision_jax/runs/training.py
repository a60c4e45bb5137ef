"""From validated configs to finished runs: target → data → model → stage chains → boosting → run records.

A *seed group* is a list of configs that differ only in their seed. It is
trained as one batch (:func:`precision_jax.engine.driver.run_chain` maps every stage
over the seeds), and a single run is a group of one, so ``prec run`` and a
sweep produce the same numbers for the same config.

The fitted model is a sum F(x) = f₀(x) + Σ_k c_k f_k(x). f₀ is the configured
model trained by ``train``; with a ``boost`` section, each round k = 1…R
computes the residual r_k = y − F_{k−1}(x), its scale c_k (mean |r|, RMS or
max |r|), and fits a fresh model f_k (initialised from the round's key) to
r_k / c_k with the round's own chain. Because r_k / c_k is O(1), the stages
work at their comfortable scale while F gains the orders of magnitude. A round
that does not lower the training MSE of F is discarded and ends that seed's
boosting. Classical interpolants (simplex, spline, Chebyshev) are fitted once,
without a chain, from the same training points a net with the same seed gets.
"""

from __future__ import annotations

import dataclasses
import functools
import platform
import time
from importlib import metadata
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax import models

from precision_jax.engine import auto_chain, driver, memory

from precision_jax.problems import datafile

from precision_jax.runs import provenance

from precision_jax.numerics.error_metrics import max_abs_error, relative_rmse, rmse
from precision_jax.runs.checkpoint import Checkpointer
from precision_jax.engine.boosting import BoostConfig
from precision_jax.experiment import ExperimentConfig
from precision_jax.problems.sampling import Dataset, check_sampling, make_dataset
from precision_jax.numerics.random_keys import RunKeys, run_keys
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.engine.stages.base import CurvePoint, Problem
from precision_jax.runs.store import Part, RunRecord, Summary, TargetInfo
from precision_jax.problems.targets import Target, equation_target, formula_target, teacher_target


def resolve_target(cfg: ExperimentConfig) -> Target:
    """The :class:`Target` a config names; unknown equations become a :class:`ConfigError`."""
    t = cfg.target
    if t.data is not None:  # a data file: read and checked here, one-line errors naming the file
        return datafile.data_target(t)
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


def run_data(cfg: ExperimentConfig, target: Target, n_params: int, keys: Optional[RunKeys] = None,
             standardize: Optional[bool] = None) -> Dataset:
    """The run's training and test sets, drawn from the key tree's ``data`` key.

    Every path that must see a run's exact data (``prec run``, seed groups,
    ``prec hessian``, interpolants) goes through here.
    """
    keys = keys or run_keys(cfg.seed, getattr(cfg.model, "init_seed", None))
    if target.data is not None:  # a data file's rows, split by the same data key (precision_jax/problems/datafile.py)
        return datafile.dataset(target, keys.data, cfg.data.train_points, cfg.data.test_points,
                                cfg.data.standardize if standardize is None else standardize)
    return make_dataset(target, resolve_train_points(cfg, n_params, target.d), cfg.data.test_points, keys.data,
                        cfg.data.test_compactification, cfg.data.standardize if standardize is None else standardize,
                        cfg.data.sampling)


@functools.lru_cache(maxsize=64)
def cached_model(model_cfg, d: int, variables: Optional[tuple]) -> models.TrainableModel:
    """One model object per (config, d, input names), so compiled programs keyed by its function are reused."""
    return models.build_model(model_cfg, d, variables)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("prec", "jax", "jaxlib", "optax", "jaxopt", "numpy", "scipy", "sympy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def error_metrics(prediction, y) -> dict[str, float]:
    """RMSE, relative RMSE (÷ √mean(y²)) and max |error|, in float64, over the points with a prediction.

    Points where ``prediction`` is NaN (outside an interpolant's domain) are
    left out and counted in ``undefined``; they are never silently dropped.
    """
    value, undefined = rmse(prediction, y, nan_policy="omit")
    return {"rmse": value, "relative_rmse": relative_rmse(prediction, y, nan_policy="omit")[0],
            "max_abs_error": max_abs_error(prediction, y, nan_policy="omit")[0], "undefined": undefined}


def residual_scale(r: np.ndarray, how: str) -> float:
    """The size of a residual vector: mean|r|, √mean(r²) or max|r|."""
    a = np.abs(np.asarray(r, np.float64))
    return float({"mean_abs": np.mean(a), "rms": np.sqrt(np.mean(a * a)), "max": np.max(a)}[how])


def _same_but_seed(configs: Sequence[ExperimentConfig]) -> bool:
    def strip(cfg):
        d = to_dict(cfg)
        d.pop("seed", None)
        d["output"].pop("dir", None)  # where a run is written does not change how it is trained
        return d

    first = strip(configs[0])
    return all(strip(c) == first for c in configs[1:])


def with_chain(cfg: ExperimentConfig, d: int, D: int, n_params: int) -> ExperimentConfig:
    """``cfg`` with ``train: auto`` written out (:func:`precision_jax.engine.auto_chain.plan`); other configs as they are.

    Only training sees the planned chain: the run keeps the config as written (its id, its config.yaml), and
    its summary's ``chain`` records what ran.
    """
    if cfg.train != auto_chain.AUTO:
        return cfg
    train, boost = auto_chain.plan(d, D, n_params)
    return dataclasses.replace(cfg, train=train, boost=boost)


def check_chains(cfg: ExperimentConfig, model: models.TrainableModel, d: int, variables) -> list:
    """Build every stage of the main chain and the boosting chain: settings and sizes fail here, before any data.

    Returns ``[(prefix, stages), ...]`` for the memory check.
    """
    chains = [("train", driver.build_chain(cfg.train, model.apply, model.n_params, cfg.output.log_every, "train"))]
    if cfg.boost is not None:
        round_model = cached_model(cfg.boost.model or cfg.model, d, variables)
        chains.append(("boost.train", driver.build_chain(cfg.boost.train, round_model.apply, round_model.n_params,
                                                         cfg.output.log_every, "boost.train")))
    return chains


def check_target(target: Target, samples: int = 4096) -> None:
    """Refuse a target that is not finite somewhere on its box, naming the box and a point where it fails.

    The check evaluates the box's corners, its centre and ``samples`` fixed
    pseudo-random points: enough to catch ``sqrt(x)`` on [−1, 1] or a pole
    inside the box in seconds, before any data are drawn.
    """
    lows, highs = np.asarray(target.lows, np.float64), np.asarray(target.highs, np.float64)
    d = lows.shape[0]
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T if d <= 10 else np.zeros((0, d))
    unit = np.concatenate([corners, np.full((1, d), 0.5), np.random.default_rng(0).random((samples, d))])
    x = lows + unit * (highs - lows)
    with np.errstate(all="ignore"):
        y = np.asarray(target.fn(jnp.asarray(x)))
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        point = ", ".join(f"{v} = {x[bad[0], i]:.6g}" for i, v in enumerate(target.variables))
        ranges = ", ".join(f"{v} in [{lo:g}, {hi:g}]" for v, lo, hi in zip(target.variables, lows, highs))
        raise ConfigError(f"{target.name} is not finite on its sampling box ({ranges}): "
                          f"{y[bad[0]]} at {point} ({bad.size} of {len(y)} probe points)", "target")


def preflight(configs: Sequence[ExperimentConfig], max_memory: Optional[int] = None) -> Target:
    """Every check that needs no data: the target, the stages for this model, memory, finiteness on the box.

    Raises :class:`ConfigError` naming the key; draws no data and compiles
    nothing, so a caller can refuse a run before it writes anything.
    """
    first = configs[0]
    target = resolve_target(first)
    if target.data is not None:
        return _preflight_data(configs, target, max_memory)
    if first.model.kind in models.INTERPOLANTS:
        kind = first.model.kind
        if first.train:
            raise ConfigError(f"a {kind} model is fitted directly; remove the optimizer stages", "train")
        if first.boost is not None:
            raise ConfigError(f"a {kind} model is fitted directly; remove the boost section", "boost")
        if first.data.train_points == "auto":
            raise ConfigError(f"give a number of training points for a {kind} model", "data.train_points")
        memory.check_run_memory(int(first.data.train_points), first.data.test_points, target.d, [], 1,
                                   max_memory)
        check_sampling(first.data.sampling, int(first.data.train_points), target.d, kind)
    else:
        variables = tuple(target.variables)
        model = cached_model(first.model, target.d, variables)
        n_train = resolve_train_points(first, model.n_params, target.d)
        chains = check_chains(with_chain(first, target.d, n_train, model.n_params), model, target.d, variables)
        memory.check_run_memory(n_train, first.data.test_points, target.d, chains, len(configs), max_memory)
        check_sampling(first.data.sampling, n_train, target.d, first.model.kind)
    check_target(target)
    return target


def _preflight_data(configs: Sequence[ExperimentConfig], target: Target, max_memory: Optional[int]) -> Target:
    """:func:`preflight` for a data-file target, whose rows (read and checked by :func:`resolve_target`) decide
    the sizes: the stages, what the model needs of the rows (:func:`datafile.check_model`) and memory."""
    first = configs[0]
    kind = first.model.kind
    n_train, n_test = datafile.point_counts(target, first.data.train_points, first.data.test_points)
    if kind in models.INTERPOLANTS:
        if first.train:
            raise ConfigError(f"a {kind} model is fitted directly; remove the optimizer stages", "train")
        if first.boost is not None:
            raise ConfigError(f"a {kind} model is fitted directly; remove the boost section", "boost")
        chains, seeds = [], 1
    else:
        variables = tuple(target.variables)
        model = cached_model(first.model, target.d, variables)
        chains = check_chains(with_chain(first, target.d, n_train, model.n_params), model, target.d, variables)
        seeds = len(configs)
    datafile.check_model(first, target)
    memory.check_run_memory(n_train, n_test, target.d, chains, seeds, max_memory)
    return target


def run_experiment(cfg: ExperimentConfig, on_log: Optional[Callable[[CurvePoint], None]] = None,
                   max_memory: Optional[int] = None, checkpoint: Optional[Checkpointer] = None,
                   on_compile: Optional[Callable[[driver.Compiling], None]] = None) -> RunRecord:
    """Train (or fit) the configured approximator and measure it; deterministic for a given config."""
    return run_seed_group([cfg], on_log, max_memory, checkpoint, on_compile)[0]


def run_seed_group(configs: Sequence[ExperimentConfig], on_log: Optional[Callable[[CurvePoint], None]] = None,
                   max_memory: Optional[int] = None, checkpoint: Optional[Checkpointer] = None,
                   on_compile: Optional[Callable[[driver.Compiling], None]] = None) -> list[RunRecord]:
    """Train configs that differ only in their seed as one batch; one :class:`RunRecord` per config.

    Each record equals what a group of one would give (bit for bit on one
    machine). ``summary.wall_seconds`` is the group's wall time divided by its
    size, and ``summary.batch`` says how many seeds shared the loop. Before
    any data are drawn, every stage is built (bad settings for this model are
    refused), the target is checked to be finite on its box and the memory
    estimate is checked against ``max_memory`` bytes (default: what is available).

    With a ``checkpoint``, the group resumes from its saved state when there
    is one and saves its state as it goes (see :mod:`precision_jax.runs.checkpoint`);
    the caller removes the checkpoint once the records are written.
    """
    if not configs:
        return []
    if not _same_but_seed(configs):
        raise ValueError("a seed group's configs may differ only in their seed")
    start, started_at = time.perf_counter(), time.time()
    first = configs[0]
    target = preflight(configs, max_memory)
    if first.model.kind in models.INTERPOLANTS:
        return [fit_interpolant(cfg, target) for cfg in configs]
    variables = tuple(target.variables)
    model = cached_model(first.model, target.d, variables)
    keys = [run_keys(cfg.seed, getattr(cfg.model, "init_seed", None)) for cfg in configs]
    datasets = [run_data(cfg, target, model.n_params, k) for cfg, k in zip(configs, keys)]
    planned = first.train == auto_chain.AUTO
    first = with_chain(first, target.d, datasets[0].n_train, model.n_params)
    S = len(configs)
    round_model_cfg = first.boost.model or first.model if first.boost is not None else None
    round_model = cached_model(round_model_cfg, target.d, variables) if round_model_cfg is not None else None
    snapshot = checkpoint.load() if checkpoint is not None else None
    fit = _GroupFit.empty(S) if snapshot is None else _GroupFit.restore(snapshot["fit"])

    def offer_for(k: int) -> Optional[driver.Offer]:
        if checkpoint is None:
            return None
        return lambda chain, position, force: checkpoint.offer(
            lambda: {"fit": fit.snapshot(), "chain": chain()}, position, force)

    def resume_for(k: int) -> Optional[dict]:
        return snapshot["chain"] if snapshot is not None and snapshot["fit"]["round"] == k else None

    if fit.round == 0:
        problems = _stack_problems(datasets, [k.subsets for k in keys])
        theta0 = jnp.stack([model.init(k.init) for k in keys])
        chains = driver.run_chain(first.train, model.apply, model.n_params, problems, theta0, first.output.log_every,
                                  on_log=on_log, on_compile=on_compile, resume=resume_for(0), offer=offer_for(0))
        fit.finish_main(chains)
    if first.boost is not None:
        applies = [model.apply] + [round_model.apply] * first.boost.rounds
        while fit.round <= first.boost.rounds and fit.active.any():
            _boost_round(first.boost, first.output.log_every, round_model, keys, datasets, applies, fit,
                         on_log, on_compile, resume_for(fit.round), offer_for(fit.round))

    wall = time.perf_counter() - start
    records = []
    for s, cfg in enumerate(configs):
        data = datasets[s]
        parts = [Part(first.model if k == 0 else round_model_cfg, {"theta": np.asarray(theta)}, float(c))
                 for k, (theta, c) in enumerate(fit.parts[s])]
        predict = functools.partial(_predict_sum, applies if first.boost is not None else [model.apply],
                                    fit.parts[s])
        summary = summarize(cfg, target, data, model.n_params, model.description, predict(data.x_train),
                            predict(data.x_test), fit.stages[s], wall / S,
                            "diverged" if fit.diverged[s] else "complete", started_at=started_at,
                            curve=fit.curves[s])
        if first.boost is not None:
            summary.boost = {"rounds": len(parts) - 1, "normalize": first.boost.normalize, "rows": fit.rows[s],
                             "N_total": int(sum(p.arrays["theta"].size for p in parts))}
        if S > 1:
            summary.batch = {"seeds": S, "group_wall_seconds": wall}
        if planned:
            summary.chain = {"train": [to_dict(c) for c in first.train], "boost": to_dict(first.boost)}
        records.append(RunRecord(cfg, summary, fit.curves[s], parts, data.input_shift, data.input_scale))
    return records


class _GroupFit:
    """A seed group's fit so far: per seed its parts (θ, coefficient), stage rows, curve, boosting rows.

    ``round`` is the next round to run (0: the main chain); ``active`` the
    seeds still boosting. It is plain data so that a checkpoint can hold it.
    """

    def __init__(self, round_: int, parts, stages, curves, rows, diverged, active):
        self.round, self.parts, self.stages, self.curves = round_, parts, stages, curves
        self.rows, self.diverged, self.active = rows, np.asarray(diverged, bool), np.asarray(active, bool)

    @classmethod
    def empty(cls, seeds: int) -> "_GroupFit":
        return cls(0, [[] for _ in range(seeds)], [[] for _ in range(seeds)], [[] for _ in range(seeds)],
                   [[] for _ in range(seeds)], np.zeros(seeds, bool), np.ones(seeds, bool))

    def finish_main(self, chains: Sequence[driver.ChainOutcome]) -> None:
        self.parts = [[(c.theta, 1.0)] for c in chains]
        self.stages = [list(c.stages) for c in chains]
        self.curves = [list(c.curve) for c in chains]
        self.diverged = np.array([c.diverged for c in chains])
        self.active = ~self.diverged
        self.round = 1

    def snapshot(self) -> dict:
        return {"round": self.round, "parts": self.parts, "stages": self.stages, "curves": self.curves,
                "rows": self.rows, "diverged": self.diverged, "active": self.active}

    @classmethod
    def restore(cls, data: dict) -> "_GroupFit":
        parts = [[(np.asarray(theta), float(c)) for theta, c in seed] for seed in data["parts"]]
        return cls(int(data["round"]), parts, data["stages"], data["curves"], data["rows"], data["diverged"],
                   data["active"])


def _stack_problems(datasets: Sequence[Dataset], subsets: Sequence[jax.Array], ys=None, y_tests=None) -> Problem:
    ys = ys if ys is not None else [ds.y_train for ds in datasets]
    y_tests = y_tests if y_tests is not None else [ds.y_test for ds in datasets]
    return Problem(jnp.stack([ds.x_train for ds in datasets]), jnp.stack([jnp.asarray(y) for y in ys]),
                   jnp.stack([ds.x_test for ds in datasets]), jnp.stack([jnp.asarray(y) for y in y_tests]),
                   jnp.stack(list(subsets)))


def _predict_sum(applies, parts: Sequence[tuple], x) -> jax.Array:
    """F(x) = Σ_k c_k f_k(x), op by op (the same arithmetic for the residuals and for the final metrics).

    ``parts`` are ``(θ, c)`` pairs; ``applies[k]`` evaluates part k.
    """
    out = applies[0](jnp.asarray(parts[0][0]), x) * parts[0][1]
    for apply, (theta, c) in zip(applies[1:], parts[1:]):
        out = out + c * apply(jnp.asarray(theta), x)
    return out


def _boost_round(boost: BoostConfig, log_every: int, model: models.TrainableModel, keys: Sequence[RunKeys],
                 datasets: Sequence[Dataset], applies, fit: _GroupFit, on_log, on_compile, resume, offer) -> None:
    """Boosting round ``fit.round`` for every seed still active; a seed whose round does not help stops."""
    k, S = fit.round, len(datasets)
    active = fit.active.copy()
    residuals, residuals_test, scales, before = [], [], np.ones(S), np.full(S, np.nan)
    for s, data in enumerate(datasets):
        if fit.parts[s]:
            f_train = np.asarray(_predict_sum(applies, fit.parts[s], data.x_train))
            f_test = np.asarray(_predict_sum(applies, fit.parts[s], data.x_test))
        else:
            f_train, f_test = np.zeros(data.n_train), np.zeros(data.n_test)
        r, r_test = np.asarray(data.y_train) - f_train, np.asarray(data.y_test) - f_test
        before[s] = float(np.mean(r * r))
        scale = residual_scale(r, boost.normalize)
        if not (scale > 0 and np.isfinite(scale)):
            active[s], scale = False, 1.0
        scales[s] = scale
        residuals.append(r / scale)
        residuals_test.append(r_test / scale)
    if active.any():
        problems = _stack_problems(datasets, [kk.round_subsets(k) for kk in keys], residuals, residuals_test)
        theta0 = jnp.stack([model.init(kk.round_init(k)) for kk in keys])
        chains = driver.run_chain(boost.train, model.apply, model.n_params, problems, theta0, log_every,
                                  active=active, round_index=k, units=scales, on_log=on_log,
                                  on_compile=on_compile, resume=resume,
                                  offer=offer)
        for s in np.flatnonzero(active):
            data, chain = datasets[s], chains[s]
            candidate = fit.parts[s] + [(chain.theta, float(scales[s]))]
            g_train = np.asarray(_predict_sum(applies, candidate, data.x_train))
            g_test = np.asarray(_predict_sum(applies, candidate, data.x_test))
            after = float(np.mean((g_train - np.asarray(data.y_train)) ** 2))
            accepted = bool(np.isfinite(after) and after < before[s])
            fit.rows[s].append({"round": k, "scale": float(scales[s]), "model": model.description,
                                "n_params": model.n_params, "accepted": accepted,
                                "train_rmse_before": float(np.sqrt(before[s])), "train_rmse": float(np.sqrt(after)),
                                "test_rmse": float(np.sqrt(np.mean((g_test - np.asarray(data.y_test)) ** 2)))})
            fit.stages[s].extend(chain.stages)
            fit.curves[s].extend(chain.curve)
            if accepted:
                fit.parts[s] = candidate
            else:
                active[s] = False
    fit.active = active
    fit.round = k + 1


def fit_interpolant(cfg: ExperimentConfig, target: Target) -> RunRecord:
    """Classical approximators: no optimizer chain, one fit from the run's training points or a grid.

    ``models.INTERPOLANTS[kind](model_cfg, target, dataset)`` returns an
    object with ``n_params``, ``n_train``, ``state()`` and ``predict(x) -> (n,)``
    (NaN where undefined, e.g. outside a triangulation's convex hull). The data
    are raw (interpolants work in the target's coordinates) and drawn from the
    key tree's ``data`` key, so a net with the same seed sees the same points.
    A data-file target has no function to sample, so its builders are
    ``datafile.INTERPOLANTS`` (splines through a lookup table, least-squares
    Chebyshev series). The config has passed :func:`preflight`.
    """
    start, started_at = time.perf_counter(), time.time()
    data = run_data(cfg, target, 0, standardize=False)
    builders = models.INTERPOLANTS if target.data is None else datafile.INTERPOLANTS
    try:
        interpolant = builders[cfg.model.kind](cfg.model, target, data)
    except ConfigError:
        raise
    except ValueError as e:
        raise ConfigError(str(e), "model") from None
    fit_seconds = time.perf_counter() - start
    test_prediction = np.asarray(interpolant.predict(np.asarray(data.x_test)))
    # Training error where the interpolant was fitted: a spline's or Chebyshev fit's own nodes, else data.x_train.
    fitted_points = getattr(interpolant, "fitted_points", lambda: (data.x_train, data.y_train))
    fit_x, fit_y = fitted_points()
    train_prediction = np.asarray(interpolant.predict(np.asarray(fit_x)))
    data = Dataset(fit_x, fit_y, data.x_test, data.y_test)
    undefined = int((~np.isfinite(test_prediction)).sum())
    row = {"round": 0, "stage": 0, "kind": "fit", "steps": 0, "stop_reason": "fitted", "seconds": fit_seconds}
    summary = summarize(cfg, target, data, interpolant.n_params, getattr(interpolant, "description", cfg.model.kind),
                        train_prediction, test_prediction, [row], time.perf_counter() - start, "complete",
                        {"outside_hull": undefined, "test_points_scored": int(test_prediction.size - undefined)},
                        started_at=started_at)
    summary.D = int(interpolant.n_train)  # grid-based interpolants sample their own points
    return RunRecord(cfg, summary, [], [Part(cfg.model, interpolant.state(), 1.0)], None, None)


def summarize(cfg: ExperimentConfig, target: Target, data: Dataset, n_params: int, description: str,
              train_prediction, test_prediction, stages: list[dict], wall_seconds: float, status: str,
              extra_metrics: Optional[dict] = None, started_at: Optional[float] = None,
              curve: Sequence[CurvePoint] = ()) -> Summary:
    """The run's summary: metrics, a row per stage, sizes, provenance (``started_at``: Unix time the run began;
    None: now − ``wall_seconds``).

    ``min_test_rmse`` is the lowest test RMSE anywhere on the logged ``curve`` (every stage of every round) and
    the reported model's own: the paper's Figs 3–4 titles quote it. ``test_rmse`` is the reported model's, the
    one of lowest training loss. An interpolant has no curve, so the two are equal.
    """
    train = error_metrics(train_prediction, data.y_train)
    test = error_metrics(test_prediction, data.y_test)
    # The reported model's test RMSE is included: the curve's value at the same θ can differ in the last bits.
    finite = [r for r in [p.test_rmse for p in curve] + [test["rmse"]] if np.isfinite(r)]
    min_test = min(finite) if finite else test["rmse"]
    metrics = {
        "train_rmse": train["rmse"], "test_rmse": test["rmse"],
        "train_relative_rmse": train["relative_rmse"], "test_relative_rmse": test["relative_rmse"],
        "test_max_abs_error": test["max_abs_error"], "train_max_abs_error": train["max_abs_error"],
        # The reported θ is the lowest-training-loss one, so its test RMSE is the paper's headline figure.
        "test_rmse_at_best_train": test["rmse"],
        "min_test_rmse": min_test,
        **(extra_metrics or {}),
    }
    return Summary(
        name=cfg.name, seed=cfg.seed, status=status,
        target=TargetInfo(target.name, target.d, tuple(target.variables), tuple(map(float, target.lows)),
                          tuple(map(float, target.highs))),
        model=description, N=int(n_params), D=int(data.n_train), n_test=int(data.n_test), metrics=metrics,
        stages=stages, wall_seconds=wall_seconds,
        numerics={"dtype": str(jnp.asarray(data.y_train).dtype), "jax_enable_x64": bool(jax.config.jax_enable_x64),
                  "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]},
        versions=package_versions(),
        provenance=provenance.collect(started_at if started_at is not None else time.time() - wall_seconds))


def run_round_spectrum(record, model, round_: int):
    """The spectrum of boosting round ``round_`` of a stored run at its own training set.

    ``record`` is a :class:`precision_jax.runs.store.RunRecord`, ``model`` its
    :func:`~precision_jax.runs.store.load_model`. The training set is regenerated in
    the model's (standardized) input space with D following the main model's N;
    round k > 0 fits the scaled residual of rounds 0..k−1, as it was trained.
    The caller checks that the round has parameters and N ≤ :data:`precision_jax.engine.hessian.DENSE_LIMIT`.
    """
    from precision_jax.engine.hessian import hessian_spectrum

    cfg = record.config
    data = run_data(cfg, resolve_target(cfg), int(record.parts[0].arrays["theta"].size))
    x, y = np.asarray(data.x_train), np.asarray(data.y_train)
    if round_ > 0:
        y = (y - model.predict_standardized(x, parts=round_)) / model.coefficients[round_]
    theta = jnp.asarray(record.parts[round_].arrays["theta"])
    return hessian_spectrum(model.models[round_].apply, theta, jnp.asarray(x), jnp.asarray(y))
