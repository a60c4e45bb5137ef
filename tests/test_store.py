"""Results store: exact round trips, raw-input models, one-line errors, atomic writes under interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import yaml

from precision_jax import models
from precision_jax.engine.stages.base import CurvePoint
from precision_jax.experiment import build_config
from precision_jax.models import chebyshev, simplex, spline
from precision_jax.problems.sampling import make_dataset
from precision_jax.problems.targets import formula_target
from precision_jax.runs import atomic_files, store

FORMULA = {"formula": "exp(x) * cos(x + y)", "variables": {"x": [-1.0, 2.0], "y": [0.5, 3.0]}}
NET = {"name": "store_net", "seed": 3, "target": FORMULA,
       "data": {"train_points": 200, "test_points": 100, "standardize": True},
       "model": {"kind": "mlp", "depth": 2, "width": 6, "activation": "tanh"},
       "train": [{"kind": "adam", "steps": 10}]}


def target_info(target) -> store.TargetInfo:
    return store.TargetInfo(target.name, target.d, tuple(target.variables), tuple(target.lows), tuple(target.highs))


def make_summary(cfg, target, **changes) -> store.Summary:
    fields = dict(name=cfg.name, seed=cfg.seed, status="complete", target=target_info(target), model="a model",
                  N=10, D=20, n_test=30,
                  metrics={"train_rmse": 1.25e-15, "test_rmse": 3.0000000000000004e-14, "undefined": 0},
                  stages=[{"round": 0, "index": 0, "kind": "adam", "steps": 10, "stop_reason": "max_steps",
                           "seconds": 0.5}],
                  wall_seconds=1.5, numerics={"dtype": "float64", "backend": "cpu"},
                  provenance={"versions": {"jax": "x"}})
    return store.Summary(**{**fields, **changes})


def net_record(data=NET, boosted=False) -> tuple[store.RunRecord, object]:
    """A standardized net's record with random parameters (plus one boosting round if asked), and its target."""
    cfg = build_config(data)
    target = formula_target(FORMULA["formula"], FORMULA["variables"])
    rng = np.random.default_rng(0)
    parts = []
    for k, model_cfg in enumerate(store.part_models(cfg, 2 if boosted else 1)):
        model = models.build_model(model_cfg, target.d, target.variables)
        parts.append(store.Part(model_cfg, {"theta": rng.normal(size=model.n_params)}, 1.0 if k == 0 else 3.5e-4))
    shift, scale = np.array([0.4, 1.8]), np.array([0.9, 0.7])
    curve = [CurvePoint(round=0, stage=0, kind="adam", step=s, train_rmse=v, test_rmse=v / 3, seconds=0.1 * s)
             for s, v in enumerate([1e-15, 0.1 + 0.2, 2.220446049250313e-16, 1.2345678901234567e-300, float("nan")])]
    summary = make_summary(cfg, target, N=sum(p.arrays["theta"].size for p in parts))
    return store.RunRecord(cfg, summary, curve, parts, shift, scale), target


# --------------------------------------------------------------------------- round trips


def test_run_id_depends_on_numbers_not_output():
    a = build_config(NET)
    b = build_config(NET, ["output.dir=elsewhere", "output.log_every=7"])
    c = build_config(NET, ["seed=1"])
    assert store.run_id(a) == store.run_id(b) != store.run_id(c)


def test_a_summary_written_with_versions_twice_reads_back_with_them_once_under_provenance():
    record, _ = net_record()
    old = {**record.summary.to_json(), "versions": {"jax": "x"}}  # before 2026-12-08: a copy of provenance's
    assert "versions" not in record.summary.to_json()
    back = store.Summary.from_json(old)
    assert back.provenance["versions"] == {"jax": "x"} and not hasattr(back, "versions")


