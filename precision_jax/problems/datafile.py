"""Data-file targets: fit a function given as rows of numbers (CSV, ``.npz``, ``.npy``) instead of a formula.

YAML (under ``target:``)::

    target:
      data: samples.csv          # .csv with a header, .npz or .npy; a relative path is relative to the config file
      inputs: [x, y]             # optional: the input columns, in order (default: every column but the last)
      output: f                  # optional: the one output column (default: the last column)
      test_data: test.csv        # optional: a file with the same columns, used as the test set
      # data_sha256 (and test_data_sha256) are filled in when the config is read; written by hand they pin the file

File formats
------------
* ``.csv`` — comma-separated, UTF-8; the first line is a header naming the columns (a header that
  ``numpy.savetxt(..., header="x,y,f")`` wrote as ``# x,y,f`` is read too). Blank lines and later lines
  starting with ``#`` are skipped. Every cell of a used column is a number as Python's ``float`` reads it.
* ``.npz`` — either equal-length 1-D arrays, one column per key (``np.savez(path, x=x, y=y, f=f)``), or an
  array ``x`` of shape (n, d) with ``y`` of shape (n,) or (n, 1): columns ``x0 … x{d-1}`` and ``y``.
  Loaded without pickle.
* ``.npy`` — one 2-D array (n, k): columns ``x0 … x{k-2}`` and ``y``.

Rows are named by their 1-based data row (the header is not counted; in a CSV the file line is given too).

What is refused, in one line naming the file (a :class:`~precision_jax.config.engine.ConfigError` at ``target.data``
or ``target.test_data``; exit status 2 from the CLI, before anything is compiled): a missing or unreadable
file, an unknown type, a missing column, an output that is also an input or more than one output column, a
cell that is not a number (row and column named), non-finite values (the first rows named), an input that is
constant over the rows, fewer rows than the model needs, and two rows with the same inputs but different
outputs — a function has one value per input, and noise-free data with such a conflict would set the error
floor of every fit, so it is refused rather than warned about (usually an input column is missing). Exact
duplicate rows (same inputs and output) carry no information and are kept once.

Training and test sets
----------------------
The test set is ``test_data``'s rows, or else 20 % of the rows (:data:`HOLDOUT_FRACTION`, at least one row)
held out by a permutation drawn from the run's data key (:func:`precision_jax.numerics.random_keys.run_keys`), so every seed
has its own split. ``data.train_points: auto`` uses every remaining row; a number D uses D of them (drawn with
the same permutation), so a sweep over ``train_points`` measures scaling on one file. ``data.test_points``
caps the test set (a seeded subset when there are more rows). Points keep their file order.
``data.standardize`` works as for sampled targets. ``data.test_compactification`` does not apply: the points
are the file's. The target's box (``lows``/``highs``, in the summary) is each input column's min and max over
the rows of ``data``.

Models
------
* ``mlp``, ``modular`` — any points: at least 2 training rows and 1 test row. A modular net's module inputs
  name the input columns.
* ``simplex`` — scattered points: at least d + 1 training rows that span the d dimensions; test points
  outside their convex hull are counted (``outside_hull``), never dropped.
* ``spline`` — a full tensor grid (a lookup table): the distinct values of each input, combined in every
  way, each combination present exactly once; in d ≥ 2 the same number of values on every axis (order 1
  also needs them equally spaced). The spline interpolates every row, so in d ≥ 2 a held-out 20 % would
  leave holes in the table: give ``test_data`` (points off the grid). In 1-D any distinct points form a grid.
* ``chebyshev`` — Chebyshev interpolation needs its own nodes, so on data it is a least-squares Chebyshev
  series: tensor degree ``model.degree`` per axis (default: the largest n with (n+1)^d ≤ D/4, which keeps the
  fit well conditioned on scattered points), coefficients by ``numpy.linalg.lstsq``, d ≤ 3; refused when the
  points do not determine the coefficients (rank-deficient).

Paths
-----
A relative path is relative to the file that wrote it: a config file's to its folder (:func:`load_config
<precision_jax.experiment.load_config>`), a sweep's base file's to the base file's folder, a sweep axis value's
(``grid: {target.data: [a.csv, b.csv]}``) to the spec's folder; a path given on the command line
(``target.data=x.csv``) or in an inline dict to the working directory. The resolved config stores it absolute.

Identity
--------
The resolved config holds the absolute path, the file's SHA-256 (``data_sha256``) and the input and output
columns, so a changed file is a new run. The run id (:func:`precision_jax.runs.store.run_id`) leaves the paths out:
the content is what changes the numbers, so a moved project or file keeps its runs. A run read back later
(``prec hessian``, plots) re-reads the file and refuses it if its SHA-256 no longer matches.

From Python
-----------
``read_table(path, inputs=None, output=None)`` reads and checks a file into a :class:`Table` (``x`` (n, d),
``y`` (n,), ``inputs``, ``output``, ``sha256``); ``file_columns(path)`` and ``file_sha256(path)`` are cheap;
``write_table(path, {name: column})`` writes a .csv or .npz whose bytes depend only on the numbers (so the
same arrays give the same run id). A config's target resolves to a :class:`~precision_jax.problems.targets.Target`
with ``fn = None`` and ``data`` a :class:`DataPoints` (``train``, ``test`` tables) through
:func:`precision_jax.runs.training.resolve_target`, and :func:`precision_jax.runs.training.run_data` gives its
training and test sets.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from precision_jax.config.engine import ConfigError

__all__ = ["HOLDOUT_FRACTION", "SUFFIXES", "PATH_KEYS", "Table", "DataPoints", "absolutize_paths",
           "absolutize_axis", "file_sha256", "file_columns", "resolve_config", "read_table", "data_target",
           "holdout_count", "point_counts", "dataset", "check_model", "tensor_grid", "default_chebyshev_degree",
           "fit_table_spline", "fit_least_squares_chebyshev", "INTERPOLANTS", "write_table"]

HOLDOUT_FRACTION = 0.2
SUFFIXES = (".csv", ".npz", ".npy")
PATH_KEYS = ("data", "test_data")  # the target keys that hold file paths
_SHOWN_ROWS = 3  # rows named in a message about many rows
_MAX_LSQ_ENTRIES = 1 << 27  # a least-squares Chebyshev design matrix of at most 1 GiB


def _fail(what: str, key: str = "target.data") -> ConfigError:
    return ConfigError(what, key)


def _number(value: float) -> str:
    return repr(float(value))


# --------------------------------------------------------------------------- paths (config reading)


def _absolute(path: str, base_dir) -> str:
    path = os.path.expanduser(path)
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(os.path.abspath(base_dir), path))


def absolutize_paths(config: Any, base_dir) -> Any:
    """Make ``target.data`` / ``target.test_data`` of a raw config mapping absolute against ``base_dir``, in place.

    Called on a config as read from its file, with the file's folder, so that a relative path resolves
    against the file that wrote it; paths given later (``key=value`` overrides, inline dicts) are resolved
    against the working directory by :func:`resolve_config`.
    """
    target = config.get("target") if isinstance(config, dict) else None
    if isinstance(target, dict):
        for key in PATH_KEYS:
            if isinstance(target.get(key), str) and target[key]:
                target[key] = _absolute(target[key], base_dir)
    return config


def absolutize_axis(key: str, values: Sequence, base_dir) -> tuple:
    """A sweep axis's values with data paths made absolute against the spec's folder (other axes unchanged)."""
    if key in tuple(f"target.{k}" for k in PATH_KEYS):
        return tuple(_absolute(v, base_dir) if isinstance(v, str) and v else v for v in values)
    if key == "target":
        return tuple(absolutize_paths({"target": dict(v)}, base_dir)["target"] if isinstance(v, dict) else v
                     for v in values)
    return tuple(values)


# --------------------------------------------------------------------------- reading files


def _read_bytes(path: str, key: str) -> bytes:
    p = Path(path)
    if not p.exists():
        raise _fail(f"no such file: {path}", key)
    if not p.is_file():
        raise _fail(f"not a regular file: {path}", key)
    if p.suffix.lower() not in SUFFIXES:
        raise _fail(f"{p.name}: unsupported data file type {p.suffix or '(none)'!r}; use .csv (with a header), "
                    f".npz or .npy", key)
    try:
        return p.read_bytes()
    except OSError as e:
        raise _fail(f"cannot read {path}: {e.strerror or e}", key) from None


@functools.lru_cache(maxsize=64)
def _described(path: str, stamp: tuple) -> tuple[str, tuple[str, ...]]:
    raw = _read_bytes(path, "data")
    return hashlib.sha256(raw).hexdigest(), _parse(raw, path, "data", header_only=True)[0]


def _describe(path: str, key: str) -> tuple[str, tuple[str, ...]]:
    """(SHA-256, column names) of a data file; cached while its inode, size and times stay the same (a stale
    hash could not pass unnoticed anyway: :func:`read_table` checks the bytes it reads against it)."""
    try:
        stat = os.stat(path)
    except OSError:
        _read_bytes(path, key)  # raises the one-line reason
        raise
    try:
        return _described(path, (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
    except ConfigError as e:
        raise ConfigError(e.what, key) from None


def file_sha256(path) -> str:
    """The SHA-256 (hex) of a data file's bytes; :class:`ConfigError` if it cannot be read."""
    return _describe(os.path.abspath(path), "data")[0]


