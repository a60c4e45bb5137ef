"""Runs as figures and tables read them: one :class:`Entry` per run, its curve as rows on one step axis.

An :class:`Entry` is a run of the store seen from outside: its flattened config
keys (``model.width``, ``train.0.lr``; :func:`flatten`), its typed summary
(:mod:`precision_jax.runs.store`), its status. :func:`load_records` reads every
run below a directory; :func:`read_entry` one run directory (cached on its
``summary.json`` modification time, so a panel that meets a run twice reads it
once). A run the store cannot read (corrupt, foreign, another format version)
is skipped and counted, never a crash.

Steps on a learning curve are counted continuously across the chain's stages
and then each boosting round's chain (:func:`stage_offsets`): a segment (round,
stage) starts where every segment before it has stepped.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from precision_jax import models
from precision_jax.config.engine import to_dict
from precision_jax.runs import store

# ``prec plot``'s metric names; any summary metric may be named directly.
METRICS = {"rmse": "test_rmse", "relative": "test_relative_rmse"}


def flatten(data: Any, prefix: str = "") -> dict:
    """Nested dicts/lists → ``{"a.b.0.c": value}``; lists of scalars stay whole values (as tuples)."""
    out: dict = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        for i, value in enumerate(data):
            out.update(flatten(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix] = tuple(data) if isinstance(data, list) else data
    return out


@dataclass
class Entry:
    """One run as figures and tables see it: flat config keys plus the typed summary.

    ``summary`` is None for a failure record (``status == "failed"``, with ``reason``).
    """

    path: Path
    status: str
    config: dict  # flattened config keys
    summary: Optional[store.Summary] = None
    reason: str = ""
    failed_seed: Optional[int] = None  # a failure record's seed (complete runs: summary.seed)

    @property
    def target(self) -> str:
        return self.summary.target.name if self.summary is not None else _target_name(self.config)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def seed(self) -> Optional[int]:
        return self.summary.seed if self.summary is not None else self.failed_seed

    @property
    def interpolant(self) -> bool:
        """Fitted, not trained: an interpolant kind, or a chain of nothing but ``fit`` stages."""
        if models.is_interpolant(self.config.get("model.kind")):
            return True
        stages = self.summary.stages if self.summary is not None else []
        return bool(stages) and all(s.get("kind") == "fit" for s in stages)

    def size(self, x: str) -> float:
        """``N`` or ``D`` as a float (NaN for a failure record)."""
        return float(getattr(self.summary, x)) if self.summary is not None else float("nan")

    def metric(self, name: str) -> float:
        value = self.summary.metrics.get(METRICS.get(name, name)) if self.summary is not None else None
        return float("nan") if value is None else float(value)

    def value(self, key: str) -> Any:
        """A config key (``model.width``), a summary field (``N``, ``status``) or a metric (``test_rmse``)."""
        if key in self.config:
            return self.config[key]
        if key in ("status", "run_id", "target", "seed"):
            return getattr(self, key)
        if self.summary is None:
            return None
        if key in ("N", "D", "n_test", "wall_seconds", "model"):
            return getattr(self.summary, key)
        return self.summary.metrics.get(key)


class Records(list):
    """The entries read from a store, and one line per run that could not be read (:attr:`unreadable`)."""

    def __init__(self, entries: Iterable[Entry] = (), unreadable: Iterable[str] = (), duplicates: Iterable[str] = ()):
        super().__init__(entries)
        self.unreadable: list[str] = list(unreadable)
        self.duplicates: list[str] = list(duplicates)  # further copies of a run id already read (counted once)


def _target_name(config: dict) -> str:
    for key in ("target.equation", "target.formula"):
        if config.get(key) is not None:
            return str(config[key])
    return "teacher" if any(k.startswith("target.teacher") for k in config) else "?"


def _entry(path: Path) -> Entry:
    summary = store.read_summary(path)
    return Entry(path, summary.status, flatten(to_dict(store.read_config(path))), summary)


@functools.lru_cache(maxsize=1024)
def _cached_entry(path: str, stamp: int) -> Entry:
    return _entry(Path(path))


def read_entry(run) -> Entry:
    """One complete run directory as an :class:`Entry` (cached); :class:`~precision_jax.runs.store.StoreError`
    if it cannot be read."""
    p = Path(run)
    try:
        stamp = (p / store.SUMMARY_FILE).stat().st_mtime_ns
    except OSError:
        raise store.StoreError(p, f"not a run directory (no {store.SUMMARY_FILE})") from None
    return _cached_entry(str(p.resolve()), stamp)


def load_records(root: str | Path, include_failed: bool = False) -> Records:
    """Every complete run below ``root`` (and, if asked, every failure record) as an :class:`Entry`.

    Runs the store refuses (:class:`~precision_jax.runs.store.StoreError`) are not
    data points: they are skipped and their one-line errors kept in ``unreadable``.
    A run id found again in another sub-folder (a copied store) is the same run:
    it is read once, and the other paths are kept in ``duplicates``.
    """
    records = Records()
    seen: set[str] = set()
    for path in store.iter_runs(root):
        if path.name in seen:
            records.duplicates.append(str(path))
            continue
        try:
            entry = _entry(path)
        except store.StoreError as e:
            records.unreadable.append(str(e))
            continue
        seen.add(path.name)
        records.append(entry)
    if include_failed:
        for path in store.iter_failures(root):
            if path.name in seen:
                records.duplicates.append(str(path))
                continue
            seen.add(path.name)
            try:
                failure = store.read_failure(path)
            except store.StoreError as e:
                records.unreadable.append(str(e))
                continue
            config = failure.get("config") if isinstance(failure.get("config"), dict) else {}
            seed = failure.get("seed") if isinstance(failure.get("seed"), int) else config.get("seed")
            records.append(Entry(path, "failed", flatten(config), None, str(failure.get("reason", "")), seed))
    return records


def _matches(actual: Any, wanted: str) -> bool:
    if actual is None:
        return wanted.lower() in ("none", "null", "")
    if isinstance(actual, (list, tuple)):
        return str(list(actual)).replace(" ", "") == wanted.replace(" ", "")
    if isinstance(actual, bool):
        return str(actual).lower() == wanted.lower()
    if isinstance(actual, (int, float)):
        try:
            return math.isclose(float(actual), float(wanted), rel_tol=1e-12)
        except ValueError:
            return False
    return str(actual) == wanted


def parse_where(items: Iterable[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--where expects key=value, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def select(records: list[Entry], target: Optional[str] = None, where: Iterable[tuple[str, str]] = ()
           ) -> list[Entry]:
    """Records of ``target`` (its name or equation id) satisfying every ``key=value`` filter."""
    out = []
    for r in records:
        if target is not None and target not in (r.target, r.config.get("target.equation")):
            continue
        if all(_matches(r.value(k), v) for k, v in where):
            out.append(r)
    return out


def varying_keys(records: list[Entry]) -> list[str]:
    """Config keys whose value is not the same in every record (in first-seen order)."""
    keys = list(dict.fromkeys(k for r in records for k in r.config))
    return [k for k in keys if len({json.dumps(r.config.get(k), default=str) for r in records}) > 1]


# --------------------------------------------------------------------------- curves


def stage_offsets(curve) -> list[dict]:
    """Curve points as dicts with ``segment`` = (round, stage) and ``total_step`` = the segment's offset + step.

    A segment's offset is the steps taken by every segment before it, so its step-0 point (where it starts)
    shares its x with the previous segment's last point, and a boosting round's jump is drawn where it
    happens. A segment that took no step (an LCS stage that found no lower loss) still occupies one step,
    so the segments' offsets strictly increase and none hides under the next one.
    """
    rows, offset, last, end = [], 0, None, 0
    for point in curve:
        row = dataclasses.asdict(point) if dataclasses.is_dataclass(point) else dict(point)
        segment = (row.get("round", 0), row["stage"])
        if segment != last:
            offset, last, end = (offset + max(end, 1) if last is not None else 0), segment, 0
        end = max(end, row["step"])
        rows.append({**row, "segment": segment, "total_step": offset + row["step"]})
    return rows


def curve_rows(path: Path, kinds: Optional[list] = None) -> list[dict]:
    """The run's curve with steps counted across stages and rounds; with ``kinds`` only those stages,
    counted over themselves alone (so the kept stages sit end to end)."""
    rows = stage_offsets(store.read_curve(path))
    if kinds:
        rows = stage_offsets([{k: v for k, v in r.items() if k not in ("segment", "total_step")}
                              for r in rows if r.get("kind") in kinds])
    return rows


def panel_metric(entry: Entry, name: str, relative: bool = False) -> float:
    """A summary metric as a panel draws it: ``min_test_rmse`` of a run written before it was recorded is the
    lowest test RMSE on its curve (an interpolant's: its test RMSE); ``relative`` divides by the output RMS
    (test_rmse / test_relative_rmse). NaN where there is none."""
    metrics = entry.summary.metrics
    value = metrics.get(name)
    if value is None and name == "min_test_rmse":
        try:
            values = [p.test_rmse for p in store.read_curve(entry.path) if math.isfinite(p.test_rmse)]
        except store.StoreError:
            values = []
        value = min(values) if values else metrics.get("test_rmse")
    value = math.nan if value is None else float(value)
    if relative and name not in ("test_relative_rmse", "train_relative_rmse"):
        rmse, rel = metrics.get("test_rmse"), metrics.get("test_relative_rmse")
        scale = float(rmse) / float(rel) if rmse is not None and rel not in (None, 0) else math.nan
        value = value / scale if scale and math.isfinite(scale) else math.nan
    return value
