"""The Python API: fit arrays, read stored runs, call fitted models — for notebooks and scripts.

    import precision_jax as pj

    model = pj.fit(x, y)                                   # model: auto: probes choose the method, then fit it
    model = pj.fit(x, y, "configs/examples/own_data.yaml", seed=1, **{"train.0.steps": 500})
    model = pj.fit(x, y, {"model": {"kind": "simplex"}, "train": []})
    model(x_new)                  # (n,) float64 on raw inputs (the run's standardization applied)
    model.grad(x_new)             # (n, d): ∂f/∂x_i, as `prec predict --grad`
    model.metrics["test_rmse"]    # summary.json's metrics; model.summary, model.config, model.run_dir
    model.export("model.py")      # a standalone numpy predictor, as `prec export`
    pj.load("results/fit/<run id>")

:func:`fit` is ``prec run`` on a data-file target: it writes ``x`` and ``y``
(and the optional test set) as an ``.npz`` data file inside the results store,
``<store>/.data/<sha256>.npz`` (content-addressed, so the same arrays are one
file; the leading dot keeps it apart from experiment folders), puts
``target: {data: that file, inputs: [...], output: ...}`` into the config and
runs it exactly as ``prec run`` does (:func:`precision_jax.runs.execute.execute`:
plan and preflight, lock, checkpoint, train, write). The run is an ordinary run of the
store — ``prec runs list``, ``prec predict`` and ``prec export`` see it — its
resolved config records the file's SHA-256, and the same arrays with the same
config give the same run id and the same metrics as ``prec run`` on a CSV or
NPZ of those rows (the held-out 20 % is drawn from the run's seed). A run the
store already holds complete is read back, not trained again (``force=True``
trains it again), like ``prec run``.

Configs: ``config`` is a YAML path, a mapping, or None for :data:`DEFAULT_CONFIG`
(``model: auto``: short probes of a Chebyshev series, a spline where the rows
are a grid, simplex interpolation and a net, scored on held-out training rows,
choose the method; the winner is fitted to all of them,
:mod:`precision_jax.runs.auto_model`). A mapping without ``model`` gets
``auto``, or the net of ``configs/examples/own_data.yaml`` when it gives
``train`` stages; one without ``train`` gets none for an interpolant and that
net's Adam → BFGS chain for a net. Its ``target`` is replaced by the arrays.
Keyword overrides follow: each keyword is a dotted key
(``**{"train.0.steps": 500}``, ``seed=3``); a mapping value is merged into the
mapping already there (``model={"width": 64}`` keeps depth and activation),
except that a mapping with a different ``kind`` replaces it whole
(``model={"kind": "simplex"}``); any other value (lists included) replaces.
Bad keys or values raise :class:`~precision_jax.config.engine.ConfigError` naming the key.
"""

from __future__ import annotations

import copy
import hashlib
import os
import secrets
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from precision_jax import models
from precision_jax.config import shipped
from precision_jax.config.engine import ConfigError, apply_override, read_yaml
from precision_jax.runs import store
from precision_jax.use import export, export_runtime

__all__ = ["DEFAULT_CONFIG", "Model", "fit", "load"]

# The default of fit(x, y): model: auto, short probes of the candidate methods choose, the winner is fitted
# (precision_jax/runs/auto_model.py); a net that wins trains with train: auto on standardized inputs.
DEFAULT_CONFIG: dict = {
    "name": "fit",
    "seed": 0,
    "data": {"train_points": "auto", "test_points": 30000, "standardize": True},
    "model": "auto",
    "output": {"dir": "results", "log_every": 100},
}
# A config that names a net but no training, or training but no model, gets the net of
# configs/examples/own_data.yaml (Adam, then dense BFGS), the default before model: auto.
NET_MODEL: dict = {"kind": "mlp", "depth": 3, "width": 32, "activation": "tanh"}
NET_TRAIN: list = [{"kind": "adam", "lr": 3.0e-3, "steps": 1000}, {"kind": "bfgs", "maxiter": 1500}]
DATA_FOLDER = ".data"  # inside the store; a dot, so no experiment (whose names cannot start with one) collides