def file_columns(path) -> tuple[str, ...]:
    """The column names a data file offers (its CSV header, its .npz keys, or x0…x{d-1}, y)."""
    return _describe(os.path.abspath(path), "data")[1]


def _csv_header(lines: Sequence[str], name: str) -> tuple[tuple[str, ...], int]:
    """The header's column names and its index in ``lines`` (the first non-blank line)."""
    header_line = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_line is None:
        raise _fail(f"{name} is empty; a CSV needs a header line naming the columns and rows of numbers")
    head = lines[header_line].strip()
    if head.startswith("#"):
        head = head.lstrip("#").strip()  # numpy.savetxt's "# x,y,f"
    header = [cell.strip() for cell in next(csv.reader([head]))]
    _check_header(header, name)
    return tuple(header), header_line


def _csv_rows(text: str, name: str) -> tuple[tuple[str, ...], list[list[str]], list[int]]:
    """Header, data rows (cells as text) and each row's file line, from a CSV's text."""
    lines = text.splitlines()
    header, header_line = _csv_header(lines, name)
    body, numbers = [], []
    for i in range(header_line + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            body.append(lines[i])
            numbers.append(i + 1)
    rows = list(csv.reader(body))
    for r, (row, line) in enumerate(zip(rows, numbers), start=1):
        if len(row) != len(header):
            raise _fail(f"{name}: row {r} (line {line}) has {len(row)} cells, the header has {len(header)} columns "
                        f"({', '.join(header)})")
    return header, rows, numbers


def _check_header(header: Sequence[str], name: str) -> None:
    def numeric(cell: str) -> bool:
        try:
            float(cell)
            return True
        except ValueError:
            return False

    if header and all(numeric(c) for c in header):
        raise _fail(f"{name}: the first line holds numbers, not column names; add a header line naming the "
                    f"columns, e.g. x,y,f")
    for i, cell in enumerate(header):
        if not cell:
            raise _fail(f"{name}: column {i + 1} of the header has no name")
    seen = set()
    for cell in header:
        if cell in seen:
            raise _fail(f"{name}: column {cell!r} appears twice in the header")
        seen.add(cell)


def _numeric_array(array: np.ndarray, what: str, name: str, key: str) -> np.ndarray:
    if array.dtype.kind not in "biuf":
        raise _fail(f"{name}: {what} holds {array.dtype} values, not real numbers", key)
    return np.asarray(array, np.float64)


def _parse(raw: bytes, path: str, key: str, header_only: bool = False):
    """(columns, ``column(name) -> float64 array``, each row's CSV file line or None) of a data file's bytes.

    ``header_only``: just the columns (a CSV's rows are not read; ``column`` is None).
    """
    name = Path(path).name
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise _fail(f"{name}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})", key) from None
        try:
            if header_only:
                return _csv_header(text.splitlines(), name)[0], None, None
            header, rows, lines = _csv_rows(text, name)
        except csv.Error as e:
            raise _fail(f"{name}: not a readable CSV ({e})", key) from None
        except ConfigError as e:
            raise ConfigError(e.what, key) from None

        def column(column_name: str) -> np.ndarray:
            cells = [row[header.index(column_name)] for row in rows]
            try:
                return np.array(cells, dtype=np.float64) if cells else np.zeros(0)
            except ValueError:
                for r, cell in enumerate(cells, start=1):
                    try:
                        float(cell)
                    except ValueError:
                        shown = repr(cell.strip()) if cell.strip() else "an empty cell"
                        raise _fail(f"{name}: row {r} (line {lines[r - 1]}), column {column_name!r}: {shown} is "
                                    f"not a number", key) from None
                raise

        return header, column, lines
    try:
        loaded = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise _fail(f"{name}: not a readable {suffix} file ({' '.join(str(e).split())})", key) from None
    if suffix == ".npy":
        if not isinstance(loaded, np.ndarray) or loaded.ndim != 2 or loaded.shape[1] < 2:
            shape = getattr(loaded, "shape", "?")
            raise _fail(f"{name}: a .npy data file is one 2-D array (rows × columns, at least 2 columns: inputs "
                        f"x0…, then y), got shape {shape}", key)
        table = _numeric_array(loaded, "the array", name, key)
        columns = tuple(f"x{i}" for i in range(table.shape[1] - 1)) + ("y",)
        arrays = {c: table[:, i] for i, c in enumerate(columns)}
    else:
        try:
            with loaded as npz:
                stored = {k: npz[k] for k in npz.files}
        except ValueError:  # an object array needs pickle
            raise _fail(f"{name} holds Python objects, not numbers (reading them needs pickle, which prec never "
                        f"uses)", key) from None
        if not stored:
            raise _fail(f"{name} holds no arrays", key)
        if "x" in stored and stored["x"].ndim == 2:
            x, y = stored["x"], stored.get("y")
            if y is None or set(stored) != {"x", "y"}:
                raise _fail(f"{name}: an .npz with a 2-D x holds exactly x (n, d) and y (n,), got "
                            f"{', '.join(f'{k} {v.shape}' for k, v in stored.items())}", key)
            if y.ndim == 2 and y.shape[1] > 1:
                raise _fail(f"{name}: y has {y.shape[1]} columns; prec fits one output column (write one file, or "
                            f"one config, per output)", key)
            y = y.reshape(-1) if y.ndim == 2 else y
            if y.ndim != 1 or y.shape[0] != x.shape[0]:
                raise _fail(f"{name}: x has shape {x.shape} but y has shape {stored['y'].shape}; expected "
                            f"({x.shape[0]},)", key)
            x = _numeric_array(x, "x", name, key)
            columns = tuple(f"x{i}" for i in range(x.shape[1])) + ("y",)
            arrays = {c: x[:, i] for i, c in enumerate(columns[:-1])}
            arrays["y"] = _numeric_array(y, "y", name, key)
        else:
            lengths = {k: v.shape for k, v in stored.items()}
            if any(v.ndim != 1 for v in stored.values()) or len({v.shape[0] for v in stored.values()}) != 1:
                raise _fail(f"{name}: an .npz holds either equal-length 1-D columns or x (n, d) and y (n,), got "
                            f"{', '.join(f'{k} {s}' for k, s in lengths.items())}", key)
            columns = tuple(stored)
            arrays = {k: _numeric_array(v, f"column {k!r}", name, key) for k, v in stored.items()}
    if len(columns) < 2:
        raise _fail(f"{name} has one column; a fit needs at least one input and the output", key)
    return columns, arrays.__getitem__, None


# --------------------------------------------------------------------------- config resolution


def _select(columns: Sequence[str], inputs, output, name: str, key: str) -> tuple[tuple[str, ...], str]:
    """The input and output columns: as given, or every column but the last and the last."""
    if output is None:
        output = columns[-1]
    if inputs is None:
        inputs = tuple(c for c in columns if c != output)
        if not inputs:
            raise ConfigError(f"{name} has one column ({output}); a fit needs at least one input column and the "
                              f"output", key)
    for column in (*inputs, output):
        if column not in columns:
            which = "output" if column == output and column not in inputs else "inputs"
            raise ConfigError(f"no column {column!r} in {name} (its columns: {', '.join(columns)})",
                              which if key == "data" else key)
    return tuple(inputs), output


def resolve_config(target) -> dict:
    """The filled-in data keys of a :class:`~precision_jax.experiment.TargetConfig` with ``data`` set.

    Makes the paths absolute (a relative path still here was given on the command line or inline: it is
    relative to the working directory), reads the file's SHA-256 and columns when the config does not give
    them, fills the default ``inputs`` and ``output`` and checks they exist. Keys in errors are relative to
    ``target``. Reading the file here means a missing file or column is refused as the config is read.
    """
    output = target.output
    if isinstance(output, tuple):
        if len(output) != 1:
            raise ConfigError(f"prec fits one output column; got {len(output)} ({', '.join(output) or 'none'}): "
                              f"run one config per output", "output")
        output = output[0]
    inputs = target.inputs
    if inputs is not None:
        if not inputs:
            raise ConfigError("give at least one input column (or leave inputs unset: every column but the output)",
                              "inputs")
        if len(set(inputs)) != len(inputs):
            raise ConfigError(f"an input column is listed twice: {list(inputs)}", "inputs")
        if output is not None and output in inputs:
            raise ConfigError(f"column {output!r} is both an input and the output", "output")
    path = _absolute(target.data, ".")
    updates = {"data": path}
    name = Path(path).name
    sha = target.data_sha256
    if sha is None or inputs is None or output is None:
        actual, columns = _describe(path, "data")
        if sha is not None and sha != actual:
            raise ConfigError(f"{name} has SHA-256 {actual}, but the config pins {sha}: the file changed",
                              "data_sha256")
        sha = actual
        inputs, output = _select(columns, inputs, output, name, "data")
    updates.update(data_sha256=sha, inputs=tuple(inputs), output=output)
    if target.test_data is not None:
        test_path = _absolute(target.test_data, ".")
        updates["test_data"] = test_path
        if target.test_data_sha256 is None:
            test_sha, test_columns = _describe(test_path, "test_data")
            _select(test_columns, inputs, output, Path(test_path).name, "test_data")
            updates["test_data_sha256"] = test_sha
    elif target.test_data_sha256 is not None:
        raise ConfigError("test_data_sha256 only goes with test_data", "test_data_sha256")
    return updates


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True, eq=False)
class Table:
    """A data file's checked rows: inputs ``x`` (n, d) and output ``y`` (n,), float64, in file order.

    ``rows`` holds each kept row's 1-based data row number in the file (for messages);
    ``dropped_duplicates`` counts exact duplicate rows kept once.
    """

    path: str
    sha256: str
    inputs: tuple[str, ...]
    output: str
    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    dropped_duplicates: int = 0

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def d(self) -> int:
        return int(self.x.shape[1])


