"""``prec export``: a stored run's fitted model as a standalone artifact, and ``prec predict``'s arithmetic.

Two forms, both built from :func:`export_arrays`:

* ``--to npz``: the arrays of format ``prec-export`` (layout in
  :mod:`precision_jax.use.export_runtime`'s docstring), readable with plain numpy
  (``np.load(path)``) or as a callable model with ``export_runtime.load_npz``.
* ``--to python``: one ``.py`` file that needs only numpy (and scipy for simplex
  parts in d ≥ 2, whose point location needs a Delaunay triangulation). It
  holds the source of :mod:`precision_jax.use.export_runtime` verbatim and the same
  arrays, each as base64 of its little-endian bytes (float64 bit for bit), and
  defines ``predict(x)`` for x of shape (n, d) — or (d,) for one point, or (n,)
  when d = 1 — returning (n,) float64. Run as a script, ``python model.py
  in.csv`` prints predictions for a CSV of inputs.

The runtime evaluates every model kind with the same float operations jax (on
CPU) and scipy use, so an exported model reproduces ``prec predict`` to within
a few ulps (bit for bit in most cases); the tests check 1e-15 relative for
every kind.

Outputs never replace a file: :func:`check_output` refuses an existing file
(:class:`OutputExists`, unless ``force``), a folder in the file's place and a
missing or unwritable folder (:class:`OutputError`), before any model is read;
:func:`write_output` then publishes the finished file with ``link(2)``, which
fails rather than replace a file that appeared meanwhile.

:func:`input_gradient` is ``prec predict --grad``: ∂F/∂x_i on raw inputs for
every part kind — autodiff for nets; the derivative of the polynomial piece for
splines and Chebyshev series; for simplex interpolation (and order-1 splines)
the gradient of the linear piece that holds the point, which on a shared face
or grid line is the one scipy's point location picks (one-sided there).
"""

from __future__ import annotations

import base64
import errno
import inspect
import json
import os
import pprint
import secrets
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from precision_jax import models
from precision_jax.config.engine import ConfigError
from precision_jax.models.fitted import FittedModel
from precision_jax.problems import data_files
from precision_jax.runs import atomic_files, store
from precision_jax.use import export_runtime

FORMATS = ("python", "npz")
DEFAULT_OUTPUT = "prediction"


def output_name(cfg: Any) -> str:
    """The name of a run's output: the data target's output column when it names one, else ``prediction``."""
    name = getattr(getattr(cfg, "target", None), "output", None)
    return str(name) if isinstance(name, str) and name.strip() else DEFAULT_OUTPUT


def _strings(values) -> np.ndarray:
    return np.asarray([str(v) for v in values], dtype=str)


def _dense_arrays(layers, prefix: str) -> dict[str, np.ndarray]:
    arrays = {f"{prefix}layers": np.asarray(len(layers), np.int64)}
    for layer, (w, b) in enumerate(layers):
        arrays[f"{prefix}W_{layer}"] = np.asarray(w, np.float64)
        arrays[f"{prefix}b_{layer}"] = np.asarray(b, np.float64)
    return arrays


