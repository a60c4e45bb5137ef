"""The results store: the one module that owns the run directory and its format.

Layout of a run directory (format version 2, :data:`FORMAT_VERSION`)::

    <root>/<experiment name>/<run id>/
        config.yaml    the resolved config (every default filled in); rebuilt with config.build_config
        summary.json   a :class:`Summary` as strict JSON (NaN and ±inf written as null, read back as NaN),
                       with "run_id" and "format_version"
        curve.csv      round, stage, kind, step, train_rmse, test_rmse, seconds; floats as their shortest
                       repr, so they read back bit for bit (nan and inf included)
        model.npz      the fitted model F(x) = Σ_k coefficients[k] · f_k((x − input_shift) / input_scale):
                         format_version   ()    int64, = FORMAT_VERSION
                         kinds            (K,)  str, the model kind of each part
                         coefficients     (K,)  float64
                         input_shift      (d,)  float64 \\ absent when the run did not standardize
                         input_scale      (d,)  float64 /
                         part_<k>/<name>        part k's arrays: "theta" (N_k,) for a trainable model,
                                                an interpolant's state() arrays otherwise (none at all
                                                when the config says output.save_params: false)
        <name>.json, <name>.npz    extra files (RunRecord.extra; later e.g. hessian.json / hessian.npz)
    <root>/<experiment name>/<run id>/failed.json    a failure record (sweeps); never a complete run

Part k's model config is not repeated in model.npz: it is the run config's
``model`` for k = 0 and the boosting rounds' model (``boost.model``, default
``model``) for k ≥ 1; ``kinds`` is checked against it on reading.

The run id is a hash of the resolved config without its ``output`` section,
so the same experiment always maps to the same directory. :func:`write_run`
writes a run into ``<root>/<name>/.tmp-<run id>-<pid>-<random>/``, a
directory only this call owns, fsyncs it and renames it into place; a
directory whose name does not start with ``.tmp-`` and holds ``summary.json``
is therefore complete, whatever interrupted the writer. Every other write
into the store (Hessian results, failure records, a summary that
``prec certify`` extends, :func:`write_summary`) goes through
:mod:`precision_jax.runs.atomic_files`: temporary file, fsync, rename.

Reading goes through :func:`read_run` (everything), :func:`read_summary`
(cheap, for tables), :func:`read_config`, :func:`read_curve` and
:func:`load_model` (the fitted model as a function of raw inputs). Anything
that is not a readable run of this format version raises :class:`StoreError`,
one line naming the file.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import hashlib
import io
import json
import math
import os
import secrets
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, Optional, Union

import numpy as np
import yaml

from precision_jax.config.engine import ConfigError, read_yaml, to_dict
from precision_jax.config.kinds import MODEL_AUTO, MODEL_AUTO_VERSION, parse_model
from precision_jax.engine import auto_chain
from precision_jax.engine.stages.base import CurvePoint
from precision_jax.experiment import NAME_PATTERN, NAME_RANGE, ExperimentConfig, build_config
from precision_jax.runs.atomic_files import (
    TMP_PREFIX,
    StoreError,
    atomic_write,
    check_no_objects,
    exchange_paths,
    fsync_dir,
    json_text,
    jsonable,
    write_new,
)

FORMAT_VERSION = 2
# summary.json keys that earlier writers of this format wrote and readers now drop: "versions" (until 2026-12-08)
# was a copy of provenance.versions
FORMER_SUMMARY_KEYS = frozenset({"versions"})
CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
CURVE_FILE = "curve.csv"
MODEL_FILE = "model.npz"
FAILED_FILE = "failed.json"
CORE_FILES = (CONFIG_FILE, SUMMARY_FILE, CURVE_FILE, MODEL_FILE)
CURVE_FIELDS = ("round", "stage", "kind", "step", "train_rmse", "test_rmse", "seconds")
STATUSES = ("complete", "diverged")


# --------------------------------------------------------------------------- the record


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one bool
class Part:
    """One term of F(x) = Σ_k coefficient_k · f_k(T(x)); T = input standardization (x − shift) / scale."""

    model: Any  # parsed model config (MLPConfig, ModularConfig, SimplexConfig, ...)
    arrays: dict[str, np.ndarray]  # trainable: {"theta": (N,) float64}; interpolants: their state() arrays
    coefficient: float = 1.0


@dataclass(frozen=True)
class TargetInfo:
    """What a run's target was: its name, input dimension, variable names and box."""

    name: str
    d: int
    variables: tuple[str, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "d": self.d, "variables": list(self.variables), "lows": list(self.lows),
                "highs": list(self.highs)}

    @classmethod
    def from_json(cls, data: Any) -> "TargetInfo":
        _expect(data, dict, "target")
        _exact_keys(data, {"name", "d", "variables", "lows", "highs"}, set(), "target")
        d = _expect(data["d"], int, "target.d")
        info = cls(_expect(data["name"], str, "target.name"), d,
                   tuple(_expect(v, str, "target.variables") for v in _expect(data["variables"], list, "target")),
                   tuple(_number(v, "target.lows") for v in _expect(data["lows"], list, "target.lows")),
                   tuple(_number(v, "target.highs") for v in _expect(data["highs"], list, "target.highs")))
        if not len(info.variables) == len(info.lows) == len(info.highs) == d:
            raise ValueError(f"target: d = {d} but {len(info.variables)} variables, {len(info.lows)} lows, "
                             f"{len(info.highs)} highs")
        return info


