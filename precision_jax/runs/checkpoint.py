"""Checkpoints: an unfinished run's training state on disk, so that running the same command resumes it.

One file per seed group (a ``prec run`` is a group of one), next to the runs it
belongs to::

    <root>/<name>/.ckpt-<group id>.npz

written atomically (temporary file, fsync, rename) at most every
``every_seconds`` at a chunk boundary of the driver, and once more when the
run is interrupted (Ctrl-C) or reaches its time cap, with the state of the last
completed chunk. It holds, for every seed: the boosting round and the stage
reached, each stage's full optimizer state (its pytree leaves), the curve so
far, the best parameters so far and the finished rounds' parts. Resuming
restores exactly these arrays and continues at the same chunk boundary, so the
resumed run computes the same numbers as an uninterrupted one. The file is
deleted by the run that completes it. A group can also finish in parts (three
sweeps on one store each lock some of its runs): then no single run completes
the whole group, and the checkpoint of the whole group goes stale. Whoever
finds every run of a checkpoint's group complete, and can take all their locks
(no ``--force`` run of the group is writing it), drops it, provided the runs were completed after
the checkpoint's last save (:func:`finished`). ``prec`` never deletes anything else: a file counts as
``prec``'s checkpoint only when it reads as one and its name is the id of the
group it holds.

The format is data, never code: arrays in the ``.npz`` and one JSON document
(``meta``) that refers to them by index; no pickle. A checkpoint written for
other runs (``group``), by another format version, or that cannot be read is
refused with a one-line error naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from precision_jax.engine.stages.base import CurvePoint
from precision_jax.runs import store

FORMAT = 1
PREFIX = ".ckpt-"
RUN_ID = re.compile(r"[0-9a-f]{12}")  # store.run_id's form: a group names only run directories beside it


class CheckpointError(ValueError):
    """An unreadable or foreign checkpoint (one line naming the file)."""


class RunTimeout(Exception):
    """The run reached its time cap; its checkpoint is on disk and the same command resumes it."""

    def __init__(self, position: str, seconds: float):
        self.position, self.seconds = position, seconds
        super().__init__(f"time cap of {seconds:g} s reached at {position}")


def group_id(run_ids: Sequence[str]) -> str:
    """One id for a seed group: the run id itself for a single run."""
    ids = sorted(run_ids)
    return ids[0] if len(ids) == 1 else hashlib.sha256(",".join(ids).encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- codec: nested data ↔ (JSON, arrays)


def _encode(value: Any, arrays: list) -> Any:
    if isinstance(value, CurvePoint):
        return {"__curve__": [value.round, value.stage, value.kind, value.step, value.train_rmse, value.test_rmse,
                              value.seconds]}
    if isinstance(value, np.ndarray) or type(value).__module__.startswith("jax"):
        arrays.append(np.asarray(value))
        return {"__array__": len(arrays) - 1}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any, arrays) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            return arrays[f"a{value['__array__']}"]
        if "__curve__" in value:
            return CurvePoint(*value["__curve__"])
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value["__dict__"]}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


class Checkpointer:
    """Saves and loads one seed group's checkpoint; decides when a save is due and enforces the time cap.

    ``offer(snapshot, position)`` is called by the driver at every chunk
    boundary with a function building the snapshot (only called when a save
    is due); ``force=True`` saves whatever the clock says (interrupt, cap).
    """

    def __init__(self, path: Path, group: Sequence[str], every_seconds: float = 60.0,
                 max_seconds: Optional[float] = None):
        self.path, self.group = Path(path), sorted(group)
        self.every_seconds, self.max_seconds = float(every_seconds), max_seconds
        self.started = time.perf_counter()
        self.last_save = self.started
        self.saves, self.save_seconds = 0, 0.0
        self.resumed_seconds = 0.0  # training time spent before this process, from the checkpoint

    def load(self) -> Optional[dict]:
        """The saved snapshot, or None when there is none."""
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != FORMAT:
                    raise CheckpointError(f"{self.path}: checkpoint format {meta.get('format')!r}, "
                                          f"this prec reads {FORMAT}")
                if meta.get("group") != self.group:
                    raise CheckpointError(f"{self.path}: checkpoint of other runs ({', '.join(meta.get('group', []))})")
                arrays = {k: data[k] for k in data.files if k != "meta"}
        except CheckpointError:
            raise
        except Exception as e:  # noqa: BLE001  (truncated zip, bad JSON, missing keys: each is an unreadable file)
            raise CheckpointError(f"{self.path}: unreadable checkpoint ({type(e).__name__}); move it away to "
                                  f"start the run afresh") from None
        self.resumed_seconds = float(meta.get("seconds", 0.0))
        return _decode(meta["snapshot"], arrays)

    def elapsed(self) -> float:
        """Training seconds of this run so far, earlier processes included."""
        return self.resumed_seconds + time.perf_counter() - self.started

    def offer(self, snapshot: Callable[[], dict], position: str, force: bool = False) -> None:
        now = time.perf_counter()
        over = self.max_seconds is not None and self.elapsed() >= self.max_seconds
        if force or over or now - self.last_save >= self.every_seconds:
            self.save(snapshot())
        if over:
            raise RunTimeout(position, float(self.max_seconds))

    def save(self, snapshot: dict) -> None:
        t0 = time.perf_counter()
        arrays: list = []
        meta = {"format": FORMAT, "group": self.group, "seconds": self.elapsed(),
                "snapshot": _encode(snapshot, arrays)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, meta=np.asarray(json.dumps(meta)), **{f"a{i}": a for i, a in enumerate(arrays)})
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:  # a full disk, a Ctrl-C mid-save: the last whole checkpoint stays, no half file
            tmp.unlink(missing_ok=True)
            raise
        self.last_save = time.perf_counter()
        self.saves += 1
        self.save_seconds += self.last_save - t0

    def clear(self) -> None:
        """Remove this group's checkpoint and the temporary files of interrupted saves (the runs are complete and
        on disk; the caller holds every run's lock, so no other process is saving it)."""
        self.path.unlink(missing_ok=True)
        for tmp in self.path.parent.glob(f"{self.path.name}.tmp-*"):
            if tmp.name.rsplit(".tmp-", 1)[1].isdigit():  # save() names them <checkpoint>.tmp-<pid>
                tmp.unlink(missing_ok=True)