def test_record_round_trips_every_field(tmp_path):
    record, _ = net_record()
    record.extra = {"notes.json": {"a": [1, 2.5], "b": None},
                    "more.npz": {"m": np.arange(6.0).reshape(2, 3), "names": np.array(["x", "y"])}}
    path = store.write_run(tmp_path, record)
    assert path == store.run_dir(tmp_path, record.config) and store.is_complete(path)
    assert {p.name for p in path.iterdir()} == {*store.CORE_FILES, "notes.json", "more.npz"}
    back = store.read_run(path)
    assert back.config == record.config and store.run_id(back.config) == path.name
    assert back.summary == record.summary and back.summary.run_id == path.name
    assert back.summary.format_version == store.FORMAT_VERSION
    # Curve floats come back bit for bit, NaN included.
    assert [(p.round, p.stage, p.kind, p.step) for p in back.curve] == [
        (p.round, p.stage, p.kind, p.step) for p in record.curve]
    for name in ("train_rmse", "test_rmse", "seconds"):
        np.testing.assert_array_equal([getattr(p, name) for p in back.curve], [getattr(p, name) for p in record.curve])
    assert len(back.parts) == 1 and back.parts[0].model == record.config.model
    assert back.parts[0].coefficient == 1.0
    np.testing.assert_array_equal(back.parts[0].arrays["theta"], record.parts[0].arrays["theta"])
    np.testing.assert_array_equal(back.input_shift, record.input_shift)
    np.testing.assert_array_equal(back.input_scale, record.input_scale)
    assert back.extra["notes.json"] == record.extra["notes.json"]
    np.testing.assert_array_equal(back.extra["more.npz"]["m"], record.extra["more.npz"]["m"])
    assert list(back.extra["more.npz"]["names"]) == ["x", "y"]
    assert store.read_summary(path) == record.summary
    assert list(store.iter_runs(tmp_path)) == [path]


def test_summary_is_strict_json_and_non_finite_reads_back_as_nan(tmp_path):
    record, _ = net_record()
    record.summary.metrics.update(test_rmse=float("nan"), test_max_abs_error=float("inf"))
    record.summary.wall_seconds = float("nan")
    path = store.write_run(tmp_path, record)

    def reject(token):
        raise AssertionError(f"summary.json holds the non-standard token {token}")

    raw = json.loads((path / "summary.json").read_text(), parse_constant=reject)
    assert raw["metrics"]["test_rmse"] is None and raw["format_version"] == store.FORMAT_VERSION
    summary = store.read_summary(path)
    assert np.isnan(summary.metrics["test_rmse"]) and np.isnan(summary.metrics["test_max_abs_error"])
    assert np.isnan(summary.wall_seconds) and summary.metrics["undefined"] == 0
    assert isinstance(summary.target, store.TargetInfo) and summary.target.variables == ("x", "y")


def test_rewriting_a_run_swaps_it_in_place(tmp_path):
    record, _ = net_record()
    path = store.write_run(tmp_path, record)
    record.summary.metrics["test_rmse"] = 7.0
    assert store.write_run(tmp_path, record) == path
    assert store.read_summary(path).metrics["test_rmse"] == 7.0
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no .tmp- leftovers


# --------------------------------------------------------------------------- one-line errors


def one_line_naming(error: pytest.ExceptionInfo, file) -> str:
    message = str(error.value)
    assert "\n" not in message and str(file) in message, message
    return message


def test_unknown_format_version_is_one_line_naming_the_file(tmp_path):
    path = store.write_run(tmp_path, net_record()[0])
    data = json.loads((path / "summary.json").read_text())
    (path / "summary.json").write_text(json.dumps({**data, "format_version": 3}))
    with pytest.raises(store.StoreError) as e:
        store.read_run(path)
    assert "unknown run format version 3" in one_line_naming(e, path / "summary.json")
    data.pop("format_version")  # what a version-1 run (or someone else's summary.json) looks like
    (path / "summary.json").write_text(json.dumps(data))
    with pytest.raises(store.StoreError) as e:
        store.read_summary(path)
    assert "no format_version" in one_line_naming(e, path / "summary.json")


def test_foreign_folders_are_refused(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(store.StoreError) as e:
        store.read_run(tmp_path / "photos")
    assert "not a prec run directory" in one_line_naming(e, tmp_path / "photos")
    (tmp_path / "photos" / "summary.json").write_text('{"camera": "x"}')
    with pytest.raises(store.StoreError) as e:
        store.load_model(tmp_path / "photos")
    one_line_naming(e, tmp_path / "photos" / "summary.json")
    with pytest.raises(store.StoreError) as e:
        store.read_run(tmp_path / "nowhere")
    one_line_naming(e, tmp_path / "nowhere")
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("name", ["summary.json", "model.npz", "curve.csv", "config.yaml"])
def test_truncated_or_corrupt_files_name_themselves(tmp_path, name):
    path = store.write_run(tmp_path, net_record()[0])
    file = path / name
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2] if name != "config.yaml" else b"model: {kind: nonsense}\n")
    with pytest.raises(store.StoreError) as e:
        store.read_run(path)
    one_line_naming(e, file)


