"""prec plot / table / fit on a small synthetic store: exponent recovery, files, and readable series names."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from precision_jax.analysis.figures import runs as figure_runs
from precision_jax.analysis.figures import series as figure_series
from precision_jax.engine.stages.base import CurvePoint
from precision_jax.experiment import build_config
from precision_jax.problems.targets import equation_target
from precision_jax.runs import atomic_files, store

BASE = {"name": "synthetic", "target": {"equation": "I.8.14"}, "model": {"depth": 3, "width": 4},
        "train": [{"kind": "adam", "steps": 100}, {"kind": "bfgs", "maxiter": 100}]}
TRUE_EXPONENT = -1.5


TARGET = equation_target("I.8.14")
TARGET_INFO = store.TargetInfo(TARGET.name, TARGET.d, tuple(TARGET.variables), tuple(TARGET.lows),
                               tuple(TARGET.highs))


def fake_run(root, width, seed, activation, scale, exponent=TRUE_EXPONENT, noise=0.05, fit=False, model=None,
             train=None):
    """A run whose test RMSE follows scale · N^exponent with seeded log-normal scatter, written by the store
    (``model``/``train`` replace the config's model and chain; the curve and N stay the synthetic ones)."""
    cfg = build_config({**BASE, "seed": seed, "train": BASE["train"] if train is None else train,
                        "model": model or {"depth": 3, "width": width, "activation": activation}})
    n = 5 * width + width * width + width + width + 1
    rng = np.random.default_rng(1000 * width + seed)
    rmse = scale * n**exponent * float(np.exp(noise * rng.standard_normal()))
    curve = [] if fit else [
        CurvePoint(round=0, stage=0, kind="adam", step=s, train_rmse=10 * rmse / (1 + s),
                   test_rmse=11 * rmse / (1 + s), seconds=0.01 * s) for s in (0, 50, 100)] + [
        CurvePoint(round=0, stage=1, kind="bfgs", step=s, train_rmse=rmse * (1 + 1 / (1 + s)),
                   test_rmse=rmse * (1.1 + 1 / (1 + s)), seconds=0.02 * s) for s in (0, 50, 100)]
    stages = [{"kind": "fit", "steps": 0, "stop_reason": "fitted"}] if fit else [
        {"kind": "adam", "steps": 100, "stop_reason": "max_steps"}, {"kind": "bfgs", "steps": 100,
                                                                     "stop_reason": "max_steps"}]
    summary = store.Summary(name="synthetic", seed=seed, status="complete", target=TARGET_INFO,
                            model=f"mlp {activation}", N=n, D=n // 5, n_test=100,
                            metrics={"test_rmse": rmse, "test_relative_rmse": rmse / 3, "train_rmse": rmse / 2},
                            stages=stages, wall_seconds=0.1, numerics={})
    parts = [store.Part(cfg.model, {"theta": np.zeros(n)})]
    return store.write_run(root, store.RunRecord(cfg, summary, curve, parts, None, None))


@pytest.fixture
def synthetic_store(tmp_path):
    root = tmp_path / "results"
    for width in (4, 8, 16, 32, 64):
        for seed in range(4):
            fake_run(root, width, seed, "tanh", 2.0)
            fake_run(root, width, seed, "relu", 20.0, exponent=-0.5, fit=True)
    return root


def test_power_law_exponent_is_recovered_with_an_interval(synthetic_store):
    fits = {f.series: f for f in figure_series.fit_all(figure_runs.load_records(synthetic_store))}
    assert set(fits) == {"tanh", "ReLU"}
    tanh = fits["tanh"]
    assert tanh.exponent == pytest.approx(TRUE_EXPONENT, abs=0.05)
    assert tanh.low < tanh.exponent < tanh.high and tanh.high - tanh.low < 0.2
    assert tanh.n_seeds == 4 and tanh.n_points == 20
    assert fits["ReLU"].exponent == pytest.approx(-0.5, abs=0.05)
    assert fits["ReLU"].interpolant and not tanh.interpolant
    # a stated fit range uses only the sizes inside it
    narrow = figure_series.fit_all(figure_runs.load_records(synthetic_store), fit_range=(50, 1000))
    assert all(f.size_range[0] >= 50 and f.size_range[1] <= 1000 for f in narrow)


def test_prec_plot_writes_png_and_pdf(synthetic_store, tmp_path):
    out = tmp_path / "plots"
    result = CliRunner().invoke(app, ["plot", str(synthetic_store), "--out", str(out), "--theory"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    for stem in ("scaling-I.8.14-rmse-vs-N", "curve-I.8.14-tanh"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
    assert not any(n.startswith("curve-I.8.14-ReLU") for n in names)  # fitted, no curve
    result = CliRunner().invoke(app, ["plot", str(synthetic_store), "--out", str(out), "--metric", "relative",
                                      "--x", "D", "--where", "model.activation=tanh"])
    assert result.exit_code == 0, result.output
    assert (out / "scaling-I.8.14-relative-vs-D.pdf").is_file()
    result = CliRunner().invoke(app, ["plot", str(synthetic_store), "--out", str(out), "--target", "nope"])
    assert result.exit_code == 2 and "nothing to plot" in result.output


def test_hessian_spectrum_is_plotted_when_a_run_stored_one(synthetic_store, tmp_path):
    run = next(r for r in store.iter_runs(synthetic_store) if store.read_run(r).curve)
    lam = np.concatenate([np.geomspace(1e2, 1e-14, 20), -np.geomspace(1e-16, 1e-10, 10)])
    # As `prec hessian` leaves it: the arrays and a JSON note of the round they belong to.
    atomic_files.atomic_write_npz(run / "hessian.npz",
                                  {"eigenvalues": lam, "projections": np.geomspace(1e-3, 1e-12, 30)})
    atomic_files.atomic_write_json(run / "hessian.json", {"round": 0, "loss": 1e-12})
    out = tmp_path / "plots"
    result = CliRunner().invoke(app, ["plot", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / f"hessian-{run.name}.png").is_file() and (out / f"curve-I.8.14-{run.name}.png").is_file()


def test_table_and_fit_outputs(synthetic_store):
    runner = CliRunner()
    rows = list(csv.DictReader(io.StringIO(runner.invoke(app, ["table", str(synthetic_store), "--csv"]).stdout)))
    assert len(rows) == 40 and {"model.width", "model.activation", "seed", "N", "test_rmse"} <= set(rows[0])
    data = json.loads(runner.invoke(app, ["table", str(synthetic_store), "--json", "--where", "seed=1",
                                          "--where", "model.activation=tanh"]).stdout)
    assert len(data) == 5 and all(r["seed"] == 1 for r in data)
    fits = json.loads(runner.invoke(app, ["fit", str(synthetic_store), "--json"]).stdout)
    assert {f["series"] for f in fits} == {"tanh", "ReLU"}
    text = runner.invoke(app, ["fit", str(synthetic_store)]).stdout
    assert "tanh" in text and "-1.5" in text


def test_table_lists_failed_runs_with_reason(tmp_path):
    from precision_jax.runs import sweep as sw

    cfg = build_config(BASE)
    sw.record_failure(tmp_path, cfg, "RuntimeError: out of memory")
    data = json.loads(CliRunner().invoke(app, ["table", str(tmp_path), "--json"]).stdout)
    assert data[0]["status"] == "failed" and "out of memory" in data[0]["reason"]


def test_unreadable_runs_are_skipped_and_counted(synthetic_store, tmp_path):
    runs = list(store.iter_runs(synthetic_store))
    (runs[0] / "summary.json").write_text('{"format_version": 2, "name": "trunc')  # truncated
    (runs[1] / "summary.json").write_text(json.dumps({"format_version": 99}))
    foreign = synthetic_store / "someone_else" / "thing"
    foreign.mkdir(parents=True)
    (foreign / "summary.json").write_text('{"accuracy": 0.9}')
    records = figure_runs.load_records(synthetic_store)
    assert len(records) == 38 and len(records.unreadable) == 3
    assert any("unknown run format version 99" in line for line in records.unreadable)
    result = CliRunner().invoke(app, ["table", str(synthetic_store), "--csv"])
    assert result.exit_code == 0 and len(list(csv.DictReader(io.StringIO(result.stdout)))) == 38
    assert "skipped 3 unreadable run(s)" in result.stderr
    result = CliRunner().invoke(app, ["plot", str(synthetic_store), "--out", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output


def test_learning_curve_marks_boosting_rounds():
    points = [CurvePoint(round=r, stage=s, kind=k, step=t, train_rmse=1.0, test_rmse=1.0, seconds=0.0)
              for r, s, k in [(0, 0, "adam"), (0, 1, "lm"), (1, 0, "lm")] for t in (0, 10)]
    rows = figure_runs.stage_offsets(points)
    assert [r["total_step"] for r in rows] == [0, 10, 10, 20, 20, 30]
    assert [r["segment"] for r in rows][::2] == [(0, 0), (0, 1), (1, 0)]


def test_a_mixed_store_gets_short_readable_series_names_and_files(tmp_path):
    """Series that differ in model kind, activation, depth, chain and one stage's learning rate: each is named
    by just what tells it apart, its file by that name, and the keys behind each name are printed."""
    root = tmp_path / "results"
    bfgs = [{"kind": "adam", "lr": 1e-3, "steps": 100}, {"kind": "bfgs", "maxiter": 100}]
    fast = [{"kind": "adam", "lr": 3e-3, "steps": 100}, {"kind": "bfgs", "maxiter": 100}]
    lm = [{"kind": "adam", "lr": 1e-3, "steps": 100}, {"kind": "lm", "maxiter": 100}]
    designs = {"relu2-bfgs": ({"kind": "mlp", "depth": 2, "activation": "relu"}, bfgs),
               "relu2-fast": ({"kind": "mlp", "depth": 2, "activation": "relu"}, fast),
               "relu2-lm": ({"kind": "mlp", "depth": 2, "activation": "relu"}, lm),
               "relu3-bfgs": ({"kind": "mlp", "depth": 3, "activation": "relu"}, bfgs),
               "tanh2-bfgs": ({"kind": "mlp", "depth": 2, "activation": "tanh"}, bfgs)}
    for model, chain in designs.values():
        for width in (4, 8):
            for seed in (0, 1):
                fake_run(root, width, seed, model["activation"], 2.0, model={**model, "width": width}, train=chain)
    for seed in (0, 1):
        fake_run(root, 4, seed, "relu", 20.0, fit=True, model={"kind": "simplex"}, train=[])

    named = figure_series.group_series(figure_runs.load_records(root))["I.8.14"]
    labels = {s.label: s for s in named}
    # Each name holds what tells its series apart, in the order a reader would say it: the model, then the chain.
    assert set(labels) == {"ReLU depth 2, Adam → BFGS, Adam lr 0.001", "ReLU depth 2, Adam → BFGS, Adam lr 0.003",
                           "ReLU depth 2, Adam → LM, Adam lr 0.001", "ReLU depth 3, Adam → BFGS, Adam lr 0.001",
                           "tanh depth 2, Adam → BFGS, Adam lr 0.001", "simplex"}
    # distinct series stay distinct: every run lands in the series of its own design, 4 runs each
    assert sorted(len(s.runs) for s in named) == [2, 4, 4, 4, 4, 4]
    for s in named:
        assert len({(r.config["model.kind"], r.config.get("model.activation"), r.config.get("model.depth"),
                     r.config.get("train.0.lr"), r.config.get("train.1.kind")) for r in s.runs}) == 1
    assert labels["ReLU depth 2, Adam → LM, Adam lr 0.001"].keys["train.1.kind"] == "lm"

    out = tmp_path / "plots"
    result = CliRunner().invoke(app, ["plot", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "curve-I.8.14-ReLU_depth_2_Adam_BFGS_Adam_lr_0.003.png" in pngs
    assert "curve-I.8.14-tanh_depth_2_Adam_BFGS_Adam_lr_0.001.png" in pngs
    assert len([n for n in pngs if n.startswith("curve-")]) == 5  # one per trained series; the simplex has none
    for name in pngs:  # no key dumps, no hashes, no cut words
        assert len(name) <= 60 and "=" not in name and "kind_" not in name and "…" not in name, name
    # the keys behind each name are in the printed table
    assert "model.activation=tanh" in result.stdout and "train.0.lr=0.003" in result.stdout
    assert "ReLU depth 2, Adam → LM, Adam lr 0.001" in result.stdout