def _part_arrays(model_cfg: Any, built: Any, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    kind = model_cfg.kind
    if models.is_interpolant(kind):  # its state() arrays are what the runtime evaluates
        return {name: np.asarray(a) for name, a in arrays.items()}
    params = built.unflatten(np.asarray(arrays["theta"], np.float64))  # the model's own (W, b) pytree
    if kind == "mlp":
        return {"activation": np.asarray(model_cfg.activation), **_dense_arrays(params, "")}
    if kind == "modular":
        out = {"activation": np.asarray(model_cfg.activation),
               "modules": _strings(m.name for m in model_cfg.modules),
               "order": np.asarray(model_cfg.topological_order(), np.int64),
               "output": np.asarray(model_cfg.modules[model_cfg.output_index()].name)}
        for j, module in enumerate(model_cfg.modules):
            out[f"inputs_{j}"] = _strings(module.inputs)
            out.update(_dense_arrays(params[j], f"m{j}/"))
        return out
    raise ValueError(f"prec export does not know the model kind {kind!r}")


def export_arrays(record: store.RunRecord, model: Optional[FittedModel] = None) -> dict[str, np.ndarray]:
    """The ``prec-export`` arrays of a run (layout: :mod:`precision_jax.use.export_runtime`)."""
    model = model if model is not None else store.load_model(record)
    target = record.summary.target
    arrays: dict[str, np.ndarray] = {
        "format": np.asarray(export_runtime.FORMAT),
        "format_version": np.asarray(export_runtime.FORMAT_VERSION, np.int64),
        "variables": _strings(target.variables),
        "output": np.asarray(output_name(record.config)),
        "lows": np.asarray(target.lows, np.float64),
        "highs": np.asarray(target.highs, np.float64),
        "kinds": _strings(p.model.kind for p in record.parts),
        "coefficients": np.asarray([p.coefficient for p in record.parts], np.float64),
    }
    if record.input_shift is not None:
        arrays["input_shift"] = np.asarray(record.input_shift, np.float64)
        arrays["input_scale"] = np.asarray(record.input_scale, np.float64)
    for k, (part, built) in enumerate(zip(record.parts, model.models)):
        for name, a in _part_arrays(part.model, built, part.arrays).items():
            arrays[f"part_{k}/{name}"] = a
    return arrays


# --------------------------------------------------------------------------- the standalone python file


def _encode(a: np.ndarray) -> tuple:
    a = np.asarray(a)
    if a.dtype.kind == "U":
        return ("str", a.shape, a.tolist())
    if a.dtype.kind not in "fi":
        raise ValueError(f"cannot embed an array of dtype {a.dtype}")
    dtype = "<f8" if a.dtype.kind == "f" else "<i8"
    data = np.ascontiguousarray(a, dtype=dtype).tobytes()
    return (dtype, a.shape, base64.b64encode(data).decode("ascii"))


_LOADER = '''

def _decode(spec):
    dtype, shape, data = spec
    if dtype == "str":
        return np.asarray(data, dtype=str).reshape(shape)
    return np.frombuffer(base64.b64decode(data), dtype=dtype).reshape(shape).copy()


MODEL = Model({name: _decode(spec) for name, spec in _ARRAYS.items()})
VARIABLES = MODEL.variables
OUTPUT = MODEL.output


def predict(x):
    """The model at x, (n, d) float64 in VARIABLES order ((d,): one point; (n,): n points when d = 1) → (n,)."""
    return MODEL(x)


def _main(argv):
    import csv
    import sys

    if len(argv) != 2:
        sys.exit(f"usage: python {argv[0]} INPUT.csv   (columns {', '.join(VARIABLES)}, with or without a header)")
    with open(argv[1], newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    try:
        [float(v) for v in rows[0]]
    except ValueError:  # a header: pick the input columns by name
        header = [h.strip() for h in rows[0]]
        rows = [[row[header.index(v)] for v in VARIABLES] for row in rows[1:]]
    x = np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
    y = predict(x)
    out = csv.writer(sys.stdout, lineterminator="\\n")
    out.writerow(list(VARIABLES) + [OUTPUT])
    for row, value in zip(x, y):
        out.writerow([repr(float(v)) for v in row] + [repr(float(value))])


if __name__ == "__main__":
    import sys

    _main(sys.argv)
'''


def python_source(record: store.RunRecord, arrays: dict[str, np.ndarray], source_dir: str = "") -> str:
    """The text of the standalone ``.py`` file for ``record`` with ``arrays`` (from :func:`export_arrays`)."""
    summary = record.summary
    metrics = {k: summary.metrics.get(k) for k in ("test_rmse", "test_relative_rmse", "train_rmse")
               if k in summary.metrics}
    d = summary.target.d
    kinds = "+".join(str(k) for k in arrays["kinds"])
    needs_scipy = any(str(k) == "simplex" for k in arrays["kinds"]) and d >= 2
    runtime = inspect.getsource(export_runtime)
    runtime_body = runtime.split('"""', 2)[2].lstrip("\n")  # drop the runtime's own docstring; ours says more
    header = (
        f'"""{summary.name}: a prec model ({summary.model}), exported as a standalone predictor.\n\n'
        f"Run {summary.run_id}{' from ' + source_dir if source_dir else ''}; parts: {kinds}; "
        f"N = {summary.N} parameters, D = {summary.D} training points.\n"
        f"Metrics: {json.dumps(store.jsonable(metrics))}\n\n"
        f"Inputs ({d}): {', '.join(summary.target.variables)}; box "
        f"{[list(p) for p in zip(summary.target.lows, summary.target.highs)]}; output: {arrays['output']}.\n\n"
        "    from this_file import predict\n"
        "    y = predict(x)          # x: (n, d) float64 array, columns in the order above -> (n,) float64\n\n"
        f"Needs numpy{' and scipy (Delaunay point location for the simplex part)' if needs_scipy else ' only'}. "
        "Arrays are embedded as base64 of their little-endian bytes, so every weight is the\n"
        "run's float64 bit for bit; the arithmetic follows jax on CPU (XLA's tanh/exp with their\n"
        "fused multiply-adds) and scipy, so predictions agree with `prec predict` to within 1e-15 relative.\n"
        "The layout of the arrays (the same as `prec export --to npz`) is described below.\n"
        '"""\n'
        "# ---- layout of _ARRAYS (= the npz keys) ----\n"
        + "".join(f"# {line}\n" for line in inspect.getdoc(export_runtime).splitlines())
    )
    encoded = {name: _encode(a) for name, a in arrays.items()}
    table = pprint.pformat(encoded, width=120, sort_dicts=False)
    # The runtime's `from __future__` import must come first after the docstring and comments.
    return header + runtime_body.rstrip() + "\n\nimport base64  # noqa: E402\n\n_ARRAYS = " + table + "\n" + _LOADER


def default_output(run: Path, record: store.RunRecord, to: str) -> Path:
    return Path(f"{record.summary.name}_{record.summary.run_id or run.name}.{'py' if to == 'python' else 'npz'}")


# --------------------------------------------------------------------------- output files


class OutputError(ValueError):
    """An output path that cannot take the file, in one line naming it: a missing folder, a folder in its place."""

    def __init__(self, path: Union[str, Path], what: str):
        self.path, self.what = Path(path), what
        super().__init__(f"{self.path}: {what}")


class OutputExists(FileExistsError):
    """The output file exists and ``force`` was not given; ``str()`` is one line naming it."""

    def __init__(self, path: Union[str, Path]):
        self.path = Path(path)
        super().__init__(errno.EEXIST, "exists; force=True replaces it", str(self.path))

    def __str__(self) -> str:
        return f"{self.path} {self.strerror}"


def check_output(path: Union[str, Path], force: bool = False) -> Path:
    """Refuse an output file before any work: :class:`OutputExists` for an existing file (unless ``force``),
    :class:`OutputError` for a folder in its place or a missing folder to hold it, and
    :class:`~precision_jax.runs.store.StoreError` for a folder prec cannot write into. Writes nothing."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if os.path.lexists(folder) else "no such folder"
        raise OutputError(folder, f"{what} (to hold {path.name}); create it first")
    if os.path.lexists(path) and not force:  # a dangling symlink is somebody's too
        raise OutputExists(path)
    atomic_files.check_writable(folder, need_bytes=0)
    return path


def write_output(path: Union[str, Path], write, force: bool = False) -> Path:
    """Write the file ``write(f)`` fills to ``path``, whole or not at all; an existing ``path`` is replaced
    only with ``force`` (:class:`OutputExists` otherwise, leaving it untouched)."""
    path = Path(path)
    if force:
        return atomic_files.atomic_write(path, write)
    tmp = path.parent / f".{path.name}{atomic_files.TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        atomic_files.write_new(tmp, write)
        try:
            os.link(tmp, path)  # unlike rename, fails on an existing path: a file made meanwhile stays
        except FileExistsError:
            raise OutputExists(path) from None
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            # A filesystem without hard links: check, then rename (a file made in between would be replaced).
            if os.path.lexists(path):
                raise OutputExists(path) from None
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    atomic_files.fsync_dir(path.parent)
    return path


def export_run(run: Union[str, Path], to: str, out: Optional[Union[str, Path]] = None, force: bool = False) -> Path:
    """Write run ``run``'s model as ``to`` ('python' or 'npz') to ``out`` (default: ``<name>_<run id>.<ext>``).

    An existing file is refused (:class:`OutputExists`) unless ``force``; an ``out`` that cannot be written
    (see :func:`check_output`) is refused before the run is read.
    """
    if to not in FORMATS:
        raise ValueError(f"--to must be one of {', '.join(FORMATS)}, got {to!r}")
    if out is not None:
        check_output(out, force)
    run = Path(run)
    record = store.read_run(run, extra=False)
    path = Path(out) if out is not None else check_output(default_output(run, record, to), force)
    arrays = export_arrays(record)
    if to == "npz":
        def write(f):
            np.savez(f, **arrays)
    else:
        data = python_source(record, arrays, str(run)).encode()

        def write(f):
            f.write(data)
    return write_output(path, write, force)


# --------------------------------------------------------------------------- prec predict


class PointsError(ValueError):
    """Points ``prec predict`` cannot read: one line naming the file and what is wrong."""


def read_points(path: Union[str, Path], variables) -> np.ndarray:
    """Points (n, d) for a run with inputs ``variables`` from a CSV, NPZ or NPY file; :class:`PointsError` if not.

    The data-file reader (:func:`precision_jax.problems.data_files.read_points`): with a CSV header the input
    columns are picked by name, without one the file has exactly d columns in the run's order; an NPZ holds
    one array per input or ``x`` (n, d); an NPY one (n, d) array. Non-finite values are refused, rows named.
    """
    try:
        return data_files.read_points(path, variables)
    except ConfigError as e:
        raise PointsError(e.what) from None


def outside_box(x: np.ndarray, lows, highs) -> int:
    """How many rows of ``x`` lie outside the box [lows, highs]."""
    return int(np.count_nonzero(~np.all((x >= np.asarray(lows)) & (x <= np.asarray(highs)), axis=1)))


def _interpolant_gradient(kind: str, interpolant: Any, z: np.ndarray) -> np.ndarray:
    """∂f/∂z (n, d) of a restored interpolant at standardized points z; NaN where f is NaN."""
    n, d = z.shape
    g = np.full((n, d), np.nan)
    if kind == "chebyshev":
        from numpy.polynomial import chebyshev as C

        lows, highs = interpolant.lows, interpolant.highs
        inside = np.all((z >= lows) & (z <= highs), axis=1)
        half = 0.5 * (highs - lows)
        t = np.clip((z[inside] - 0.5 * (lows + highs)) / half, -1.0, 1.0)
        val = {1: C.chebval, 2: C.chebval2d, 3: C.chebval3d}[d]
        for i in range(d):
            g[inside, i] = val(*(t[:, j] for j in range(d)), C.chebder(interpolant.coefficients, axis=i)) / half[i]
        return g
    if kind == "spline":
        lows, highs = interpolant.lows, interpolant.highs
        inside = np.all((z >= lows) & (z <= highs), axis=1)
        spl, zi = interpolant._spline, z[inside]
        if d == 1:  # sorted: scipy walks to each point's knot interval from the previous one's
            order = np.argsort(zi[:, 0], kind="stable")
            values = np.empty(zi.shape[0])
            values[order] = spl(zi[order, 0], nu=1)
            g[inside, 0] = values
        elif interpolant.method == "linear":
            g[inside] = _multilinear_gradient(spl, zi)
        else:
            for i in range(d):
                g[inside, i] = spl(zi, nu=[1 if j == i else 0 for j in range(d)])
        return g
    if kind == "simplex":
        if d == 1:
            xs, ys = interpolant._x_sorted, interpolant._y_sorted
            inside = (z[:, 0] >= xs[0]) & (z[:, 0] <= xs[-1])
            j = np.clip(np.searchsorted(xs, z[inside, 0], side="right") - 1, 0, xs.size - 2)
            with np.errstate(divide="ignore", invalid="ignore"):
                g[inside, 0] = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
            return g
        tri, values = interpolant._interp.tri, np.asarray(interpolant._interp.values, np.float64).reshape(-1)
        s = tri.find_simplex(z)
        inside = s >= 0
        T = tri.transform[s[inside], :d, :]  # barycentric λ_j = T_j·(z − r), j < d
        y = values[tri.simplices[s[inside]]]  # (m, d+1)
        g[inside] = np.einsum("mji,mj->mi", T, y[:, :d] - y[:, d:])
        return g
    raise ValueError(f"no gradient for model kind {kind!r}")


def _multilinear_gradient(rgi: Any, z: np.ndarray) -> np.ndarray:
    grids, values = rgi.grid, np.asarray(rgi.values, np.float64)
    d = len(grids)
    indices, distances, widths = [], [], []
    for i, grid in enumerate(grids):
        j = np.clip(np.searchsorted(grid, z[:, i], side="right") - 1, 0, grid.size - 2)
        indices.append(j)
        widths.append(grid[j + 1] - grid[j])
        distances.append((z[:, i] - grid[j]) / widths[-1])
    g = np.zeros((z.shape[0], d))
    for corner in range(2 ** d):
        bits = [(corner >> (d - 1 - i)) & 1 for i in range(d)]
        v = values[tuple(indices[i] + bits[i] for i in range(d))]
        for i in range(d):
            w = (1.0 if bits[i] else -1.0) / widths[i]
            for j in range(d):
                if j != i:
                    w = w * (distances[j] if bits[j] else 1 - distances[j])
            g[:, i] += v * w
    return g


def input_gradient(model: FittedModel, x: np.ndarray) -> np.ndarray:
    """∂F/∂x_i (n, d) of a fitted model at raw inputs x (n, d); see the module docstring for interpolants."""
    import jax
    import jax.numpy as jnp

    x = np.asarray(x, np.float64)
    inverse_scale = np.ones(model.d) if model.input_scale is None else 1.0 / model.input_scale
    z = model.standardize(x)
    total = np.zeros_like(x)
    trainable = [(k, m) for k, m in enumerate(model.models) if models.is_trainable(model.parts[k].model.kind)]
    if trainable:
        shift = None if model.input_shift is None else jnp.asarray(model.input_shift)
        scale = None if model.input_scale is None else jnp.asarray(model.input_scale)
        thetas = [jnp.asarray(np.asarray(model.parts[k].arrays["theta"], np.float64)) for k, _ in trainable]

        def nets(points):
            zz = points if shift is None else (points - shift) / scale
            out = 0.0
            for (k, m), theta in zip(trainable, thetas):
                out = out + model.coefficients[k] * m.apply(theta, zz)
            return jnp.sum(out)  # each output depends on its own row only, so the gradient is row by row

        total = total + np.asarray(jax.jit(jax.grad(nets))(jnp.asarray(x)), np.float64)
    for k, m in enumerate(model.models):
        kind = model.parts[k].model.kind
        if models.is_interpolant(kind):
            total = total + model.coefficients[k] * _interpolant_gradient(kind, m, z) * inverse_scale
    return total


def prediction_table(model: FittedModel, x: np.ndarray, output: str, grad: bool = False
                     ) -> tuple[list[str], np.ndarray]:
    """Column names and values (n, d + 1 [+ d]): the inputs, the prediction, and with ``grad`` ∂output/∂x_i."""
    names = list(model.variables) + [output]
    columns = [x, model(x)[:, None]]
    if grad:
        names += [f"d{output}/d{v}" for v in model.variables]
        columns.append(input_gradient(model, x))
    return names, np.concatenate(columns, axis=1)


def write_csv(f, names: list[str], table: np.ndarray) -> None:
    """A header and rows; every float as its shortest repr, which reads back bit for bit (nan and inf included)."""
    import csv

    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(names)
    for row in table.tolist():
        writer.writerow([repr(v) for v in row])