def read_table(path, inputs: Optional[Sequence[str]] = None, output: Optional[str] = None,
               sha256: Optional[str] = None, key: str = "target.data") -> Table:
    """Read and check a data file: the chosen columns as float64, finite, no conflicting duplicates.

    ``inputs``/``output`` default to every column but the last and the last. With ``sha256`` the file must
    have that SHA-256 (the one its run was configured with). Every problem is a one-line
    :class:`ConfigError` at ``key`` naming the file (and the row and column where there is one).
    """
    path = os.path.abspath(path)
    name = Path(path).name
    raw = _read_bytes(path, key)
    actual = hashlib.sha256(raw).hexdigest()
    if sha256 is not None and actual != sha256:
        raise _fail(f"{name} is not the file the config (or its run) was made with: its SHA-256 is {actual[:12]}…, "
                    f"the config says {sha256[:12]}…", key)
    columns, column, lines = _parse(raw, path, key)
    inputs, output = _select(columns, None if inputs is None else tuple(inputs), output, name, key)
    if output in inputs:
        raise _fail(f"column {output!r} is both an input and the output", key)
    if not inputs:
        raise _fail("give at least one input column", key)
    y = np.asarray(column(output), np.float64)
    x = np.stack([column(c) for c in inputs], axis=1)
    rows = np.arange(1, y.shape[0] + 1)

    def where(r: int) -> str:
        return f"row {r} (line {lines[r - 1]})" if lines is not None else f"row {r}"

    finite = np.isfinite(x).all(axis=1) & np.isfinite(y)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        names = (*inputs, output)
        shown = []
        for i in bad[:_SHOWN_ROWS]:
            values_i = (*x[i], y[i])
            j = next(j for j, v in enumerate(values_i) if not np.isfinite(v))
            shown.append(f"{where(int(rows[i]))}: {names[j]} = {values_i[j]}")
        more = f" and {bad.size - _SHOWN_ROWS} more" if bad.size > _SHOWN_ROWS else ""
        raise _fail(f"{name}: non-finite values in {bad.size} row{'s' if bad.size != 1 else ''} "
                    f"({'; '.join(shown)}{more}); remove or fix them", key)
    if y.shape[0] == 0:
        raise _fail(f"{name} has no data rows", key)
    keep, conflict = _duplicates(x, y)
    if conflict is not None:
        (a, b), count = conflict
        point = ", ".join(f"{c} = {_number(v)}" for c, v in zip(inputs, x[a]))
        raise _fail(f"{name}: {where(int(rows[a]))} and {where(int(rows[b]))} have the same inputs ({point}) but "
                    f"different outputs ({output} = {_number(y[a])} vs {_number(y[b])}); {count} input "
                    f"point{'s' if count != 1 else ''} with conflicting outputs in all. A function has one value "
                    f"per input: is an input column missing? Remove the conflicting rows to fit this file", key)
    dropped = int(y.shape[0] - keep.size)
    return Table(path, actual, tuple(inputs), output, x[keep], y[keep], rows[keep], dropped)


