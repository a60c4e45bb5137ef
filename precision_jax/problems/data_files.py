"""Data files: reading, checking and writing tables of numbers (CSV, ``.npz``, ``.npy``).

A data file holds named columns of equal length; a run fits one output column as a function of input columns
(:mod:`precision_jax.problems.data_target` makes the target and the training and test sets from the rows).

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

From Python
-----------
``read_table(path, inputs=None, output=None)`` reads and checks a file into a :class:`Table` (``x`` (n, d),
``y`` (n,), ``inputs``, ``output``, ``sha256``); ``file_columns(path)`` is cheap (cached);
``read_points(path, variables)`` reads the input points ``prec predict`` is given (a header is optional
there, and no output column is needed); ``write_table(path, {name: column})`` writes a .csv or .npz whose
bytes depend only on the numbers (so the same arrays give the same run id).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from precision_jax.config.engine import ConfigError

__all__ = ["SUFFIXES", "Table", "file_columns", "describe", "select_columns", "read_table", "duplicate_rows",
           "read_points", "write_table"]

SUFFIXES = (".csv", ".npz", ".npy")
_SHOWN_ROWS = 3  # rows named in a message about many rows


def _fail(what: str, key: str = "target.data") -> ConfigError:
    return ConfigError(what, key)


def number_text(value: float) -> str:
    """A number as it is named in messages: its shortest round-tripping repr."""
    return repr(float(value))


# --------------------------------------------------------------------------- reading files


def _read_bytes(path: str, key: str, any_suffix: bool = False) -> bytes:
    """A data file's bytes; ``any_suffix``: read a file of any other type as CSV text (input points)."""
    p = Path(path)
    if not p.exists():
        raise _fail(f"no such file: {path}", key)
    if not p.is_file():
        raise _fail(f"not a regular file: {path}", key)
    if not any_suffix and p.suffix.lower() not in SUFFIXES:
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


def describe(path: str, key: str) -> tuple[str, tuple[str, ...]]:
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


def file_columns(path) -> tuple[str, ...]:
    """The column names a data file offers (its CSV header, its .npz keys, or x0…x{d-1}, y)."""
    return describe(os.path.abspath(path), "data")[1]


def _csv_header(lines: Sequence[str], name: str) -> tuple[tuple[str, ...], int]:
    """The header's column names and its index in ``lines`` (the first non-blank line)."""
    header_line = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_line is None:
        raise _fail(f"{name} is empty; a CSV needs a header line naming the columns and rows of numbers")
    head = lines[header_line].strip()
    if head.startswith("#"):
        head = head.lstrip("#").strip()  # numpy.savetxt's "# x,y,f"
    header = [cell.strip() for cell in next(csv.reader([head]), [])]
    if not header:  # a lone "#" line: a header that names nothing
        raise _fail(f"{name}: the header line names no columns; it must name them, e.g. x,y,f")
    _check_header(header, name)
    return tuple(header), header_line


def _csv_rows(text: str, name: str, names: Optional[Sequence[str]] = None
              ) -> tuple[tuple[str, ...], list[list[str]], list[int]]:
    """Header, data rows (cells as text) and each row's file line, from a CSV's text.

    ``names``: a first line of numbers is a row, not a header, and the columns are ``names`` in order.
    """
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), None)
    cells = [cell.strip() for cell in next(csv.reader([first]))] if names is not None and first else None
    if cells is not None and all(_is_number(cell) for cell in cells):
        if len(cells) != len(names):
            raise _fail(f"{name}: {len(cells)} columns and no header, but {len(names)} are needed "
                        f"({', '.join(names)}); give exactly {len(names)} column{'s' if len(names) != 1 else ''} "
                        f"or a header naming them")
        header, header_line = tuple(names), lines.index(first) - 1
    else:
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


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_header(header: Sequence[str], name: str) -> None:
    if header and all(_is_number(c) for c in header):
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