@dataclass
class Summary:
    """``summary.json``, typed: what a run was, how it ended, its metrics and its provenance."""

    name: str
    seed: int
    status: str  # complete | diverged
    target: TargetInfo
    model: str  # description, e.g. "mlp 1-20-20-1 tanh"
    N: int
    D: int
    n_test: int
    metrics: dict[str, Union[float, int, None]]
    stages: list[dict]  # one row per stage (round, index, kind, steps, stop_reason, seconds, ...)
    wall_seconds: float
    numerics: dict
    boost: Optional[dict] = None  # {"rounds": accepted rounds, "rows": [...]}
    batch: Optional[dict] = None  # {"seeds": S, "group_wall_seconds": t}
    chain: Optional[dict] = None  # train: auto: {"train": [stage, ...], "boost": {...}}, the chain that ran
    # prec certify / output.certify: where the worst-case search found metrics["certified_max_abs_error"] and
    # its budget (runs/certify.py); absent from summary.json unless a search ran.
    certify: Optional[dict] = None
    # model: auto: the method chosen and the probe table behind it (runs/auto_model.py); absent otherwise
    auto: Optional[dict] = None
    provenance: dict = field(default_factory=dict)  # when, where, by which command and code (provenance.collect)
    run_id: str = ""  # filled by write_run
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict:
        """JSON-ready data: plain types only, non-finite floats as None (strict JSON has no NaN)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["target"] = self.target.to_json()
        if self.certify is None:
            del data["certify"]
        if self.auto is None:  # only a model: auto run has the key
            del data["auto"]
        return jsonable(data)

    @classmethod
    def from_json(cls, data: Any) -> "Summary":
        """The summary in ``data`` (as :meth:`to_json` wrote it); ``ValueError`` saying what is wrong.

        Nulls among the metrics and in ``wall_seconds`` were non-finite floats
        and come back as NaN; nulls inside free-form rows stay None. A summary
        written before 2026-12-08 also has a top-level ``versions``, a copy of
        ``provenance.versions``: read and dropped.
        """
        _expect(data, dict, "summary")
        names = {f.name for f in dataclasses.fields(cls)} | FORMER_SUMMARY_KEYS
        optional = {f.name for f in dataclasses.fields(cls)
                    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
        _exact_keys(data, names, optional | FORMER_SUMMARY_KEYS, "summary")
        status = _expect(data["status"], str, "status")
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        metrics = _expect(data["metrics"], dict, "metrics")
        return cls(
            name=_expect(data["name"], str, "name"), seed=_expect(data["seed"], int, "seed"), status=status,
            target=TargetInfo.from_json(data["target"]), model=_expect(data["model"], str, "model"),
            N=_expect(data["N"], int, "N"), D=_expect(data["D"], int, "D"),
            n_test=_expect(data["n_test"], int, "n_test"),
            metrics={str(k): (v if isinstance(v, int) and not isinstance(v, bool) else _number(v, f"metrics.{k}"))
                     for k, v in metrics.items()},
            stages=[_expect(row, dict, "stages") for row in _expect(data["stages"], list, "stages")],
            wall_seconds=_number(data["wall_seconds"], "wall_seconds"),
            numerics=_expect(data["numerics"], dict, "numerics"),
            boost=_expect(data.get("boost"), (dict, type(None)), "boost"),
            batch=_expect(data.get("batch"), (dict, type(None)), "batch"),
            chain=_expect(data.get("chain"), (dict, type(None)), "chain"),
            certify=_expect(data.get("certify"), (dict, type(None)), "certify"),
            auto=_expect(data.get("auto"), (dict, type(None)), "auto"),
            provenance=_expect(data.get("provenance", {}), dict, "provenance"),
            run_id=_expect(data.get("run_id", ""), str, "run_id"),
            format_version=_expect(data.get("format_version", FORMAT_VERSION), int, "format_version"),
        )


@dataclass
class RunRecord:
    """Everything a run directory holds, in memory: what :func:`write_run` writes and :func:`read_run` reads."""

    config: ExperimentConfig
    summary: Summary
    curve: list[CurvePoint]
    parts: list[Part]  # [] never for a finished run; one part unless boosted
    input_shift: Optional[np.ndarray]  # (d,) or None (no standardization)
    input_scale: Optional[np.ndarray]
    extra: dict[str, Any] = field(default_factory=dict)  # more files: name.json -> JSON-ready, name.npz -> arrays


def _expect(value: Any, types, key: str) -> Any:
    # bool is an int to Python, never to a summary.
    if isinstance(value, bool) and types is int or not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise ValueError(f"{key}: expected {names}, got {value!r}")
    return value


def _number(value: Any, key: str) -> float:
    """A float field: null (a non-finite float on writing) reads as NaN."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    return float(value)


