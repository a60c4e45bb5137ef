"""Issue 13, item 1: data-file targets (``target: {data: path, inputs, output, test_data}``).

The data are samples of f(x, y) = sin(3x)·exp(−y²) + x·y, which is not a registry equation. Fits go through
the library (:func:`precision_jax.runs.training.run_experiment`, what ``prec run`` calls); refusals go through the
CLI, where the exit status and the one line are the point.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.experiment import build_config, load_config
from precision_jax.numerics.random_keys import run_keys
from precision_jax.problems import data_files, data_target
from precision_jax.runs import store
from precision_jax.runs import sweep as sw
from precision_jax.runs.plan import preflight, resolve_target
from precision_jax.runs.training import run_data, run_experiment

ROOT = Path(__file__).resolve().parent.parent


def f(x, y):
    return np.sin(3 * x) * np.exp(-y**2) + x * y


def scattered(path: Path, n: int = 400, seed: int = 0) -> Path:
    xy = np.random.default_rng(seed).uniform(-1, 1, (n, 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    return data_files.write_table(path, {"x": xy[:, 0], "y": xy[:, 1], "f": f(xy[:, 0], xy[:, 1])})


def grid(path: Path, p: int = 21) -> Path:
    x, y = (a.ravel() for a in np.meshgrid(np.linspace(-1, 1, p), np.linspace(-1, 1, p), indexing="ij"))
    return data_files.write_table(path, {"x": x, "y": y, "f": f(x, y)})


def config(data_target: dict, model: dict, train=(), **data) -> dict:
    return {"name": "own", "seed": 0, "target": data_target, "data": {"test_points": 30000, **data},
            "model": model, "train": list(train), "output": {"log_every": 50}}


def write_yaml(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def refused(result, *fragments: str) -> str:
    """Exit status 2, no traceback, exactly one ``prec: error: …`` line holding ``fragments``."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prec: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --------------------------------------------------------------------------- fits


def stored_rmse_matches(tmp_path: Path, record) -> None:
    """The stored model, on the test set regenerated from the stored config, gives the run's test RMSE."""
    path = store.write_run(tmp_path / "store", record)
    cfg = store.read_config(path)
    data = run_data(cfg, resolve_target(cfg), 0, standardize=False)
    prediction = store.load_model(path)(np.asarray(data.x_test))
    ok = np.isfinite(prediction)
    rmse = np.sqrt(np.mean((prediction[ok] - np.asarray(data.y_test)[ok]) ** 2))
    assert rmse == pytest.approx(record.summary.metrics["test_rmse"], rel=1e-12)


def test_scattered_csv_fits_with_simplex_and_chebyshev(tmp_path):
    scattered(tmp_path / "xy.csv")
    target = {"data": str(tmp_path / "xy.csv")}
    simplex = run_experiment(build_config(config(target, {"kind": "simplex"})))
    s = simplex.summary
    assert (s.D, s.n_test, s.target.variables, s.target.name) == (320, 80, ("x", "y"), "xy.csv:f")
    assert s.metrics["train_rmse"] < 1e-14 and 1e-3 < s.metrics["test_rmse"] < 0.05
    assert s.metrics["outside_hull"] + s.metrics["test_points_scored"] == 80
    cheb = run_experiment(build_config(config(target, {"kind": "chebyshev"})))
    assert "least squares degree 7" in cheb.summary.model  # the largest n with (n+1)^2 ≤ 320/4
    assert cheb.summary.metrics["test_rmse"] < 1e-3 and cheb.summary.N == 64
    for record in (simplex, cheb):
        stored_rmse_matches(tmp_path, record)


def test_scattered_csv_fits_with_a_net(tmp_path):
    scattered(tmp_path / "xy.csv")
    net = run_experiment(build_config(config({"data": str(tmp_path / "xy.csv")},
                                             {"kind": "mlp", "depth": 2, "width": 16, "activation": "tanh"},
                                             [{"kind": "adam", "lr": 1e-2, "steps": 200}], standardize=True)))
    assert net.summary.D == 320 and net.summary.n_test == 80 and net.summary.metrics["test_rmse"] < 0.2
    stored_rmse_matches(tmp_path, net)


