"""``model: auto``: choose a data file's approximator by short probes, then fit the winner.

The run's training rows (drawn as any run's: the seed's permutation, ``data.train_points``) are split once
more. A permutation from the run's data key (folded with :data:`PROBE_SALT`) holds out
:data:`VALIDATION_FRACTION` of them as validation rows V; for rows that form a full tensor grid, the
validation rows are instead every point off the sub-grid of even-indexed values on each axis, so that a
spline still has a grid to interpolate. Each candidate c is fitted to the other rows as a run of its own
(:func:`~precision_jax.runs.training.run_seed_group` on a target whose test set is V; nothing is written)
and scored by

    RMSE_c = √( mean over v ∈ V of (f_c(x_v) − y_v)² ),

over the validation points it can predict (a simplex is undefined outside its hull; those points are
counted, not scored). The winner is argmin RMSE_c, the earlier candidate on a tie (the cheaper fit); it is
then fitted to all the training rows with its own config and scored on the run's test rows like any run.
The test rows never enter the choice.

Candidates, in order (cheapest first):

* ``chebyshev``: the least-squares Chebyshev series (d ≤ 3), spectral for smooth data, of the degree its
  probe had (:func:`candidates`);
* ``spline``: order 5, only for rows the spline kind accepts (any 1-D rows; in d ≥ 2 a full grid with
  ``test_data``);
* ``simplex``: linear interpolation on a Delaunay mesh (d ≤ :data:`SIMPLEX_MAX_D`), N^(−2/d) whatever the
  smoothness;
* ``net``: a tanh net (:data:`NET_MODEL`, inputs standardized) probed with :data:`PROBE_STEPS` Adam steps and,
  if it wins, trained with ``train: auto`` (:mod:`precision_jax.engine.auto_chain`).

A candidate within :data:`FLOOR_MARGIN` · ε · RMS(y_V) is at the float64 floor, where nothing can beat it by
more than rounding: the candidates after it are skipped (a smooth file costs one least-squares fit, not a net's
compile and training). A candidate the rows cannot carry (its kind's ``check_rows`` refuses the full run)
stays in the table, skipped, with the refusal. The table (candidate, validation RMSE, max error, seconds,
N) and the choice go into the run's ``summary.json`` as ``auto`` (:class:`precision_jax.runs.store.Summary`).
``prec guide`` runs :func:`choose` on a data file by default, so its advice is measured too.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import jax
import numpy as np

from precision_jax import models
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.config.kinds import MODEL_AUTO, MODEL_AUTO_VERSION, parse_model, parse_stages
from precision_jax.experiment import ExperimentConfig
from precision_jax.models.chebyshev import MAX_DIM as CHEBYSHEV_MAX_D
from precision_jax.models.chebyshev import default_rows_degree
from precision_jax.models.spline import supported_orders, tensor_grid
from precision_jax.problems.data_target import DataPoints
from precision_jax.runs import training
from precision_jax.runs.checkpoint import Checkpointer
from precision_jax.runs.plan import RunPlan, make_plan, preflight
from precision_jax.runs.store import RunRecord

__all__ = ["MODEL_AUTO", "VERSION", "NET_MODEL", "PROBE_STEPS", "Choice", "ProbeRow", "candidates",
           "choose", "fit_auto", "run_auto_group"]

VERSION = MODEL_AUTO_VERSION  # of the probing rule: part of a model: auto run's id (runs.store.run_id)
PROBE_SALT = 0x6175746F  # "auto": the split's key is the run's data key folded with this
VALIDATION_FRACTION = 0.2
SIMPLEX_MAX_D = 6  # a Delaunay mesh in d > 6 has too many simplices to be a candidate
NET_MODEL = {"kind": "mlp", "depth": 3, "width": 32, "activation": "tanh"}
PROBE_STEPS = 500
EPS = float(np.finfo(np.float64).eps)
FLOOR_MARGIN = 100.0  # a candidate within 100 ε·RMS(y) of the validation rows is at the floor: nothing can beat it
PROBE_LR = 3.0e-3


@dataclass(frozen=True)
class ProbeRow:
    """One line of the probe table: a candidate, its validation RMSE and max error, and what it cost."""

    candidate: str
    description: str = ""
    rmse: float = float("nan")
    max_abs_error: float = float("nan")
    unscored: int = 0  # validation points the candidate cannot predict (outside a simplex's hull)
    N: int = 0
    seconds: float = 0.0
    skipped: Optional[str] = None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Choice:
    """What the probes chose: the winner's full-run config and the table behind it."""

    candidate: str
    config: ExperimentConfig
    rows: tuple[ProbeRow, ...]
    split: str
    fit_rows: int
    validation_rows: int
    seconds: float

    def to_json(self) -> dict:
        """The ``auto`` section of ``summary.json``."""
        return {"version": VERSION, "chosen": self.candidate, "model": to_dict(self.config.model),
                "train": to_dict(self.config)["train"], "standardize": bool(self.config.data.standardize),
                "split": self.split, "fit_rows": self.fit_rows, "validation_rows": self.validation_rows,
                "probe_seconds": self.seconds, "probes": [r.to_json() for r in self.rows]}


