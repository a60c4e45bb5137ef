"""From a figure spec to runs in the store, and back: plan, run (through the sweep machinery), collect.

A :class:`Plan` is the figure's run sets expanded for one profile into
validated :class:`~precision_jax.runs.sweep.SweepRun` lists, each run with its
store directory. Running a plan is running a sweep: complete runs are skipped,
seed groups are batched, unfinished runs resume from their checkpoints, and a
shard ``I/N`` takes every N-th seed group. Collecting reads the complete runs
back as :class:`precision_jax.analysis.figures.runs.Entry` records for panels and claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from precision_jax.runs import store
from precision_jax.runs import sweep as sw
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.analysis.figures.runs import Entry, flatten
from precision_jax.analysis.reproduce.claims import RunSetData
from precision_jax.analysis.reproduce.spec import PROFILES, FigureSpec

# A rough cost model for `prec reproduce --list`, calibrated on the 2-core machine of the README:
# seconds per (parameter × point) of one loss-and-gradient evaluation, and per compiled seed group.
SECONDS_PER_PARAM_POINT = 4e-9
SECONDS_PER_GROUP = 4.0
SECONDS_PER_INTERPOLATED_POINT = 3e-5


@dataclass
class Plan:
    spec: FigureSpec
    profile: str
    store: Path
    run_sets: dict[str, list[sw.SweepRun]]

    @property
    def runs(self) -> list[sw.SweepRun]:
        """Every distinct run of the figure (a run two sets share is run once)."""
        seen, out = set(), []
        for runs in self.run_sets.values():
            for run in runs:
                if run.run_id not in seen:
                    seen.add(run.run_id)
                    out.append(run)
        return out

    def path(self, run: sw.SweepRun) -> Path:
        return store.run_dir(self.store, run.config)


def plan_figure(spec: FigureSpec, profile: str, store_root: str | Path) -> Plan:
    """Expand every run set of ``spec`` for ``profile``; a bad key or value is a ConfigError naming it."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; expected one of: {', '.join(PROFILES)}", "--profile")
    base_dir = Path(spec.source).parent if spec.source else Path(".")
    run_sets = {}
    for name, run_set in spec.runs.items():
        data = run_set.sweep_data(profile, spec.experiment(name), str(store_root))
        try:
            sweep_spec = sw.parse_sweep(data, "", base_dir)
            run_sets[name] = sw.expand(sweep_spec)
        except ConfigError as e:
            raise ConfigError(e.what, f"runs.{name}" + (f" ({profile}): {e.key}" if e.key else f" ({profile})"),
                              spec.source) from None
    return Plan(spec, profile, Path(store_root), run_sets)


def run_plan(plan: Plan, shard: Optional[tuple[int, int]] = None, jobs: int = 1, batch: bool = True,
             on_start: Optional[Callable] = None, on_outcome: Optional[Callable] = None,
             cache_dir=None, retry_failed: bool = False, worker_setup=None) -> sw.SweepSummary:
    """Run what the plan still needs (its shard ``(i, n)`` only, if given) into the store."""
    groups = sw.group_runs(plan.runs)
    if shard is not None:
        groups = sw.shard(groups, *shard)
    runs = [r for g in groups for r in g]
    return sw.run_sweep(runs, plan.store, jobs=jobs, batch=batch, on_start=on_start, on_outcome=on_outcome,
                        cache_dir=cache_dir, retry_failed=retry_failed, worker_setup=worker_setup)


def collect(plan: Plan) -> dict[str, RunSetData]:
    """Each run set's complete runs as entries (diverged ones included: they are results), and the count missing."""
    out = {}
    for name, runs in plan.run_sets.items():
        entries, missing = [], 0
        for run in runs:
            path = plan.path(run)
            if not store.is_complete(path):
                missing += 1
                continue
            try:
                summary = store.read_summary(path)
            except store.StoreError:
                missing += 1
                continue
            entries.append(Entry(path, summary.status, flatten(to_dict(run.config)), summary))
        out[name] = RunSetData(entries, missing)
    return out


def _iterations(stage) -> int:
    for name in ("steps", "maxiter"):
        if hasattr(stage, name):
            return int(getattr(stage, name))
    return 1


def _points(stage, n_train: int) -> int:
    for name in ("subsample", "batch_size"):
        value = getattr(stage, name, None)
        if value:
            return min(int(value), n_train)
    return n_train


def parameter_count(model_cfg, d: int) -> int:
    """N of a network config, from its shape alone (building the model would initialise it)."""
    from precision_jax.models import mlp

    if model_cfg.kind == "mlp":
        return mlp.parameter_count((d,) + model_cfg.hidden_widths() + (1,))
    return int(model_cfg.parameter_count())


def estimate_seconds(plan: Plan) -> float:
    """A rough wall-time estimate of running the whole plan on 2 cores (see the constants above)."""
    from precision_jax import models
    from precision_jax.runs.training import resolve_target, resolve_train_points, with_chain

    total = 0.0
    groups = sw.group_runs(plan.runs)
    for group in groups:
        cfg = group[0].config
        seeds = len(group)
        try:
            target = resolve_target(cfg)
        except ConfigError:
            return math.nan
        if cfg.model.kind in models.INTERPOLANTS:
            points = cfg.data.train_points if cfg.data.train_points != "auto" else cfg.data.test_points
            total += seeds * (int(points) + cfg.data.test_points) * SECONDS_PER_INTERPOLATED_POINT
            continue
        n = parameter_count(cfg.model, target.d)
        d_train = resolve_train_points(cfg, n, target.d)
        cfg = with_chain(cfg, target.d, d_train, n)
        chains = [cfg.train] + ([cfg.boost.train] * cfg.boost.rounds if cfg.boost is not None else [])
        work = 0.0
        for chain in chains:
            for stage in chain:
                points = _points(stage, d_train)
                per_iteration = n * points
                if stage.kind in ("bfgs", "rescale"):
                    per_iteration += 2 * n * n
                elif stage.kind == "lm":  # the Jacobian's QR: D·N²
                    per_iteration += n * n * points
                elif stage.kind == "lcs":  # the Hessian by N Hessian-vector products, then its eigh
                    per_iteration += 2.5 * n * n * points + 10 * n ** 3
                work += _iterations(stage) * per_iteration
        total += SECONDS_PER_GROUP + seeds * work * SECONDS_PER_PARAM_POINT
    return total
