"""A run's worst case over its box: ``prec certify RUN_DIR`` and ``output.certify``.

The search itself is :func:`precision_jax.numerics.worst_case.search_max_abs_error`
(its docstring states the maths and what "certified" means: a reproducible
search of a stated budget, never below the sampled maxima it starts from, not
a proof). This module gives it a run: the target f rebuilt from the run's
config, the fitted model m rebuilt from its parts as one JAX function (so the
local phase differentiates through the run's own nets; a run with an
interpolant part gets finite differences), the box of the target (the whole
box, although the test points may lie in a box shrunk by
``data.test_compactification``), and the run's own test points, so that the
answer is never below the run's ``test_max_abs_error``. The result goes into
the run's summary: ``metrics.certified_max_abs_error`` and a ``certify``
record with the location, the sampled max, the improvement over the test max
and the search's budget.

A data-file target has no function between its rows: only the rows can be
checked, and the run's train and test maxima already are that check, so
certifying one is refused (:func:`refuse_data_target`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Union

import jax.numpy as jnp
import numpy as np

from precision_jax import models
from precision_jax.config.engine import ConfigError
from precision_jax.numerics.worst_case import WorstCase, search_max_abs_error
from precision_jax.problems.targets import Target
from precision_jax.runs import store
from precision_jax.runs.run_lock import RunLock
from precision_jax.runs.store import RunRecord, StoreError

DEFAULT_POINTS = 65536
DEFAULT_STARTS = 16
DEFAULT_MAXITER = 200
METHOD = "scrambled Sobol points + the run's test points + box corners, then multi-start L-BFGS-B on |f - m|^2"


def refuse_data_target(record_or_summary, source: str = "") -> None:
    """A :class:`ConfigError` for a data-file run: no function between the rows, so only the rows can be checked;
    says what the run's own maxima over them were (read from its summary, no evaluation)."""
    summary = getattr(record_or_summary, "summary", record_or_summary)
    metrics = summary.metrics
    train, test = metrics.get("train_max_abs_error"), metrics.get("test_max_abs_error")
    over = ""
    if isinstance(train, float) and isinstance(test, float) and np.isfinite(train) and np.isfinite(test):
        over = (f"; over its {summary.D + summary.n_test} rows max |f - model| = {max(train, test):.3e} "
                f"(train {train:.3e}, test {test:.3e})")
    raise ConfigError(f"a data-file target has no formula between its rows, so only the data's own points can be "
                      f"checked, not the box{over}; nothing written", "target.data", source)


def model_function(record: RunRecord) -> tuple[Callable, bool]:
    """m(x) for raw inputs x (n, d) → (n,), and whether it is a JAX function (every part trainable).

    A JAX m is Σ_k c_k apply_k(θ_k, (x − shift) / scale), traceable and differentiable; otherwise the
    numpy :class:`~precision_jax.models.fitted.FittedModel` (interpolants are numpy and scipy code).
    """
    fitted = store.load_model(record)
    if not all(models.is_trainable(part.model.kind) for part in record.parts):
        return fitted, False
    terms = [(c, net.apply, jnp.asarray(np.asarray(part.arrays["theta"], np.float64)))
             for c, net, part in zip(fitted.coefficients, fitted.models, record.parts)]
    shift, scale = fitted.input_shift, fitted.input_scale

    def m(x):
        z = x if shift is None else (x - shift) / scale
        out = terms[0][0] * terms[0][1](terms[0][2], z)
        for c, apply, theta in terms[1:]:
            out = out + c * apply(theta, z)
        return out

    return m, True


def _by_variable(target: Target, x: np.ndarray) -> dict[str, float]:
    return {str(v): float(value) for v, value in zip(target.variables, np.asarray(x, np.float64))}


def certify_record(record: RunRecord, target: Optional[Target] = None, *, points: int = DEFAULT_POINTS,
                   starts: int = DEFAULT_STARTS, maxiter: int = DEFAULT_MAXITER, seed: int = 0) -> dict:
    """Search ``record``'s box for its worst case and put it into ``record.summary`` (in memory); returns the
    ``certify`` record. ``target`` is the run's (rebuilt from its config when None)."""
    from precision_jax.runs.plan import resolve_target
    from precision_jax.runs.training import draw_data

    cfg, summary = record.config, record.summary
    if cfg.target.data is not None:
        refuse_data_target(record)
    if summary.status != "complete":
        raise ValueError(f"a {summary.status} run has no model to certify")
    target = target if target is not None else resolve_target(cfg)
    x_test = np.asarray(draw_data(cfg, target, summary.D, standardize=False).x_test, np.float64)
    m, differentiable = model_function(record)
    found: WorstCase = search_max_abs_error(target.fn, m, target.lows, target.highs, points=points,
                                            starts=starts, maxiter=maxiter, seed=seed, extra_points=x_test,
                                            differentiable=differentiable)
    value, where, source = found.value, found.x, "search"
    test_max = float(summary.metrics.get("test_max_abs_error", np.nan))
    if np.isfinite(test_max) and test_max > value:
        # The test points are among the samples, so this is a last-bit difference between the training code's
        # evaluation and this one: the recorded max stands, at the test point where it was attained.
        errors = np.abs(np.asarray(target.fn(jnp.asarray(x_test)), np.float64) - store.load_model(record)(x_test))
        value, where, source = test_max, x_test[int(np.nanargmax(errors))], "test points"
    certify = {
        "value": value, "x": _by_variable(target, where), "found_by": source,
        "sampled_max": found.sampled_max, "sampled_x": _by_variable(target, found.sampled_x),
        "test_max_abs_error": test_max, "improvement": value / test_max if test_max > 0 else np.nan,
        "box": {"lows": list(map(float, target.lows)), "highs": list(map(float, target.highs))},
        "points": found.points, "test_points": int(x_test.shape[0]), "undefined": found.undefined,
        "starts": found.starts, "maxiter": maxiter, "iterations": found.iterations,
        "evaluations": found.evaluations, "gradients": found.gradients, "seed": seed, "seconds": found.seconds,
        "method": METHOD, "guarantee": "a search, not a proof: never below the max over its sampled points",
    }
    summary.metrics["certified_max_abs_error"] = value
    summary.certify = certify
    return certify


def certify_run(path: Union[str, Path], *, points: int = DEFAULT_POINTS, starts: int = DEFAULT_STARTS,
                maxiter: int = DEFAULT_MAXITER, seed: int = 0) -> store.Summary:
    """``prec certify``: search the complete run at ``path`` and rewrite its ``summary.json`` atomically, under
    the run's lock; returns the new summary. A data-file run is refused before anything is evaluated."""
    path = Path(path)
    summary = store.read_summary(path)  # first: is this a run at all
    config_file = path / store.CONFIG_FILE
    if store.read_config(path).target.data is not None:
        refuse_data_target(summary, str(config_file))
    if summary.status != "complete":
        raise StoreError(path / store.SUMMARY_FILE, f"a {summary.status} run has no model to certify")
    lock = RunLock.of_id(path.parent, path.name)
    if not lock.acquire():
        raise StoreError(path, "another process holds this run (training it); certify it when that ends")
    try:
        record = store.read_run(path, extra=False)
        certify_record(record, points=points, starts=starts, maxiter=maxiter, seed=seed)
        store.write_summary(path, record.summary)
    finally:
        lock.release()
    return record.summary