def _duplicates(x: np.ndarray, y: np.ndarray):
    """(rows to keep, sorted; None or ((row a, row b), count) for inputs repeated with different outputs)."""
    n = x.shape[0]
    if n < 2:
        return np.arange(n), None
    order = np.lexsort(x.T[::-1]) if x.shape[1] else np.arange(n)
    xs = x[order]
    same = np.all(xs[1:] == xs[:-1], axis=1)
    if not same.any():
        return np.arange(n), None
    group = np.concatenate([[0], np.cumsum(~same)])
    # In each group of equal inputs the first row in file order is kept; its output must match the others'.
    first = np.full(group[-1] + 1, n)
    np.minimum.at(first, group, order)
    differs = y[order] != y[first[group]]
    if differs.any():
        i = int(np.flatnonzero(differs)[0])
        a, b = sorted((int(first[group[i]]), int(order[i])))
        return None, ((a, b), int(np.unique(group[differs]).size))
    return np.sort(first), None


@dataclass(frozen=True, eq=False)
class DataPoints:
    """What a data target carries instead of a function: its training rows and optional test rows."""

    train: Table
    test: Optional[Table] = None

    def pools(self) -> tuple[int, int]:
        """(rows available for training, rows available for testing) before ``train_points``/``test_points``."""
        if self.test is not None:
            return self.train.n, self.test.n
        held = holdout_count(self.train.n)
        return self.train.n - held, held


