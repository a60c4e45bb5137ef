"""Data-file targets: fit a function given as rows of a data file instead of a formula.

YAML (under ``target:``)::

    target:
      data: samples.csv          # .csv with a header, .npz or .npy; a relative path is relative to the config file
      inputs: [x, y]             # optional: the input columns, in order (default: every column but the last)
      output: f                  # optional: the one output column (default: the last column)
      test_data: test.csv        # optional: a file with the same columns, used as the test set
      # data_sha256 (and test_data_sha256) are filled in when the config is read; written by hand they pin the file

The files themselves (formats, checks, refusals, writing) are :mod:`precision_jax.problems.data_files`; what
each model kind needs of the rows is its own ``check_rows`` (:func:`precision_jax.models.check_rows`).

Training and test sets
----------------------
The test set is ``test_data``'s rows, or else 20 % of the rows (:data:`HOLDOUT_FRACTION`, at least one row)
held out by a permutation drawn from the run's data key (:func:`precision_jax.numerics.random_keys.run_keys`), so
every seed has its own split. ``data.train_points: auto`` uses every remaining row; a number D uses D of them
(drawn with the same permutation), so a sweep over ``train_points`` measures scaling on one file. ``data.test_points``
caps the test set (a seeded subset when there are more rows). Points keep their file order.
``data.standardize`` works as for sampled targets. ``data.test_compactification`` does not apply: the points
are the file's. The target's box (``lows``/``highs``, in the summary) is each input column's min and max over
the rows of ``data``.

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
A config's target resolves to a :class:`~precision_jax.problems.targets.Target` with ``fn = None`` and
``data`` a :class:`DataPoints` (``train``, ``test`` tables) through :func:`data_target`, and :func:`dataset`
gives its training and test sets (the run path calls them through :func:`precision_jax.runs.plan.resolve_target`
and :func:`precision_jax.runs.training.run_data`).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from precision_jax.config.engine import ConfigError
from precision_jax.problems.data_files import Table, describe, duplicate_rows, number_text, read_table, select_columns

__all__ = ["HOLDOUT_FRACTION", "PATH_KEYS", "DataPoints", "absolutize_paths", "absolutize_axis", "resolve_config",
           "data_target", "holdout_count", "point_counts", "dataset"]

HOLDOUT_FRACTION = 0.2
PATH_KEYS = ("data", "test_data")  # the target keys that hold file paths


def _fail(what: str, key: str = "target.data") -> ConfigError:
    return ConfigError(what, key)


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


# --------------------------------------------------------------------------- config resolution


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
        actual, columns = describe(path, "data")
        if sha is not None and sha != actual:
            raise ConfigError(f"{name} has SHA-256 {actual}, but the config pins {sha}: the file changed",
                              "data_sha256")
        sha = actual
        inputs, output = select_columns(columns, inputs, output, name, "data")
    updates.update(data_sha256=sha, inputs=tuple(inputs), output=output)
    if target.test_data is not None:
        test_path = _absolute(target.test_data, ".")
        updates["test_data"] = test_path
        if target.test_data_sha256 is None:
            test_sha, test_columns = describe(test_path, "test_data")
            select_columns(test_columns, inputs, output, Path(test_path).name, "test_data")
            updates["test_data_sha256"] = test_sha
    elif target.test_data_sha256 is not None:
        raise ConfigError("test_data_sha256 only goes with test_data", "test_data_sha256")
    return updates


# --------------------------------------------------------------------------- the rows as a target


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
        _, conflict = duplicate_rows(np.concatenate([train.x, test.x]), np.concatenate([train.y, test.y]))
        if conflict is not None:
            (a, b), count = conflict
            b -= train.n
            point = ", ".join(f"{c} = {number_text(v)}" for c, v in zip(inputs, train.x[a]))
            raise _fail(f"row {train.rows[a]} of {train.name} and row {test.rows[b]} of {test.name} have the same "
                        f"inputs ({point}) but different outputs ({output} = {number_text(train.y[a])} vs "
                        f"{number_text(test.y[b])}); {count} such point{'s' if count != 1 else ''} in all: the files "
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
            raise _fail(f"{table.name}: input {column!r} is {number_text(low)} in every row; a constant is not an "
                        f"input (leave it out of inputs)")
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
    """The run's :class:`~precision_jax.problems.sampling.Dataset` from a data target, drawn with its data ``key``.

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
