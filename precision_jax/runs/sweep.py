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
only by the process holding its lock (:class:`precision_jax.runs.store.RunLock`),
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
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from precision_jax.problems import datafile

from precision_jax.runs import store
from precision_jax.experiment import ConfigError, ExperimentConfig, apply_override, build_config, read_yaml, to_dict

SWEEP_KEYS = ("name", "base", "grid", "zip", "output", "description")
FAILED_FILE = store.FAILED_FILE
SWEEPS_DIR = Path("configs") / "sweeps"
# The project's configs folder, next to the package (the repository, for an editable install).
PROJECT_CONFIGS = Path(__file__).resolve().parents[2] / "configs"
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
class Outcome:
    """What happened to one run: ``done``, ``skipped`` or ``failed`` (with ``reason``)."""

    run_id: str
    label: str
    state: str
    reason: str = ""
    seconds: float = 0.0
    path: str = ""


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


def sweep_folders(root: str | Path = ".") -> list[Path]:
    """Where a sweep *name* is looked up: the project's ``configs/sweeps`` (found from the installed package,
    so any working directory will do), then ``root/configs/sweeps``."""
    folders = [PROJECT_CONFIGS / "sweeps", Path(root) / SWEEPS_DIR]
    unique: list[Path] = []
    for folder in folders:
        if not any(_same_folder(folder, seen) for seen in unique):
            unique.append(folder)
    return unique


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _display_path(path: Path) -> Path:
    """``path`` relative to the working directory when it lies inside it (shorter in messages), else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return path.resolve()


def resolve_sweep_path(name_or_path: str | Path, root: str | Path = ".") -> Path:
    """A path as given if it exists, else ``NAME.yaml`` (``.yml``) in :func:`sweep_folders`."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.suffix in (".yaml", ".yml") or "/" in str(name_or_path):
        raise ConfigError(f"no sweep file {str(path)!r}")
    folders = sweep_folders(root)
    for folder in folders:
        for suffix in (".yaml", ".yml"):
            candidate = folder / f"{name_or_path}{suffix}"
            if candidate.is_file():
                return _display_path(candidate)
    known = sorted({p.stem for folder in folders for p in folder.glob("*.y*ml")})
    raise ConfigError(f"no sweep named {str(name_or_path)!r} (looked in "
                      f"{', '.join(str(_display_path(f)) for f in folders)}); known: {', '.join(known) or 'none'}")


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
            datafile.absolutize_paths(base, base_path.parent)  # a data path is relative to the file that wrote it
        elif not isinstance(base, dict):
            raise ConfigError(f"expected a config file path or a mapping, got {base!r}", "base")
        else:
            base = datafile.absolutize_paths(copy.deepcopy(base), base_dir)
        grid = data.get("grid") or {}
        if not isinstance(grid, dict):
            raise ConfigError(f"expected a mapping of dotted keys to lists, got {grid!r}", "grid")
        grid_axes = tuple((_check_key(k, f"grid.{k}"), datafile.absolutize_axis(k, _axis(v, f"grid.{k}"), base_dir))
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
                          datafile.absolutize_axis(k, _axis(v, f"{where}.{k}"), base_dir)) for k, v in group.items())
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


def failed_path(root: str | Path, cfg: ExperimentConfig) -> Path:
    return store.run_dir(root, cfg) / FAILED_FILE


def record_failure(root: str | Path, cfg: ExperimentConfig, reason: str, detail: str = "") -> Path:
    """Write ``failed.json`` atomically (:func:`precision_jax.runs.store.atomic_write_json`) into the run's directory.

    The directory gets no ``summary.json``, so the store never counts it as complete.
    """
    final = store.run_dir(root, cfg)
    final.mkdir(parents=True, exist_ok=True)
    record = {"run_id": final.name, "name": cfg.name, "seed": cfg.seed, "status": "failed", "reason": reason,
              "detail": detail, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "config": to_dict(cfg)}
    return store.atomic_write_json(final / FAILED_FILE, record)


def clear_failure(root: str | Path, cfg: ExperimentConfig) -> None:
    path = failed_path(root, cfg)
    if path.exists() and store.is_complete(path.parent):
        path.unlink(missing_ok=True)


