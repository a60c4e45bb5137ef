"""Sweeps: many experiments from one YAML spec, resumable, shardable, failure-tolerant.

A sweep spec is a mapping::

    name: widths                       # optional; defaults to the file's stem
    base: ../quickstart.yaml           # a config file (relative to the spec) or an inline config mapping
    grid:                              # Cartesian product over dotted config keys
      model.activation: [tanh, relu]
      model.width: [8, 16, 32]
      seed: [0, 1, 2]
    zip:                               # keys that vary together (equal-length lists);
      model.depth: [2, 3]              # a list of such mappings gives several
      model.width: [51, 13]            # independent zipped groups
    output: {dir: results}             # optional: the sweep's default results store

Expansion order: grid keys in the order written (the last one varies fastest),
then each zip group. A grid key and a zip key may not be the same key. Every
point is validated into an :class:`~precision_jax.experiment.ExperimentConfig`
up front, so a schema error stops the sweep before any training.

Runs that differ only in their ``seed`` form a *group*: the unit of batching
(one loop over the seeds, :func:`precision_jax.runs.training.run_seed_group`), of parallel jobs and of
sharding. ``shard(groups, i, n)`` deals groups round-robin, so shards are
disjoint and their union is the sweep.

Resumption is by run id (:func:`precision_jax.runs.store.run_id`): a run whose
directory is complete is skipped, and a seed group interrupted mid-training
resumes from its checkpoint (:mod:`precision_jax.runs.checkpoint`). A run that
raises is recorded as ``<root>/<name>/<run id>/failed.json`` (no
``summary.json``, so it never looks complete) and retried only when asked
(``retry_failed``); a run that diverges is saved like any other run, with
``status: diverged``, counted apart and not retried. Each run is trained
only by the process holding its lock (:class:`precision_jax.runs.run_lock.RunLock`),
so several invocations may share one store.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from precision_jax.config import shipped
from precision_jax.experiment import ConfigError, ExperimentConfig, apply_override, build_config, read_yaml, to_dict
from precision_jax.problems import data_target
from precision_jax.runs import store
from precision_jax.runs.execute import Outcome, describe, execute, record_failure, status_of

SWEEP_KEYS = ("name", "base", "grid", "zip", "output", "description")
MAX_SWEEP_RUNS = 100_000  # points of one spec; a larger product of axes is refused before it is expanded


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep: the base config data and the axes (dotted key → list of values)."""

    name: str
    base: dict
    grid: tuple[tuple[str, tuple], ...]
    zips: tuple[tuple[tuple[str, tuple], ...], ...]
    output_dir: Optional[str] = None
    source: str = ""

    @property
    def varying_keys(self) -> list[str]:
        return [k for k, _ in self.grid] + [k for group in self.zips for k, _ in group]


@dataclass(frozen=True)
class SweepRun:
    """One point of a sweep: its position, the axis values that made it and its validated config."""

    index: int
    values: dict
    config: ExperimentConfig
    run_id: str

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values.items()) or self.config.name


@dataclass
class SweepSummary:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(o.state == state for o in self.outcomes)

    @property
    def done(self) -> int:
        return self.count("done")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def diverged(self) -> int:
        return self.count("diverged")

    @property
    def timeout(self) -> int:
        return self.count("timeout")


# --------------------------------------------------------------------------- parsing


def resolve_sweep_path(name_or_path: str | Path, root: str | Path = ".") -> Path:
    """A path as given if it is a file, else ``sweeps/NAME.yaml`` (``.yml``) in ``root/configs``, then in the
    configs shipped with the package (:func:`precision_jax.config.shipped.find`)."""
    return shipped.find(name_or_path, "sweep", root)


def _axis(values: Any, key: str) -> tuple:
    if not isinstance(values, list) or not values:
        raise ConfigError(f"expected a non-empty list of values, got {values!r}", key)
    return tuple(values)


def _check_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"axis keys are dotted config keys like model.width, got {key!r}", where)
    if key.split(".")[0] == "output":
        raise ConfigError("output keys do not change a run; sweep over something that does", where)
    return key


