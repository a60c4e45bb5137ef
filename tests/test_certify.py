"""Issue 25, item 3: a certified worst case, the largest |f − model| a search of the box finds.

The search (numerics/worst_case.py) must find a planted spike that random test points miss, never report
less than the sampled points it evaluated, and work in float64; ``prec certify`` and ``output.certify``
record it in summary.json (absent otherwise), and a data-file run is refused with one line and exit 2.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from precision_jax.config.engine import ConfigError
from precision_jax.experiment import build_config
from precision_jax.numerics.worst_case import search_max_abs_error
from precision_jax.problems import data_files
from precision_jax.runs import store
from precision_jax.runs.certify import certify_run
from precision_jax.runs.execute import execute

HEIGHT, WIDTH = 1e-3, 2e-3
CENTRE = np.array([0.3172, -0.4411])


def smooth(x):
    return jnp.sin(3 * x[:, 0]) * x[:, 1]


def spiked(x):
    """f plus a small smooth error everywhere and a narrow bump of height HEIGHT at CENTRE."""
    bump = HEIGHT * jnp.exp(-jnp.sum((x - CENTRE) ** 2, axis=1) / (2 * WIDTH**2))
    return smooth(x) + 1e-6 * jnp.cos(7 * x[:, 0] + 3 * x[:, 1]) + bump


def test_planted_spike_is_found_where_random_test_points_miss_it():
    test_points = np.random.default_rng(0).uniform(-1, 1, (1000, 2))
    test_max = float(np.max(np.abs(np.asarray(smooth(jnp.asarray(test_points)) - spiked(jnp.asarray(test_points))))))
    assert test_max < 0.1 * HEIGHT  # the test points miss the spike: their max is the background's
    found = search_max_abs_error(smooth, spiked, [-1, -1], [1, 1], points=2**14, starts=16,
                                 extra_points=test_points)
    assert found.value >= 0.9 * HEIGHT
    assert np.max(np.abs(found.x - CENTRE)) < 3 * WIDTH
    assert found.value > found.sampled_max >= test_max  # the local phase climbed the spike's flank
    assert found.x.dtype == np.float64 and isinstance(found.value, float)
    assert found.points == 1000 + 4 + 2**14 and found.starts == 16 and found.iterations > 0
    assert found.gradients == "jax"


def test_a_numpy_model_is_searched_with_finite_differences():
    def numpy_model(x):
        return np.asarray(spiked(jnp.asarray(x)), np.float64)

    found = search_max_abs_error(smooth, numpy_model, [-1, -1], [1, 1], points=2**14, starts=16,
                                 differentiable=False)
    assert found.gradients == "finite differences"
    assert found.value >= 0.9 * HEIGHT and np.max(np.abs(found.x - CENTRE)) < 3 * WIDTH


def test_never_below_the_points_it_was_given_and_float64():
    # e = 1e-13 x²: in float32, x + 1e-13 x² rounds to x and the error would be 0 everywhere.
    def f(x):
        return x[:, 0]

    def m(x):
        return x[:, 0] + 1e-13 * x[:, 0] ** 2

    given = np.array([[0.999]])
    found = search_max_abs_error(f, m, [-1.0], [1.0], points=64, starts=2, extra_points=given)
    assert found.value >= found.sampled_max >= float(np.abs(f(jnp.asarray(given)) - m(jnp.asarray(given)))[0]) > 0
    assert found.value == pytest.approx(1e-13, rel=1e-3) and abs(found.x[0]) == 1.0  # at a corner


def test_refuses_an_empty_box():
    with pytest.raises(ValueError, match="highs > lows"):
        search_max_abs_error(smooth, smooth, [0.0, 1.0], [1.0, 1.0])


# --------------------------------------------------------------------------- on runs

SMALL_XY = {
    "name": "small_xy",
    "seed": 0,
    "target": {"formula": "x*y", "variables": {"x": [-1.0, 1.0], "y": [-1.0, 1.0]}},
    "data": {"train_points": 300, "test_points": 200},
    "model": {"kind": "mlp", "depth": 2, "width": 6, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-2, "steps": 150}],
    "output": {"log_every": 50},
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("certify")
    [outcome] = execute(root / "store", [build_config(copy.deepcopy(SMALL_XY))])
    return root, outcome.path


def test_a_run_without_certify_has_no_certified_key(small_run):
    _, path = small_run
    data = json.loads((Path(path) / store.SUMMARY_FILE).read_text())
    assert "certify" not in data and "certified_max_abs_error" not in data["metrics"]


def test_prec_certify_writes_the_worst_case_never_below_the_test_max(small_run):
    root, path = small_run
    run = Path(path)
    copy_dir = root / "copy" / run.name
    copy_dir.parent.mkdir()
    shutil.copytree(run, copy_dir)
    model_bytes = (copy_dir / store.MODEL_FILE).read_bytes()
    result = CliRunner().invoke(app, ["certify", str(copy_dir), "--points", "4096", "--starts", "4"])
    assert result.exit_code == 0, result.output
    assert "certified max |f - model|" in result.stdout
    summary = store.read_summary(copy_dir)
    value, test_max = summary.metrics["certified_max_abs_error"], summary.metrics["test_max_abs_error"]
    assert value >= test_max > 0
    certify = summary.certify
    assert certify["value"] == value and certify["test_max_abs_error"] == test_max
    assert certify["improvement"] == pytest.approx(value / test_max)
    assert certify["points"] == 200 + 4 + 4096 and certify["starts"] == 4 and certify["test_points"] == 200
    assert set(certify["x"]) == {"x", "y"} and all(-1 <= v <= 1 for v in certify["x"].values())
    # The value is |f − model| at the reported point, as the stored model answers there.
    x = np.array([[certify["x"]["x"], certify["x"]["y"]]])
    assert abs(x[0, 0] * x[0, 1] - store.load_model(copy_dir)(x)[0]) == pytest.approx(value, rel=1e-12)
    assert (copy_dir / store.MODEL_FILE).read_bytes() == model_bytes  # only summary.json changed
    assert store.read_summary(run).certify is None  # the original run was not touched


def test_output_certify_records_it_after_training(tmp_path):
    cfg = build_config({**copy.deepcopy(SMALL_XY), "output": {"log_every": 50, "certify": True}})
    [outcome] = execute(tmp_path / "store", [cfg])
    summary = store.read_summary(outcome.path)
    assert summary.metrics["certified_max_abs_error"] >= summary.metrics["test_max_abs_error"]
    assert summary.certify["gradients"] == "jax" and summary.certify["starts"] == 16
    assert store.run_id(cfg) == store.run_id(build_config(copy.deepcopy(SMALL_XY)))  # output is not in the id


def _data_run(tmp_path) -> tuple[dict, Path]:
    xy = np.random.default_rng(0).uniform(-1, 1, (200, 2))
    data_files.write_table(tmp_path / "xy.csv", {"x": xy[:, 0], "y": xy[:, 1], "f": xy[:, 0] * xy[:, 1]})
    config = {"name": "own", "seed": 0, "target": {"data": str(tmp_path / "xy.csv")},
              "data": {"test_points": 40}, "model": {"kind": "simplex"}, "train": []}
    [outcome] = execute(tmp_path / "store", [build_config(config)])
    return config, Path(outcome.path)


def test_certify_refuses_a_data_file_run_with_one_line(tmp_path):
    config, path = _data_run(tmp_path)
    before = (path / store.SUMMARY_FILE).read_bytes()
    result = CliRunner().invoke(app, ["certify", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prec: error: "), result.stderr
    assert "target.data" in lines[0] and "only the data's own points can be checked" in lines[0]
    assert "max |f - model|" in lines[0] and "rows" in lines[0]
    assert (path / store.SUMMARY_FILE).read_bytes() == before
    with pytest.raises(ConfigError, match="output.certify"):
        build_config({**config, "output": {"certify": True}})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**config, "output": {"certify": True}}))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "other")])
    assert result.exit_code == 2 and "output.certify" in result.stderr
    assert not (tmp_path / "other").exists()


def test_certify_run_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(store.StoreError, match="no such run directory"):
        certify_run(tmp_path / "nothing")