def holdout_count(n: int) -> int:
    """Rows held out for testing when there is no ``test_data``: 20 % of ``n``, at least one."""
    return max(1, int(round(HOLDOUT_FRACTION * n)))


@functools.lru_cache(maxsize=8)
def _load(path: str, sha: str, inputs: tuple, output: str, test_path: Optional[str], test_sha: Optional[str]):
    train = read_table(path, inputs, output, sha, "target.data")
    test = None
    if test_path is not None:
        test = read_table(test_path, inputs, output, test_sha, "target.test_data")
        _, conflict = _duplicates(np.concatenate([train.x, test.x]), np.concatenate([train.y, test.y]))
        if conflict is not None:
            (a, b), count = conflict
            b -= train.n
            point = ", ".join(f"{c} = {_number(v)}" for c, v in zip(inputs, train.x[a]))
            raise _fail(f"row {train.rows[a]} of {train.name} and row {test.rows[b]} of {test.name} have the same "
                        f"inputs ({point}) but different outputs ({output} = {_number(train.y[a])} vs "
                        f"{_number(test.y[b])}); {count} such point{'s' if count != 1 else ''} in all: the files "
                        f"disagree about the function", "target.test_data")
    return DataPoints(train, test)


def data_target(target_config):
    """The :class:`~precision_jax.problems.targets.Target` of a data file (``fn`` is None; ``data`` holds the rows).

    ``target_config`` is a validated :class:`~precision_jax.experiment.TargetConfig` with ``data`` set (paths
    absolute, SHA-256s and columns filled in). The box is each input column's range over the rows.
    """
    from precision_jax.problems.targets import Target

    t = target_config
    points = _load(t.data, t.data_sha256, tuple(t.inputs), t.output, t.test_data, t.test_data_sha256)
    table = points.train
    pool_train, pool_test = points.pools()
    if pool_train < 2:
        held = "" if points.test is not None else f"; {pool_test} held out for testing leaves {pool_train}"
        raise _fail(f"{table.name} has {table.n} distinct row{'s' if table.n != 1 else ''}{held}: too few to fit "
                    f"(every model needs at least 2 training points)")
    lows, highs = table.x.min(axis=0), table.x.max(axis=0)
    for column, low, high in zip(table.inputs, lows, highs):
        if not low < high:
            raise _fail(f"{table.name}: input {column!r} is {_number(low)} in every row; a constant is not an input "
                        f"(leave it out of inputs)")
    return Target(f"{table.name}:{table.output}", table.inputs, tuple(map(float, lows)), tuple(map(float, highs)),
                  None, data=points)