def parse_sweep(data: Any, source: str = "", base_dir: str | Path = ".") -> SweepSpec:
    """Validate a sweep mapping into a :class:`SweepSpec` (errors name ``source`` and the key)."""
    try:
        if not isinstance(data, dict):
            raise ConfigError("a sweep file must hold a mapping")
        for key in data:
            if key not in SWEEP_KEYS:
                raise ConfigError(f"unknown key {key!r}; expected one of: {', '.join(SWEEP_KEYS)}", str(key))
        if "base" not in data:
            raise ConfigError("missing required key (a config file path or an inline config)", "base")
        base = data["base"]
        if isinstance(base, str):
            base_path = Path(base) if Path(base).is_absolute() else Path(base_dir) / base
            try:
                base = read_yaml(base_path)
            except ConfigError as e:
                raise ConfigError(e.what, "base", "") from None
            data_target.absolutize_paths(base, base_path.parent)  # a data path is relative to the file that wrote it
        elif not isinstance(base, dict):
            raise ConfigError(f"expected a config file path or a mapping, got {base!r}", "base")
        else:
            base = data_target.absolutize_paths(copy.deepcopy(base), base_dir)
        grid = data.get("grid") or {}
        if not isinstance(grid, dict):
            raise ConfigError(f"expected a mapping of dotted keys to lists, got {grid!r}", "grid")
        grid_axes = tuple((_check_key(k, f"grid.{k}"), data_target.absolutize_axis(k, _axis(v, f"grid.{k}"), base_dir))
                          for k, v in grid.items())
        zips_raw = data.get("zip") or []
        if isinstance(zips_raw, dict):
            zips_raw = [zips_raw]
        if not isinstance(zips_raw, list):
            raise ConfigError(f"expected a mapping (or a list of mappings) of keys to lists, got {zips_raw!r}", "zip")
        zips = []
        seen = {k for k, _ in grid_axes}
        for i, group in enumerate(zips_raw):
            where = f"zip.{i}" if len(zips_raw) > 1 else "zip"
            if not isinstance(group, dict) or not group:
                raise ConfigError(f"expected a mapping of dotted keys to lists, got {group!r}", where)
            axes = tuple((_check_key(k, f"{where}.{k}"),
                          data_target.absolutize_axis(k, _axis(v, f"{where}.{k}"), base_dir)) for k, v in group.items())
            lengths = {k: len(v) for k, v in axes}
            if len(set(lengths.values())) != 1:
                raise ConfigError(f"zipped keys need lists of equal length, got {lengths}", where)
            for k, _ in axes:
                if k in seen:
                    raise ConfigError(f"key {k!r} is already swept elsewhere in the spec", f"{where}.{k}")
                seen.add(k)
            zips.append(axes)
        output = data.get("output") or {}
        if not isinstance(output, dict) or set(output) - {"dir"}:
            raise ConfigError(f"expected {{dir: PATH}}, got {output!r}", "output")
        name = data.get("name") or (Path(source).stem if source else "sweep")
        return SweepSpec(str(name), base, grid_axes, tuple(zips), output.get("dir"), source)
    except ConfigError as e:
        raise e.located(source) from None


def load_sweep(name_or_path: str | Path, root: str | Path = ".") -> SweepSpec:
    """Find (by name or path), read and validate a sweep spec."""
    path = resolve_sweep_path(name_or_path, root)
    return parse_sweep(read_yaml(path), str(path), path.parent)


# --------------------------------------------------------------------------- expansion


def axis_points(spec: SweepSpec) -> list[dict]:
    """Every point of the sweep as ``{dotted key: value}``, in expansion order (at most :data:`MAX_SWEEP_RUNS`)."""
    count = 1
    for _, values in spec.grid:
        count *= len(values)
    for group in spec.zips:
        count *= len(group[0][1])
    if count > MAX_SWEEP_RUNS:
        raise ConfigError(f"the axes give {count:,} runs; a sweep holds at most {MAX_SWEEP_RUNS:,} "
                          f"(split it, or shard it with --shard)", "grid", spec.source)
    factors: list[list[dict]] = [[{key: v} for v in values] for key, values in spec.grid]
    for group in spec.zips:
        keys = [k for k, _ in group]
        factors.append([dict(zip(keys, row)) for row in zip(*(values for _, values in group))])
    points = []
    for combo in itertools.product(*factors):
        point: dict = {}
        for part in combo:
            point.update(part)
        points.append(point)
    return points


def expand(spec: SweepSpec) -> list[SweepRun]:
    """Validate every point of ``spec`` into a config; duplicates (same run id) are kept once."""
    runs, seen = [], set()
    for point in axis_points(spec):
        data = copy.deepcopy(spec.base)
        try:
            for key, value in point.items():
                apply_override(data, key.split("."), copy.deepcopy(value))
        except ConfigError as e:
            raise ConfigError(e.what, e.key, spec.source) from None
        label = ", ".join(f"{k}={v}" for k, v in point.items())
        try:
            cfg = build_config(data, [], source=spec.source)
        except ConfigError as e:
            raise ConfigError(f"{e.what} (at {label})" if label else e.what, e.key, spec.source) from None
        rid = store.run_id(cfg)
        if rid in seen:
            continue
        seen.add(rid)
        runs.append(SweepRun(len(runs), point, cfg, rid))
    return runs


def group_key(cfg: ExperimentConfig) -> str:
    """Everything that changes a run's numbers except its seed: runs sharing it can be batched."""
    resolved = to_dict(cfg)
    resolved.pop("output", None)
    resolved.pop("seed", None)
    return json.dumps(resolved, sort_keys=True, separators=(",", ":"))