def test_a_lookup_table_takes_a_spline_and_scattered_points_are_refused_clearly(tmp_path):
    grid(tmp_path / "table.csv")
    scattered(tmp_path / "test.csv", 300, seed=1)
    target = {"data": str(tmp_path / "table.csv"), "test_data": str(tmp_path / "test.csv")}
    record = run_experiment(build_config(config(target, {"kind": "spline", "order": 3})))
    m = record.summary.metrics
    assert record.summary.D == 441 and record.summary.n_test == 300 and m["train_rmse"] < 1e-15
    assert m["test_rmse"] < 1e-4 and m["outside_hull"] == 0
    stored_rmse_matches(tmp_path, record)
    # 1-D: any distinct points are a table; a quintic through 60 uneven points of a smooth f is near exact.
    t = np.sort(np.random.default_rng(2).uniform(-1, 1, 60))
    data_files.write_table(tmp_path / "line.csv", {"t": t, "g": np.exp(t) * np.sin(2 * t)})
    line = run_experiment(build_config(config({"data": str(tmp_path / "line.csv")}, {"kind": "spline", "order": 5})))
    assert line.summary.metrics["test_rmse"] < 1e-6
    # Scattered 2-D points, or a table without a test set: one clear refusal each, before any fit.
    for target, fragment in (({"data": str(tmp_path / "test.csv")}, "these 300 points of test.csv are scattered"),
                             ({"data": str(tmp_path / "table.csv")}, "give target.test_data")):
        with pytest.raises(ConfigError, match=fragment):
            preflight([build_config(config(target, {"kind": "spline"}))])


def test_holdout_is_seeded_by_the_data_key_and_partitions_the_rows(tmp_path):
    scattered(tmp_path / "xy.csv", 101)
    cfg = build_config(config({"data": str(tmp_path / "xy.csv")}, {"kind": "simplex"}))
    target = resolve_target(cfg)
    a, b = (data_target.dataset(target, run_keys(s).data, "auto", 30000) for s in (0, 0))
    c = data_target.dataset(target, run_keys(1).data, "auto", 30000)
    assert np.array_equal(a.x_train, b.x_train) and not np.array_equal(a.x_train, c.x_train)
    assert (a.n_train, a.n_test) == (81, 20)
    rows = {tuple(r) for r in np.asarray(target.data.train.x)}
    train, test = ({tuple(r) for r in np.asarray(x)} for x in (a.x_train, a.x_test))
    assert train | test == rows and not train & test
    # train_points takes a subset of the training rows, test_points caps the test rows; run_data agrees.
    small = data_target.dataset(target, run_keys(0).data, 30, 7)
    assert (small.n_train, small.n_test) == (30, 7) and {tuple(r) for r in np.asarray(small.x_train)} <= train
    same = run_data(build_config(config({"data": str(tmp_path / "xy.csv")}, {"kind": "simplex"},
                                        train_points=30, test_points=7)), target, 0)
    assert np.array_equal(same.x_train, small.x_train) and np.array_equal(same.y_test, small.y_test)
    with pytest.raises(ConfigError, match="has 81 training rows"):
        data_target.point_counts(target, 82, 10)


def test_npz_and_npy_layouts(tmp_path):
    xy = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    np.savez(tmp_path / "cols.npz", a=xy[:, 0], b=xy[:, 1], out=f(*xy.T))
    np.savez(tmp_path / "xy.npz", x=xy, y=f(*xy.T)[:, None])
    np.save(tmp_path / "table.npy", np.column_stack([xy, f(*xy.T)]))
    assert data_files.file_columns(tmp_path / "cols.npz") == ("a", "b", "out")
    for name in ("xy.npz", "table.npy"):
        assert data_files.file_columns(tmp_path / name) == ("x0", "x1", "y")
    tables = [data_files.read_table(tmp_path / n) for n in ("cols.npz", "xy.npz", "table.npy")]
    for table in tables:
        assert np.array_equal(table.x, xy) and np.array_equal(table.y, f(*xy.T))
    # write_table's .npz bytes depend on the numbers only (numpy.savez stamps the time): same data, same run ids.
    data_files.write_table(tmp_path / "w.npz", {"a": xy[:, 0], "out": f(*xy.T)})
    first = (tmp_path / "w.npz").read_bytes()
    os.utime(tmp_path / "w.npz", ns=(1, 1))
    data_files.write_table(tmp_path / "w.npz", {"a": xy[:, 0], "out": f(*xy.T)})
    assert (tmp_path / "w.npz").read_bytes() == first and data_files.read_table(tmp_path / "w.npz").inputs == ("a",)
    chosen = data_files.read_table(tmp_path / "cols.npz", inputs=["b"], output="out")
    assert chosen.inputs == ("b",) and np.array_equal(chosen.x[:, 0], xy[:, 1])
    # A savetxt file with its "# " header, blank lines and comments reads as the same numbers.
    np.savetxt(tmp_path / "saved.csv", np.column_stack([xy, f(*xy.T)]), delimiter=",", header="x,y,f")
    text = (tmp_path / "saved.csv").read_text().splitlines()
    (tmp_path / "saved.csv").write_text("\n".join(text[:3] + ["", "# a comment"] + text[3:]) + "\n")
    saved = data_files.read_table(tmp_path / "saved.csv")
    assert saved.inputs == ("x", "y") and np.allclose(saved.x, xy, rtol=1e-15) and saved.n == 50