class Model:
    """A fitted model from the results store: ``model(x)`` on raw inputs, its metrics, config and run.

    Attributes
    ----------
    run_dir : Path -- the run directory.
    summary : store.Summary -- summary.json; ``metrics`` is ``summary.metrics``.
    config : ExperimentConfig -- the resolved config (config.yaml).
    variables : tuple[str, ...] -- input names, in column order; ``d`` their number.
    output : str -- the output's name (a data target's output column, else "prediction").
    fitted : FittedModel -- the underlying :class:`~precision_jax.models.fitted.FittedModel`.
    """

    def __init__(self, run_dir: Union[str, Path]):
        self.run_dir = Path(run_dir)
        record = store.read_run(self.run_dir, extra=False)
        self.summary, self.config = record.summary, record.config
        self.fitted = store.load_model(record)
        self.variables, self.d = self.fitted.variables, self.fitted.d
        self.output = export.output_name(self.config)

    @property
    def metrics(self) -> dict:
        return self.summary.metrics

    @property
    def curve(self) -> list:
        """The learning curve (curve.csv) as :class:`~precision_jax.engine.stages.base.CurvePoint` rows."""
        return store.read_curve(self.run_dir)

    def inputs(self, x) -> np.ndarray:
        """x as (n, d) float64: an array (n, d), one point (d,), n points (n,) when d = 1, or anything with
        named columns (a pandas DataFrame, a dict of arrays) holding the run's input names."""
        if isinstance(x, Mapping) or hasattr(x, "columns"):
            missing = [v for v in self.variables if v not in x]
            if missing:
                raise ValueError(f"no column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; the model's "
                                 f"inputs are {', '.join(self.variables)}")
            return np.column_stack([np.asarray(x[v], np.float64).reshape(-1) for v in self.variables])
        return export_runtime.as_points(x, self.variables)

    def __call__(self, x) -> np.ndarray:
        """Predictions (n,) float64 at raw inputs x; interpolants give NaN outside the box they were fitted on."""
        return self.fitted(self.inputs(x))

    predict = __call__

    def grad(self, x) -> np.ndarray:
        """∂f/∂x_i, shape (n, d), at raw inputs x (see :func:`precision_jax.use.export.input_gradient`)."""
        return export.input_gradient(self.fitted, self.inputs(x))

    def export(self, path: Union[str, Path], to: Optional[str] = None, force: bool = False) -> Path:
        """Write the model as a standalone ``.py`` (``to="python"``) or ``.npz``; by default from the suffix.

        An existing file raises :class:`~precision_jax.use.export.OutputExists` (a ``FileExistsError``) and is
        left as it was, unless ``force=True``; a missing folder raises
        :class:`~precision_jax.use.export.OutputError` naming it.
        """
        path = Path(path)
        to = to or ("npz" if path.suffix == ".npz" else "python")
        return export.export_run(self.run_dir, to, path, force=force)

    def __repr__(self) -> str:
        rmse = self.metrics.get("test_rmse")
        shown = f"{rmse:.3e}" if isinstance(rmse, float) else str(rmse)
        return f"Model({self.summary.model}, test RMSE {shown}, {self.run_dir})"


def load(run_dir: Union[str, Path]) -> Model:
    """The model of a complete run directory; :class:`~precision_jax.runs.store.StoreError` if it is not one."""
    return Model(run_dir)


# --------------------------------------------------------------------------- fit


def _merge(base: Any, value: Any) -> Any:
    """``value`` merged into ``base``: mappings key by key (a different ``kind`` replaces), else ``value``."""
    if isinstance(base, dict) and isinstance(value, Mapping):
        if "kind" in value and value.get("kind") != base.get("kind"):
            return copy.deepcopy(dict(value))
        merged = dict(base)
        for key, item in value.items():
            merged[key] = _merge(base.get(key), item)
        return merged
    return copy.deepcopy(value)


def _get(data: Any, path: list[str]) -> Any:
    node = data
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def resolve_config(config: Union[None, str, os.PathLike, Mapping], overrides: Mapping[str, Any]) -> dict:
    """The raw config mapping ``fit`` starts from: ``config`` (path, mapping or the default) with ``overrides``."""
    if config is None:
        data = copy.deepcopy(DEFAULT_CONFIG)
    elif isinstance(config, (str, os.PathLike)):
        config = shipped.find(config, "experiment")  # a path, or a name in ./configs or the shipped configs
        data = read_yaml(config)
        sweep = [k for k in ("base", "grid", "zip") if k in data]
        if sweep:
            raise ConfigError(f"this is a sweep spec (it has {', '.join(sweep)}), not an experiment config",
                              source=str(config))
    elif isinstance(config, Mapping):
        data = copy.deepcopy(dict(config))
    else:
        raise TypeError(f"config must be a path, a mapping or None, not {type(config).__name__}")
    data.setdefault("name", DEFAULT_CONFIG["name"])
    if "model" not in data:
        data["model"] = copy.deepcopy(NET_MODEL) if data.get("train") not in (None, [], "auto") else "auto"
    if "train" not in data and data["model"] != "auto":
        kind = data["model"].get("kind", "mlp") if isinstance(data["model"], Mapping) else None
        data["train"] = [] if models.is_interpolant(kind) else copy.deepcopy(NET_TRAIN)
    for key, value in overrides.items():
        path = str(key).split(".")
        if any(not part for part in path):
            raise ConfigError(f"override key {key!r} has an empty part", str(key))
        apply_override(data, path, _merge(_get(data, path), value))
    return data