def _exact_keys(data: dict, names: set, optional: set, what: str) -> None:
    unknown = sorted(set(data) - names)
    missing = sorted(names - optional - set(data))
    if unknown:
        raise ValueError(f"{what}: unknown key(s) {', '.join(map(repr, unknown))}")
    if missing:
        raise ValueError(f"{what}: missing key(s) {', '.join(map(repr, missing))}")


# --------------------------------------------------------------------------- ids and listing


# Target keys of a data file (problems/data_target.py). Its content changes the numbers, not its location: the
# paths are left out of the id (a moved project or file keeps its runs; data_sha256 stands for the file), and the
# other keys are left out while unset, so that runs stored before they existed keep their ids.
DATA_PATH_KEYS = ("data", "test_data")
DATA_OPTIONAL_KEYS = ("inputs", "output", "data_sha256", "test_data_sha256")


def _stage_dicts(resolved: dict):
    """Each stage mapping of a config mapping (the main chain's, then the boosting rounds'), with its kind's
    config class; a stage of an unknown kind is skipped (the schema refuses it elsewhere)."""
    from precision_jax.engine.stages import STAGE_KINDS

    boost = resolved.get("boost") if isinstance(resolved.get("boost"), dict) else {}
    train = resolved.get("train") if isinstance(resolved.get("train"), (list, tuple)) else []
    for stage in list(train) + list(boost.get("train") or []):
        kind = STAGE_KINDS.get(stage.get("kind")) if isinstance(stage, dict) else None
        if kind is not None:
            yield stage, kind


def _drop_neutral_keys(resolved: dict) -> None:
    """Leave out of the id the keys added to the schema after runs were first written, while they hold the
    value that does what a config without them did: such runs keep their ids (found complete, not retrained).
    Which stage keys are neutral is each stage kind's own fact (``StageConfig.id_neutral_keys``)."""
    data = resolved.get("data")
    if isinstance(data, dict) and data.get("sampling") == "uniform":
        data.pop("sampling")
    for stage, kind in _stage_dicts(resolved):
        for key in kind.id_neutral_keys(stage):
            stage.pop(key, None)


