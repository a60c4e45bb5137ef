"""Sweeps: expansion, sharding, failures, resumption after kill -9, seed batching."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from precision_jax.experiment import ConfigError, build_config
from precision_jax.runs import run_lock, store, training
from precision_jax.runs import sweep as sw

REPO = Path(__file__).resolve().parents[1]

# A tiny Adam-only problem: one compiled program serves every run below (same shapes).
TINY = {
    "name": "tiny",
    "target": {"equation": "II.8.31"},
    "data": {"train_points": 40, "test_points": 200, "standardize": True},
    "model": {"kind": "mlp", "depth": 3, "width": 6, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-2, "steps": 60}],
    "output": {"log_every": 20},
}


def spec(grid=None, zips=None, base=None):
    data = {"name": "t", "base": base or TINY}
    if grid:
        data["grid"] = grid
    if zips:
        data["zip"] = zips
    return sw.parse_sweep(data, "test.yaml")


def test_grid_and_zip_expand_to_the_cartesian_product_in_order():
    s = spec(grid={"model.activation": ["tanh", "relu"], "seed": [0, 1]},
             zips={"model.depth": [2, 3, 4], "model.width": [30, 8, 5]})
    points = sw.axis_points(s)
    assert len(points) == 2 * 2 * 3
    assert points[0] == {"model.activation": "tanh", "seed": 0, "model.depth": 2, "model.width": 30}
    assert points[1] == {"model.activation": "tanh", "seed": 0, "model.depth": 3, "model.width": 8}
    assert points[-1] == {"model.activation": "relu", "seed": 1, "model.depth": 4, "model.width": 5}
    runs = sw.expand(s)
    assert len({r.run_id for r in runs}) == 12
    # zipped keys stay paired, never crossed
    assert {(r.config.model.depth, r.config.model.width) for r in runs} == {(2, 30), (3, 8), (4, 5)}
    # seed groups: everything but the seed equal
    groups = sw.group_runs(runs)
    assert len(groups) == 6 and all(len(g) == 2 and {r.config.seed for r in g} == {0, 1} for g in groups)


def test_several_zip_groups_and_list_indices():
    s = spec(zips=[{"model.depth": [2, 3], "model.width": [9, 4]},
                   {"train.0.lr": [1e-2, 1e-3], "train.0.steps": [10, 20]}])
    runs = sw.expand(s)
    assert len(runs) == 4
    assert {(r.config.train[0].lr, r.config.train[0].steps) for r in runs} == {(1e-2, 10), (1e-3, 20)}


@pytest.mark.parametrize("bad, key", [
    ({"grid": {"model.width": [1, 2]}, "zip": {"model.width": [3], "seed": [1]}}, "zip.model.width"),
    ({"zip": {"model.depth": [2, 3], "model.width": [4]}}, "zip"),
    ({"grid": {"model.width": []}}, "grid.model.width"),
    ({"grid": {"model.widht": [3]}}, "model.widht"),
    ({"grd": {}}, "grd"),
    ({"grid": {"model.width": [-3]}}, "model.width"),
    ({"grid": {"target.equation": ["II.8.31", "NO.SUCH"]}}, "target.equation"),
])
def test_bad_specs_name_the_file_and_key(bad, key):
    with pytest.raises(ConfigError) as info:
        sw.expand(sw.parse_sweep({"base": TINY, **bad}, "bad.yaml"))
    assert "bad.yaml" in str(info.value) and key in str(info.value)


def test_named_sweep_resolves_to_configs_sweeps(monkeypatch):
    monkeypatch.chdir(REPO)
    s = sw.load_sweep("widths")
    assert Path(s.source) == Path("configs/sweeps/widths.yaml")
    runs = sw.expand(s)
    assert len(runs) == 24 and {r.config.model.activation for r in runs} == {"tanh", "relu"}
    with pytest.raises(ConfigError, match="no sweep named"):
        sw.load_sweep("no-such-sweep")


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 40])
def test_shards_are_disjoint_and_cover_the_sweep(count):
    runs = sw.expand(spec(grid={"model.width": [3, 4, 5, 6, 7], "model.activation": ["tanh", "relu"],
                                "seed": [0, 1, 2]}))
    groups = sw.group_runs(runs)
    seen: list[str] = []
    for i in range(count):
        seen += [r.run_id for g in sw.shard(groups, i, count) for r in g]
    assert sorted(seen) == sorted(r.run_id for r in runs)
    assert len(seen) == len(set(seen))
    with pytest.raises(ConfigError):
        sw.parse_shard(f"{count}/{count}")
    assert sw.parse_shard("1/3") == (1, 3)


def test_failing_run_is_recorded_and_the_sweep_continues(tmp_path, monkeypatch):
    # Width 7 fails at run time (as an out-of-memory or a library error would), batched or not.
    def explode(original):
        def run(arg, *args, **kwargs):
            configs = arg.configs if hasattr(arg, "configs") else arg if isinstance(arg, list) else [arg]  # a plan
            if any(c.model.width == 7 for c in configs):
                raise RuntimeError("simulated failure inside training")
            return original(arg, *args, **kwargs)
        return run

    monkeypatch.setattr(training, "run_seed_group", explode(training.run_seed_group))
    monkeypatch.setattr(training, "run_experiment", explode(training.run_experiment))
    runs = sw.expand(spec(grid={"model.width": [6, 7], "data.test_compactification": [0.8, 0.9],
                                "seed": [0, 1]}))
    summary = sw.run_sweep(runs, tmp_path)
    assert (summary.done, summary.skipped, summary.failed) == (4, 0, 4)
    for r in runs:
        path = store.run_dir(tmp_path, r.config)
        if r.config.model.width == 7:
            assert not store.is_complete(path)
            record = yaml.safe_load((path / store.FAILED_FILE).read_text())
            assert "simulated failure" in record["reason"] and record["run_id"] == r.run_id
            assert sw.status_of(tmp_path, r.config) == "failed"
        else:
            assert store.is_complete(path)
    assert len(list(store.iter_runs(tmp_path))) == 4  # a failure never looks like a run
    again = sw.run_sweep(runs, tmp_path)  # complete runs skipped, and failures too unless asked to retry
    assert (again.done, again.skipped, again.failed) == (0, 8, 0)
    assert sum(o.reason == "failed" for o in again.outcomes) == 4
    retried = sw.run_sweep(runs, tmp_path, retry_failed=True)  # retried, and they fail again
    assert (retried.done, retried.skipped, retried.failed) == (0, 4, 4)
    monkeypatch.undo()
    fixed = sw.run_sweep(runs, tmp_path, retry_failed=True)  # the cause gone, the retry completes, clears the record
    assert (fixed.done, fixed.skipped, fixed.failed) == (4, 4, 0)
    assert not list(tmp_path.rglob(store.FAILED_FILE))


def test_diverged_run_is_saved_with_its_status_counted_apart_and_not_retried(tmp_path):
    base = {**TINY, "model": {**TINY["model"], "activation": "relu"},
            "train": [{"kind": "adam", "lr": 1e300, "steps": 40}]}
    runs = sw.expand(spec(grid={"seed": [0]}, base=base))
    summary = sw.run_sweep(runs, tmp_path)
    assert (summary.diverged, summary.failed) == (1, 0) and summary.outcomes[0].reason == "diverged"
    assert store.read_summary(store.run_dir(tmp_path, runs[0].config)).status == "diverged"
    again = sw.run_sweep(runs, tmp_path)
    assert (again.skipped, again.diverged) == (1, 0)


def test_batched_seeds_equal_separate_runs(small_teacher):
    from precision_jax.runs.training import run_experiment

    small_teacher["data"] = {"train_points": 60, "test_points": 100, "test_compactification": 1.0}
    small_teacher["model"]["width"] = 5
    # Long enough for BFGS to amplify any rounding difference (~10x every few iterations) into a visible one.
    small_teacher["train"] = [{"kind": "adam", "lr": 1e-2, "steps": 50}, {"kind": "bfgs", "maxiter": 60}]
    small_teacher["output"]["log_every"] = 25
    configs = [build_config({**small_teacher, "seed": s}) for s in (0, 1)]
    together = training.run_seed_group(configs)
    # The group really trained as one batch (every trainable config batches; there is no fallback).
    assert [r.summary.batch["seeds"] for r in together] == [2, 2]
    for cfg, res in zip(configs, together):
        alone = run_experiment(cfg)
        assert store.run_id(res.config) == store.run_id(alone.config)
        for key, value in alone.summary.metrics.items():
            assert res.summary.metrics[key] == pytest.approx(value, rel=1e-12, abs=1e-300), key
        assert [(s["kind"], s["steps"], s["stop_reason"]) for s in res.summary.stages] == \
               [(s["kind"], s["steps"], s["stop_reason"]) for s in alone.summary.stages]
        assert [(p.stage, p.step) for p in res.curve] == [(p.stage, p.step) for p in alone.curve]
        np.testing.assert_allclose([p.test_rmse for p in res.curve], [p.test_rmse for p in alone.curve],
                                   rtol=1e-12)
        np.testing.assert_allclose(res.parts[0].arrays["theta"], alone.parts[0].arrays["theta"],
                                   rtol=1e-12, atol=1e-15)
    assert len({r.summary.metrics["test_rmse"] for r in together}) == 2  # the seeds really differ


def _assert_same_runs(configs, together):
    from precision_jax.runs.training import run_experiment

    for cfg, res in zip(configs, together):
        alone = run_experiment(cfg)
        for key, value in alone.summary.metrics.items():
            assert res.summary.metrics[key] == pytest.approx(value, rel=1e-12, abs=1e-300), (cfg.seed, key)
        assert [(p.stage, p.step) for p in res.curve] == [(p.stage, p.step) for p in alone.curve]
        np.testing.assert_allclose([[p.train_rmse, p.test_rmse] for p in res.curve],
                                   [[p.train_rmse, p.test_rmse] for p in alone.curve], rtol=1e-12)
        np.testing.assert_allclose(res.parts[0].arrays["theta"], alone.parts[0].arrays["theta"],
                                   rtol=1e-12, atol=1e-15)


def test_group_of_four_seeds_equals_separate_runs_over_a_long_chain():
    # Vmapped Adam chunks rounded differently from unbatched ones at this width with 4 seeds
    # (batched matmuls are blocked by batch size); 400 BFGS iterations turned that one ulp into
    # test RMSEs up to 1e-1 apart. Two seeds did not show it, hence four.
    base = {"name": "long", "target": {"equation": "II.8.31"},
            "data": {"train_points": "auto", "test_points": 500, "standardize": True},
            "model": {"kind": "mlp", "depth": 3, "width": 16, "activation": "tanh"},
            "train": [{"kind": "adam", "lr": 1e-3, "steps": 300}, {"kind": "bfgs", "maxiter": 400}],
            "output": {"log_every": 100}}
    configs = [build_config({**base, "seed": s}) for s in range(4)]
    together = training.run_seed_group(configs)
    assert sum(r.summary.stages[1]["steps"] for r in together) > 800  # BFGS ran long enough to amplify
    _assert_same_runs(configs, together)


def test_modular_model_sweeps_with_its_variable_names():
    base = {"name": "mod", "target": {"equation": "I.8.14"},
            "data": {"train_points": 40, "test_points": 100, "standardize": True},
            "model": {"kind": "modular", "activation": "tanh", "modules": [
                {"name": "A", "inputs": ["x1", "x2"], "depth": 2, "width": 4},
                {"name": "B", "inputs": ["y1", "y2"], "depth": 2, "width": 4},
                {"name": "C", "inputs": ["A", "B"], "depth": 2, "width": 6}]},
            "train": [{"kind": "adam", "lr": 1e-2, "steps": 40}, {"kind": "bfgs", "maxiter": 20}],
            "output": {"log_every": 20}}
    configs = [build_config({**base, "seed": s}) for s in (0, 1)]
    together = training.run_seed_group(configs)
    assert [r.summary.batch["seeds"] for r in together] == [2, 2]  # batched, wired by variable name
    _assert_same_runs(configs, together)


def test_batched_group_is_saved_like_prec_run(tmp_path):
    runs = sw.expand(spec(grid={"seed": [0, 1]}))
    sw.run_sweep(runs, tmp_path)
    for r in runs:
        path = store.run_dir(tmp_path, r.config)
        assert {p.name for p in path.iterdir()} == set(store.CORE_FILES)
        assert store.read_summary(path).run_id == r.run_id
        assert build_config(yaml.safe_load((path / "config.yaml").read_text())) == r.config


def _complete_ids(root: Path) -> list[str]:
    return sorted(p.name for p in store.iter_runs(root))


def test_sweep_killed_with_sigkill_resumes_to_exactly_the_full_set(tmp_path):
    base = {**TINY, "train": [{"kind": "adam", "lr": 1e-2, "steps": 3000}], "output": {"log_every": 1000}}
    sweep_file = tmp_path / "kill.yaml"
    sweep_file.write_text(yaml.safe_dump({
        "name": "kill", "base": base,
        "grid": {"data.test_compactification": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]}}))
    expected = sorted(r.run_id for r in sw.expand(sw.load_sweep(sweep_file)))
    root = tmp_path / "results"
    command = [sys.executable, "-c", "from cli.main import app; app()", "sweep", str(sweep_file),
               "--out", str(root), "--no-progress"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not _complete_ids(root):
        time.sleep(0.01)
    assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _complete_ids(root)
    assert 1 <= len(partial) < len(expected), "the kill did not land mid-sweep"
    assert set(partial) <= set(expected)

    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(expected) - len(partial)} done, {len(partial)} skipped, 0 diverged, 0 failed" in done.stdout
    assert _complete_ids(root) == expected
    leftovers = [p for p in (root / "tiny").iterdir() if p.name.startswith(store.TMP_PREFIX)]
    assert leftovers == []
    # Nothing duplicated or half-written, no checkpoint left; only the runs and their (empty) lock files.
    names = sorted(p.name for p in (root / "tiny").iterdir())
    assert [n for n in names if not n.startswith(run_lock.LOCK_PREFIX)] == expected
    assert all((root / "tiny" / n).stat().st_size == 0 for n in names if n.startswith(run_lock.LOCK_PREFIX))


def test_cli_dry_run_lists_runs_and_status(tmp_path):
    from typer.testing import CliRunner

    from cli.main import app

    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(yaml.safe_dump({"base": TINY, "grid": {"model.width": [3, 4], "seed": [0, 1]}}))
    result = CliRunner().invoke(app, ["sweep", str(sweep_file), "--dry-run", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "4 runs" in result.output and result.output.count("missing") == 4
    result = CliRunner().invoke(app, ["sweep", str(sweep_file), "--dry-run", "--shard", "1/2",
                                      "--out", str(tmp_path / "r")])
    assert result.output.count("missing") == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"base": TINY, "grid": {"model.width": "3"}}))
    result = CliRunner().invoke(app, ["sweep", str(bad), "--dry-run"])
    assert result.exit_code == 2 and "grid.model.width" in result.output