def _columns(x, y, names: Optional[Sequence[str]], output: str, what: str) -> dict[str, np.ndarray]:
    x = np.asarray(x, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"{what}x must have shape (n, d), got {np.shape(x)}")
    y = np.asarray(y, np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (x.shape[0],):
        raise ValueError(f"{what}y must have shape ({x.shape[0]},) to match {what}x {x.shape}, got {np.shape(y)}")
    d = x.shape[1]
    names = list(names) if names is not None else (["x"] if d == 1 else [f"x{i}" for i in range(d)])
    if len(names) != d or len(set(names)) != d:
        raise ValueError(f"inputs must be {d} distinct names for the {d} columns of {what}x, got {names}")
    if output in names:
        raise ValueError(f"the output name {output!r} is also an input name")
    return {**{name: x[:, i] for i, name in enumerate(names)}, output: y}


def _write_data(root: Path, columns: dict[str, np.ndarray]) -> Path:
    """The columns as ``<root>/.data/<sha256>.npz`` (content-addressed; written once, atomically)."""
    from precision_jax.problems.data_files import write_table

    digest = hashlib.sha256()
    for name, values in columns.items():
        digest.update(name.encode() + b"\0" + np.ascontiguousarray(values, "<f8").tobytes())
    folder = root / DATA_FOLDER
    path = folder / f"{digest.hexdigest()[:32]}.npz"
    if path.is_file():
        return path.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{store.TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.npz"
    try:
        write_table(tmp, columns)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.resolve()


def fit(x, y, config: Union[None, str, os.PathLike, Mapping] = None, *, inputs: Optional[Sequence[str]] = None,
        output: str = "y", test: Optional[tuple] = None, out: Optional[Union[str, os.PathLike]] = None,
        force: bool = False, verbose: bool = False, **overrides) -> Model:
    """Fit ``y ≈ f(x)`` with a prec config and return the fitted :class:`Model` (a run in the results store).

    Parameters
    ----------
    x : array (n, d), or (n,) for d = 1 -- inputs; y : array (n,) -- outputs. Rows with non-finite values,
        constant inputs, or equal inputs with different outputs are refused (rows named, 1-based).
    config : a YAML path, a config mapping, or None for :data:`DEFAULT_CONFIG`; its target is replaced.
    inputs : names of x's columns (default x for d = 1, else x0 … x{d-1}); a modular net's modules read them.
    output : the output's name (default "y"), the prediction column of ``prec predict``.
    test : optional (x_test, y_test), the test set (``target.test_data``); default: a seeded 20 % held out.
    out : the results store (default: the config's ``output.dir``).
    force : train again even if the store holds this run complete.
    verbose : print a progress line every few seconds.
    **overrides : dotted config keys, e.g. ``seed=1``, ``**{"train.0.steps": 500}``, ``model={"width": 64}``.
    """
    from precision_jax.experiment import build_config
    from precision_jax.runs.execute import BUSY, Hooks, execute

    data = resolve_config(config, overrides)
    source = str(config) if isinstance(config, (str, os.PathLike)) else "pj.fit config"
    root = Path(out) if out is not None else Path(_get(data, ["output", "dir"]) or DEFAULT_CONFIG["output"]["dir"])
    columns = _columns(x, y, inputs, output, "")
    names = [n for n in columns if n != output]
    target: dict[str, Any] = {"data": str(_write_data(root, columns)), "inputs": names, "output": output}
    if test is not None:
        x_test, y_test = test
        target["test_data"] = str(_write_data(root, _columns(x_test, y_test, names, output, "test ")))
    data["target"] = target
    cfg = build_config(data, source=source)
    hooks = Hooks(on_note=lambda text: warnings.warn(text, stacklevel=3))
    if verbose:
        hooks.on_log = _progress(cfg.name)
        hooks.on_compile = lambda e: print(f"{cfg.name}: compiling {e.label()}…", flush=True)
    try:
        outcome, = execute(root, [cfg], force=force, hooks=hooks)
    except ConfigError as e:
        raise e.located(e.source or source) from None
    if outcome.reason == BUSY:
        raise store.StoreError(Path(outcome.path), "this run is being trained by another process")
    try:
        return Model(outcome.path)
    except store.StoreError as e:  # found complete but unreadable: say so and train it again, as prec run does
        if outcome.state != "skipped":
            raise
        warnings.warn(f"{e}; training the run again", stacklevel=2)
    outcome, = execute(root, [cfg], force=True, hooks=hooks)
    return Model(outcome.path)


def _progress(name: str):
    start, last = time.perf_counter(), [-10.0]

    def on_log(point) -> None:
        now = time.perf_counter() - start
        if now - last[0] >= 5 or point.step == 0:
            last[0] = now
            where = f"round {point.round} " if point.round else ""
            print(f"{name}: {where}stage {point.stage} {point.kind} step {point.step}  train RMSE "
                  f"{point.train_rmse:.3e}  test RMSE {point.test_rmse:.3e}  {now:.1f} s", flush=True)

    return on_log