def test_input_points_are_read_by_the_table_reader(tmp_path):
    """``prec predict``'s points go through the same reader as a data target's rows: the same numbers, the
    same savetxt headers and comments, the same one-line refusals; only the header and the output are optional."""
    xy = np.random.default_rng(1).uniform(-1, 1, (30, 2))
    data_files.write_table(tmp_path / "rows.csv", {"f": f(*xy.T), "y": xy[:, 1], "x": xy[:, 0]})
    table = data_files.read_table(tmp_path / "rows.csv", inputs=["x", "y"], output="f")
    points = data_files.read_points(tmp_path / "rows.csv", ["x", "y"])
    assert np.array_equal(points, table.x) and np.array_equal(points, xy)
    (tmp_path / "plain.txt").write_text("".join(f"{a!r},{b!r}\n" for a, b in xy.tolist()))  # no header, any suffix
    assert np.array_equal(data_files.read_points(tmp_path / "plain.txt", ["x", "y"]), xy)
    np.savetxt(tmp_path / "saved.csv", xy, delimiter=",", header="x,y")
    text = (tmp_path / "saved.csv").read_text().splitlines()
    (tmp_path / "saved.csv").write_text("\n".join(text[:2] + ["# a comment", ""] + text[2:]) + "\n")
    assert np.array_equal(data_files.read_points(tmp_path / "saved.csv", ["x", "y"]), xy)
    np.savez(tmp_path / "cols.npz", y=xy[:, 1], x=xy[:, 0])
    np.save(tmp_path / "x.npy", xy)
    for name in ("cols.npz", "x.npy"):
        assert np.array_equal(data_files.read_points(tmp_path / name, ["x", "y"]), xy)
    (tmp_path / "bad.csv").write_text("x,y\n0.5,0.25\n0.1,abc\n")
    for read in (lambda p: data_files.read_table(p, ["x"], "y"), lambda p: data_files.read_points(p, ["x", "y"])):
        with pytest.raises(ConfigError, match=r"bad.csv: row 2 \(line 3\), column 'y': 'abc' is not a number"):
            read(tmp_path / "bad.csv")
    with pytest.raises(ConfigError, match="3 columns and no header, but 2 are needed"):
        (tmp_path / "wide.csv").write_text("1,2,3\n")
        data_files.read_points(tmp_path / "wide.csv", ["x", "y"])


def test_exact_duplicate_rows_are_kept_once(tmp_path):
    (tmp_path / "d.csv").write_text("x,f\n0,0\n1,1\n0,0\n2,4\n")
    table = data_files.read_table(tmp_path / "d.csv")
    assert table.n == 3 and table.dropped_duplicates == 1 and list(table.rows) == [1, 2, 4]


# --------------------------------------------------------------------------- paths and identity


def test_relative_paths_resolve_against_the_file_that_wrote_them(tmp_path, monkeypatch):
    project = tmp_path / "project"
    scattered(project / "data" / "xy.csv")
    scattered(tmp_path / "elsewhere.csv", seed=3)
    cfg_file = write_yaml(project / "configs" / "run.yaml",
                          config({"data": "../data/xy.csv"}, {"kind": "simplex"}))
    monkeypatch.chdir(tmp_path)
    cfg = load_config(cfg_file)
    assert cfg.target.data == str(project / "data" / "xy.csv")
    assert (cfg.target.inputs, cfg.target.output) == (("x", "y"), "f")
    assert cfg.target.data_sha256 == hashlib.sha256((project / "data" / "xy.csv").read_bytes()).hexdigest()
    # An override is typed in the shell, so it is relative to the working directory.
    assert load_config(cfg_file, ["target.data=elsewhere.csv"]).target.data == str(tmp_path / "elsewhere.csv")
    # A sweep: the base file's path against the base file, axis values against the spec.
    spec = write_yaml(tmp_path / "sweeps" / "s.yaml", {"base": "../project/configs/run.yaml",
                                                       "grid": {"target.data": ["../elsewhere.csv"], "seed": [0, 1]}})
    runs = sw.expand(sw.load_sweep(spec))
    assert {r.config.target.data for r in runs} == {str(tmp_path / "elsewhere.csv")}
    plain = sw.expand(sw.load_sweep(write_yaml(tmp_path / "sweeps" / "t.yaml",
                                               {"base": "../project/configs/run.yaml", "grid": {"seed": [0]}})))
    assert plain[0].config.target.data == str(project / "data" / "xy.csv")


