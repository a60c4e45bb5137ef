"""The one path of a run into the store: decide, plan, lock, checkpoint, train, write.

``prec run``, ``pj.fit``, ``prec sweep`` and ``prec reproduce`` all go through
:func:`execute`, so a run is skipped, locked, resumed and written the same way
whoever asks for it:

1. **Decide** (:func:`run_state`): a run whose directory holds a readable
   ``summary.json`` is complete and skipped (unless ``force``); one with only a
   ``failed.json`` is skipped unless failures are retried.
2. **Plan** the runs still to do, once (:func:`precision_jax.runs.plan.preflight`):
   bad settings, sizes, memory and targets are refused before anything is
   written.
3. **Lock** each run (:class:`precision_jax.runs.run_lock.RunLock`); a run another
   process holds is skipped as busy, and one that became complete meanwhile
   is skipped. Leftover ``.tmp-`` directories of a locked run are removed
   (only this process can be writing them).
4. **Train** the seed group as one batch with a checkpoint
   (:mod:`precision_jax.runs.checkpoint`): an interrupted run resumes from it,
   and a run that reaches its time cap keeps it and comes back ``timeout``.
5. **Write** each record atomically (:func:`precision_jax.runs.store.write_run`),
   clear any failure record, drop the checkpoint, drop the checkpoints of
   groups that finished in parts (:func:`drop_finished_checkpoints`), release
   the locks.

With ``record_failures`` (sweeps), an exception is data, not the end: a batch
that raises is retried seed by seed to isolate the failing seed, and each
failure is written as ``<root>/<name>/<run id>/failed.json`` (never complete).
Without it (``prec run``, ``pj.fit``) the exception reaches the caller, which
says what went wrong.
"""

from __future__ import annotations

import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from precision_jax.config.engine import to_dict
from precision_jax.config.kinds import MODEL_AUTO
from precision_jax.experiment import ExperimentConfig
from precision_jax.runs import atomic_files, checkpoint, run_lock, store
from precision_jax.runs.checkpoint import Checkpointer, RunTimeout, for_runs
from precision_jax.runs.plan import RunPlan, preflight
from precision_jax.runs.store import FAILED_FILE, RunRecord, Summary

# Why a run was skipped (Outcome.reason of a "skipped" outcome).
COMPLETE, FAILED, BUSY = "", "failed", "running in another process"

Root = Union[str, Path]


@dataclass
class Outcome:
    """What happened to one run: ``done``, ``diverged``, ``skipped``, ``timeout`` or ``failed`` (with ``reason``).

    ``path`` is the run directory; ``summary`` the run's summary when it is
    complete (written now or found complete), ``record`` the in-memory record
    of a run trained now.
    """

    run_id: str
    label: str
    state: str
    reason: str = ""
    seconds: float = 0.0
    path: str = ""
    summary: Optional[Summary] = field(default=None, repr=False, compare=False)
    record: Optional[RunRecord] = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class RunState:
    """``complete`` (with its summary), ``failed`` (a failure record only) or ``missing``; ``note`` says why a
    run directory that looks complete is not (an unreadable summary)."""

    state: str
    summary: Optional[Summary] = None
    note: str = ""


def run_state(root: Root, cfg: ExperimentConfig) -> RunState:
    """Where the store stands on ``cfg``'s run: the one place that decides "complete, skip"."""
    path = store.run_dir(root, cfg)
    if store.is_complete(path):
        try:
            return RunState("complete", store.read_summary(path))
        except store.StoreError as e:  # half a summary is no summary: the run is trained again
            return RunState("missing", note=f"{e}; training the run again")
    if (path / FAILED_FILE).is_file():
        return RunState("failed")
    return RunState("missing")


def status_of(root: Root, cfg: ExperimentConfig) -> str:
    """``complete``, ``failed`` or ``missing`` (:func:`run_state` without the summary)."""
    return run_state(root, cfg).state


def failed_path(root: Root, cfg: ExperimentConfig) -> Path:
    return store.run_dir(root, cfg) / FAILED_FILE


def record_failure(root: Root, cfg: ExperimentConfig, reason: str, detail: str = "") -> Path:
    """Write ``failed.json`` into the run's directory, atomically (:mod:`precision_jax.runs.atomic_files`).

    The directory gets no ``summary.json``, so the store never counts it as complete.
    """
    final = store.run_dir(root, cfg)
    final.mkdir(parents=True, exist_ok=True)
    record = {"run_id": final.name, "name": cfg.name, "seed": cfg.seed, "status": "failed", "reason": reason,
              "detail": detail, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "config": to_dict(cfg)}
    return atomic_files.atomic_write_json(final / FAILED_FILE, record)