def group_of(path: Path) -> Optional[list[str]]:
    """The run ids of the checkpoint at ``path``, or None when it is not a checkpoint ``prec`` wrote.

    Only ``meta`` is read (an ``.npz`` member loads on access). The name must be
    the id of the group it holds, so a file that only looks like a checkpoint is
    never taken for one.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
        group = meta["group"]
        ids_ok = isinstance(group, list) and group and all(isinstance(r, str) and RUN_ID.fullmatch(r) for r in group)
        if meta.get("format") != FORMAT or not ids_ok:
            return None
    except Exception:  # noqa: BLE001  (unreadable, foreign, or being replaced this instant: not ours to judge)
        return None
    return list(group) if path.name == f"{PREFIX}{group_id(group)}.npz" else None


def finished(folder: Path) -> list[tuple[Path, list[str]]]:
    """The checkpoints in ``folder`` (one run name's folder of the store) whose every run was completed after
    the checkpoint's last save.

    A seed group finished in parts leaves these behind: its runs were trained
    by processes that came after the one saving it. A checkpoint saved after
    its runs were complete is the progress of a ``--force`` run and is kept, so
    the same command resumes it. The caller drops one only once it holds the
    locks of all its runs.
    """
    stale = []
    for path in sorted(Path(folder).glob(f"{PREFIX}*.npz")):
        group = group_of(path)
        try:
            saved = path.stat().st_mtime_ns
            done = group is not None and all(
                store.is_complete(Path(folder) / rid)
                and (Path(folder) / rid / store.SUMMARY_FILE).stat().st_mtime_ns > saved for rid in group)
        except OSError:  # removed or replaced meanwhile by a process that holds its runs
            continue
        if done:
            stale.append((path, group))
    return stale


def checkpoint_path(root: str | Path, configs: Sequence) -> Path:
    """Where a seed group's checkpoint lives: beside its runs in the store."""
    ids = [store.run_id(c) for c in configs]
    return store.run_dir(root, configs[0]).parent / f"{PREFIX}{group_id(ids)}.npz"


def for_runs(root: str | Path, configs: Sequence) -> Checkpointer:
    """The checkpointer of a seed group, with the first config's ``output.checkpoint_every`` and ``max_time``."""
    output = configs[0].output
    return Checkpointer(checkpoint_path(root, configs), [store.run_id(c) for c in configs],
                        output.checkpoint_every, output.max_time)