def test_summary_with_a_wrong_field_is_corrupt(tmp_path):
    path = store.write_run(tmp_path, net_record()[0])
    data = json.loads((path / "summary.json").read_text())
    (path / "summary.json").write_text(json.dumps({**data, "N": "many"}))
    with pytest.raises(store.StoreError) as e:
        store.read_summary(path)
    assert "N: expected int" in one_line_naming(e, path / "summary.json")


def test_run_saved_without_parameters_has_no_model(tmp_path):
    record, _ = net_record({**NET, "output": {"save_params": False}})
    path = store.write_run(tmp_path, record)
    assert store.read_run(path).parts[0].arrays == {}
    with pytest.raises(store.StoreError) as e:
        store.load_model(path)
    assert "save_params" in one_line_naming(e, path / "model.npz")


# --------------------------------------------------------------------------- models on raw inputs


def relative_error(a, b) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_standardized_net_predicts_on_raw_inputs(tmp_path):
    record, target = net_record()
    model = store.load_model(store.write_run(tmp_path, record))
    x = np.random.default_rng(1).uniform(target.lows, target.highs, (500, 2))
    net = models.build_model(record.config.model, 2)
    by_hand = np.asarray(net.apply(record.parts[0].arrays["theta"], (x - record.input_shift) / record.input_scale))
    assert model(x).dtype == np.float64 and model(x).shape == (500,)
    assert relative_error(model(x), by_hand) <= 1e-15
    assert model.n_params == net.n_params and model.d == 2 and len(model.parts) == 1
    # The standardization matters: without it the same θ predicts something else.
    assert relative_error(np.asarray(net.apply(record.parts[0].arrays["theta"], x)), by_hand) > 1e-3


def test_standardization_matches_the_training_data():
    """The raw-input model sees exactly the inputs the net was trained on (same shift, scale, rounding)."""
    cfg = build_config(NET)
    target = formula_target(FORMULA["formula"], FORMULA["variables"])
    raw = make_dataset(target, 200, 100, jax.random.PRNGKey(5), 0.8, standardize=False)
    data = make_dataset(target, 200, 100, jax.random.PRNGKey(5), 0.8, standardize=True)
    net = models.build_model(cfg.model, 2)
    theta = net.init(jax.random.PRNGKey(0))
    record = store.RunRecord(cfg, make_summary(cfg, target), [], [store.Part(cfg.model, {"theta": np.asarray(theta)})],
                             data.input_shift, data.input_scale)
    model = store.load_model(record)
    np.testing.assert_array_equal(model.standardize(np.asarray(raw.x_test)), np.asarray(data.x_test))
    assert relative_error(model(np.asarray(raw.x_test)), np.asarray(net.apply(theta, data.x_test))) <= 1e-15


def test_boosted_record_predicts_the_weighted_sum(tmp_path):
    boosted = {**NET, "boost": {"rounds": 1, "model": {"kind": "mlp", "depth": 2, "width": 4},
                                "train": [{"kind": "adam", "steps": 5}]}}
    record, target = net_record(boosted, boosted=True)
    path = store.write_run(tmp_path, record)
    back = store.read_run(path)
    assert [p.coefficient for p in back.parts] == [1.0, 3.5e-4]
    assert back.parts[1].model == record.config.boost.model != record.config.model
    model = store.load_model(path)
    x = np.random.default_rng(2).uniform(target.lows, target.highs, (300, 2))
    z = (x - record.input_shift) / record.input_scale
    f = [np.asarray(models.build_model(p.model, 2).apply(p.arrays["theta"], z)) for p in record.parts]
    assert relative_error(model(x), f[0] + 3.5e-4 * f[1]) <= 1e-15
    assert model.n_params == sum(p.arrays["theta"].size for p in record.parts)
    np.testing.assert_array_equal(model.predict_standardized(z, parts=1), f[0])


# --------------------------------------------------------------------------- interpolants


