"""model: auto (issue 25, item 1): probes of the candidate methods on held-out training rows choose, the winner
is fitted, and the choice with its probe table is in summary.json."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import precision_jax as pj
from cli.main import app
from precision_jax.config.engine import ConfigError
from precision_jax.experiment import build_config
from precision_jax.problems.data_files import write_table
from precision_jax.runs import auto_model, store
from precision_jax.runs.plan import resolve_target
from precision_jax.use import api


def smooth(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2))
    return x, np.exp(0.5 * x[:, 0]) * np.cos(0.5 * x[:, 1])


def test_default_fit_is_auto_and_picks_chebyshev_on_smooth_rows(tmp_path):
    x, y = smooth(1500)
    model = pj.fit(x, y, out=tmp_path)
    assert api.DEFAULT_CONFIG["model"] == "auto" and model.config.model == "auto"
    auto = model.summary.auto
    assert auto["chosen"] == "chebyshev" and auto["model"]["kind"] == "chebyshev" and auto["train"] == []
    assert auto["fit_rows"] + auto["validation_rows"] == model.summary.D == 1200
    probes = {row["candidate"]: row for row in auto["probes"]}
    assert list(probes) == ["chebyshev", "spline", "simplex", "net"]
    assert probes["chebyshev"]["rmse"] < 1e-13 and probes["chebyshev"]["seconds"] > 0
    assert "full tensor grid" in probes["spline"]["skipped"]  # scattered rows: no lookup table to interpolate
    assert "float64 floor" in probes["net"]["skipped"]  # nothing beats the floor: the net is not probed
    assert model.metrics["test_rmse"] < 1e-13
    on_disk = json.loads((model.run_dir / "summary.json").read_text())
    assert on_disk["auto"]["chosen"] == "chebyshev" and on_disk["auto"]["probes"][0]["candidate"] == "chebyshev"
    assert yaml.safe_load((model.run_dir / "config.yaml").read_text())["model"] == "auto"
    loaded = pj.load(model.run_dir)  # the parts' model comes from summary.auto
    inside = x[:50] * 0.9
    assert np.max(np.abs(loaded(inside) - np.exp(0.5 * inside[:, 0]) * np.cos(0.5 * inside[:, 1]))) < 1e-12
    assert pj.fit(x, y, out=tmp_path).run_dir == model.run_dir  # the same run: read back, not probed again


def test_auto_picks_simplex_or_a_net_on_a_kink(tmp_path):
    x = np.random.default_rng(1).uniform(-1, 1, size=(1500, 2))
    write_table(tmp_path / "kink.csv", {"a": x[:, 0], "b": x[:, 1], "f": np.abs(x[:, 0] - x[:, 1])})
    cfg = build_config({"name": "kink", "target": {"data": str(tmp_path / "kink.csv")}, "model": "auto"})
    choice = auto_model.choose(cfg, resolve_target(cfg))
    assert choice.candidate in ("simplex", "net")
    rows = {r.candidate: r for r in choice.rows}
    measured = [r for r in choice.rows if r.skipped is None]
    assert {"chebyshev", "simplex", "net"} <= {r.candidate for r in measured}
    assert all(np.isfinite(r.rmse) and r.seconds > 0 and r.N > 0 for r in measured)
    assert rows["simplex"].rmse < rows["chebyshev"].rmse  # a kink caps the series, not the linear mesh
    assert choice.to_json()["probes"][2]["candidate"] == "simplex"


def test_summaries_without_auto_have_no_auto_key(tmp_path):
    x, y = smooth(200)
    model = pj.fit(x, y, {"model": {"kind": "simplex"}}, out=tmp_path)  # no train key: none for an interpolant
    assert model.summary.auto is None
    assert "auto" not in json.loads((model.run_dir / "summary.json").read_text())


@pytest.mark.parametrize("model, extra, key", [
    ("autoo", {}, "model"),
    ({"kind": "autoo"}, {}, "model.kind"),
    ("auto", {"train": [{"kind": "adam", "steps": 5}]}, "train"),
    ("auto", {"boost": {"rounds": 1}}, "boost"),
    ("auto", {"target": {"formula": "x", "variables": {"x": [0, 1]}}}, "model"),
])
def test_bad_model_values_are_refused_in_one_line_before_work(tmp_path, model, extra, key):
    x, y = smooth(100)
    write_table(tmp_path / "rows.csv", {"a": x[:, 0], "b": x[:, 1], "f": y})
    config = {"name": "bad", "target": {"data": "rows.csv"}, "model": model, **extra}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "store")])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert "\n" not in message and "Traceback" not in message and key in message, message
    assert "bad.yaml" in message
    assert not (tmp_path / "store").exists()


def test_too_few_rows_for_auto_are_refused_before_work(tmp_path):
    x, y = smooth(8)
    with pytest.raises(ConfigError, match="too few"):
        pj.fit(x, y, out=tmp_path)
    assert not (tmp_path / "fit").exists()


def test_an_auto_run_reads_its_parts_model_from_the_summary(tmp_path):
    x, y = smooth(100)
    write_table(tmp_path / "rows.csv", {"a": x[:, 0], "b": x[:, 1], "f": y})
    cfg = build_config({"name": "n", "target": {"data": str(tmp_path / "rows.csv")}, "model": "auto"})
    with pytest.raises(ValueError, match="auto.model"):
        store.part_models(cfg, 1)
    summary = types.SimpleNamespace(auto={"model": {"kind": "chebyshev", "degree": 4}})
    assert [(m.kind, m.degree) for m in store.part_models(cfg, 2, summary)] == [("chebyshev", 4)] * 2


def test_guide_on_a_data_file_probes_by_default(tmp_path):
    x, y = smooth(1500)
    write_table(tmp_path / "s.csv", {"u": x[:, 0], "v": x[:, 1], "f": y})
    measured = CliRunner().invoke(app, ["guide", str(tmp_path / "s.csv")])
    assert measured.exit_code == 0, measured.output
    assert "Recommendation: least-squares Chebyshev series" in measured.output
    assert "Probes (" in measured.output and "→ chebyshev" in measured.output
    assert "model: {kind: chebyshev, degree: 14}" in measured.output  # the config: the validated series
    rules = CliRunner().invoke(app, ["guide", str(tmp_path / "s.csv"), "--no-probe"])
    assert rules.exit_code == 0, rules.output
    assert "Recommendation: simplex interpolation" in rules.output and "Probes (" not in rules.output