def clear_failure(root: Root, cfg: ExperimentConfig) -> None:
    path = failed_path(root, cfg)
    if path.exists() and store.is_complete(path.parent):
        path.unlink(missing_ok=True)


def clean_run_leftovers(root: Root, cfg: ExperimentConfig) -> int:
    """Remove ``.tmp-<run id>-*`` directories an interrupted writer of *this* run left behind.

    Called only while this process holds the run's lock, so no other process
    is writing them; they are prec's own temporary directories.
    """
    parent = store.run_dir(root, cfg).parent
    stale = list(parent.glob(f"{store.TMP_PREFIX}{store.run_id(cfg)}-*")) if parent.is_dir() else []
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def drop_finished_checkpoints(folder: Path, held: Sequence[str] = ()) -> int:
    """Remove the checkpoints in ``folder`` whose runs all completed after their last save; how many went.

    A seed group trained in parts (its runs locked by different processes)
    leaves the whole group's checkpoint behind, since no one process completes
    that group. One is dropped only while this process holds the locks of all
    its runs (``held``: the run ids it holds already), so no process is
    saving it; a run held elsewhere keeps it for a later call, and so does a
    store this process may not write (a lock it cannot open).
    """
    dropped = 0
    for path, group in checkpoint.finished(folder):
        taken = []
        try:
            for rid in group:
                if rid in held:
                    continue
                lock = run_lock.RunLock.of_id(folder, rid)
                if not lock.acquire():
                    break
                taken.append(lock)
            else:
                Checkpointer(path, group).clear()
                dropped += 1
        except OSError:  # a read-only store: tidying it is not this call's business, reading it is
            pass
        finally:
            for lock in taken:
                lock.release()
    return dropped