def point_counts(target, train_points, test_points: int) -> tuple[int, int]:
    """(D, test points) a run of a data target uses: ``train_points`` (auto: all) of the training pool and at
    most ``test_points`` of the test pool; :class:`ConfigError` if the file has fewer rows than asked for."""
    pool_train, pool_test = target.data.pools()
    name = target.data.train.name
    if train_points == "auto":
        n_train = pool_train
    else:
        n_train = int(train_points)
        if n_train > pool_train:
            held = "" if target.data.test is not None else \
                f" ({target.data.train.n} rows, {pool_test} of them held out for testing)"
            raise ConfigError(f"{n_train} training points asked for, but {name} has {pool_train} training "
                              f"rows{held}; lower it or leave it auto (every row)", "data.train_points")
    return n_train, min(int(test_points), pool_test)


def dataset(target, key, train_points, test_points: int, standardize: bool = False):
    """The run's :class:`~precision_jax.problems.sampling.Dataset` from a data target, drawn with the run's data ``key``.

    Without ``test_data``, a permutation drawn from ``key`` holds out :func:`holdout_count` rows for testing
    and the next D rows train; with it, the permutation picks the D training rows. A test pool larger than
    ``test_points`` is subsampled with ``fold_in(key, 1)``. Rows keep their file order. Standardization is
    :func:`precision_jax.problems.sampling.make_dataset`'s, so stored models see the inputs they were trained on.
    """
    import jax
    import jax.numpy as jnp

    from precision_jax.problems.sampling import Dataset

    points: DataPoints = target.data
    n_train, n_test = point_counts(target, train_points, test_points)
    order = np.asarray(jax.random.permutation(key, points.train.n))
    if points.test is None:
        held = holdout_count(points.train.n)
        test_rows, pool = np.sort(order[:held]), order[held:]
        x_test, y_test = points.train.x[test_rows], points.train.y[test_rows]
    else:
        pool = order
        x_test, y_test = points.test.x, points.test.y
    train_rows = np.sort(pool[:n_train])
    if x_test.shape[0] > n_test:
        pick = np.sort(np.asarray(jax.random.permutation(jax.random.fold_in(key, 1), x_test.shape[0]))[:n_test])
        x_test, y_test = x_test[pick], y_test[pick]
    x_train = jnp.asarray(points.train.x[train_rows])
    y_train = jnp.asarray(points.train.y[train_rows])
    x_test, y_test = jnp.asarray(x_test), jnp.asarray(y_test)
    if not standardize:
        return Dataset(x_train, y_train, x_test, y_test)
    shift = np.asarray(jnp.mean(x_train, axis=0))
    scale = np.asarray(jnp.std(x_train, axis=0))
    scale = np.where(scale > 0, scale, 1.0)
    return Dataset((x_train - shift) / scale, y_train, (x_test - shift) / scale, y_test, shift, scale)


# --------------------------------------------------------------------------- models


def tensor_grid(x: np.ndarray) -> Optional[tuple[np.ndarray, ...]]:
    """The sorted distinct values per column if the rows of ``x`` (n, d) are a full tensor grid (every
    combination exactly once), else None."""
    x = np.asarray(x, np.float64)
    axes = tuple(np.unique(x[:, i]) for i in range(x.shape[1]))
    if int(np.prod([a.size for a in axes], dtype=object)) != x.shape[0]:
        return None
    index = np.ravel_multi_index(tuple(np.searchsorted(a, x[:, i]) for i, a in enumerate(axes)),
                                 tuple(a.size for a in axes))
    return axes if np.unique(index).size == x.shape[0] else None


def _uniform(axis: np.ndarray) -> bool:
    steps = np.diff(axis)
    return bool(np.all(np.abs(steps - (axis[-1] - axis[0]) / (axis.size - 1)) <= 1e-9 * np.abs(steps).max()))


def _grid_problem(table: Table, order: int) -> Optional[str]:
    """Why the rows of ``table`` cannot carry a spline of ``order`` (None if they can)."""
    axes = tensor_grid(table.x)
    d = table.d
    if axes is None:
        counts = ", ".join(f"{c}: {np.unique(table.x[:, i]).size}" for i, c in enumerate(table.inputs))
        return (f"a spline needs data on a full tensor grid (a lookup table: every combination of the inputs' "
                f"values once); these {table.n} points of {table.name} are scattered (distinct values per input: "
                f"{counts}): use kind: simplex or mlp")
    short = [(c, a.size) for c, a in zip(table.inputs, axes) if a.size < order + 1]
    if short:
        return (f"a spline of order {order} needs at least {order + 1} values per input; {table.name} has "
                f"{', '.join(f'{n} of {c}' for c, n in short)}")
    if d >= 2 and len({a.size for a in axes}) != 1:
        return (f"a spline in d ≥ 2 needs the same number of values on every axis; {table.name} has "
                f"{' × '.join(f'{a.size} ({c})' for c, a in zip(table.inputs, axes))}: use kind: simplex or mlp")
    if d >= 2 and order == 1 and not all(_uniform(a) for a in axes):
        return (f"a multilinear spline (order 1) in d ≥ 2 needs equally spaced values on every axis; "
                f"{table.name}'s are not: use order 3 or 5, or kind: simplex")
    return None