def candidates(cfg: ExperimentConfig, d: int, fit_rows: int) -> list[tuple[str, ExperimentConfig, ExperimentConfig]]:
    """(name, full-run config, probe config) of each candidate for a d-input data file, in the order above.

    The Chebyshev series keeps the degree its probe had on ``fit_rows`` rows (the largest with (n+1)^d ≤
    rows/4): the full fit is the series that was validated, not a higher degree that was not, whose error
    near the box's sparsely sampled edges can be tens of times larger.
    """
    out = []

    def interpolant(name: str, model: dict) -> None:
        full = dataclasses.replace(cfg, model=parse_model(model, "model"), train=(), boost=None)
        out.append((name, full, full))

    if d <= CHEBYSHEV_MAX_D:
        interpolant("chebyshev", {"kind": "chebyshev", "degree": default_rows_degree(fit_rows, d)})
    if 5 in supported_orders(d):
        interpolant("spline", {"kind": "spline", "order": 5})
    if d <= SIMPLEX_MAX_D:
        interpolant("simplex", {"kind": "simplex"})
    net = parse_model(NET_MODEL, "model")
    data = dataclasses.replace(cfg.data, standardize=True)  # a net trains on standardized inputs
    full = dataclasses.replace(cfg, model=net, train=MODEL_AUTO, boost=None, data=data)
    probe = dataclasses.replace(full, train=parse_stages([{"kind": "adam", "lr": PROBE_LR, "steps": PROBE_STEPS}],
                                                         "train"),
                                output=dataclasses.replace(cfg.output, log_every=PROBE_STEPS))
    out.append(("net", full, probe))
    return out


def _split(x: np.ndarray, key) -> tuple[np.ndarray, np.ndarray, str]:
    """(fit rows, validation rows, how): a sub-grid for a full tensor grid, else a seeded 20 % held out."""
    axes = tensor_grid(x)
    if axes is not None and all(a.size >= 5 for a in axes):
        on = np.ones(x.shape[0], bool)
        for i, a in enumerate(axes):
            index = np.searchsorted(a, x[:, i])
            # Even-indexed values, and the last one, so the sub-grid spans the whole box.
            on &= (index % 2 == 0) | (index == a.size - 1)
        return np.flatnonzero(on), np.flatnonzero(~on), "the sub-grid of every other value on each axis"
    order = np.asarray(jax.random.permutation(key, x.shape[0]))
    held = max(1, int(round(VALIDATION_FRACTION * x.shape[0])))
    return np.sort(order[held:]), np.sort(order[:held]), f"{VALIDATION_FRACTION:.0%} of the training rows held out"


def _probe_target(target, x: np.ndarray, y: np.ndarray, fit: np.ndarray, val: np.ndarray):
    """The data target whose training rows are ``fit`` and whose test rows are ``val`` (the box is kept)."""
    table = target.data.train

    def part(rows: np.ndarray):
        return dataclasses.replace(table, x=x[rows], y=y[rows], rows=np.arange(1, rows.size + 1))

    return dataclasses.replace(target, data=DataPoints(part(fit), part(val)))


def _run_probe(name: str, probe_cfg: ExperimentConfig, probe_target) -> ProbeRow:
    start = time.perf_counter()
    try:
        cfg = dataclasses.replace(probe_cfg, data=dataclasses.replace(probe_cfg.data, train_points="auto",
                                                                      test_points=probe_target.data.test.n))
        record = training.run_seed_group(preflight(make_plan([cfg], target=probe_target)))[0]
    except ConfigError as e:
        return ProbeRow(name, skipped=e.what, seconds=time.perf_counter() - start)
    s = record.summary
    return ProbeRow(name, s.model, float(s.metrics["test_rmse"]), float(s.metrics["test_max_abs_error"]),
                    int(s.metrics.get("outside_hull", 0)), int(s.N), time.perf_counter() - start)