def run_id(cfg: ExperimentConfig) -> str:
    """A stable 12-hex-digit id of everything in ``cfg`` that changes the numbers."""
    resolved = to_dict(cfg)
    resolved.pop("output", None)
    if resolved.get("train") == auto_chain.AUTO:  # the planned chain changes with the planning rule
        resolved["train"] = f"{auto_chain.AUTO}/v{auto_chain.VERSION}"
    elif isinstance(resolved.get("train"), dict):  # train: {auto: {budget, goal}}: so does the budgeted one
        resolved["train"]["rule"] = f"{auto_chain.AUTO}/v{auto_chain.VERSION}"
    if resolved.get("model") == MODEL_AUTO:  # and the chosen method with the probing rule
        resolved["model"] = f"{MODEL_AUTO}/v{MODEL_AUTO_VERSION}"
    target = resolved.get("target")
    if isinstance(target, dict):
        for key in DATA_PATH_KEYS:
            target.pop(key, None)
        for key in DATA_OPTIONAL_KEYS:
            if target.get(key, 0) is None:
                target.pop(key)
    _drop_neutral_keys(resolved)
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_dir(root: Union[str, Path], cfg: ExperimentConfig) -> Path:
    """``<root>/<name>/<run id>``; a name that could leave ``root`` is refused (the config refuses it first)."""
    if not isinstance(cfg.name, str) or NAME_PATTERN.fullmatch(cfg.name) is None:
        raise StoreError(Path(root), f"run name {cfg.name!r} is not a plain name ({NAME_RANGE}); "
                                     f"the store writes only inside its root")
    return Path(root) / cfg.name / run_id(cfg)


def _inside(root: Union[str, Path], path: Path) -> None:
    """Refuse ``path`` unless it resolves to somewhere inside ``root`` (symlinks followed)."""
    base = Path(root).resolve()
    target = path.resolve()
    if target != base and base not in target.parents:
        raise StoreError(path, f"resolves to {target}, outside the store {base}; refusing to write there")


def is_complete(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and not path.name.startswith(TMP_PREFIX) and (path / SUMMARY_FILE).is_file()


def iter_runs(root: Union[str, Path]) -> Iterator[Path]:
    """Every complete run directory below ``root`` (in-progress ``.tmp-`` directories are skipped)."""
    root = Path(root)
    if not root.is_dir():
        return
    for summary in sorted(root.rglob(SUMMARY_FILE)):
        if not any(part.startswith(TMP_PREFIX) for part in summary.relative_to(root).parts):
            yield summary.parent


def iter_failures(root: Union[str, Path]) -> Iterator[Path]:
    """Every run directory below ``root`` that holds only a failure record (no complete run)."""
    root = Path(root)
    if not root.is_dir():
        return
    for failed in sorted(root.rglob(FAILED_FILE)):
        parts = failed.relative_to(root).parts
        if not any(part.startswith(TMP_PREFIX) for part in parts) and not is_complete(failed.parent):
            yield failed.parent


def _carry_foreign_files(final: Path, tmp: Path) -> None:
    """Hard-link into ``tmp`` whatever a run already at ``final`` holds that this write does not replace.

    Replacing a run (``prec run --force``, a re-run sweep point) swaps the
    whole directory; files and folders prec did not write there now (notes,
    plots, Hessian results) come along, so replacing a run never deletes them.
    A failure record is not carried: the complete run supersedes it.
    """
    if not final.is_dir():
        return
    for entry in final.iterdir():
        name = entry.name
        if (tmp / name).exists() or name == FAILED_FILE or TMP_PREFIX in name:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, tmp / name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, tmp / name)


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _install(tmp: Path, final: Path) -> None:
    """Move the finished directory ``tmp`` to ``final``; a run already there is swapped out, then removed."""
    try:
        os.rename(tmp, final)  # the common case: no run there yet (or an empty directory)
        return
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if exchange_paths(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the replaced run
        return
    # Two renames: between them no run is under the final name, but the old one is still whole on disk.
    old = final.parent / f"{TMP_PREFIX}{final.name}-old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- writing a run


def _round_model(cfg: ExperimentConfig) -> Any:
    """The model config of boosting rounds k ≥ 1: ``boost.model``, else the run's ``model``."""
    boost = getattr(cfg, "boost", None)
    if boost is not None and getattr(boost, "model", None) is not None:
        return boost.model
    return cfg.model


def part_models(cfg: ExperimentConfig, count: int, summary: Optional[Summary] = None) -> list[Any]:
    """The model config of each of ``count`` parts of a run of ``cfg`` (see the module docstring).

    A ``model: auto`` run's parts are the model its probes chose, which its ``summary`` records
    (``auto.model``; its boosting rounds, under ``train: auto``, fit the same model).
    """
    if cfg.model == MODEL_AUTO:
        chosen = summary.auto.get("model") if summary is not None and summary.auto is not None else None
        if chosen is None:
            raise ValueError("model: auto, but the summary does not say which model was chosen (auto.model)")
        try:
            model = parse_model(chosen, "auto.model")
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return [model] * count
    return [cfg.model] + [_round_model(cfg)] * (count - 1)


def _write_curve(f: IO[bytes], curve: list[CurvePoint]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CURVE_FIELDS)
    for point in curve:
        # repr of a float is its shortest exact representation (unlike %g), nan and inf included.
        writer.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)
                         for v in (getattr(point, name) for name in CURVE_FIELDS)])
    f.write(text.getvalue().encode())