def default_chebyshev_degree(n_points: int, d: int) -> int:
    """The largest n with (n+1)^d ≤ D/4 (at least 1): enough points per coefficient for a stable fit."""
    n = 1
    while (n + 2) ** d <= n_points / 4:
        n += 1
    return n


def check_model(cfg, target) -> None:
    """Refuse a model the data file cannot carry (too few rows, not a grid, …) before anything is drawn.

    ``cfg`` is the run's :class:`~precision_jax.experiment.ExperimentConfig`; errors are :class:`ConfigError`
    at the key to change.
    """
    points: DataPoints = target.data
    table, d, kind = points.train, target.d, cfg.model.kind
    if getattr(cfg.data, "sampling", "uniform") != "uniform":
        raise ConfigError(f"a data file's points are its rows; data.sampling: {cfg.data.sampling} does not apply "
                          f"(leave it uniform)", "data.sampling")
    n_train, n_test = point_counts(target, cfg.data.train_points, cfg.data.test_points)
    source = "" if points.test is not None else f" ({table.n} rows, {points.pools()[1]} held out for testing)"
    if n_test < 1:
        raise ConfigError(f"{points.test.name} has no test rows", "target.test_data")
    if kind == "spline":
        from precision_jax.models.spline import supported_orders

        if cfg.model.order not in supported_orders(d):
            raise ConfigError(f"order {cfg.model.order} is not supported in d={d}; supported: "
                              f"{', '.join(map(str, supported_orders(d)))}", "model.order")
        if cfg.data.train_points != "auto":
            raise ConfigError(f"a spline interpolates every row of the table; leave data.train_points auto",
                              "data.train_points")
        problem = _grid_problem(table, cfg.model.order)
        if problem is not None:
            raise ConfigError(problem, "model.kind")
        if d >= 2 and points.test is None:
            raise ConfigError(f"a spline interpolates every row of the lookup table {table.name}; holding 20 % of "
                              f"them out for testing would leave holes in it: give target.test_data (points off "
                              f"the grid)", "target.test_data")
        return
    if kind == "simplex":
        if n_train < d + 1:
            raise ConfigError(f"simplex interpolation in d = {d} needs at least d + 1 = {d + 1} training points; "
                              f"{table.name} gives {n_train}{source}", "data.train_points")
        return
    if kind == "chebyshev":
        from precision_jax.models.chebyshev import MAX_DIM

        if d > MAX_DIM:
            raise ConfigError(f"a Chebyshev series supports d ≤ {MAX_DIM}; {table.name} has d = {d} inputs: use "
                              f"kind: mlp, simplex or spline", "model.kind")
        degree = cfg.model.degree if cfg.model.degree is not None else default_chebyshev_degree(n_train, d)
        if (degree + 1) ** d > n_train:
            raise ConfigError(f"on data, chebyshev is a least-squares series; degree {degree} has "
                              f"{(degree + 1) ** d} coefficients but there are {n_train} training points"
                              f"{source}: lower model.degree", "model.degree")
        if (degree + 1) ** d * n_train > _MAX_LSQ_ENTRIES:
            raise ConfigError(f"a least-squares fit of {(degree + 1) ** d} coefficients to {n_train} points needs a "
                              f"{n_train} × {(degree + 1) ** d} matrix (over 1 GiB): lower model.degree or "
                              f"data.train_points", "model.degree")
        return
    if n_train < 2:
        raise ConfigError(f"a net needs at least 2 training points; {table.name} gives {n_train}{source}",
                          "data.train_points")


def _described_interpolant(interpolant, description: str, x: np.ndarray, y: np.ndarray):
    # The training error of a data fit is measured at the data rows it was fitted to.
    object.__setattr__(interpolant, "description", description)
    object.__setattr__(interpolant, "fitted_points", lambda: (x, y))
    return interpolant


def fit_table_spline(cfg, target, data):
    """A tensor-product spline through every row of a lookup table (the data set's training rows).

    1-D: ``make_interp_spline`` on the sorted points (any spacing); d ≥ 2, order 1: multilinear on the
    (equally spaced) grid; orders 3 and 5: the exact tensor not-a-knot solve of
    :func:`~precision_jax.models.spline.fit_spline` on the table's own axes. The result is a
    :class:`~precision_jax.models.spline.SplineInterpolant`, stored and restored like any spline.
    """
    from precision_jax.models.spline import SplineInterpolant, grid_axes, supported_orders, tensor_spline

    x, y = np.asarray(data.x_train, np.float64), np.asarray(data.y_train, np.float64)
    d, order = x.shape[1], cfg.order
    if order not in supported_orders(d):
        raise ConfigError(f"order {order} is not supported in d={d}; supported: "
                          f"{', '.join(map(str, supported_orders(d)))}", "model.order")
    table = Table(target.data.train.path, "", target.variables, "", x, y, np.arange(1, x.shape[0] + 1))
    problem = _grid_problem(table, order)
    if problem is not None:
        raise ConfigError(problem, "model.kind")
    axes = tensor_grid(x)
    p = axes[0].size
    values = np.empty(tuple(a.size for a in axes))
    values[tuple(np.searchsorted(a, x[:, i]) for i, a in enumerate(axes))] = y
    lows, highs = np.array([a[0] for a in axes]), np.array([a[-1] for a in axes])
    # Multilinear interpolation on the regular axes that a restored spline rebuilds, so the fit and the stored
    # model agree bit for bit; the B-splines keep their knots, from the table's own axes.
    spline, method = tensor_spline(grid_axes(lows, highs, p) if d > 1 and order == 1 else axes, values, order)
    fitted = SplineInterpolant(p**d, p**d, d, order, p, method, lows, highs, spline, values)
    return _described_interpolant(fitted, f"spline order {order} on a {'×'.join(str(a.size) for a in axes)} table",
                                  x, y)


