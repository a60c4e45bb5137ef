"""From a run plan to finished runs: data → stage chains → boosting → run records.

A *seed group* (configs that differ only in their seed, resolved once into a
:class:`~precision_jax.runs.plan.RunPlan`) is trained as one batch
(:func:`precision_jax.engine.driver.run_chain` maps every stage over the
seeds), and a single run is a group of one, so ``prec run`` and a sweep
produce the same numbers for the same config.

The fitted model is a sum F(x) = f₀(x) + Σ_k c_k f_k(x). f₀ is the configured
model trained by ``train``; with a ``boost`` section, each round k = 1…R
computes the residual r_k = y − F_{k−1}(x), its scale c_k (mean |r|, RMS or
max |r|), and fits a fresh model f_k (initialised from the round's key) to
r_k / c_k with the round's own chain. Because r_k / c_k is O(1), the stages
work at their comfortable scale while F gains the orders of magnitude. A round
that does not lower the training MSE of F is discarded and ends that seed's
boosting. Classical interpolants (simplex, spline, Chebyshev) are fitted once,
without a chain, from the same training points a net with the same seed gets.

Nothing here writes to the store: :func:`precision_jax.runs.execute.execute`
owns skipping, locking, checkpoint files and writing.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax import models
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.config.kinds import MODEL_AUTO
from precision_jax.engine import auto_chain, driver
from precision_jax.engine.boosting import BoostConfig
from precision_jax.engine.stages.base import CurvePoint, Problem
from precision_jax.experiment import ExperimentConfig
from precision_jax.numerics.error_metrics import max_abs_error, relative_rmse, rmse
from precision_jax.numerics.random_keys import RunKeys, run_keys
from precision_jax.problems import data_target
from precision_jax.problems.sampling import Dataset, make_dataset
from precision_jax.problems.targets import Target
from precision_jax.runs import provenance
from precision_jax.runs.checkpoint import Checkpointer
from precision_jax.runs.plan import RunPlan, preflight, resolve_target, resolve_train_points
from precision_jax.runs.store import Part, RunRecord, Summary, TargetInfo


def draw_data(cfg: ExperimentConfig, target: Target, n_train: int, keys: Optional[RunKeys] = None,
              standardize: Optional[bool] = None) -> Dataset:
    """The run's training and test sets (``n_train`` = D training points), drawn from the key tree's ``data`` key.

    Every path that must see a run's exact data goes through here: training
    (with the plan's D, :attr:`precision_jax.runs.plan.RunPlan.n_train`), and
    :func:`run_data` for ``prec hessian`` and the figures. A data file's rows
    are split by its own counts (``n_train`` is not used).
    """
    keys = keys or run_keys(cfg.seed, getattr(cfg.model, "init_seed", None))
    standardize = cfg.data.standardize if standardize is None else standardize
    if target.data is not None:  # a data file's rows, split by the same data key (problems/data_target.py)
        return data_target.dataset(target, keys.data, cfg.data.train_points, cfg.data.test_points, standardize)
    return make_dataset(target, n_train, cfg.data.test_points, keys.data, cfg.data.test_compactification,
                        standardize, cfg.data.sampling)


def run_data(cfg: ExperimentConfig, target: Target, n_params: int, keys: Optional[RunKeys] = None,
             standardize: Optional[bool] = None) -> Dataset:
    """:func:`draw_data` for a run of a model with ``n_params`` parameters (D resolved as the run's plan does)."""
    n_train = 0 if target.data is not None else resolve_train_points(cfg, n_params, target.d)
    return draw_data(cfg, target, n_train, keys, standardize)


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


def run_experiment(cfg: ExperimentConfig, on_log: Optional[Callable[[CurvePoint], None]] = None,
                   max_memory: Optional[int] = None, checkpoint: Optional[Checkpointer] = None,
                   on_compile: Optional[Callable[[driver.Compiling], None]] = None) -> RunRecord:
    """Train (or fit) the configured approximator and measure it, in memory; deterministic for a given config."""
    return run_seed_group([cfg], on_log, max_memory, checkpoint, on_compile)[0]


def run_seed_group(group: Union[RunPlan, Sequence[ExperimentConfig]],
                   on_log: Optional[Callable[[CurvePoint], None]] = None,
                   max_memory: Optional[int] = None, checkpoint: Optional[Checkpointer] = None,
                   on_compile: Optional[Callable[[driver.Compiling], None]] = None) -> list[RunRecord]:
    """Train a seed group as one batch; one :class:`RunRecord` per config, in memory.

    ``group`` is a plan that has passed :func:`~precision_jax.runs.plan.preflight`,
    or the group's configs (planned and preflighted here, ``max_memory`` bytes
    the limit; default: what is available). Each record equals what a group of
    one would give (bit for bit on one machine). ``summary.wall_seconds`` is
    the group's wall time divided by its size, and ``summary.batch`` says how
    many seeds shared the loop.

    With a ``checkpoint``, the group resumes from its saved state when there
    is one and saves its state as it goes (see :mod:`precision_jax.runs.checkpoint`);
    the caller removes the checkpoint once the records are written.
    """
    if not isinstance(group, RunPlan):
        if not group:
            return []
        group = preflight(group, max_memory)
    plan = group
    start, started_at = time.perf_counter(), time.time()
    if plan.kind == MODEL_AUTO:
        raise ValueError("model: auto is run by precision_jax.runs.auto_model.run_auto_group (execute does), which "
                         "probes, then calls this with the winner")
    if plan.interpolant:
        return [fit_interpolant(plan, s) for s in range(len(plan.configs))]
    configs, target, model, round_model, keys = plan.configs, plan.target, plan.model, plan.round_model, plan.keys
    datasets = [draw_data(cfg, target, plan.n_train, k) for cfg, k in zip(configs, keys)]
    S = len(configs)
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
        chains = driver.run_chain(plan.train, model.apply, model.n_params, problems, theta0, plan.log_every,
                                  on_log=on_log, on_compile=on_compile, resume=resume_for(0), offer=offer_for(0),
                                  goal=plan.goal)
        fit.finish_main(chains)
    applies = [model.apply] + ([round_model.apply] * plan.boost.rounds if plan.boost is not None else [])
    ensemble = _Ensemble(applies, datasets)
    if plan.boost is not None:
        while fit.round <= plan.boost.rounds and fit.active.any():
            _boost_round(plan.boost, plan.log_every, round_model, keys, datasets, ensemble, fit,
                         on_log, on_compile, resume_for(fit.round), offer_for(fit.round), plan.goal)

    wall = time.perf_counter() - start
    round_model_cfg = (plan.boost.model or configs[0].model) if plan.boost is not None else None
    records = []
    for s, cfg in enumerate(configs):
        data = datasets[s]
        parts = [Part(cfg.model if k == 0 else round_model_cfg, {"theta": np.asarray(theta)}, float(c))
                 for k, (theta, c) in enumerate(fit.parts[s])]
        f_train, f_test = ensemble.predictions(s, fit.parts[s])
        summary = summarize(cfg, target, data, model.n_params, model.description, f_train, f_test, fit.stages[s],
                            wall / S, "diverged" if fit.diverged[s] else "complete", started_at=started_at,
                            curve=fit.curves[s])
        if plan.boost is not None:
            summary.boost = {"rounds": len(parts) - 1, "normalize": plan.boost.normalize, "rows": fit.rows[s],
                             "N_total": int(sum(p.arrays["theta"].size for p in parts))}
        if S > 1:
            summary.batch = {"seeds": S, "group_wall_seconds": wall}
        if plan.planned:
            summary.chain = {"train": [to_dict(c) for c in plan.train], "boost": to_dict(plan.boost)}
            if plan.auto is not None:  # the plan's figures and why the chain stopped (engine/auto_chain.py)
                summary.chain["auto"] = {**plan.auto, "stop_reason": auto_chain.stop_reason(
                    fit.stages[s], plan.boost.rounds, len(fit.rows[s]), bool(fit.diverged[s]))}
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
        self.active = ~self.diverged & ~np.array([c.goal_reached for c in chains])  # a goal reached ends boosting
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


class _Ensemble:
    """Each seed's F on its training and test points, evaluated once per accepted set of parts.

    A boosting round needs F before the round (its residual) and F with the
    round's candidate (to accept it or not); the accepted candidate's values are
    the next round's "before" and, at the end, the reported predictions. They
    are kept here, keyed by the number of parts, instead of being recomputed
    (the arithmetic is the same op by op, so the bits are too).
    """

    def __init__(self, applies, datasets: Sequence[Dataset]):
        self.applies, self.datasets = applies, datasets
        self._cache: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def predictions(self, s: int, parts: Sequence[tuple]) -> tuple[np.ndarray, np.ndarray]:
        """(F on the training points, F on the test points) of seed ``s`` with ``parts``."""
        cached = self._cache.get(s)
        if cached is not None and cached[0] == len(parts):
            return cached[1], cached[2]
        data = self.datasets[s]
        if not parts:
            return np.zeros(data.n_train), np.zeros(data.n_test)
        values = (np.asarray(_predict_sum(self.applies, parts, data.x_train)),
                  np.asarray(_predict_sum(self.applies, parts, data.x_test)))
        self._cache[s] = (len(parts), *values)
        return values


def _boost_round(boost: BoostConfig, log_every: int, model: models.TrainableModel, keys: Sequence[RunKeys],
                 datasets: Sequence[Dataset], ensemble: _Ensemble, fit: _GroupFit, on_log, on_compile, resume,
                 offer, goal: Optional[float] = None) -> None:
    """Boosting round ``fit.round`` for every seed still active; a seed whose round does not help, or that
    reaches the ``goal`` (training RMSE), stops."""
    k, S = fit.round, len(datasets)
    active = fit.active.copy()
    residuals, residuals_test, scales, before = [], [], np.ones(S), np.full(S, np.nan)
    for s, data in enumerate(datasets):
        f_train, f_test = ensemble.predictions(s, fit.parts[s])
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
                                  on_compile=on_compile, resume=resume, offer=offer, goal=goal)
        for s in np.flatnonzero(active):
            data, chain = datasets[s], chains[s]
            candidate = fit.parts[s] + [(chain.theta, float(scales[s]))]
            g_train, g_test = ensemble.predictions(s, candidate)
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
            if not accepted or chain.goal_reached:
                active[s] = False
    fit.active = active
    fit.round = k + 1


def fit_interpolant(plan: RunPlan, s: int = 0) -> RunRecord:
    """Classical approximators: no optimizer chain, one fit from the run's training points or a grid.

    :func:`precision_jax.models.fit` (the kind's registered fitter) returns an
    object with ``n_params``, ``n_train``, ``state()`` and ``predict(x) -> (n,)``
    (NaN where undefined, e.g. outside a triangulation's convex hull). The data
    are raw (interpolants work in the target's coordinates) and drawn from the
    key tree's ``data`` key, so a net with the same seed sees the same points.
    A data-file target has no function to sample, so the kind fits its rows
    (splines through a lookup table, least-squares Chebyshev series). ``plan`` has passed
    :func:`~precision_jax.runs.plan.preflight`; ``s`` picks its seed.
    """
    start, started_at = time.perf_counter(), time.time()
    cfg, target = plan.configs[s], plan.target
    data = draw_data(cfg, target, plan.n_train, plan.keys[s], standardize=False)
    try:
        interpolant = models.fit(cfg.model, target, data)
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
    record = provenance.collect(started_at if started_at is not None else time.time() - wall_seconds)
    return Summary(
        name=cfg.name, seed=cfg.seed, status=status,
        target=TargetInfo(target.name, target.d, tuple(target.variables), tuple(map(float, target.lows)),
                          tuple(map(float, target.highs))),
        model=description, N=int(n_params), D=int(data.n_train), n_test=int(data.n_test), metrics=metrics,
        stages=stages, wall_seconds=wall_seconds,
        numerics={"dtype": str(jnp.asarray(data.y_train).dtype), "jax_enable_x64": bool(jax.config.jax_enable_x64),
                  "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]},
        provenance=record)


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