def describe(exc: BaseException) -> str:
    """``Type: first line`` of an exception, for a failure record and a sweep's table."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@dataclass
class Hooks:
    """What a caller sees of a run while it trains (all optional).

    ``on_log(point)`` gets each curve point, ``on_compile(event)`` each
    compilation, ``on_note(text)`` one-line notes (an unreadable summary
    trained again, a checkpoint resumed), ``on_start(plan)`` is called once the
    runs are locked, just before training.
    """

    on_log: Optional[Callable] = None
    on_compile: Optional[Callable] = None
    on_note: Optional[Callable[[str], None]] = None
    on_start: Optional[Callable[[RunPlan], None]] = None

    def note(self, text: str) -> None:
        if self.on_note is not None:
            self.on_note(text)


def execute(root: Root, configs: Sequence[ExperimentConfig], *, labels: Optional[Sequence[str]] = None,
            force: bool = False, retry_failed: bool = True, record_failures: bool = False, batch: bool = True,
            max_memory: Optional[int] = None, max_time: Optional[float] = None,
            hooks: Optional[Hooks] = None) -> list[Outcome]:
    """Run a seed group (or one run) into the store at ``root``; one :class:`Outcome` per config, in order.

    ``force`` trains complete runs again (files prec did not write in their
    directories are kept); ``retry_failed`` trains runs with a failure record;
    ``record_failures`` turns exceptions into failure records (see the module
    docstring); ``batch=False`` trains the seeds one by one; ``max_memory``
    (bytes) bounds the pre-run estimate; ``max_time`` (seconds) overrides
    ``output.max_time``.
    """
    hooks = hooks or Hooks()
    configs = list(configs)
    labels = list(labels) if labels is not None else [c.name for c in configs]
    outcomes: list[Optional[Outcome]] = [None] * len(configs)

    def skipped(i: int, reason: str, summary: Optional[Summary] = None) -> None:
        outcomes[i] = Outcome(store.run_id(configs[i]), labels[i], "skipped", reason,
                              path=str(store.run_dir(root, configs[i])), summary=summary)

    def to_do() -> list[int]:
        todo = []
        for i, cfg in enumerate(configs):
            state = run_state(root, cfg)
            if state.note:
                hooks.note(state.note)
            if state.state == "complete" and not force:
                skipped(i, COMPLETE, state.summary)
            elif state.state == "failed" and not retry_failed:
                skipped(i, FAILED)
            else:
                todo.append(i)
        return todo

    todo = to_do()
    folders = sorted({store.run_dir(root, c).parent for c in configs})
    if not todo:  # all complete: a group finished in parts may have left its checkpoint, and this may be the last
        for folder in folders:  # process to look at this folder
            drop_finished_checkpoints(folder)
        return outcomes
    try:
        plan = preflight([configs[i] for i in todo], max_memory)
    except Exception as exc:
        if not record_failures or isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        for i in todo:
            outcomes[i] = _failed(root, configs[i], labels[i], exc, 0.0)
        return outcomes
    atomic_files.check_writable(root)  # a file, a read-only or full folder: refused before any data are drawn
    locks, locked, held = [], [], []
    try:
        for position, i in enumerate(todo):
            lock = run_lock.RunLock(root, configs[i])
            if not lock.acquire():
                skipped(i, BUSY)
                continue
            locks.append(lock)
            held.append(store.run_id(configs[i]))
            state = run_state(root, configs[i])
            if state.state == "complete" and not force:  # finished by another process meanwhile
                skipped(i, COMPLETE, state.summary)
                continue
            clean_run_leftovers(root, configs[i])
            locked.append((position, i))
        if not locked:
            return outcomes
        group = plan.select([position for position, _ in locked])
        indices = [i for _, i in locked]
        if hooks.on_start is not None:
            hooks.on_start(group)
        batches = [list(range(len(indices)))] if batch else [[k] for k in range(len(indices))]
        for members in batches:
            sub = group if len(members) == len(indices) else group.select(members)
            for k, outcome in zip(members, _train(root, sub, [labels[indices[k]] for k in members], hooks,
                                                  max_time, record_failures)):
                outcomes[indices[k]] = outcome
        for folder in folders:
            drop_finished_checkpoints(folder, held)
    finally:
        for lock in locks:
            lock.release()
    return outcomes


def _train(root: Root, plan: RunPlan, labels: list[str], hooks: Hooks, max_time: Optional[float],
           record_failures: bool) -> list[Outcome]:
    """Train ``plan``'s seeds as one batch and write them; with ``record_failures``, a batch that raises is
    retried seed by seed (its checkpoint abandoned) so that the failing seed is isolated and recorded."""
    from precision_jax.runs.auto_model import run_auto_group
    from precision_jax.runs.training import run_seed_group

    # model: auto: probes choose each seed's method, then the winner is trained (runs/auto_model.py)
    train_group = run_auto_group if plan.kind == MODEL_AUTO else run_seed_group

    checkpoint = for_runs(root, plan.configs)
    if max_time is not None:
        checkpoint.max_seconds = max_time
    if checkpoint.path.is_file():
        hooks.note(f"resuming from {checkpoint.path}")
    start = time.perf_counter()
    try:
        records = train_group(plan, on_log=hooks.on_log, checkpoint=checkpoint, on_compile=hooks.on_compile)
    except RunTimeout as stop:
        return [Outcome(store.run_id(c), label, "timeout", str(stop), time.perf_counter() - start,
                        str(store.run_dir(root, c))) for c, label in zip(plan.configs, labels)]
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        if not record_failures:
            raise
        seconds = time.perf_counter() - start
        if len(plan.configs) == 1:
            return [_failed(root, plan.configs[0], labels[0], exc, seconds)]
        checkpoint.path.unlink(missing_ok=True)
        return [outcome for k in range(len(plan.configs))
                for outcome in _train(root, plan.select([k]), [labels[k]], hooks, max_time, record_failures)]
    seconds = (time.perf_counter() - start) / len(records)
    outcomes = []
    for record, label in zip(records, labels):
        if record.config.output.certify and record.summary.status == "complete":
            from precision_jax.runs.certify import certify_record  # the worst-case search, into the summary

            certify_record(record, plan.target)
        path = store.write_run(root, record)  # the one place a run directory is written
        clear_failure(root, record.config)
        status = record.summary.status
        state = "done" if status == "complete" else status  # "diverged": saved, counted apart, never retried
        outcomes.append(Outcome(store.run_id(record.config), label, state, "" if state == "done" else status,
                                seconds, str(path), record.summary, record))
    checkpoint.clear()
    return outcomes


def _failed(root: Root, cfg: ExperimentConfig, label: str, exc: BaseException, seconds: float) -> Outcome:
    reason = describe(exc)
    record_failure(root, cfg, reason, traceback.format_exc(limit=8))
    return Outcome(store.run_id(cfg), label, "failed", reason, seconds, str(store.run_dir(root, cfg)))
