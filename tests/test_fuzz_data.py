"""Fuzzing the data-file reader and ``prec predict``'s input files (issue 26, item 1).

Random bytes, random CSVs (bad cells, ragged rows, BOMs, other delimiters, duplicate headers) and NPZ/NPY
files of wrong shapes and dtypes. ``read_table`` returns finite float64 ``x`` (n, d) and ``y`` (n,), or refuses
with one line of :class:`ConfigError` naming the file; ``read_points`` (and ``use.export.read_points``, which
``prec predict`` calls) return finite float64 points (n, d), or refuse with one line (:class:`ConfigError`,
:class:`PointsError`) naming the file. Nothing else is raised, nothing hangs, nothing is written outside the
example's temporary folder. Counts and commands: :mod:`tests.fuzz_support`.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
from hypothesis import strategies as st

from precision_jax.config.engine import ConfigError
from precision_jax.problems.data_files import read_points, read_table
from precision_jax.use.export import PointsError
from precision_jax.use.export import read_points as predict_points
from tests.fuzz_support import assert_one_line, fuzz_pair, sandbox

CELLS = ["1", "0", "-2.5", "1e-3", "1e308", "1e309", "nan", "NaN", "inf", "-inf", "", " ", "x", "1,5", "0x10",
         "1_000", "١", "\ufeff1", '"1"', '"a,b"', "'", "#1", "1 2", "\x00", "é", "True", "None", "1e", "--1"]
NAMES = ["x", "y", "f", "x0", "x1", "y ", " x", "", "#x", "x,y", '"x"', "é", "\ufeffx", "1", "nan"]


@st.composite
def csv_texts(draw):
    """A CSV-like text: maybe a header, rows of numbers and bad cells, ragged, with BOMs, odd delimiters."""
    columns = draw(st.integers(min_value=1, max_value=4))
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t", " ", "|", ", "]))
    header = draw(st.lists(st.sampled_from(NAMES + ["x", "y", "f"]), min_size=columns, max_size=columns))
    number = st.floats(allow_nan=True, allow_infinity=True).map(repr)
    cell = st.one_of(number, number, st.integers(-5, 5).map(str), st.sampled_from(CELLS), st.text(max_size=3))
    rows = draw(st.lists(st.lists(cell, min_size=max(0, columns - 1), max_size=columns + 1), max_size=8))
    lines = ([draw(st.sampled_from(["", "# ", "\ufeff"])) + delimiter.join(header)] if draw(st.booleans()) else [])
    lines += [delimiter.join(row) for row in rows]
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        lines.insert(draw(st.integers(min_value=0, max_value=len(lines))), draw(st.sampled_from(
            ["", "#comment", "   ", "\x0c", "\u2028", "\r"])))
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, "replace"), ".csv"


DTYPES = ["f8", "f4", "f2", "i8", "u1", "b1", "c16", "U3", "S2", "M8[D]", "m8[s]", "O", [("a", "f8"), ("b", "i4")]]


@st.composite
def array_files(draw):
    """The bytes of an .npy or .npz file of random shapes and dtypes (sometimes truncated or corrupted)."""
    def array():
        shape = tuple(draw(st.lists(st.integers(min_value=0, max_value=5), max_size=3)))
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        values = np.asarray(draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32),
                                          min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
        with np.errstate(all="ignore"):
            if dtype.kind == "O":
                return np.array(values.reshape(shape), dtype=object)
            if dtype.kind in "MmUSV":
                return np.zeros(shape, dtype)
            return values.reshape(shape).astype(dtype)

    buffer = io.BytesIO()
    if draw(st.booleans()):
        suffix = ".npy"
        np.save(buffer, array(), allow_pickle=True)
    else:
        suffix = ".npz"
        names = draw(st.lists(st.sampled_from(["x", "y", "f", "x0", "x1", "a", "arr_0"]), max_size=4, unique=True))
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in names:
                inner = io.BytesIO()
                np.save(inner, array(), allow_pickle=True)
                archive.writestr(f"{name}.npy", inner.getvalue())
    raw = buffer.getvalue()
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        suffix = {".npy": ".npz", ".npz": ".npy"}[suffix]  # the bytes of one under the other's name
    cut = draw(st.sampled_from(["keep", "keep", "keep", "truncate", "flip"]))
    if cut == "truncate" and raw:
        raw = raw[:draw(st.integers(min_value=0, max_value=len(raw) - 1))]
    elif cut == "flip" and raw:
        i = draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw = raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1:]
    return raw, suffix


random_files = st.tuples(st.binary(max_size=200), st.sampled_from([".csv", ".npy", ".npz", ".txt", ""]))
VARIABLES = st.sampled_from([("x",), ("x", "y"), ("x0", "x1"), ("a",), ("x", "y", "f"), ()])


def _write(tmp, case):
    raw, suffix = case
    path = tmp / f"data{suffix}"
    path.write_bytes(raw)
    return path


def check_table(case) -> None:
    """read_table: finite float64 rows, or one line naming the file."""
    with sandbox() as tmp:
        path = _write(tmp, case)
        try:
            table = read_table(path)
        except ConfigError as e:
            assert_one_line(e, path.name)
            return
        assert table.x.dtype == np.float64 and table.y.dtype == np.float64
        assert table.x.ndim == 2 and table.y.shape == (table.x.shape[0],) and table.x.shape[0] > 0
        assert np.isfinite(table.x).all() and np.isfinite(table.y).all()


def check_points(case) -> None:
    """read_points and export.read_points (prec predict): finite float64 points (n, d), or one line naming the
    file, as ConfigError and PointsError."""
    file, variables = case
    with sandbox() as tmp:
        path = _write(tmp, file)
        try:
            x = read_points(path, variables)
        except ConfigError as e:
            assert_one_line(e, path.name)
            try:
                predict_points(path, variables)
            except PointsError as p:
                assert_one_line(p, path.name)
            else:
                raise AssertionError("export.read_points accepted what data_files.read_points refused")
            return
        assert x.dtype == np.float64 and x.shape[1:] == (len(variables),) and x.shape[0] > 0
        assert np.isfinite(x).all()
        assert np.array_equal(predict_points(path, variables), x)


def _npz(edit) -> bytes:
    """An .npz of x (3, 2) and y (3,), its bytes passed through ``edit``."""
    buffer = io.BytesIO()
    np.savez(buffer, x=np.arange(6.0).reshape(3, 2), y=np.arange(3.0))
    return edit(buffer.getvalue())


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1:]


def _npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(6.0).reshape(3, 2))
    return buffer.getvalue()


# Examples the fuzzing found, kept as regressions: a damaged .npz member raised zipfile.BadZipFile (bad CRC;
# EOFError for one cut short) out of read_table and read_points; an .npy named .npz a TypeError. (An .npz named
# .npy was refused already; it stays as the mirror case.)
TABLE_REGRESSIONS = [
    (_npz(lambda raw: _flip(raw, 150)), ".npz"),
    (_npy(), ".npz"),
    (_npz(lambda raw: raw), ".npy"),
    (b"\x93NUMPY\x01\x00v\x00{'descr': [('a', '<f8'), \xd7'b', '<i4')], 'fortran_order': False, 'shape': (0,), }"
     + b" " * 37 + b"\n", ".npy"),  # tokenize.TokenError from numpy's header reader
    (b"#", ".csv"),   # a header line naming nothing: IndexError in select_columns (found by the slow run)
    (b"# ", ".csv"),
]
POINTS_REGRESSIONS = [(case, ("x0", "x1")) for case in TABLE_REGRESSIONS]

files = st.one_of(csv_texts(), array_files(), random_files)
test_table_csv, test_table_csv_slow = fuzz_pair(check_table, csv_texts(), 200, TABLE_REGRESSIONS)
test_table_arrays, test_table_arrays_slow = fuzz_pair(check_table, array_files(), 150)
test_table_bytes, test_table_bytes_slow = fuzz_pair(check_table, random_files, 100)
test_points, test_points_slow = fuzz_pair(check_points, st.tuples(files, VARIABLES), 250, POINTS_REGRESSIONS)
