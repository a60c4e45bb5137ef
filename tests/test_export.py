"""`prec predict` and `prec export`: stored models evaluated from files, and standalone artifacts.

Every model kind gets a tiny real run (module-scoped, written to a temporary
store). `prec predict` must give the in-memory model's values bit for bit; the
exported .py, run in a subprocess where jax cannot be imported, must agree with
it to 1e-15 relative (max |Δ| over max |prediction|; in practice bit for bit);
the npz must have the documented layout; bad input is one line and exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from precision_jax.experiment import build_config
from precision_jax.models import mlp
from precision_jax.runs import store
from precision_jax.runs.training import run_experiment
from precision_jax.use import export, export_runtime

TOLERANCE = 1e-15
PLANE = {"formula": "sin(3*x)*exp(y)", "variables": {"x": [-1, 1], "y": [0, 1]}}
LINE = {"formula": "sin(3*x)", "variables": {"x": [-1, 1]}}
ADAM = [{"kind": "adam", "lr": 1e-2, "steps": 20}]

RUNS = {
    # name: (target, data, model, train, boost). One net run covers modular nets (a 1-input and a 2-input
    # module), a boosting round with a dense net, and standardized inputs; interpolants are cheap.
    "net": (PLANE, {"train_points": 100, "test_points": 100, "standardize": True},
            {"kind": "modular", "activation": "silu",
             "modules": [{"name": "A", "inputs": ["x"], "depth": 2, "width": 5},
                         {"name": "B", "inputs": ["A", "y"], "depth": 3, "width": 6}]}, ADAM,
            {"rounds": 1, "model": {"kind": "mlp", "depth": 3, "width": 8, "activation": "softplus"},
             "train": [{"kind": "adam", "lr": 1e-2, "steps": 10}]}),
    "simplex_1d": (LINE, {"train_points": 40, "test_points": 50}, {"kind": "simplex"}, [], None),
    "simplex_2d": (PLANE, {"train_points": 120, "test_points": 50}, {"kind": "simplex"}, [], None),
    "spline_1d": (LINE, {"train_points": 30, "test_points": 50}, {"kind": "spline", "order": 5}, [], None),
    "spline_2d": (PLANE, {"train_points": 64, "test_points": 50}, {"kind": "spline", "order": 3}, [], None),
    "spline_2d_linear": (PLANE, {"train_points": 64, "test_points": 50}, {"kind": "spline", "order": 1}, [], None),
    "chebyshev_2d": (PLANE, {"train_points": 64, "test_points": 50}, {"kind": "chebyshev"}, [], None),
}
INTERPOLANTS = {"simplex_1d", "simplex_2d", "spline_1d", "spline_2d", "spline_2d_linear", "chebyshev_2d"}

runner = CliRunner()


def config(name: str, root) -> dict:
    target, data, model, train, boost = RUNS[name]
    cfg = {"name": name, "seed": 0, "target": target, "data": data, "model": model, "train": train,
           "output": {"dir": str(root), "log_every": 10}}
    if boost:
        cfg["boost"] = boost
    return cfg


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """name -> run directory, one tiny complete run per model kind."""
    root = tmp_path_factory.mktemp("store")
    return {name: store.write_run(root, run_experiment(build_config(config(name, root)))) for name in RUNS}


def points(run, n: int = 400, seed: int = 1, margin: float = 0.0) -> np.ndarray:
    """n points in the run's box (widened by ``margin`` of its size on each side)."""
    target = store.read_summary(run).target
    lows, highs = np.array(target.lows), np.array(target.highs)
    u = np.random.default_rng(seed).uniform(-margin, 1 + margin, size=(n, target.d))
    return lows + (highs - lows) * u


