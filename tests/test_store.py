"""Results store: exact round trips, stable run ids, atomic writes under interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from precision_jax import store
from precision_jax.config import build_config
from precision_jax.stages.base import CurvePoint
from precision_jax.training import run_experiment


def test_curve_floats_round_trip_exactly(tmp_path):
    values = [1e-15, 3.0000000000000004e-14, 2.220446049250313e-16, 0.1 + 0.2, 1.2345678901234567e-300]
    curve = [CurvePoint(0, "bfgs", i, v, v / 3, v * 7) for i, v in enumerate(values)]
    store.write_curve(tmp_path / "c.csv", curve)
    rows = store.read_curve(tmp_path / "c.csv")
    assert [r["train_rmse"] for r in rows] == values
    assert [r["test_rmse"] for r in rows] == [v / 3 for v in values]


def test_run_id_depends_on_numbers_not_output(small_teacher):
    a = build_config(small_teacher)
    b = build_config(small_teacher, ["output.dir=elsewhere", "output.log_every=7"])
    c = build_config(small_teacher, ["seed=1"])
    assert store.run_id(a) == store.run_id(b) != store.run_id(c)


def test_saved_run_is_complete_and_reloadable(tmp_path, small_teacher):
    small_teacher["train"] = [{"kind": "adam", "steps": 20}]
    result = run_experiment(build_config(small_teacher))
    path = store.save_run(tmp_path, result)
    assert store.is_complete(path)
    assert {p.name for p in path.iterdir()} >= {"config.yaml", "summary.json", "curve.csv", "params.npz"}
    summary = json.loads((path / "summary.json").read_text())
    assert summary["metrics"] == result.summary["metrics"]
    assert summary["numerics"]["dtype"] == "float64" and summary["versions"]["jax"]
    np.testing.assert_array_equal(np.load(path / "params.npz")["theta"], result.theta)
    # The stored config is the resolved one and rebuilds the same run id.
    assert store.run_id(build_config(yaml.safe_load((path / "config.yaml").read_text()))) == path.name
    assert list(store.iter_runs(tmp_path)) == [path]


def test_failure_while_writing_leaves_nothing_complete(tmp_path, small_teacher, monkeypatch):
    small_teacher["train"] = [{"kind": "adam", "steps": 5}]
    result = run_experiment(build_config(small_teacher))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "write_curve", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save_run(tmp_path, result)
    assert list(store.iter_runs(tmp_path)) == []
    assert not any(p.name.startswith(store.TMP_PREFIX) for p in (tmp_path / "small_teacher").iterdir())


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_never_looks_complete(tmp_path, small_teacher, sig):
    small_teacher["train"] = [{"kind": "adam", "steps": 10_000_000}]  # runs until killed
    small_teacher["output"]["log_every"] = 1000
    config = tmp_path / "long.yaml"
    config.write_text(yaml.safe_dump(small_teacher))
    out = tmp_path / "store"
    process = subprocess.Popen([sys.executable, "-m", "cli", "run", str(config), "--out", str(out), "-q"],
                               cwd=os.path.dirname(os.path.dirname(__file__)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(8)
    assert process.poll() is None, process.stderr.read().decode()
    process.send_signal(sig)
    process.wait(timeout=60)
    assert list(store.iter_runs(out)) == []
    leftovers = [p for p in out.rglob("*") if p.is_dir() and not p.name.startswith(store.TMP_PREFIX)]
    assert all(not (p / "summary.json").exists() for p in leftovers)