def fitted_interpolant(kind: str, d: int, model: dict, train_points: int):
    variables = {"x": [-1.0, 2.0], "y": [0.5, 3.0]} if d == 2 else {"x": [-1.0, 2.0]}
    formula = "exp(x) * cos(x + y)" if d == 2 else "exp(x) * cos(3 * x)"
    cfg = build_config({"name": f"store_{kind}", "target": {"formula": formula, "variables": variables},
                        "data": {"train_points": train_points, "test_points": 50}, "model": {"kind": kind, **model},
                        "train": []})
    target = formula_target(formula, variables)
    data = make_dataset(target, train_points, 50, jax.random.PRNGKey(0), 0.8, False)
    return cfg, target, models.fit(cfg.model, target, data)


@pytest.mark.parametrize("kind, d, model, train_points", [
    ("simplex", 2, {}, 300),
    ("spline", 1, {"order": 5}, 40),
    ("spline", 2, {"order": 3}, 400),
    ("spline", 2, {"order": 1}, 100),
    ("chebyshev", 1, {}, 30),
])
def test_interpolant_restores_bit_for_bit_and_reloads_from_the_store(tmp_path, kind, d, model, train_points):
    cfg, target, interpolant = fitted_interpolant(kind, d, model, train_points)
    # Points inside and (for d = 2, simplex) outside the fitted region: NaN must stay NaN.
    x = np.random.default_rng(3).uniform(np.array(target.lows) - 0.1, np.array(target.highs) + 0.1, (2000, d))
    restored = models.restore(cfg.model, interpolant.state())
    expected = np.asarray(interpolant.predict(x))
    np.testing.assert_array_equal(restored.predict(x), expected)
    assert restored.n_params == interpolant.n_params and np.isfinite(expected).sum() > 1000
    summary = make_summary(cfg, target, stages=[{"kind": "fit", "steps": 0, "stop_reason": "fitted"}])
    record = store.RunRecord(cfg, summary, [], [store.Part(cfg.model, interpolant.state())], None, None)
    path = store.write_run(tmp_path, record)
    loaded = store.load_model(path)
    np.testing.assert_array_equal(loaded(x), expected)
    assert loaded.n_params == interpolant.n_params and store.read_run(path).curve == []


def test_module_restores_match_their_fits_in_three_dimensions():
    f = lambda x: np.exp(x[:, 0]) * np.cos(x.sum(axis=1))  # noqa: E731
    x = np.random.default_rng(4).uniform(-1.1, 1.1, (500, 3))
    fits = [simplex.fit_simplex(x[:200], f(x[:200])), spline.fit_spline(f, [-1] * 3, [1] * 3, 8, 3),
            chebyshev.fit_chebyshev(f, [-1] * 3, [1] * 3, 7)]
    for fit, module in zip(fits, (simplex, spline, chebyshev)):
        np.testing.assert_array_equal(module.restore(None, fit.state()).predict(x), fit.predict(x))


# --------------------------------------------------------------------------- atomic writes


def test_failure_while_writing_leaves_nothing_complete(tmp_path, monkeypatch):
    record, _ = net_record()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_write_curve", crash)
    with pytest.raises(KeyboardInterrupt):
        store.write_run(tmp_path, record)
    assert list(store.iter_runs(tmp_path)) == []
    assert list((tmp_path / "store_net").iterdir()) == []


def test_failure_while_rewriting_keeps_the_old_run(tmp_path, monkeypatch):
    record, _ = net_record()
    path = store.write_run(tmp_path, record)
    monkeypatch.setattr(store, "_write_curve", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        store.write_run(tmp_path, record)
    assert store.read_summary(path) == record.summary
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_atomic_writers_replace_whole_files(tmp_path):
    atomic_files.atomic_write_json(tmp_path / "a.json", {"x": np.float64(np.nan), "y": np.arange(2), "z": (1, 2.5)})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": None, "y": [0, 1], "z": [1, 2.5]}
    atomic_files.atomic_write_npz(tmp_path / "b.npz", {"v": np.arange(3.0)})
    atomic_files.atomic_write_npz(tmp_path / "b.npz", {"v": np.arange(4.0)})
    np.testing.assert_array_equal(store.read_arrays(tmp_path / "b.npz")["v"], np.arange(4.0))
    with pytest.raises(TypeError):
        atomic_files.atomic_write_json(tmp_path / "c.json", {"x": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.npz"]  # no temporary files left


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
