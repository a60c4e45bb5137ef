"""Classical approximators through configs: same protocol, metrics and errors as networks."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from precision_jax import models
from precision_jax.config.kinds import MODEL_KINDS, register_model
from precision_jax.experiment import ConfigError, build_config
from precision_jax.runs.training import run_experiment
from tests.test_cli import prec, write


def config(model: dict, target: dict, train_points: int, compactification: float = 0.8) -> dict:
    return {"name": "classical", "seed": 0, "target": target, "model": model,
            "data": {"train_points": train_points, "test_points": 5000,
                     "test_compactification": compactification}}


EXP_X = {"formula": "exp(x)", "variables": {"x": [-1, 1]}}


def test_simplex_counts_points_outside_the_hull_instead_of_dropping_them():
    result = run_experiment(build_config(config({"kind": "simplex"}, {"equation": "II.8.31"}, 50, 1.0)))
    metrics = result.summary.metrics
    assert metrics["outside_hull"] > 0
    assert metrics["outside_hull"] + metrics["test_points_scored"] == 5000
    assert result.summary.N == 50 * 3 and result.summary.D == 50
    assert metrics["train_rmse"] < 1e-12  # interpolation fits its training points exactly


def test_spline_and_chebyshev_reach_the_float64_floor_on_exp():
    spline = run_experiment(build_config(config({"kind": "spline", "order": 5}, EXP_X, 400)))
    cheb = run_experiment(build_config(config({"kind": "chebyshev"}, EXP_X, 25, 1.0)))
    assert spline.summary.metrics["test_relative_rmse"] <= 1e-14
    assert cheb.summary.metrics["test_relative_rmse"] <= 1e-14 and cheb.summary.N == 25


def test_spline_grid_size_comes_from_train_points():
    xy = {"formula": "exp(x*y)", "variables": {"x": [-1, 1], "y": [-1, 1]}}
    result = run_experiment(build_config(config({"kind": "spline", "order": 3}, xy, 1000)))
    assert result.summary.D == result.summary.N == 31**2


@pytest.mark.parametrize("model, target, key", [
    ({"kind": "spline", "order": 4}, {"equation": "II.8.31"}, "model.order"),
    ({"kind": "spline", "order": 9}, {"equation": "Z.001"}, "model.order"),
    ({"kind": "chebyshev"}, {"equation": "I.8.14"}, "model.kind"),
])
def test_unsupported_order_or_dimension_is_exit_2(tmp_path, model, target, key):
    path = write(tmp_path, config(model, target, 100))
    result = prec("run", path, "--out", str(tmp_path / "store"))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and key in result.stderr and path in result.stderr


def test_interpolants_take_no_optimizer_stages():
    cfg = config({"kind": "simplex"}, {"equation": "Z.001"}, 100)
    cfg["train"] = [{"kind": "adam", "steps": 10}]
    with pytest.raises(ConfigError, match="train"):
        run_experiment(build_config(cfg))


def test_one_registry_entry_per_model_kind_says_how_it_is_built_or_fitted():
    assert list(MODEL_KINDS) == ["mlp", "modular", "simplex", "spline", "chebyshev"]  # `prec schema`'s order
    for kind, entry in MODEL_KINDS.items():
        assert entry.kind == kind and entry.config.__dataclass_params__.frozen
        assert entry.trainable == (kind in ("mlp", "modular")) == models.is_trainable(kind)
        assert models.is_interpolant(kind) == (entry.fit is not None and entry.restore is not None)
        assert entry.trainable or (entry.fit_rows is not None and entry.check_rows is not None)
    assert not models.is_interpolant("no-such-kind") and not models.is_trainable("no-such-kind")
    cfg = build_config({"name": "n", "target": {"equation": "I.8.14"}, "data": {"train_points": 10},
                        "model": {"kind": "mlp", "depth": 3, "width": 7}, "train": [{"kind": "adam", "steps": 1}]})
    assert models.parameter_count(cfg.model, 4) == models.build_model(cfg.model, 4).n_params == 5 * 7 + 8 * 7 + 8


def test_a_kind_is_trainable_or_fitted_never_both():
    @dataclass(frozen=True)
    class Half:
        kind: Literal["half"] = "half"

    with pytest.raises(TypeError, match="exactly one of build"):
        register_model(Half, build=lambda cfg, d, v: None, fit=lambda cfg, t, data: None)
    with pytest.raises(TypeError, match="needs restore"):
        register_model(Half, fit=lambda cfg, t, data: None)
    assert "half" not in MODEL_KINDS


def test_problems_import_nothing_from_models():
    """The layer order is models above problems: the data-file fitters live with the models."""
    root = Path(models.__file__).resolve().parent.parent / "problems"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.startswith("precision_jax.models") for n in names), path.name
