"""The results store: one directory per run, written atomically.

Layout::

    <root>/<experiment name>/<run id>/
        config.yaml      the resolved config (every default filled in)
        summary.json     metrics, stop reasons, sizes, seed, versions, backend, dtype
        curve.csv        stage, kind, step, train_rmse, test_rmse, seconds
        params.npz       final parameters (flat θ), when the model has any
        ...              extra files a run adds (Hessian spectra, boosting stages)

The run id is a hash of the resolved config without its ``output`` section,
so the same experiment always maps to the same directory. A run is written
into ``<root>/<name>/.tmp-<run id>-<pid>/`` and renamed into place only when
every file is on disk; a directory without the ``.tmp-`` prefix is therefore
always complete, whatever interrupted the writer.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import yaml

from precision_jax.config import ExperimentConfig, to_dict

TMP_PREFIX = ".tmp-"
CURVE_FIELDS = ("stage", "kind", "step", "train_rmse", "test_rmse", "seconds")


def run_id(cfg: ExperimentConfig) -> str:
    """A stable 12-hex-digit id of everything in ``cfg`` that changes the numbers."""
    resolved = to_dict(cfg)
    resolved.pop("output", None)
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_dir(root: str | Path, cfg: ExperimentConfig) -> Path:
    return Path(root) / cfg.name / run_id(cfg)


def is_complete(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(TMP_PREFIX) and (path / "summary.json").is_file()


def _format(value: Any) -> str:
    # repr of a float round-trips exactly (shortest representation), unlike %g.
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


def write_curve(path: Path, curve) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CURVE_FIELDS)
        for point in curve:
            row = asdict(point) if not isinstance(point, dict) else point
            writer.writerow([_format(row[k]) for k in CURVE_FIELDS])


def read_curve(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["stage"], row["step"] = int(row["stage"]), int(row["step"])
        for k in ("train_rmse", "test_rmse", "seconds"):
            row[k] = float(row[k])
    return rows


def _fsync_tree(path: Path) -> None:
    for file in path.rglob("*"):
        if file.is_file():
            with open(file, "rb") as f:
                os.fsync(f.fileno())


def save_run(root: str | Path, result, extra_files: Optional[dict[str, Any]] = None) -> Path:
    """Write ``result`` (a :class:`~precision_jax.training.RunResult`) atomically; returns the run directory.

    ``extra_files`` maps file names to JSON-ready objects (``.json``) or
    dicts of arrays (``.npz``). An existing complete run of the same id is
    replaced only after the new one is fully written.
    """
    final = run_dir(root, result.config)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{TMP_PREFIX}{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        summary = {**result.summary, "run_id": final.name}
        (tmp / "config.yaml").write_text(yaml.safe_dump(to_dict(result.config), sort_keys=False))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=True))
        write_curve(tmp / "curve.csv", result.curve)
        if result.theta is not None and result.config.output.save_params:
            np.savez(tmp / "params.npz", theta=np.asarray(result.theta, np.float64))
        for name, content in {**getattr(result, "extra_files", {}), **(extra_files or {})}.items():
            if name.endswith(".npz"):
                np.savez(tmp / name, **content)
            else:
                (tmp / name).write_text(json.dumps(content, indent=2))
        _fsync_tree(tmp)
        if final.exists():
            # Swap so that a complete run is on disk under the final name at every instant but one rename.
            old = final.parent / f"{TMP_PREFIX}{final.name}-old-{os.getpid()}"
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def iter_runs(root: str | Path) -> Iterator[Path]:
    """Every complete run directory below ``root`` (in-progress ``.tmp-`` directories are skipped)."""
    root = Path(root)
    if not root.is_dir():
        return
    for summary in sorted(root.rglob("summary.json")):
        if not any(part.startswith(TMP_PREFIX) for part in summary.relative_to(root).parts):
            yield summary.parent


def load_summary(path: Path) -> dict:
    return json.loads((Path(path) / "summary.json").read_text())


def clean_stale(root: str | Path) -> int:
    """Remove leftover ``.tmp-`` directories of interrupted writers; returns how many."""
    root = Path(root)
    stale = [p for p in root.rglob(f"{TMP_PREFIX}*") if p.is_dir()] if root.is_dir() else []
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)
