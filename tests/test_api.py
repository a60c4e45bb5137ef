"""The Python API: pj.fit / pj.load / Model, and pj.fit == `prec run` on the same rows and config."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import precision_jax as pj
from cli.main import app
from precision_jax.config.engine import ConfigError
from precision_jax.problems.data_files import write_table
from precision_jax.runs import store
from precision_jax.use import api

NET = {
    "name": "api_net",
    "seed": 0,
    "data": {"train_points": "auto", "test_points": 1000, "standardize": True},
    "model": {"kind": "mlp", "depth": 2, "width": 8, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-2, "steps": 20}],
    "output": {"log_every": 10},
}
SIMPLEX = {"name": "api_simplex", "model": {"kind": "simplex"}, "train": []}


def samples(n: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2))
    return x, np.sin(3 * x[:, 0]) * np.exp(-x[:, 1] ** 2) + x[:, 0] * x[:, 1]


def same_metrics(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v)) or u == v
        for u, v in ((a[k], b[k]) for k in a))


def test_fit_gives_the_metrics_of_prec_run(tmp_path):
    x, y = samples()
    write_table(tmp_path / "rows.csv", {"x": x[:, 0], "y": x[:, 1], "f": y})
    config = dict(NET, target={"data": "rows.csv"})
    (tmp_path / "net.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "net.yaml"), "--out", str(tmp_path / "cli"), "-q"])
    assert result.exit_code == 0, result.output
    cli_run = next(store.iter_runs(tmp_path / "cli"))

    model = pj.fit(x, y, NET, inputs=["x", "y"], output="f", out=tmp_path / "api")
    expected = store.read_summary(cli_run)
    assert same_metrics(model.metrics, expected.metrics)
    assert (model.summary.N, model.summary.D, model.summary.n_test) == (expected.N, expected.D, expected.n_test)
    points = samples(40, seed=1)[0]
    assert np.array_equal(model(points), pj.load(cli_run)(points))
    assert model.output == "f" and model.variables == ("x", "y")


def test_fit_load_and_call(tmp_path):
    x, y = samples(120)
    model = pj.fit(x, y, SIMPLEX, out=tmp_path)
    assert isinstance(model, pj.Model) and model.run_dir.parent == tmp_path / "api_simplex"
    assert model.config.model.kind == "simplex" and model.variables == ("x0", "x1") and model.output == "y"
    assert model.config.target.data.startswith(str((tmp_path / api.DATA_FOLDER).resolve()))
    assert model.metrics["train_rmse"] < 1e-14 and 0 < model.metrics["test_rmse"] < 0.5
    assert model.summary.D == 96 and model.summary.n_test == 24  # a seeded 20 % held out
    inside = x[:5] * 0.5
    y_hat = model(inside)
    assert y_hat.shape == (5,) and y_hat.dtype == np.float64
    assert np.array_equal(model(inside[0]), y_hat[:1])  # one point as (d,)
    assert np.array_equal(model({"x0": inside[:, 0], "x1": inside[:, 1]}), y_hat)  # named columns
    assert model.grad(inside).shape == (5, 2)
    loaded = pj.load(model.run_dir)
    assert same_metrics(loaded.metrics, model.metrics) and np.array_equal(loaded(inside), y_hat)
    again = pj.fit(x, y, SIMPLEX, out=tmp_path)  # the same run: read back, not trained again
    assert again.run_dir == model.run_dir
    (model.run_dir / "summary.json").write_text("{")  # complete but unreadable: said, then trained again
    with pytest.warns(UserWarning, match="training the run again"):
        retrained = pj.fit(x, y, SIMPLEX, out=tmp_path)
    assert retrained.run_dir == model.run_dir and same_metrics(retrained.metrics, model.metrics)
    reseeded = pj.fit(x, y, SIMPLEX, out=tmp_path, seed=1)
    assert reseeded.run_dir != model.run_dir and reseeded.config.seed == 1
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        model(np.zeros((3, 3)))


def test_fit_with_a_test_set_and_export(tmp_path):
    x, y = samples(100)
    x_test, y_test = samples(30, seed=2)
    x_test *= 0.5  # inside the hull
    model = pj.fit(x, y, SIMPLEX, test=(x_test, 0 * y_test + np.sin(3 * x_test[:, 0]) * np.exp(-x_test[:, 1] ** 2)
                                        + x_test[:, 0] * x_test[:, 1]), out=tmp_path)
    assert model.summary.n_test == 30 and model.summary.D == 100 and model.config.target.test_data
    path = model.export(tmp_path / "simplex_model.py")
    spec = importlib.util.spec_from_file_location("simplex_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert np.array_equal(module.predict(x_test), model(x_test))
    assert model.export(tmp_path / "weights.npz").is_file()


def test_overrides_are_dotted_keys_and_mappings():
    data = api.resolve_config(NET, {"train.0.steps": 5, "seed": 3, "model": {"width": 16},
                                    "data": {"standardize": False}})
    assert data["train"][0]["steps"] == 5 and data["seed"] == 3 and data["name"] == "api_net"
    assert data["model"] == {"kind": "mlp", "depth": 2, "width": 16, "activation": "tanh"}
    assert data["data"] == {"train_points": "auto", "test_points": 1000, "standardize": False}
    simplex = api.resolve_config(NET, {"model": {"kind": "simplex"}, "train": []})
    assert simplex["model"] == {"kind": "simplex"} and simplex["train"] == []
    default = api.resolve_config(None, {})
    assert default == api.DEFAULT_CONFIG and default is not api.DEFAULT_CONFIG
    with pytest.raises(ConfigError, match="train.4"):
        api.resolve_config(NET, {"train.4.steps": 1})


def test_bad_arrays_and_configs_are_refused(tmp_path):
    x, y = samples(50)
    with pytest.raises(ValueError, match=r"y must have shape \(50,\)"):
        pj.fit(x, y[:-1], SIMPLEX, out=tmp_path)
    with pytest.raises(ValueError, match="distinct names"):
        pj.fit(x, y, SIMPLEX, inputs=["a"], out=tmp_path)
    with pytest.raises(ConfigError, match="model.widht"):
        pj.fit(x, y, NET, out=tmp_path, model={"widht": 3})
    bad = y.copy()
    bad[7] = np.nan
    with pytest.raises(ConfigError, match="non-finite"):
        pj.fit(x, bad, SIMPLEX, out=tmp_path)
    assert not (tmp_path / "api_simplex").exists() and not (tmp_path / "api_net").exists()


@pytest.mark.parametrize("kind", ["simplex", "spline"])
def test_prec_predict_on_fresh_points_has_the_reported_accuracy(tmp_path, kind):
    """Rows of a known function (not a registry one) → pj.fit → `prec predict` on new points: the run's RMSE."""
    def f(x):
        return np.exp(x[:, 0] * x[:, 1]) + np.sin(2 * x[:, 1])

    rng = np.random.default_rng(4)
    if kind == "spline":  # a lookup table: a full 12 x 12 grid, and test points off it
        axis = np.linspace(-1, 1, 12)
        x = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
        config = {"name": "table", "model": {"kind": "spline", "order": 3}, "train": []}
    else:
        x = rng.uniform(-1, 1, size=(400, 2))
        config = {"name": "scattered", "model": {"kind": "simplex"}, "train": []}
    x_test = rng.uniform(-0.95, 0.95, size=(300, 2))
    model = pj.fit(x, f(x), config, inputs=["a", "b"], output="g", test=(x_test, f(x_test)), out=tmp_path)
    fresh = rng.uniform(-0.95, 0.95, size=(500, 2))
    write_table(tmp_path / "fresh.csv", {"b": fresh[:, 1], "a": fresh[:, 0]})
    result = CliRunner().invoke(app, ["predict", str(model.run_dir), str(tmp_path / "fresh.csv")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "a,b,g"
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert np.array_equal(table[:, :2], fresh)
    outside = np.isnan(table[:, 2])  # simplex: outside the training points' hull, as in the run's test set
    assert outside.mean() < 0.05
    rmse = float(np.sqrt(np.mean((table[~outside, 2] - f(fresh[~outside])) ** 2)))
    reported = model.metrics["test_rmse"]
    assert reported / 2 < rmse < reported * 2, (rmse, reported)
