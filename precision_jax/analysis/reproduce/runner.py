"""From a figure spec to runs in the store, and back: plan, run (through the sweep machinery), collect.

A :class:`Plan` is the figure's run sets expanded for one profile into
validated :class:`~precision_jax.runs.sweep.SweepRun` lists, each run with its
store directory. Running a plan is running a sweep: complete runs are skipped,
seed groups are batched, unfinished runs resume from their checkpoints, and a
shard ``I/N`` takes every N-th seed group. Collecting reads the complete runs
back as :class:`precision_jax.analysis.figures.runs.Entry` records for panels and claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from precision_jax.analysis.figures.runs import Entry, flatten
from precision_jax.analysis.reproduce.claims import RunSetData
from precision_jax.analysis.reproduce.spec import PROFILES, FigureSpec
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.runs import store
from precision_jax.runs import sweep as sw
from precision_jax.runs.execute import run_state


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
        try:
            data = run_set.sweep_data(profile, spec.experiment(name), str(store_root))
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
            state = run_state(plan.store, run.config)
            if state.state != "complete":
                missing += 1
                continue
            entries.append(Entry(plan.path(run), state.summary.status, flatten(to_dict(run.config)), state.summary))
        out[name] = RunSetData(entries, missing)
    return out


def estimate_seconds(plan: Plan, model=None) -> float:
    """The plan's wall time (its runs, drawing and judging) by :mod:`~precision_jax.analysis.reproduce.cost`'s
    model: ``model``'s constants, else the store's calibrated ones, else the committed defaults."""
    from precision_jax.analysis.reproduce import cost

    return cost.estimate_seconds(plan, model or cost.load(plan.store))