def model_arrays(record: RunRecord) -> dict[str, np.ndarray]:
    """What ``model.npz`` holds for ``record`` (see the module docstring)."""
    arrays: dict[str, np.ndarray] = {
        "format_version": np.asarray(FORMAT_VERSION, np.int64),
        "kinds": np.asarray([str(p.model.kind) for p in record.parts], dtype=str),
        "coefficients": np.asarray([float(p.coefficient) for p in record.parts], np.float64),
    }
    if record.input_shift is not None:
        arrays["input_shift"] = np.asarray(record.input_shift, np.float64)
        arrays["input_scale"] = np.asarray(record.input_scale, np.float64)
    if getattr(record.config.output, "save_params", True):
        for k, part in enumerate(record.parts):
            for name, value in part.arrays.items():
                arrays[f"part_{k}/{name}"] = np.asarray(value)
    return arrays


def _check_record(record: RunRecord) -> None:
    if not record.parts:
        raise ValueError("a run record needs at least one model part")
    expected = [m.kind for m in part_models(record.config, len(record.parts), record.summary)]
    kinds = [p.model.kind for p in record.parts]
    if kinds != expected:
        raise ValueError(f"part model kinds {kinds} do not match the config's {expected}")
    if (record.input_shift is None) != (record.input_scale is None):
        raise ValueError("input_shift and input_scale come together (both or neither)")
    for name in record.extra:
        if (Path(name).name != name or name.startswith(".") or name in CORE_FILES or name == FAILED_FILE
                or not name.endswith((".json", ".npz"))):
            raise ValueError(f"extra file {name!r}: expected a plain name ending in .json or .npz, "
                             f"not one of {', '.join(CORE_FILES + (FAILED_FILE,))}")