def test_the_run_id_follows_the_file_content_not_its_path(tmp_path):
    scattered(tmp_path / "a.csv")
    data = config({"data": str(tmp_path / "a.csv")}, {"kind": "simplex"})
    first = build_config(data)
    shutil.copy(tmp_path / "a.csv", tmp_path / "moved.csv")
    moved = build_config(config({"data": str(tmp_path / "moved.csv")}, {"kind": "simplex"}))
    assert store.run_id(moved) == store.run_id(first)
    explicit = build_config(config({"data": str(tmp_path / "a.csv"), "inputs": ["x", "y"], "output": "f"},
                                   {"kind": "simplex"}))
    assert store.run_id(explicit) == store.run_id(first)  # the defaults are filled in
    swapped = build_config(config({"data": str(tmp_path / "a.csv"), "inputs": ["y", "x"]}, {"kind": "simplex"}))
    assert store.run_id(swapped) != store.run_id(first)
    scattered(tmp_path / "a.csv", seed=9)  # the file changes: a new run
    os.utime(tmp_path / "a.csv", ns=(1, 1))
    changed = build_config(data)
    assert changed.target.data_sha256 != first.target.data_sha256 and store.run_id(changed) != store.run_id(first)
    # The first run's config, read back later, no longer matches the file: refused, naming it.
    with pytest.raises(ConfigError, match="a.csv is not the file the config"):
        resolve_target(build_config(to_dict(first)))


@pytest.mark.parametrize("path", ["quickstart.yaml", "precision/teacher_student.yaml", "precision/x_squared.yaml",
                                  "classical/simplex_I.30.5.yaml", "modular/I.8.14_modular.yaml"])
def test_configs_from_before_the_new_keys_keep_their_run_ids(path):
    """Keys added since runs were first written (data targets, sampling, the matrix-free solvers' options)
    are out of the id while they do what their absence did, so an existing store's runs stay complete."""
    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / path)
    old = to_dict(cfg)
    old.pop("output")
    for key in ("data", "inputs", "output", "test_data", "data_sha256", "test_data_sha256"):
        old["target"].pop(key)
    old["data"].pop("sampling")
    for stage in old["train"] + (old["boost"]["train"] if old.get("boost") else []):
        if stage["kind"] == "lcs":
            stage.pop("solver"), stage.pop("lanczos_steps")
        if stage["kind"] == "lm":
            stage.pop("cg_maxiter"), stage.pop("cg_tol"), stage.pop("cg_forcing")
    text = json.dumps(old, sort_keys=True, separators=(",", ":"))
    assert store.run_id(cfg) == hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- refusals


BAD_FILES = {
    "nonnumeric.csv": ("x,y,f\n1,2,3\n1.5,abc,4\n2,3,5\n", ["row 2 (line 3), column 'y': 'abc' is not a number"]),
    "empty_cell.csv": ("x,y,f\n1,2,3\n1.5,,4\n2,3,5\n", ["row 2 (line 3), column 'y': an empty cell"]),
    "nonfinite.csv": ("x,y,f\n1,2,3\n1.5,2,nan\n2,3,inf\n3,4,5\n",
                      ["non-finite values in 2 rows", "row 2 (line 3): f = nan", "row 3 (line 4): f = inf"]),
    "conflict.csv": ("x,y,f\n0,0,0\n1,0,1\n0,1,1\n1,0,2\n0.5,0.5,1\n",
                     ["row 2 (line 3) and row 4 (line 5) have the same inputs (x = 1.0, y = 0.0)",
                      "(f = 1.0 vs 2.0)"]),
    "noheader.csv": ("1,2,3\n4,5,6\n", ["holds numbers, not column names"]),
    "ragged.csv": ("x,y,f\n1,2\n", ["row 1 (line 2) has 2 cells, the header has 3 columns"]),
    "constant.csv": ("x,y,f\n1,0,3\n1,1,4\n1,2,5\n", ["input 'x' is 1.0 in every row"]),
    "tiny.csv": ("x,f\n0,1\n1,2\n", ["has 2 distinct rows; 1 held out for testing leaves 1", "at least 2"]),
    "table.xlsx": ("x,f\n", ["unsupported data file type '.xlsx'"]),
}