def clean_run_leftovers(root: str | Path, cfg: ExperimentConfig) -> int:
    """Remove ``.tmp-<run id>-*`` directories an interrupted writer of *this* run left behind.

    Only this run's leftovers: shards run disjoint runs, so another process
    sharing the store is never writing them.
    """
    import shutil

    parent = store.run_dir(root, cfg).parent
    stale = list(parent.glob(f"{store.TMP_PREFIX}{store.run_id(cfg)}-*")) if parent.is_dir() else []
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def status_of(root: str | Path, cfg: ExperimentConfig) -> str:
    """``complete`` (any saved run), ``failed`` (a failure record only) or ``missing``."""
    path = store.run_dir(root, cfg)
    if store.is_complete(path):
        return "complete"
    if (path / FAILED_FILE).is_file():
        return "failed"
    return "missing"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _save(root: str | Path, record, run: SweepRun, seconds: float) -> Outcome:
    path = store.write_run(root, record)
    clear_failure(root, run.config)
    status = record.summary.status
    state = "done" if status == "complete" else status  # "diverged": saved, counted apart, never retried
    return Outcome(run.run_id, run.label, state, "" if state == "done" else status, seconds, str(path))


def _fail(root: str | Path, run: SweepRun, exc: BaseException, seconds: float) -> Outcome:
    reason = _describe(exc)
    record_failure(root, run.config, reason, traceback.format_exc(limit=8))
    return Outcome(run.run_id, run.label, "failed", reason, seconds)


def _train(root: str | Path, runs: list[SweepRun]) -> list[Outcome]:
    """Train ``runs`` (one seed group, or one run) with a checkpoint, save them, drop the checkpoint.

    A run that reaches its time cap (``output.max_time``) keeps its checkpoint
    and comes back as ``timeout``; the next invocation resumes it.
    """
    from precision_jax.runs.checkpoint import RunTimeout, for_runs
    from precision_jax.runs.training import run_seed_group

    checkpoint = for_runs(root, [r.config for r in runs])
    start = time.perf_counter()
    try:
        records = run_seed_group([r.config for r in runs], checkpoint=checkpoint)
    except RunTimeout as stop:
        return [Outcome(r.run_id, r.label, "timeout", str(stop), time.perf_counter() - start) for r in runs]
    seconds = (time.perf_counter() - start) / len(runs)
    outcomes = [_save(root, record, run, seconds) for record, run in zip(records, runs)]
    checkpoint.clear()
    return outcomes


def run_sequential(root: str | Path, run: SweepRun) -> Outcome:
    """One run through :func:`precision_jax.runs.training.run_seed_group`, saved or recorded as failed."""
    start = time.perf_counter()
    try:
        return _train(root, [run])[0]
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # a failed run is data for the sweep, not the end of it
        return _fail(root, run, exc, time.perf_counter() - start)


def run_group(root: str | Path, group: list[SweepRun], batch: bool = True,
              retry_failed: bool = False) -> list[Outcome]:
    """Run the not-yet-complete runs of one seed group as one batch (one by one with ``batch=False``).

    Complete runs come back as ``skipped`` without being touched, and so do
    failed runs unless ``retry_failed``, and runs another process holds (their
    lock, :class:`precision_jax.runs.store.RunLock`). If the batch raises, its runs
    are retried one by one so a failing seed is isolated and recorded.
    """
    outcomes, todo, locks = [], [], []
    try:
        for run in group:
            status = status_of(root, run.config)
            if status == "complete" or (status == "failed" and not retry_failed):
                outcomes.append(Outcome(run.run_id, run.label, "skipped", "" if status == "complete" else "failed"))
                continue
            lock = store.RunLock(root, run.config)
            if not lock.acquire():
                outcomes.append(Outcome(run.run_id, run.label, "skipped", "running in another process"))
                continue
            locks.append(lock)
            if status_of(root, run.config) == "complete":  # finished by another process meanwhile
                outcomes.append(Outcome(run.run_id, run.label, "skipped"))
                continue
            clean_run_leftovers(root, run.config)  # safe: no other process holds this run
            todo.append(run)
        if batch and len(todo) > 1:
            try:
                return outcomes + _train(root, todo)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception:
                # Isolate the failing seed(s) by running them one by one; the batch's checkpoint is abandoned.
                from precision_jax.runs.checkpoint import checkpoint_path

                checkpoint_path(root, [r.config for r in todo]).unlink(missing_ok=True)
        return outcomes + [run_sequential(root, run) for run in todo]
    finally:
        for lock in locks:
            lock.release()


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
                except Exception as exc:  # the worker process itself died
                    outcomes = []
                    for r in group:
                        if status_of(root, r.config) != "complete":
                            record_failure(root, r.config, _describe(exc))
                            outcomes.append(Outcome(r.run_id, r.label, "failed", _describe(exc)))
                for outcome in outcomes:
                    report(outcome)
    return summary