def group_runs(runs: Iterable[SweepRun]) -> list[list[SweepRun]]:
    """Runs grouped by :func:`group_key`, groups in order of first appearance."""
    groups: dict[str, list[SweepRun]] = {}
    for run in runs:
        groups.setdefault(group_key(run.config), []).append(run)
    return list(groups.values())


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` → ``(I, N)`` with ``0 <= I < N``."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"expected I/N (e.g. 0/4), got {text!r}", "--shard") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"need 0 <= I < N, got {text!r}", "--shard")
    return i, n


def shard(groups: list[list[SweepRun]], index: int, count: int) -> list[list[SweepRun]]:
    """The ``index``-th of ``count`` disjoint slices: groups ``index, index + count, ...``.

    Round-robin dealing keeps a shard's cost mixed across small and large runs
    (sweeps are usually written from small to large).
    """
    return groups[index::count]


# --------------------------------------------------------------------------- running


def run_group(root: str | Path, group: list[SweepRun], batch: bool = True,
              retry_failed: bool = False) -> list[Outcome]:
    """Run the not-yet-complete runs of one seed group as one batch (one by one with ``batch=False``).

    :func:`precision_jax.runs.execute.execute` with failures recorded: complete
    runs come back ``skipped`` without being touched, and so do failed runs
    unless ``retry_failed``, and runs another process holds. If the batch
    raises, its runs are retried one by one so a failing seed is isolated and
    recorded.
    """
    return execute(root, [r.config for r in group], labels=[r.label for r in group],
                   retry_failed=retry_failed, record_failures=True, batch=batch)


def enable_compilation_cache(directory: str | Path | None = None) -> Path:
    """Turn on JAX's persistent compilation cache (shared across processes), caching even small programs."""
    import jax

    directory = Path(directory or os.environ.get("PREC_JAX_CACHE", Path.home() / ".cache" / "prec" / "jax"))
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return directory


def _worker_init(cache_dir: Optional[str], setup: Optional[Callable[[], None]] = None) -> None:
    if setup is not None:  # first: e.g. the command line's Ctrl-C handling (cli.interrupts.install_worker)
        setup()
    _unblock_sigint()  # a Ctrl-C that came while this process started is delivered now, to setup's handler
    import precision_jax  # noqa: F401  (float64)

    enable_compilation_cache(cache_dir)


@contextlib.contextmanager
def _sigint_blocked_in_new_workers():
    """Spawn worker processes with SIGINT blocked (a blocked signal stays pending across fork and exec).

    A spawned worker spends its first seconds unpickling its initializer and
    importing jax, with Python's default handler: a Ctrl-C there (the terminal
    sends it to the whole process group) would print a traceback from
    ``spawn_main``. Blocked, it waits until :func:`_worker_init` has run the
    caller's ``setup`` (which installs the handler that ends an idle worker
    quietly) and unblocks it. The parent's own Ctrl-C is delayed, not lost: it
    is delivered when the mask is restored.
    """
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _unblock_sigint() -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _worker_run_group(root: str, group: list[SweepRun], batch: bool, retry_failed: bool) -> list[Outcome]:
    return run_group(root, group, batch, retry_failed)


def run_sweep(runs: list[SweepRun], root: str | Path, jobs: int = 1, batch: bool = True,
              on_start: Optional[Callable[[list[SweepRun]], None]] = None,
              on_outcome: Optional[Callable[[Outcome], None]] = None,
              cache_dir: Optional[str | Path] = None, retry_failed: bool = False,
              worker_setup: Optional[Callable[[], None]] = None) -> SweepSummary:
    """Run ``runs`` (seed groups batched) into the store at ``root``, ``jobs`` groups at a time.

    With ``jobs > 1``, each worker process calls ``worker_setup()`` (a picklable
    module-level function) before anything else.

    Complete runs (diverged ones included) are skipped without being loaded,
    and so are failed ones unless ``retry_failed``; each finished run is on
    disk (atomically) before the next starts, and unfinished ones keep
    checkpoints, so stopping at any instant loses at most a minute of work.
    """
    summary = SweepSummary()

    def report(outcome: Outcome) -> None:
        summary.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    pending = []
    for group in group_runs(runs):
        states = [status_of(root, r.config) for r in group]
        if all(st == "complete" or (st == "failed" and not retry_failed) for st in states):
            for r, st in zip(group, states):
                report(Outcome(r.run_id, r.label, "skipped", "" if st == "complete" else "failed"))
        else:
            pending.append(group)
    if jobs <= 1:
        for group in pending:
            if on_start is not None:
                on_start(group)
            for outcome in run_group(root, group, batch, retry_failed):
                report(outcome)
        return summary

    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")
    cache = str(cache_dir) if cache_dir is not None else None
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init,
                             initargs=(cache, worker_setup)) as pool:
        futures = {}
        queue = list(pending)
        while queue or futures:
            while queue and len(futures) < jobs:
                group = queue.pop(0)
                if on_start is not None:
                    on_start(group)
                with _sigint_blocked_in_new_workers():  # submit spawns the worker it needs
                    futures[pool.submit(_worker_run_group, str(root), group, batch, retry_failed)] = group
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                group = futures.pop(future)
                try:
                    outcomes = future.result()
                except Exception as exc:  # noqa: BLE001  (the worker process itself died: its runs are recorded)
                    outcomes = []
                    for r in group:
                        if status_of(root, r.config) != "complete":
                            record_failure(root, r.config, describe(exc))
                            outcomes.append(Outcome(r.run_id, r.label, "failed", describe(exc)))
                for outcome in outcomes:
                    report(outcome)
    return summary
