"""A run resolved once: from validated configs to everything that can be known before any data are drawn.

A *seed group* is a list of configs that differ only in their seed; a single
run is a group of one. :func:`make_plan` resolves the group once into a
:class:`RunPlan`:

- the target (a Feynman equation, a formula, a teacher net, or a data file's rows, read and checked here);
- the model (a trainable model over a flat θ of length N, or an interpolant kind fitted without a chain)
  and the boosting rounds' model;
- D, the number of training points: the configured number, or the paper's tie D = N // (d + 1) for
  ``auto``, or what a data file holds;
- the chain as it will run: ``train: auto`` is written out by :func:`precision_jax.engine.auto_chain.plan`
  from (d, D, N); every stage of the main and boosting chains is built, so settings this model cannot
  run are refused here;
- each seed's key tree (:func:`precision_jax.numerics.random_keys.run_keys`);
- the peak memory estimate (:mod:`precision_jax.engine.memory`).

:func:`preflight` makes the plan and checks it against the machine (memory) and
the target (finite on its sampling box); it draws no data and compiles
nothing, so a caller can refuse a run before it writes anything. Training
(:mod:`precision_jax.runs.training`) then reads the plan and computes none of
it again.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import jax.numpy as jnp
import numpy as np

from precision_jax import models
from precision_jax.config.auto_budget import auto_settings, is_auto
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.config.kinds import MODEL_AUTO
from precision_jax.engine import auto_chain, driver, machine_speed, memory
from precision_jax.engine.boosting import BoostConfig
from precision_jax.experiment import ExperimentConfig
from precision_jax.numerics.random_keys import RunKeys, run_keys
from precision_jax.problems import data_target
from precision_jax.problems.sampling import check_sampling
from precision_jax.problems.targets import Target, equation_target, formula_target, teacher_target

MIN_AUTO_ROWS = 10  # model: auto holds 20 % of the training rows out: fewer leave too few to fit or score


def resolve_target(cfg: ExperimentConfig) -> Target:
    """The :class:`Target` a config names; a formula or teacher the builders refuse becomes a :class:`ConfigError`.

    (An unknown equation id never gets here: the config refuses it when it is built.)
    """
    t = cfg.target
    if t.data is not None:  # a data file: read and checked here, one-line errors naming the file
        return data_target.data_target(t)
    if t.equation is not None:
        return equation_target(t.equation)
    try:
        if t.formula is not None:
            return formula_target(t.formula, t.variables)
        return teacher_target(t.teacher.widths, t.teacher.activation, t.teacher.seed)
    except (KeyError, ValueError) as e:
        message = e.args[0] if e.args else str(e)
        raise ConfigError(str(message), "target.formula" if t.formula is not None else "target.teacher") from None


def resolve_train_points(cfg: ExperimentConfig, n_params: int, d: int) -> int:
    """``D``: the configured number, or the paper's tie ``D = N // (d + 1)`` for ``auto``."""
    if cfg.data.train_points != "auto":
        return int(cfg.data.train_points)
    n = n_params // (d + 1)
    if n < 1:
        raise ConfigError(f"auto gives D = N // (d+1) = {n_params} // {d + 1} = 0 training points",
                          "data.train_points")
    return n


@functools.lru_cache(maxsize=64)
def cached_model(model_cfg, d: int, variables: Optional[tuple]) -> models.TrainableModel:
    """One model object per (config, d, input names), so compiled programs keyed by its function are reused."""
    return models.build_model(model_cfg, d, variables)


def auto_plan(cfg: ExperimentConfig, d: int, D: int, n_params: int) -> Optional[auto_chain.BudgetPlan]:
    """The plan of a ``train: auto`` config (:func:`precision_jax.engine.auto_chain.budgeted_plan`), None for a list
    of stages. A budget needs the machine's speed: measured here the first time on a machine, then cached."""
    if not is_auto(cfg.train):
        return None
    settings = auto_settings(cfg.train)
    speed = machine_speed.machine_speed() if settings.budget is not None else None
    planned = auto_chain.budgeted_plan(d, D, n_params, settings.budget, settings.goal,
                                       speed["units_per_second"] if speed else None)
    return dataclasses.replace(planned, record={**planned.record, **({"machine_speed": speed} if speed else {})})


def with_chain(cfg: ExperimentConfig, d: int, D: int, n_params: int,
               planned: Optional[auto_chain.BudgetPlan] = None) -> ExperimentConfig:
    """``cfg`` with ``train: auto`` written out (``planned``, else :func:`auto_plan`); others as they are.

    Only training sees the planned chain: the run keeps the config as written (its id, its config.yaml), and
    its summary's ``chain`` records what ran.
    """
    planned = planned or auto_plan(cfg, d, D, n_params)
    if planned is None:
        return cfg
    return dataclasses.replace(cfg, train=planned.train, boost=planned.boost)


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


def same_but_seed(configs: Sequence[ExperimentConfig]) -> bool:
    """Whether ``configs`` form a seed group: equal but for ``seed`` (and where they are written)."""
    def strip(cfg):
        d = to_dict(cfg)
        d.pop("seed", None)
        d["output"].pop("dir", None)  # where a run is written does not change how it is trained
        return d

    first = strip(configs[0])
    return all(strip(c) == first for c in configs[1:])