@pytest.mark.parametrize("target, fragments", [
    *[({"data": name}, fragments) for name, (_, fragments) in BAD_FILES.items()],
    ({"data": "missing.csv"}, ["target.data: no such file", "missing.csv"]),
    ({"data": "good.csv", "inputs": ["x", "z"]}, ["target.inputs: no column 'z' in good.csv (its columns: x, y, f)"]),
    ({"data": "good.csv", "output": "g"}, ["target.output: no column 'g'"]),
    ({"data": "good.csv", "output": ["f", "y"]}, ["target.output: prec fits one output column; got 2 (f, y)"]),
    ({"data": "good.csv", "inputs": ["x", "f"], "output": "f"}, ["column 'f' is both an input and the output"]),
    ({"data": "two_outputs.npz"}, ["y has 2 columns; prec fits one output column"]),
    ({"data": "good.csv", "test_data": "missing.csv"}, ["target.test_data: no such file"]),
    ({"data": "good.csv", "test_data": "nonfinite.csv"}, ["target.test_data: nonfinite.csv: non-finite"]),
])
def test_bad_data_is_refused_in_one_line_with_exit_status_2(tmp_path, target, fragments):
    for name, (text, _) in BAD_FILES.items():
        (tmp_path / name).write_text(text)
    scattered(tmp_path / "good.csv", 40)
    np.savez(tmp_path / "two_outputs.npz", x=np.zeros((5, 2)), y=np.zeros((5, 2)))
    cfg = write_yaml(tmp_path / "cfg.yaml", config(target, {"kind": "mlp", "depth": 2, "width": 4},
                                                   [{"kind": "adam", "steps": 5}]))
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "store")])
    refused(result, str(cfg), *fragments)
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("model, data, fragment", [
    ({"kind": "simplex"}, {"data": "three.csv"}, "needs at least d + 1 = 3 training points; three.csv gives 2"),
    ({"kind": "spline"}, {"data": "good.csv"}, "spline needs data on a full tensor grid"),
    ({"kind": "chebyshev", "degree": 9}, {"data": "good.csv"}, "degree 9 has 100 coefficients but there are 32"),
    ({"kind": "chebyshev"}, {"data": "wide.csv"}, "supports d ≤ 3"),
])
def test_too_few_or_unsuitable_points_for_the_model_are_refused(tmp_path, model, data, fragment):
    (tmp_path / "three.csv").write_text("x,y,f\n0,0,0\n1,0,1\n0,1,1\n")
    scattered(tmp_path / "good.csv", 40)
    rows = np.random.default_rng(0).uniform(size=(20, 5))
    data_files.write_table(tmp_path / "wide.csv", {f"x{i}": rows[:, i] for i in range(5)})
    cfg = write_yaml(tmp_path / "cfg.yaml", config(data, model))
    refused(CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "store")]), fragment)


def test_a_refusal_from_a_fresh_process_has_no_traceback(tmp_path):
    import subprocess
    import sys

    (tmp_path / "bad.csv").write_text("x,f\n1,2\n2,oops\n3,4\n")
    cfg = write_yaml(tmp_path / "cfg.yaml", config({"data": "bad.csv"}, {"kind": "simplex"}))
    result = subprocess.run([sys.executable, "-m", "cli", "run", str(cfg), "--out", str(tmp_path / "store")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        f"prec: error: {cfg}: target.data: bad.csv: row 2 (line 3), column 'f': 'oops' is not a number"]


def test_the_shipped_example_configs_read():
    cfg = load_config(ROOT / "configs" / "examples" / "own_data.yaml")
    assert cfg.target.data == str(ROOT / "configs" / "examples" / "xy_samples.csv")
    simplex = load_config(ROOT / "configs" / "examples" / "own_data_simplex.yaml")
    assert simplex.target == cfg.target
    target = resolve_target(cfg)
    assert target.variables == ("x", "y") and target.data.train.n == 800
    xy = target.data.train.x
    assert np.array_equal(target.data.train.y, f(xy[:, 0], xy[:, 1]))