def fit_least_squares_chebyshev(cfg, target, data):
    """A least-squares tensor Chebyshev series of degree ``cfg.degree`` per axis through scattered rows.

    The box is the target's (the data's range), mapped to [-1, 1]^d; the design matrix holds
    T_i(t_0) T_j(t_1) … at every training point (``chebvander``/``chebvander2d``/``chebvander3d``) and the
    coefficients solve it by ``numpy.linalg.lstsq`` (SVD). The result is a
    :class:`~precision_jax.models.chebyshev.ChebyshevInterpolant` (stored and restored as one); its
    training error is the least-squares residual at the rows.
    """
    from numpy.polynomial import chebyshev as C

    from precision_jax.models.chebyshev import MAX_DIM, ChebyshevInterpolant

    x, y = np.asarray(data.x_train, np.float64), np.asarray(data.y_train, np.float64)
    D, d = x.shape
    if d > MAX_DIM:
        raise ConfigError(f"a Chebyshev series supports d ≤ {MAX_DIM}, got d = {d}", "model.kind")
    n = cfg.degree if cfg.degree is not None else default_chebyshev_degree(D, d)
    m = (n + 1) ** d
    if m > D:
        raise ConfigError(f"degree {n} has {m} coefficients but there are {D} training points: lower model.degree",
                          "model.degree")
    lows, highs = np.asarray(target.lows, np.float64), np.asarray(target.highs, np.float64)
    t = np.clip((x - 0.5 * (lows + highs)) / (0.5 * (highs - lows)), -1.0, 1.0)
    if d == 1:
        design = C.chebvander(t[:, 0], n)
    elif d == 2:
        design = C.chebvander2d(t[:, 0], t[:, 1], [n, n])
    else:
        design = C.chebvander3d(t[:, 0], t[:, 1], t[:, 2], [n, n, n])
    coefficients, _, rank, singular = np.linalg.lstsq(design, y, rcond=None)
    if rank < m:
        raise ConfigError(f"the {D} training points do not determine a degree-{n} Chebyshev series (rank {rank} of "
                          f"{m}): lower model.degree", "model.degree")
    fitted = ChebyshevInterpolant(m, D, d, n, coefficients.reshape((n + 1,) * d), lows, highs)
    condition = singular[0] / singular[-1]
    return _described_interpolant(fitted, f"chebyshev least squares degree {n} ({m} coefficients, {D} points, "
                                          f"condition {condition:.1e})", x, y)


def _fit_simplex(cfg, target, data):
    from precision_jax.models.classical import build_simplex

    x = np.asarray(data.x_train, np.float64)
    if x.shape[1] >= 2 and np.linalg.matrix_rank(x - x.mean(axis=0)) < x.shape[1]:
        raise ConfigError(f"the {x.shape[0]} training points of {target.data.train.name} lie in a "
                          f"lower-dimensional subspace; simplex interpolation needs points that span all "
                          f"{x.shape[1]} inputs (use kind: mlp)", "model.kind")
    try:
        return build_simplex(cfg, target, data)
    except RuntimeError as e:  # qhull's QhullError on degenerate point sets
        raise ConfigError(f"triangulating {target.data.train.name}'s points failed: {' '.join(str(e).split())[:200]}",
                          "model.kind") from None


# kind -> builder(model_cfg, target, dataset), the data-target counterparts of approximators.INTERPOLANTS.
INTERPOLANTS = {"simplex": _fit_simplex, "spline": fit_table_spline, "chebyshev": fit_least_squares_chebyshev}


# --------------------------------------------------------------------------- writing


def write_table(path, columns: Mapping[str, Any]) -> Path:
    """Write named, equal-length 1-D columns as a data file: ``.csv`` (header, floats as their shortest
    round-tripping repr) or ``.npz`` (one float64 array per column). The last column is the default output.

    The bytes depend only on the columns (the .npz's zip entries carry a fixed date, unlike ``numpy.savez``'s),
    so the same numbers always give the same SHA-256 and therefore the same run ids.
    """
    import zipfile

    path = Path(path)
    arrays = {str(k): np.asarray(v, np.float64).reshape(-1) for k, v in columns.items()}
    if len({a.size for a in arrays.values()}) > 1:
        raise ValueError(f"columns of unequal length: {({k: a.size for k, a in arrays.items()})}")
    if path.suffix.lower() == ".npz":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue())
    elif path.suffix.lower() == ".csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(arrays)
        writer.writerows(zip(*([repr(float(v)) for v in a] for a in arrays.values())))
        path.write_text(out.getvalue())
    else:
        raise ValueError(f"write_table writes .csv or .npz, not {path.suffix!r}")
    return path
