"""Approximators: what maps inputs to predictions, one module per model kind.

Each kind's module defines its config class and registers the kind once with
:func:`~precision_jax.config.kinds.register_model`; :data:`MODEL_KINDS` then
holds one :class:`~precision_jax.config.kinds.ModelKind` per kind with
everything kind-specific. Importing this package registers every kind, in the
order error messages and ``prec schema`` list them (networks first):

* trainable kinds (``mlp``, ``modular``) are built as a :class:`TrainableModel`
  over a *flat* float64 parameter vector θ of length N
  (:mod:`precision_jax.models.trainable`), so every optimizer stage sees the
  same object: :func:`build_model`, :func:`parameter_count`;
* fitted kinds (``simplex``, ``spline``, ``chebyshev``) are fitted once, without
  an optimizer chain, to a sampled target or to a data file's rows
  (:func:`fit`), stored as their ``state()`` arrays and read back with
  :func:`restore` (:mod:`precision_jax.models.fitting`).

Adding a kind is one module (config class, build or fit, ``register_model``)
imported below, plus its test.
"""

from __future__ import annotations

# Registration order is the order error messages and `prec schema` list the kinds in: networks first.
from precision_jax.models import mlp, modular  # noqa: F401  isort: skip
from precision_jax.models import simplex, spline, chebyshev  # noqa: F401  isort: skip
from precision_jax.config.engine import ConfigError
from precision_jax.config.kinds import MODEL_KINDS, ModelKind
from precision_jax.models.mlp import MLPConfig, build_mlp
from precision_jax.models.trainable import TrainableModel, flat_model


def model_kind(kind: str) -> ModelKind:
    """The registry entry of ``kind``; ``ValueError`` for a kind no module registered."""
    try:
        return MODEL_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}") from None


def is_interpolant(kind: str) -> bool:
    """Whether ``kind`` is a fitted kind (no optimizer chain); False for trainable and unknown kinds."""
    entry = MODEL_KINDS.get(kind)
    return entry is not None and not entry.trainable


def is_trainable(kind: str) -> bool:
    """Whether ``kind`` is trained by an optimizer chain; False for fitted and unknown kinds."""
    entry = MODEL_KINDS.get(kind)
    return entry is not None and entry.trainable


def build_model(cfg, d: int, variables=None) -> TrainableModel:
    """The trainable model for model config ``cfg`` on ``d`` inputs named ``variables``.

    The names matter to graph-wired kinds such as ``modular``; a dense net reads its inputs by position.
    """
    return model_kind(cfg.kind).build(cfg, d, variables)


def parameter_count(cfg, d: int) -> int:
    """N of a trainable config on ``d`` inputs, from its shape alone (building the model would initialise it)."""
    return int(model_kind(cfg.kind).parameter_count(cfg, d))


def fit(cfg, target, data):
    """The interpolant of fitted kind ``cfg.kind`` from data set ``data`` (raw inputs, drawn for ``target``).

    A data-file target (``target.data`` set) has no function to sample, so its kind's ``fit_rows`` fits the
    rows (splines through a lookup table, least-squares Chebyshev series); otherwise ``fit``.
    """
    entry = model_kind(cfg.kind)
    fitter = entry.fit_rows if target.data is not None and entry.fit_rows is not None else entry.fit
    return fitter(cfg, target, data)


def restore(cfg, arrays):
    """The interpolant of fitted kind ``cfg.kind`` whose ``state()`` is ``arrays`` (no refit)."""
    return model_kind(cfg.kind).restore(cfg, arrays)


def check_rows(cfg, target) -> None:
    """Refuse a model a data file cannot carry (too few rows, not a grid, …) before anything is drawn.

    ``cfg`` is the run's :class:`~precision_jax.experiment.ExperimentConfig` and ``target`` its data target;
    errors are :class:`ConfigError` at the key to change. Checks every kind shares, then the kind's own
    ``check_rows`` (a trainable kind without one needs 2 training rows).
    """
    from precision_jax.problems.data_target import point_counts

    points = target.data
    if getattr(cfg.data, "sampling", "uniform") != "uniform":
        raise ConfigError(f"a data file's points are its rows; data.sampling: {cfg.data.sampling} does not apply "
                          f"(leave it uniform)", "data.sampling")
    n_train, n_test = point_counts(target, cfg.data.train_points, cfg.data.test_points)
    source = "" if points.test is not None else f" ({points.train.n} rows, {points.pools()[1]} held out for testing)"
    if n_test < 1:
        raise ConfigError(f"{points.test.name} has no test rows", "target.test_data")
    entry = model_kind(cfg.model.kind)
    if entry.check_rows is not None:
        entry.check_rows(cfg, target, n_train, source)
    elif n_train < 2:
        raise ConfigError(f"a net needs at least 2 training points; {points.train.name} gives {n_train}{source}",
                          "data.train_points")


__all__ = ["MODEL_KINDS", "MLPConfig", "ModelKind", "TrainableModel", "build_mlp", "build_model", "check_rows",
           "fit", "flat_model", "is_interpolant", "is_trainable", "model_kind", "parameter_count", "restore"]