def write_run(root: Union[str, Path], record: RunRecord) -> Path:
    """Write ``record`` as a complete run directory under ``root``, atomically; returns the directory.

    Fills ``record.summary.run_id`` and ``format_version``. The files are
    written into a fresh ``.tmp-<run id>-<pid>-<random>`` directory that no
    other writer can own, fsynced, and renamed into place; a complete run
    already under that id is swapped out only once the new one is whole.
    """
    _check_record(record)
    final = run_dir(root, record.config)
    _inside(root, final)
    record.summary.run_id = final.name
    record.summary.format_version = FORMAT_VERSION
    arrays = model_arrays(record)
    check_no_objects(arrays, final / MODEL_FILE)
    config_text = yaml.safe_dump(to_dict(record.config), sort_keys=False)
    summary_text = json_text(record.summary.to_json())
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{TMP_PREFIX}{final.name}-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()  # raises if it exists: this directory is ours alone
    try:
        write_new(tmp / CONFIG_FILE, lambda f: f.write(config_text.encode()))
        write_new(tmp / SUMMARY_FILE, lambda f: f.write(summary_text.encode()))
        write_new(tmp / CURVE_FILE, lambda f: _write_curve(f, record.curve))
        write_new(tmp / MODEL_FILE, lambda f: np.savez(f, **arrays))
        for name, content in record.extra.items():
            if name.endswith(".npz"):
                extra_arrays = {k: np.asarray(v) for k, v in content.items()}
                check_no_objects(extra_arrays, tmp / name)
                write_new(tmp / name, lambda f, a=extra_arrays: np.savez(f, **a))
            else:
                write_new(tmp / name, lambda f, c=content: f.write(json_text(c).encode()))
        _carry_foreign_files(final, tmp)
        fsync_dir(tmp)
        _install(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(final.parent)
    return final


def write_summary(path: Union[str, Path], summary: Summary) -> Path:
    """Replace ``summary.json`` of the complete run at ``path`` by ``summary``, atomically; the other files stay.

    For what is learnt about a run after it was written (``prec certify``). The run id and format version are
    the directory's own; a reader sees the old summary or the new one, never a part.
    """
    path = _run_path(path)
    summary.run_id = path.name
    summary.format_version = FORMAT_VERSION
    return atomic_write(path / SUMMARY_FILE, lambda f: f.write(json_text(summary.to_json()).encode()))


# --------------------------------------------------------------------------- reading a run


def _run_path(path: Union[str, Path]) -> Path:
    """``path`` if it is a complete run directory, else a :class:`StoreError` saying what it is instead."""
    path = Path(path)
    if not path.is_dir():
        raise StoreError(path, "no such run directory")
    if path.name.startswith(TMP_PREFIX):
        raise StoreError(path, "an unfinished write (.tmp- directory), not a run")
    if not (path / SUMMARY_FILE).is_file():
        if (path / FAILED_FILE).is_file():
            raise StoreError(path, f"a failed run ({FAILED_FILE}), not a complete run")
        raise StoreError(path, f"not a prec run directory (no {SUMMARY_FILE})")
    return path


def _read_text(path: Path) -> str:
    """The text of ``path``; a :class:`StoreError` naming it when it is missing or unreadable."""
    try:
        return path.read_text()
    except FileNotFoundError:
        raise StoreError(path, "missing") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StoreError(path, f"unreadable ({e})") from None


def read_json(path: Union[str, Path]) -> Any:
    """The JSON in ``path``; a :class:`StoreError` naming it when it is missing, unreadable or corrupt."""
    path = Path(path)
    text = _read_text(path)
    try:
        return json.loads(text)
    except ValueError as e:
        raise StoreError(path, f"corrupt or truncated JSON ({e})") from None


def read_arrays(path: Union[str, Path]) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``; a :class:`StoreError` naming it when missing or corrupt."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise StoreError(path, "missing") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise StoreError(path, f"corrupt or truncated ({type(e).__name__}: {e})") from None


def read_summary(path: Union[str, Path]) -> Summary:
    """The typed summary of the run at ``path``; reads ``summary.json`` only (cheap, for tables)."""
    file = _run_path(path) / SUMMARY_FILE
    data = read_json(file)
    if not isinstance(data, dict):
        raise StoreError(file, "not a prec run summary (expected a JSON object)")
    version = data.get("format_version")
    if version is None:
        raise StoreError(file, f"no format_version: not a prec run, or one written before run format version "
                               f"{FORMAT_VERSION} (re-run it)")
    if version != FORMAT_VERSION:
        raise StoreError(file, f"unknown run format version {version!r}; this prec reads version {FORMAT_VERSION}")
    try:
        return Summary.from_json(data)
    except (ValueError, TypeError) as e:
        raise StoreError(file, f"corrupt summary: {e}") from None


def _with_former_defaults(resolved):
    """A stored config with each stage's missing keys whose default has since changed set to what the run ran
    at (``StageConfig.former_defaults``): read back, it says what was done, not what today's default would do."""
    if isinstance(resolved, dict):
        for stage, kind in _stage_dicts(resolved):
            for key, value in kind.former_defaults().items():
                stage.setdefault(key, value)
    return resolved


def read_config(path: Union[str, Path]) -> ExperimentConfig:
    """The resolved config of the run at ``path``, validated by today's schema."""
    file = Path(path) / CONFIG_FILE
    if not file.is_file():
        raise StoreError(file, "missing")
    try:
        return build_config(_with_former_defaults(read_yaml(file)), source=str(file))
    except ConfigError as e:
        raise StoreError(file, f"{e.key}: {e.what}" if e.key else e.what) from None


def read_curve(path: Union[str, Path]) -> list[CurvePoint]:
    """The learning curve of the run at ``path`` (a run directory or its ``curve.csv``)."""
    path = Path(path)
    file = path / CURVE_FILE if path.is_dir() else path
    text = _read_text(file)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != CURVE_FIELDS:
        raise StoreError(file, f"not a curve of this format (expected the header {','.join(CURVE_FIELDS)})")
    if not text.endswith("\n"):
        raise StoreError(file, "truncated (no final newline)")
    points = []
    for line, row in enumerate(rows[1:], start=2):
        try:
            if len(row) != len(CURVE_FIELDS):
                raise ValueError(f"{len(row)} columns")
            values = dict(zip(CURVE_FIELDS, row))
            points.append(CurvePoint(round=int(values["round"]), stage=int(values["stage"]), kind=values["kind"],
                                     step=int(values["step"]), train_rmse=float(values["train_rmse"]),
                                     test_rmse=float(values["test_rmse"]), seconds=float(values["seconds"])))
        except ValueError as e:
            raise StoreError(file, f"corrupt at line {line} ({e})") from None
    return points


def _read_model(path: Path, cfg: ExperimentConfig,
                summary: Optional[Summary] = None) -> tuple[list[Part], Optional[np.ndarray], Optional[np.ndarray]]:
    file = path / MODEL_FILE
    arrays = read_arrays(file)
    try:
        version = int(arrays["format_version"])
        if version != FORMAT_VERSION:
            raise StoreError(file, f"unknown run format version {version}; this prec reads version {FORMAT_VERSION}")
        kinds = [str(k) for k in np.atleast_1d(arrays["kinds"])]
        coefficients = np.atleast_1d(np.asarray(arrays["coefficients"], np.float64))
        if len(coefficients) != len(kinds) or not kinds:
            raise ValueError(f"{len(kinds)} kinds but {len(coefficients)} coefficients")
        models = part_models(cfg, len(kinds), summary)
        for k, (kind, model) in enumerate(zip(kinds, models)):
            if kind != model.kind:
                raise ValueError(f"part {k} is a {kind} model but config.yaml says {model.kind}")
        parts = []
        for k, model in enumerate(models):
            prefix = f"part_{k}/"
            part_arrays = {name[len(prefix):]: a for name, a in arrays.items() if name.startswith(prefix)}
            parts.append(Part(model, part_arrays, float(coefficients[k])))
        shift, scale = arrays.get("input_shift"), arrays.get("input_scale")
        if (shift is None) != (scale is None):
            raise ValueError("input_shift without input_scale or the other way round")
    except KeyError as e:
        raise StoreError(file, f"not a prec model file (no array {e})") from None
    except ValueError as e:
        raise StoreError(file, f"corrupt: {e}") from None
    return parts, shift, scale


def _read_extra(path: Path) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for file in sorted(path.iterdir()):
        if file.name in CORE_FILES or file.name == FAILED_FILE or file.name.startswith(".") or not file.is_file():
            continue
        if file.suffix == ".json":
            extra[file.name] = read_json(file)
        elif file.suffix == ".npz":
            extra[file.name] = read_arrays(file)
    return extra


def read_run(path: Union[str, Path], extra: bool = True) -> RunRecord:
    """The whole run at ``path``: config, summary, curve, model parts, standardization, extra files.

    ``extra=False`` skips the extra files (Hessian eigenvectors can be large).
    Raises :class:`StoreError` (one line, naming the file) for anything that is
    not a complete, readable run of format version :data:`FORMAT_VERSION`.
    """
    summary = read_summary(path)  # first: it settles "is this a run, and of which version"
    path = Path(path)
    cfg = read_config(path)
    parts, shift, scale = _read_model(path, cfg, summary)
    return RunRecord(cfg, summary, read_curve(path), parts, shift, scale, _read_extra(path) if extra else {})


def read_failure(path: Union[str, Path]) -> dict:
    """The failure record (``failed.json``) in the run directory ``path``."""
    file = Path(path) / FAILED_FILE
    data = read_json(file)
    if not isinstance(data, dict):
        raise StoreError(file, "not a failure record (expected a JSON object)")
    return data


def load_model(source: Union[str, Path, RunRecord]):
    """The fitted model of a run (a directory or a :class:`RunRecord`) as a function of *raw* inputs.

    Returns a :class:`~precision_jax.models.fitted.FittedModel`:
    ``model(x)`` with x of shape ``(n, d)`` in the target's own variables gives
    ``(n,)`` float64, Σ_k c_k f_k((x − shift) / scale) over the run's parts.
    """
    from precision_jax.models.fitted import FittedModel

    record = source if isinstance(source, RunRecord) else read_run(source, extra=False)
    where = Path(source) / MODEL_FILE if not isinstance(source, RunRecord) else Path(
        f"<run {record.summary.run_id or record.config.name}>")
    if not record.parts:
        raise StoreError(where, "the run has no fitted model")
    if any(not part.arrays for part in record.parts):
        raise StoreError(where, "the run was saved without its parameters (output.save_params: false)")
    try:
        return FittedModel(record.parts, record.input_shift, record.input_scale, record.summary.target)
    except (ValueError, KeyError, TypeError) as e:
        raise StoreError(where, f"cannot rebuild the model: {e}") from None