def choose(cfg: ExperimentConfig, target, keys=None,
           on_probe: Optional[Callable[[ProbeRow], None]] = None) -> Choice:
    """Probe every candidate on ``cfg``'s training rows (module docstring) and return the winner's config.

    ``target`` is ``cfg``'s resolved data target, ``keys`` the run's key tree (default: the seed's);
    ``on_probe(row)`` is called after each candidate. Raises :class:`ConfigError` when no candidate can fit.
    """
    start = time.perf_counter()
    data = training.draw_data(cfg, target, 0, keys, standardize=False)
    x, y = np.asarray(data.x_train, np.float64), np.asarray(data.y_train, np.float64)
    keys = keys or make_plan([cfg]).keys[0]
    fit, val, how = _split(x, jax.random.fold_in(keys.data, PROBE_SALT))
    probe_target = _probe_target(target, x, y, fit, val)
    rows, configs = [], {}
    floor = FLOOR_MARGIN * EPS * float(np.sqrt(np.mean(y[val] ** 2)))
    for name, full, probe in candidates(cfg, target.d, int(fit.size)):
        done = next((r for r in rows if r.skipped is None and r.rmse <= floor), None)
        try:
            models.check_rows(full, target)  # the run it would become must be possible on the whole file
        except ConfigError as e:
            row = ProbeRow(name, skipped=e.what)
        else:
            row = _run_probe(name, probe, probe_target) if done is None else ProbeRow(
                name, skipped=f"{done.candidate} is at the float64 floor ({done.rmse:.2g} ≤ {floor:.2g})")
        rows.append(row)
        configs[name] = full
        if on_probe is not None:
            on_probe(row)
    scored = [r for r in rows if r.skipped is None and np.isfinite(r.rmse)]
    if not scored:
        reasons = "; ".join(f"{r.candidate}: {r.skipped or 'no finite RMSE'}" for r in rows)
        raise ConfigError(f"model: auto found no method that fits these rows ({reasons})", "model")
    best = min(scored, key=lambda r: r.rmse)  # min keeps the first of equals: the cheaper candidate
    return Choice(best.candidate, configs[best.candidate], tuple(rows), how, int(fit.size), int(val.size),
                  time.perf_counter() - start)


def fit_auto(plan: RunPlan, s: int, on_log=None, checkpoint: Optional[Checkpointer] = None,
             on_compile=None) -> RunRecord:
    """Seed ``s`` of a ``model: auto`` plan: choose, fit the winner, and record the choice in its summary.

    The record keeps the config as written (``model: auto``: its run id and config.yaml); its parts carry the
    winner's model, and ``summary.auto`` says which it is (:func:`precision_jax.runs.store.part_models`).
    """
    start = time.perf_counter()
    cfg = plan.configs[s]
    choice = choose(cfg, plan.target, plan.keys[s])
    winner = preflight([choice.config])
    record = training.run_seed_group(winner, on_log=on_log, checkpoint=checkpoint, on_compile=on_compile)[0]
    summary = dataclasses.replace(record.summary, auto=choice.to_json(), wall_seconds=time.perf_counter() - start)
    return dataclasses.replace(record, config=cfg, summary=summary)


def run_auto_group(plan: RunPlan, on_log=None, checkpoint: Optional[Checkpointer] = None,
                   on_compile=None) -> list[RunRecord]:
    """:func:`~precision_jax.runs.training.run_seed_group` for a ``model: auto`` plan: each seed chooses and fits.

    A group's checkpoint holds one group's state, so only a group of one resumes from it (its probes are
    deterministic, so the same winner resumes); the seeds of a larger group are fitted one by one without.
    """
    single = len(plan.configs) == 1
    return [fit_auto(plan, s, on_log, checkpoint if single else None, on_compile) for s in range(len(plan.configs))]


def describe_choice(choice: Any) -> str:
    """One line: what won, by how much over the runner-up."""
    scored = sorted((r for r in choice.rows if r.skipped is None and np.isfinite(r.rmse)), key=lambda r: r.rmse)
    best = scored[0]
    second = f", ahead of {scored[1].candidate} ({scored[1].rmse:.2g})" if len(scored) > 1 else ""
    return f"{best.candidate} (validation RMSE {best.rmse:.2g}{second})"