def _csv_columns(raw: bytes, name: str, key: str, header_only: bool = False,
                 names: Optional[Sequence[str]] = None):
    """(columns, ``column(name) -> float64 array``, each row's file line) of a CSV's bytes (see :func:`_parse`)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _fail(f"{name}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})", key) from None
    try:
        if header_only:
            return _csv_header(text.splitlines(), name)[0], None, None
        header, rows, lines = _csv_rows(text, name, names)
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


# What numpy and zipfile raise on damaged bytes, besides ValueError: a bad CRC or a member cut short, an unknown
# compression, and an .npy header that numpy's own header tokenizer cannot read (tokenize.TokenError).
_DAMAGED = (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, SyntaxError,
            tokenize.TokenError)


def _load_arrays(raw: bytes, name: str, suffix: str, key: str):
    """The array of a ``.npy`` file, or a ``.npz`` file's arrays by name; loaded without pickle."""
    try:
        loaded = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, *_DAMAGED) as e:
        raise _fail(f"{name}: not a readable {suffix} file ({' '.join(str(e).split())})", key) from None
    if isinstance(loaded, np.ndarray) != (suffix == ".npy"):  # np.load goes by the bytes, not the name
        if not isinstance(loaded, np.ndarray):
            loaded.close()
        kind = "an .npy array" if isinstance(loaded, np.ndarray) else "an .npz archive"
        raise _fail(f"{name}: not a readable {suffix} file (it holds {kind})", key)
    if suffix == ".npy":
        return loaded
    try:
        with loaded as npz:
            stored = {k: npz[k] for k in npz.files}
    except ValueError:  # an object array needs pickle
        raise _fail(f"{name} holds Python objects, not numbers (reading them needs pickle, which prec never "
                    f"uses)", key) from None
    except _DAMAGED as e:  # a damaged member
        raise _fail(f"{name}: not a readable {suffix} file ({' '.join(str(e).split())})", key) from None
    if not stored:
        raise _fail(f"{name} holds no arrays", key)
    return stored


def _parse(raw: bytes, path: str, key: str, header_only: bool = False):
    """(columns, ``column(name) -> float64 array``, each row's CSV file line or None) of a data file's bytes.

    ``header_only``: just the columns (a CSV's rows are not read; ``column`` is None).
    """
    name = Path(path).name
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return _csv_columns(raw, name, key, header_only)
    loaded = _load_arrays(raw, name, suffix, key)
    if suffix == ".npy":
        if not isinstance(loaded, np.ndarray) or loaded.ndim != 2 or loaded.shape[1] < 2:
            shape = getattr(loaded, "shape", "?")
            raise _fail(f"{name}: a .npy data file is one 2-D array (rows × columns, at least 2 columns: inputs "
                        f"x0…, then y), got shape {shape}", key)
        table = _numeric_array(loaded, "the array", name, key)
        columns = tuple(f"x{i}" for i in range(table.shape[1] - 1)) + ("y",)
        arrays = {c: table[:, i] for i, c in enumerate(columns)}
    else:
        stored = loaded
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


# --------------------------------------------------------------------------- columns and tables


def select_columns(columns: Sequence[str], inputs, output, name: str, key: str) -> tuple[tuple[str, ...], str]:
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
    inputs, output = select_columns(columns, None if inputs is None else tuple(inputs), output, name, key)
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
    keep, conflict = duplicate_rows(x, y)
    if conflict is not None:
        (a, b), count = conflict
        point = ", ".join(f"{c} = {number_text(v)}" for c, v in zip(inputs, x[a]))
        raise _fail(f"{name}: {where(int(rows[a]))} and {where(int(rows[b]))} have the same inputs ({point}) but "
                    f"different outputs ({output} = {number_text(y[a])} vs {number_text(y[b])}); {count} input "
                    f"point{'s' if count != 1 else ''} with conflicting outputs in all. A function has one value "
                    f"per input: is an input column missing? Remove the conflicting rows to fit this file", key)
    dropped = int(y.shape[0] - keep.size)
    return Table(path, actual, tuple(inputs), output, x[keep], y[keep], rows[keep], dropped)