def normwise(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| / max |b| over points where both are finite; NaN patterns must agree."""
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = np.isfinite(b)
    return float(np.max(np.abs(a[ok] - b[ok])) / np.max(np.abs(b[ok])))


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def read_csv(text: str) -> tuple[list[str], np.ndarray]:
    lines = text.strip().splitlines()
    return lines[0].split(","), np.array([[float(v) for v in line.split(",")] for line in lines[1:]])


# --------------------------------------------------------------------------- numerics of the runtime


def test_activations_match_jax_bit_for_bit():
    import jax

    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(size=20000) * 4, rng.normal(size=2000) * 1e-4, rng.uniform(-800, 800, 2000),
                        [0.0, -0.0, 1e-300, 5e-324, 17.7, -17.7, 20.0, -20.0, 708.4, 709.8, -708.4, -709.8,
                         1e308, -1e308, np.inf, -np.inf, np.nan]])
    for name, f in mlp.ACTIVATIONS.items():
        expected = np.asarray(jax.jit(f)(z))
        got = export_runtime.ACTIVATIONS[name](z)
        same = (got == expected) | (np.isnan(got) & np.isnan(expected))
        assert same.all(), f"{name}: {np.count_nonzero(~same)} values differ, e.g. at {z[~same][:3]}"


def test_fma_is_correctly_rounded():
    from fractions import Fraction

    rng = np.random.default_rng(2)
    a, b, c = rng.normal(size=(3, 3000))
    c *= rng.choice([1e-20, 1.0, 1e20], size=3000)
    got = export_runtime.fma(a, b, c)
    assert all(float(Fraction(p) * Fraction(q) + Fraction(r)) == g for p, q, r, g in zip(a, b, c, got))


@pytest.mark.parametrize("widths", [(2, 5, 7, 3, 1), (3, 30, 30, 1)])
def test_dense_nets_match_jax(widths):
    import jax

    params = mlp.init_mlp(jax.random.PRNGKey(sum(widths)), widths)
    x = np.random.default_rng(3).uniform(-2, 2, size=(300, widths[0]))
    expected = np.asarray(jax.jit(lambda p, x: mlp.mlp_apply(p, x, "tanh"))(params, x))
    got = export_runtime.dense_net([(np.asarray(w), np.asarray(b)) for w, b in params], x, "tanh")
    assert normwise(got, expected) <= TOLERANCE


# --------------------------------------------------------------------------- prec predict


@pytest.mark.parametrize("name", list(RUNS))
def test_predict_csv_gives_the_stored_model_bit_for_bit(runs, tmp_path, name):
    run = runs[name]
    model = store.load_model(run)
    x = points(run, 50, margin=0.05)
    csv_in = tmp_path / "points.csv"
    # Columns by name from a header, in any order, with a column the run does not use.
    header = ["extra"] + list(reversed(model.variables))
    rows = [[repr(7.0)] + [repr(float(v)) for v in row[::-1]] for row in x]
    csv_in.write_text(",".join(header) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    out = tmp_path / "out.csv"
    result = invoke("predict", run, csv_in, "--out", out)
    assert result.exit_code == 0, result.output
    names, table = read_csv(out.read_text())
    assert names == list(model.variables) + ["prediction"]
    assert np.array_equal(table[:, :-1], x)  # inputs round-trip exactly
    expected = model(x)
    assert np.array_equal(table[:, -1], expected, equal_nan=True)
    if name in INTERPOLANTS and (x.min(axis=0) < np.array(store.read_summary(run).target.lows)).any():
        assert "outside the box" in result.stderr


def test_predict_without_header_npz_and_stdout(runs, tmp_path):
    run = runs["chebyshev_2d"]
    model = store.load_model(run)
    x = points(run, 20)
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(f"{a!r},{b!r}" for a, b in x.tolist()) + "\n")
    npz_columns, npz_x = tmp_path / "columns.npz", tmp_path / "x.npz"
    np.savez(npz_columns, y=x[:, 1], x=x[:, 0])
    np.savez(npz_x, x=x)
    np.save(tmp_path / "x.npy", x)
    for source in (plain, npz_columns, npz_x, tmp_path / "x.npy"):
        result = invoke("predict", run, source)
        assert result.exit_code == 0, result.output
        names, table = read_csv(result.stdout)
        assert names == ["x", "y", "prediction"]
        assert np.array_equal(table[:, 2], model(x))


@pytest.mark.parametrize("name", list(RUNS))
def test_predict_grad_matches_finite_differences(runs, name):
    run = runs[name]
    model = store.load_model(run)
    x = points(run, 60, seed=5, margin=-0.05)  # inside the box, away from its faces
    _, table = export.prediction_table(model, x, "f", grad=True)
    grad = table[:, model.d + 1:]
    h = 1e-6
    for i in range(model.d):
        step = np.zeros(model.d)
        step[i] = h
        numeric = (model(x + step) - model(x - step)) / (2 * h)
        close = np.abs(grad[:, i] - numeric) <= 1e-5 * (1 + np.abs(numeric))
        # Piecewise-linear models: a difference across a kink is not the piece's slope.
        assert close.mean() >= (0.85 if name in {"simplex_1d", "simplex_2d", "spline_2d_linear"} else 1.0), name


# --------------------------------------------------------------------------- prec export


def test_exported_python_reproduces_predict_without_jax(runs, tmp_path):
    """Every kind, exported to .py, run where `import jax` fails: within 1e-15 relative of prec predict."""
    cases = {}
    for name, run in runs.items():
        path = export.export_run(run, "python", tmp_path / f"{name}.py")
        x = points(run, 300, seed=7, margin=0.05)
        np.save(tmp_path / f"{name}_x.npy", x)
        cases[name] = (path, store.load_model(run)(x))
    script = textwrap.dedent(f"""
        import importlib.util, json, sys
        sys.modules["jax"] = None  # any import of jax now fails
        import numpy as np
        out = {{}}
        for name in {sorted(cases)!r}:
            spec = importlib.util.spec_from_file_location(name, {str(tmp_path)!r} + "/" + name + ".py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            x = np.load({str(tmp_path)!r} + "/" + name + "_x.npy")
            np.save({str(tmp_path)!r} + "/" + name + "_y.npy", module.predict(x))
            np.save({str(tmp_path)!r} + "/" + name + "_y1.npy", module.predict(x[0]))  # one point, shape (d,)
            np.save({str(tmp_path)!r} + "/" + name + "_y4.npy", module.predict(x[:4]))
            out[name] = sorted(k for k, m in sys.modules.items()
                               if m is not None and k.split(".")[0] in ("jax", "jaxlib", "precision_jax"))
        print(json.dumps(out))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    for name, (_, expected) in cases.items():
        assert imported[name] == [], f"{name} imported {imported[name]}"
        assert normwise(np.load(tmp_path / f"{name}_y.npy"), expected) <= TOLERANCE, name
        for small in (1, 4):  # other batch shapes take other XLA kernels; still within the tolerance
            expected_small = store.load_model(runs[name])(np.load(tmp_path / f"{name}_x.npy")[:small])
            assert normwise(np.load(tmp_path / f"{name}_y{small}.npy"), expected_small) <= TOLERANCE, name


def test_exported_python_runs_as_a_script(runs, tmp_path):
    run = runs["simplex_1d"]
    path = export.export_run(run, "python", tmp_path / "model.py")
    x = points(run, 5)
    (tmp_path / "in.csv").write_text("x\n" + "\n".join(repr(v) for v in x[:, 0].tolist()) + "\n")
    result = subprocess.run([sys.executable, "-I", str(path), str(tmp_path / "in.csv")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names, table = read_csv(result.stdout)
    assert names == ["x", "prediction"] and np.array_equal(table[:, 1], store.load_model(run)(x))


def test_npz_export_has_the_documented_layout(runs, tmp_path):
    for name in ("net", "spline_2d"):
        run = runs[name]
        result = invoke("export", run, "--to", "npz", "--out", tmp_path / f"{name}.npz")
        assert result.exit_code == 0, result.output
        with np.load(tmp_path / f"{name}.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        assert str(arrays["format"]) == "prec-export" and int(arrays["format_version"]) == 1
        record = store.read_run(run, extra=False)
        assert list(arrays["variables"]) == list(record.summary.target.variables)
        assert list(arrays["kinds"]) == [p.model.kind for p in record.parts]
        assert np.array_equal(arrays["coefficients"], [p.coefficient for p in record.parts])
        x = points(run, 100)
        assert np.array_equal(export_runtime.load_npz(tmp_path / f"{name}.npz")(x), store.load_model(run)(x),
                              equal_nan=True)
        if name == "net":  # modular A(x) → B(A, y), then a boosting round with a 2-8-8-1 net
            assert list(arrays["kinds"]) == ["modular", "mlp"]
            assert np.array_equal(arrays["input_shift"], record.input_shift)
            assert list(arrays["part_0/modules"]) == ["A", "B"] and str(arrays["part_0/output"]) == "B"
            assert list(arrays["part_0/inputs_1"]) == ["A", "y"] and arrays["part_0/m1/W_0"].shape == (2, 6)
            assert arrays["part_0/m0/W_0"].shape == (1, 5) and str(arrays["part_0/activation"]) == "silu"
            assert int(arrays["part_1/layers"]) == 3 and arrays["part_1/W_0"].shape == (2, 8)
            assert arrays["part_1/W_2"].shape == (8, 1) and arrays["part_1/b_2"].shape == (1,)
        if name == "spline_2d":
            assert arrays["part_0/c"].shape == (8, 8) and int(arrays["part_0/order"]) == 3


# --------------------------------------------------------------------------- errors


def test_bad_input_is_one_line_and_exit_2(runs, tmp_path):
    run = runs["net"]
    files = {
        "missing_column.csv": "x,z\n0.1,0.2\n",
        "columns.csv": "0.1,0.2,0.3\n",
        "cell.csv": "x,y\n0.1,0.2\n0.3,abc\n",
        "nonfinite.csv": "x,y\n0.1,0.2\n0.3,nan\n",
        "empty.csv": "",
        "header_only.csv": "x,y\n",
        "ragged.csv": "x,y\n0.1,0.2\n0.3\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    np.savez(tmp_path / "unnamed.npz", a=np.zeros(3), b=np.zeros(3))
    np.save(tmp_path / "wide.npy", np.zeros((4, 3)))
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    cases = [
        (("predict", tmp_path / "no_such_run", tmp_path / "cell.csv"), "no such run directory"),
        (("predict", run.parent, tmp_path / "cell.csv"), "not a prec run directory"),
        (("predict", run, tmp_path / "nope.csv"), "no such file"),
        (("predict", run, tmp_path / "missing_column.csv"), "no column 'y'"),
        (("predict", run, tmp_path / "columns.csv"), "3 columns and no header"),
        (("predict", run, tmp_path / "cell.csv"), "row 2 (line 3), column 'y': 'abc' is not a number"),
        (("predict", run, tmp_path / "nonfinite.csv"), "non-finite values (nan or inf) at lines 3"),
        (("predict", run, tmp_path / "empty.csv"), "empty.csv is empty"),
        (("predict", run, tmp_path / "header_only.csv"), "header_only.csv has no data rows"),
        (("predict", run, tmp_path / "ragged.csv"), "row 2 (line 3) has 1 cells, the header has 2 columns"),
        (("predict", run, tmp_path / "unnamed.npz"), "no arrays named x, y"),
        (("predict", run, tmp_path / "wide.npy"), "has shape (4, 3)"),
        (("predict", run, tmp_path / "broken.npz"), "not a readable .npz file"),
        (("export", run, "--to", "onnx"), "--to must be one of python, npz"),
        (("export", tmp_path / "no_such_run", "--to", "python"), "no such run directory"),
    ]
    for args, message in cases:
        result = invoke(*args)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2, (args, result.output)
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output, (args, lines)