@dataclass(frozen=True)
class RunPlan:
    """A seed group resolved once (see the module docstring).

    ``configs`` are the runs as written (their ids and config.yaml); ``train`` and ``boost`` the chain as it
    runs (``train: auto`` written out, ``planned`` then True); ``kind`` is ``auto`` for ``model: auto``, whose
    method the training chooses. ``model`` is None for an interpolant (``kind``
    says which); ``chains`` the built stages as ``[(prefix, stages), ...]``; ``memory_bytes`` the peak estimate.
    """

    configs: tuple[ExperimentConfig, ...]
    target: Target
    kind: str
    model: Optional[models.TrainableModel]
    round_model: Optional[models.TrainableModel]
    n_train: int
    n_test: int
    train: tuple
    boost: Optional[BoostConfig]
    planned: bool
    keys: tuple[RunKeys, ...]
    chains: tuple
    memory_bytes: int = 0
    goal: Optional[float] = None  # a budgeted train: auto's training RMSE at which a seed stops
    auto: Optional[dict] = None  # train: auto's plan record (budget, goal, machine speed; summary.chain["auto"])

    @property
    def interpolant(self) -> bool:
        return self.model is None

    @property
    def log_every(self) -> int:
        return self.configs[0].output.log_every

    def select(self, indices: Sequence[int]) -> "RunPlan":
        """The plan of some of the group's seeds (the rest are complete, failed or trained elsewhere)."""
        return dataclasses.replace(self, configs=tuple(self.configs[i] for i in indices),
                                   keys=tuple(self.keys[i] for i in indices))


def _refuse_chain_for_interpolant(cfg: ExperimentConfig) -> None:
    kind = cfg.model.kind
    if cfg.train:
        raise ConfigError(f"a {kind} model is fitted directly; remove the optimizer stages", "train")
    if cfg.boost is not None:
        raise ConfigError(f"a {kind} model is fitted directly; remove the boost section", "boost")


def make_plan(configs: Sequence[ExperimentConfig], target: Optional[Target] = None) -> RunPlan:
    """Resolve a seed group once; settings this target or model cannot run raise :class:`ConfigError`.

    ``target``: the group's target already resolved (``model: auto``'s probes pass a split of the file's rows).
    """
    configs = tuple(configs)
    if not configs:
        raise ValueError("a plan needs at least one config")
    if not same_but_seed(configs):
        raise ValueError("a seed group's configs may differ only in their seed")
    first = configs[0]
    target = target if target is not None else resolve_target(first)
    keys = tuple(run_keys(cfg.seed, getattr(cfg.model, "init_seed", None)) for cfg in configs)
    if first.model == MODEL_AUTO:  # the method is chosen by probes on the drawn rows (runs/auto_model.py)
        n_train, n_test = data_target.point_counts(target, first.data.train_points, first.data.test_points)
        return RunPlan(configs, target, MODEL_AUTO, None, None, n_train, n_test, (), None, False, keys, ())
    kind = first.model.kind
    if models.is_interpolant(kind):
        _refuse_chain_for_interpolant(first)
        if target.data is not None:
            n_train, n_test = data_target.point_counts(target, first.data.train_points, first.data.test_points)
        elif first.data.train_points == "auto":
            raise ConfigError(f"give a number of training points for a {kind} model", "data.train_points")
        else:
            n_train, n_test = int(first.data.train_points), first.data.test_points
        return RunPlan(configs, target, kind, None, None, n_train, n_test, (), None, False, keys, ())
    variables = tuple(target.variables)
    model = cached_model(first.model, target.d, variables)
    if target.data is not None:
        n_train, n_test = data_target.point_counts(target, first.data.train_points, first.data.test_points)
    else:
        n_train, n_test = resolve_train_points(first, model.n_params, target.d), first.data.test_points
    planned = auto_plan(first, target.d, n_train, model.n_params)
    chained = with_chain(first, target.d, n_train, model.n_params, planned)
    chains = [("train", tuple(driver.build_chain(chained.train, model.apply, model.n_params, "train")))]
    round_model = None
    if chained.boost is not None:
        round_model = cached_model(chained.boost.model or first.model, target.d, variables)
        chains.append(("boost.train", tuple(driver.build_chain(chained.boost.train, round_model.apply,
                                                               round_model.n_params, "boost.train"))))
    return RunPlan(configs, target, kind, model, round_model, n_train, n_test, tuple(chained.train), chained.boost,
                   planned is not None, keys, tuple(chains), goal=planned.goal if planned else None,
                   auto=planned.record if planned else None)


def preflight(group: Union[RunPlan, Sequence[ExperimentConfig]], max_memory: Optional[int] = None) -> RunPlan:
    """Every check that needs no data: the target, the stages for this model, memory, finiteness on the box.

    ``group`` is a plan or the configs of a seed group (planned here). Raises
    :class:`ConfigError` naming the key; draws no data and compiles nothing.
    Returns the plan with its memory estimate.
    """
    plan = group if isinstance(group, RunPlan) else make_plan(group)
    first, target = plan.configs[0], plan.target
    seeds = 1 if plan.interpolant else len(plan.configs)
    if plan.kind == MODEL_AUTO:
        if first.data.sampling != "uniform":
            raise ConfigError(f"a data file's points are its rows; data.sampling: {first.data.sampling} does not "
                              f"apply (leave it uniform)", "data.sampling")
        if plan.n_train < MIN_AUTO_ROWS:
            raise ConfigError(f"model: auto compares methods on held-out training rows; {plan.n_train} training "
                              f"rows are too few (at least {MIN_AUTO_ROWS}): give a model kind", "model")
    elif target.data is not None:
        models.check_rows(first, target)
    peak = memory.check_run_memory(plan.n_train, plan.n_test, target.d, plan.chains, seeds, max_memory)
    if target.data is None:
        check_sampling(first.data.sampling, plan.n_train, target.d, plan.kind)
        check_target(target)
    return dataclasses.replace(plan, memory_bytes=peak)
