"""`prec guide`: d, d*, smoothness, scale and floor; the paper's recommendation; --write; --probe."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from precision_jax.analysis import guide
from precision_jax.config.engine import ConfigError
from precision_jax.experiment import load_config
from precision_jax.problems.formula import parse_formula

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOX5 = {k: (-1.0, 1.0) for k in "abcde"}


def prec(*args: str, cwd: str = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": ROOT})


def arity(text: str, variables: str) -> int:
    return guide.computation_arity(parse_formula(text, tuple(variables.split())))


def test_arity_counts_binary_operations_not_terms():
    assert arity("x1*y1+x2*y2+x3*y3", "x1 y1 x2 y2 x3 y3") == 2
    assert arity("a*b*c*d*e", "a b c d e") == 2          # a product of five is a tree of binary products
    assert arity("exp(sin(x))*x**2", "x") == 1           # every node depends on x alone
    assert arity("3*pi", "x") == 0
    assert arity("sqrt((x2-x1)**2+(y2-y1)**2)", "x1 x2 y1 y2") == 2


def test_module_graph_is_the_papers_wiring():
    a = guide.analyze("I.8.14")
    assert [(m.inputs, m.linear) for m in a.graph] == [(("x2", "x1"), False), (("y2", "y1"), False),
                                                        (("g1", "g2"), False)]
    b = guide.analyze("I.11.19")
    assert [m.inputs for m in b.graph[:3]] == [("x1", "y1"), ("x2", "y2"), ("x3", "y3")]
    assert b.graph[3].inputs == ("g1", "g2", "g3") and b.graph[3].linear


@pytest.mark.parametrize("spec, variables", [("Z.001", None), ("exp(sin(x))", {"x": (-1.0, 1.0)})])
def test_smooth_1d_target_gets_chebyshev_or_spline(spec, variables):
    a = guide.analyze(spec, variables)
    rec = guide.recommend(a)
    assert (a.d, a.d_star, a.smooth.verdict) == (1, 1, guide.SMOOTH)
    assert rec.method.key in ("chebyshev", "spline")
    assert {c.key for c in rec.candidates} >= {"chebyshev", "spline", "simplex"}


def test_scale_and_floor_of_x_squared():
    a = guide.analyze("Z.001")                            # x² on [-1, 1]: RMS √(1/5)
    assert a.scale_rms == pytest.approx(np.sqrt(0.2), rel=0.02) and a.scale_max == pytest.approx(1.0)
    assert a.floor == pytest.approx(guide.EPS * a.scale_rms)


def test_5d_sum_of_products_gets_a_network_with_arity_2():
    a = guide.analyze("a*b+c*d+e", BOX5)
    rec = guide.recommend(a)
    assert (a.d, a.d_star) == (5, 2)
    assert rec.method.key in ("modular", "net") and rec.method.exponent == pytest.approx(-1.0)
    simplex = next(c for c in rec.candidates if c.key == "simplex")
    assert simplex.exponent == pytest.approx(-2 / 5)
    assert rec.config["model"]["kind"] == "modular"      # wired as g1(a, b), g2(c, d) → linear(g1, g2, e)
    assert guide.analyze("I.12.11").d_star == 2 and guide.recommend(guide.analyze("I.12.11")).method.key == "modular"


def test_kinks_and_singularities():
    rough = guide.analyze("abs(x)", {"x": (-1.0, 1.0)})
    assert rough.smooth.verdict == guide.NOT_SMOOTH and guide.recommend(rough).method.key == "simplex"
    # abs of something that keeps its sign on the box is smooth there
    assert guide.analyze("abs(x)+y", {"x": (1.0, 2.0), "y": (0.0, 1.0)}).smooth.verdict == guide.SMOOTH
    edge = guide.analyze("sqrt(x)", {"x": (0.0, 1.0)})
    assert edge.smooth.verdict == guide.EDGE and "edge" in edge.smooth.notes[0]
    cone = guide.analyze("sqrt(x**2+y**2)", {"x": (-1.0, 1.0), "y": (-1.0, 1.0)})
    assert cone.smooth.verdict == guide.NOT_SMOOTH and "inside" in cone.smooth.notes[0]


def test_written_config_loads_and_runs(tmp_path):
    from precision_jax.runs.training import run_experiment

    rec = guide.recommend(guide.analyze("Z.001"))
    path = guide.write_config(rec, tmp_path / "z.yaml", ["a header"])
    cfg = load_config(path)
    assert cfg.model.kind == "chebyshev" and path.read_text().startswith("# a header\n")
    assert run_experiment(cfg).summary.metrics["test_rmse"] < 1e-14  # reaches the float64 floor as promised
    with pytest.raises(ConfigError, match="--force"):
        guide.write_config(rec, path)
    guide.write_config(rec, path, force=True)


def test_cli_writes_a_valid_config(tmp_path):
    out = tmp_path / "z.yaml"
    result = prec("guide", "Z.001", "--write", str(out))
    assert result.returncode == 0, result.stderr
    assert "arity d*        1" in result.stdout and "Chebyshev" in result.stdout and "wrote" in result.stdout
    cfg = load_config(out)
    assert cfg.model.kind == "chebyshev" and cfg.target.equation == "Z.001"


@pytest.mark.parametrize("args, needle", [(["I.99.99"], "I.99.99"), (["Z.001", "--write", "{existing}"], "--force")])
def test_bad_target_or_existing_file_is_one_line_and_exit_2(tmp_path, args, needle):
    existing = tmp_path / "existing.yaml"
    existing.write_text("name: mine\n")
    result = prec("guide", *[a.format(existing=existing) for a in args])
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and needle in lines[0]
    assert existing.read_text() == "name: mine\n"


def test_other_bad_targets_are_config_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "bad.csv").write_text("x,f\n1,2\n2,oops\n")
    for spec, match in [(str(tmp_path / "notes.txt"), "not a config"), (str(tmp_path / "bad.csv"), "oops"),
                        (str(tmp_path / "missing.csv"), "no such file"), ("I.8.41", "did you mean"),
                        ("exp(", "syntax error")]:
        with pytest.raises(ConfigError, match=match):
            guide.analyze(spec, {"x": (0.0, 1.0)} if spec == "exp(" else None)


def _write_csv(path, x, f, names):
    np.savetxt(path, np.column_stack([x, f]), delimiter=",", header=",".join(names), comments="")


def test_data_file_and_config_targets(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (300, 2))
    _write_csv(tmp_path / "s.csv", x, np.exp(x[:, 0] * x[:, 1]), ["u", "v", "f"])
    a = guide.analyze(str(tmp_path / "s.csv"))
    rec = guide.recommend(a)
    assert (a.d, a.d_star, a.smooth.verdict, a.scale_from) == (2, None, guide.UNKNOWN, "the file's 300 rows")
    assert a.scale_rms == pytest.approx(np.sqrt(np.mean(np.exp(x[:, 0] * x[:, 1]) ** 2)))
    assert rec.method.key == "simplex"
    path = guide.write_config(rec, tmp_path / "fit.yaml")
    assert yaml.safe_load(path.read_text())["target"]["data"] == "s.csv"   # relative: the folder can move
    assert load_config(path).model.kind == "simplex"
    # The written config is itself a TARGET: the same analysis
    b = guide.analyze(str(path))
    assert (b.kind, b.variables, b.scale_from) == ("data", ("u", "v"), "the file's 300 rows")

    x5 = rng.uniform(-1, 1, (400, 5))
    _write_csv(tmp_path / "s5.csv", x5, x5[:, 0] * x5[:, 1] + x5[:, 2], list("abcde") + ["f"])
    rec5 = guide.recommend(guide.analyze(str(tmp_path / "s5.csv")))
    assert rec5.method.key == "net" and any("warning" in n for n in rec5.notes)
    guide.ready_config(rec5)


def test_teacher_config_target(tmp_path, small_teacher):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(small_teacher))
    a = guide.analyze(str(path))
    assert (a.kind, a.d, a.d_star, a.smooth.verdict) == ("teacher", 1, 1, guide.SMOOTH)
    guide.ready_config(guide.recommend(a))


def test_quick_probe_measures_slopes_that_match_the_expectations():
    a = guide.analyze("exp(sin(x))", {"x": (-1.0, 1.0)})
    rec = guide.recommend(a)
    results = {r.candidate.key: r for r in guide.probe(a, rec, quick=True)}
    simplex, spline, cheb = results["simplex"], results["spline"], results["chebyshev"]
    assert simplex.slope == pytest.approx(-2.0, rel=0.5) and simplex.verdict == "agrees"
    assert spline.slope < 0 and 0.5 <= spline.slope / spline.candidate.exponent <= 2
    assert cheb.slope is None or cheb.slope < -4           # spectral: steep, or at the floor already
    text = guide.format_probe(a, rec, list(results.values()), 1.0)
    assert "(expected -2): agrees" in text and "(expected -8)" in text


@pytest.mark.slow
def test_probe_of_5d_sum_of_products_shows_networks_beating_the_curse():
    a = guide.analyze("a*b+c*d+e", BOX5)
    rec = guide.recommend(a)
    results = {r.candidate.key: r for r in guide.probe(a, rec, budget_s=3600)}  # a loaded machine is slow
    for key in ("modular", "net"):
        assert results[key].slope is not None and -2.0 < results[key].slope < -0.4, results[key]
    assert results["simplex"].slope == pytest.approx(-0.4, abs=0.3)