def duplicate_rows(x: np.ndarray, y: np.ndarray):
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



# --------------------------------------------------------------------------- input points


def read_points(path, variables: Sequence[str], key: str = "") -> np.ndarray:
    """Input points (n, d) for a model with inputs ``variables``, from a data file (what ``prec predict`` reads).

    The same reader as :func:`read_table`, with what inputs need: no output column, and a CSV's header is
    optional. CSV (any suffix but .npz/.npy): with a header the input columns are picked by name (other
    columns are ignored); without one (a first line of numbers) the file has exactly d columns, in the
    model's order. NPZ: one 1-D array per input name, or one array ``x`` of shape (n, d) (or the only
    array). NPY: one (n, d) array. Non-finite values are refused, their CSV lines or rows named. Every
    problem is a one-line :class:`ConfigError` naming the file (at ``key``).
    """
    path, variables = os.path.abspath(path), tuple(variables)
    name, suffix, d = Path(path).name, Path(path).suffix.lower(), len(variables)
    raw = _read_bytes(path, key, any_suffix=True)
    lines = None
    if suffix in (".npz", ".npy"):
        arrays = _load_arrays(raw, name, suffix, key)
        arrays = {"x": arrays} if suffix == ".npy" else arrays
        if all(v in arrays for v in variables):
            columns = [np.asarray(arrays[v]) for v in variables]
            if any(c.ndim != 1 for c in columns) or len({c.shape for c in columns}) != 1:
                raise _fail(f"{name}: the arrays {', '.join(variables)} must be 1-D and of one length, got shapes "
                            f"{', '.join(str(c.shape) for c in columns)}", key)
            x = np.stack(columns, axis=1)
        elif "x" in arrays or len(arrays) == 1:
            array = "x" if "x" in arrays else next(iter(arrays))
            x = np.asarray(arrays[array])
            x = x[:, None] if x.ndim == 1 and d == 1 else x
            if x.ndim != 2 or x.shape[1] != d:
                raise _fail(f"{name}: array {array!r} has shape {x.shape}; the model has {d} input"
                            f"{'s' if d != 1 else ''} ({', '.join(variables)}), so give (n, {d})", key)
        else:
            raise _fail(f"{name}: no arrays named {', '.join(variables)} and no array x; it has "
                        f"{', '.join(arrays) or 'none'}", key)
        x = _numeric_array(x, "the points", name, key)
    else:
        columns, column, lines = _csv_columns(raw, name, key, names=variables)
        missing = [v for v in variables if v not in columns]
        if missing:
            raise _fail(f"{name}: no column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}: the "
                        f"model's inputs are {', '.join(variables)}; the header has {', '.join(columns)}", key)
        x = np.stack([column(v) for v in variables], axis=1) if variables else np.zeros((0, 0))
    if x.shape[0] == 0:
        raise _fail(f"{name} has no data rows", key)
    bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
    if bad.size:
        where = "lines" if lines is not None else "rows"
        shown = ", ".join(str(lines[i] if lines is not None else i + 1) for i in bad[:_SHOWN_ROWS])
        more = f" and {bad.size - _SHOWN_ROWS} more" if bad.size > _SHOWN_ROWS else ""
        raise _fail(f"{name}: non-finite values (nan or inf) at {where} {shown}{more}", key)
    return x


# --------------------------------------------------------------------------- writing


def write_table(path, columns: Mapping[str, Any]) -> Path:
    """Write named, equal-length 1-D columns as a data file: ``.csv`` (header, floats as their shortest
    round-tripping repr) or ``.npz`` (one float64 array per column). The last column is the default output.

    The bytes depend only on the columns (the .npz's zip entries carry a fixed date, unlike ``numpy.savez``'s),
    so the same numbers always give the same SHA-256 and therefore the same run ids.
    """
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
