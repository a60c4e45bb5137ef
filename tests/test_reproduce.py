"""`prec reproduce`: figure specs are refused before work, claims are judged from numbers, and every figure of
the paper is regenerated end to end at the smoke profile (files, claim rows with numbers)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from precision_jax.analysis.figures.runs import Entry
from precision_jax.analysis.reproduce import claims, runner, spec
from precision_jax.config.engine import ConfigError

REPO = Path(__file__).resolve().parent.parent


def entry(x: float, rmse: float, seed: int = 0, **config) -> Entry:
    summary = SimpleNamespace(N=x, D=x, seed=seed, metrics={"test_rmse": rmse, "min_test_rmse": rmse})
    return Entry(Path(f"/nowhere/{x}-{seed}"), "complete", {"seed": seed, **config}, summary)


def power_law(exponent: float, sizes=(100, 200, 400, 800, 1600), seeds=(0, 1, 2), noise=0.05, **config):
    rng = np.random.default_rng(0)
    return [entry(n, 3.0 * n ** exponent * float(np.exp(noise * rng.standard_normal())), s, **config)
            for n in sizes for s in seeds]


def claim(**fields) -> spec.ClaimSpec:
    base = {"id": "c", "text": "t", "paper": "p", "rhs": None, "than": None, "tol": None, "factor": 1.0}
    base.update(fields)
    return spec.ClaimSpec(**base)


# ---------------------------------------------------------------------------------------------- claims
def test_slope_inside_its_band_is_confirmed_and_outside_refuted():
    data = {"s": claims.RunSetData(power_law(-0.5))}
    inside = claims.judge(claim(lhs={"slope": "s"}, op="within", rhs=-0.5, tol=0.075), data)
    assert inside.verdict == "confirmed" and abs(inside.ours + 0.5) < 0.075
    outside = claims.judge(claim(lhs={"slope": "s"}, op="within", rhs=-1.0, tol=0.15), data)
    assert outside.verdict == "refuted" and math.isfinite(outside.ours)


def test_slope_before_the_floor_ignores_the_floor():
    sizes = (10, 30, 100, 300, 1000, 3000, 10000, 30000)  # n^-4 meets the 1e-16 floor at 1e4
    entries = [entry(n, max(n ** -4.0, 1e-16)) for n in sizes]
    q = {"slope": "s", "floor": 1e-14}
    result = claims.evaluate(q, {"s": claims.RunSetData(entries)})
    assert result.reached and abs(result.value + 4.0) < 1e-9
    assert not claims.evaluate({"slope": "s"}, {"s": claims.RunSetData(entries)}).value < -3.9


def test_beats_claim_true_and_false():
    data = {"net": claims.RunSetData([entry(1000, 1e-3, s, **{"model.depth": d}) for s in (0, 1) for d in (2, 3)]
                                     + [entry(100, 1e-1, 0, **{"model.depth": 3})]),
            "simplex": claims.RunSetData([entry(1000, 5e-3, s) for s in (0, 1)])}
    best = {"metric": "test_rmse", "runs": "net", "at": "max", "group_by": "model.depth", "across": "min"}
    beats = claims.judge(claim(lhs=best, op="<", rhs={"metric": "test_rmse", "runs": "simplex", "at": "max"}), data)
    assert beats.verdict == "confirmed" and beats.ours == pytest.approx(1e-3)
    loses = claims.judge(claim(lhs=best, op="<", rhs={"metric": "test_rmse", "runs": "simplex"}, factor=0.1), data)
    assert loses.verdict == "refuted"


def test_median_over_seeds_and_where_filters():
    data = {"r": claims.RunSetData([entry(10, v, s, tau=t) for s, (v, t) in
                                    enumerate([(1.0, 1e-6), (2.0, 1e-6), (9.0, 1e-6), (0.5, 1e-12)])])}
    q = {"metric": "test_rmse", "runs": "r", "where": {"tau": 1e-6}}
    assert claims.evaluate(q, data).value == 2.0
    q = {"metric": "test_rmse", "runs": "r", "where": {"tau": [1e-12, 1e-6]}, "reduce": "min"}
    assert claims.evaluate(q, data).value == 0.5


def test_missing_runs_make_a_claim_not_reached_but_keep_its_number():
    data = {"a": claims.RunSetData([entry(10, 1e-3)], missing=1), "b": claims.RunSetData([entry(10, 1e-2)])}
    result = claims.judge(claim(lhs={"metric": "test_rmse", "runs": "a"}, op="<",
                                rhs={"metric": "test_rmse", "runs": "b"}), data)
    assert result.verdict == "not reached" and result.ours == pytest.approx(1e-3)


def test_a_slope_on_too_few_sizes_is_inconclusive_and_on_one_size_not_reached():
    enough = (("enough_sizes", {"min": 3}),)
    data = {"s": claims.RunSetData(power_law(-1.0, sizes=(100, 200)))}
    result = claims.judge(claim(lhs={"slope": "s"}, op="within", rhs=-1.0, tol=0.5, preconditions=enough), data)
    assert result.verdict == "inconclusive" and math.isfinite(result.ours)
    assert [(c.name, c.met) for c in result.preconditions] == [("enough sizes", False)]
    one = {"s": claims.RunSetData(power_law(-1.0, sizes=(100,)))}
    result = claims.judge(claim(lhs={"slope": "s"}, op="within", rhs=-1.0, tol=0.5, preconditions=enough), one)
    assert result.verdict == "not reached" and not math.isfinite(result.ours)


def test_first_and_last_slopes_on_the_same_sizes_are_inconclusive():
    bent = power_law(-1.0, sizes=(100, 200, 400)) + power_law(-1.0, sizes=(800, 1600, 3200), seeds=(5,))
    few = {"s": claims.RunSetData(power_law(-1.0, sizes=(100, 200, 400)))}
    flatter = claim(lhs={"slope": "s", "last": 3}, op=">", rhs={"slope": "s", "first": 3})
    result = claims.judge(flatter, few)
    assert result.verdict == "inconclusive" and "same 3 sizes" in result.reason
    assert claims.judge(flatter, {"s": claims.RunSetData(bent)}).verdict in ("confirmed", "refuted")


def test_closer_and_ratio():
    data = {"s": claims.RunSetData(power_law(-0.9)), "a": claims.RunSetData([entry(1, 1e-8)]),
            "b": claims.RunSetData([entry(1, 1e-13)])}
    assert claims.judge(claim(lhs={"slope": "s"}, op="closer", rhs=-1.0, than=-0.5), data).verdict == "confirmed"
    assert claims.judge(claim(lhs={"slope": "s"}, op="closer", rhs=-0.5, than=-1.0), data).verdict == "refuted"
    ratio = {"ratio": [{"metric": "test_rmse", "runs": "a"}, {"metric": "test_rmse", "runs": "b"}]}
    result = claims.judge(claim(lhs=ratio, op=">=", rhs=1e5), data)
    assert result.verdict == "confirmed" and result.ours == pytest.approx(1e5)


# ---------------------------------------------------------------------------------------------- specs
def test_every_shipped_figure_parses_and_plans_for_every_profile(tmp_path):
    figures = spec.list_figures()
    assert figures == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "A1", "A2", "A3", "A4",
                       "relu-x2-vs-simplex"]
    for figure in figures:
        fs = spec.load_figure(figure)
        assert fs.claims, figure
        for profile in spec.PROFILES:
            plan = runner.plan_figure(fs, profile, tmp_path)
            assert plan.runs, (figure, profile)
            for name, runs in plan.run_sets.items():
                assert all(r.config.name == f"fig{figure}-{name}" for r in runs)
                assert all(plan.path(r).parent.parent == tmp_path for r in runs)


MINIMAL = {"figure": "x1", "title": "t", "runs": {"a": {"base": {"target": {"equation": "Z.001"},
                                                                 "model": {"kind": "simplex"},
                                                                 "data": {"train_points": 10}}}},
           "panels": [{"kind": "scaling", "series": [{"runs": "a"}]}],
           "claims": [{"id": "c", "text": "t", "paper": "p", "lhs": {"slope": "a"}, "op": "within", "rhs": -2,
                       "tol": 0.1}]}


@pytest.mark.parametrize("path, value, message", [
    (("runs", "a", "bogus"), 1, "runs.a.bogus"),
    (("panels", 0, "kind"), "pie", "panels.0.kind"),
    (("panels", 0, "series", 0, "runs"), "nope", "panels.0.series.0.runs"),
    (("claims", 0, "op"), "~", "claims.0.op"),
    (("claims", 0, "lhs"), {"slope": "nope"}, "claims.0.lhs.slope"),
    (("claims", 0, "lhs"), {"metric": "test_rmse", "runs": "a", "at": "middle"}, "claims.0.lhs.at"),
    (("figure",), "../x", "figure"),
])
def test_bad_figure_specs_name_the_key(path, value, message):
    import copy

    data = copy.deepcopy(MINIMAL)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as e:
        spec.parse_figure(data, "fig.yaml")
    assert message in str(e.value) and "fig.yaml" in str(e.value)


def test_a_bad_run_config_is_refused_at_planning_naming_the_run_set(tmp_path):
    data = json.loads(json.dumps(MINIMAL))
    data["runs"]["a"]["profiles"] = {"smoke": {"set": {"model.order": 3}}}
    fs = spec.parse_figure(data, "fig.yaml")
    with pytest.raises(ConfigError) as e:
        runner.plan_figure(fs, "smoke", tmp_path)
    assert "runs.a" in str(e.value) and "smoke" in str(e.value)


def test_reproduce_cli_refuses_unknown_figure_and_profile(tmp_path):
    for args in (["nope"], ["3", "--profile", "huge"]):
        done = subprocess.run([sys.executable, "-m", "cli", "reproduce", *args, "--store", str(tmp_path / "s"),
                               "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=REPO)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------------------------------- end to end
def test_reproduce_all_smoke_draws_every_figure_and_judges_every_claim(tmp_path):
    """The CI check of issue 11: every figure, every claim row with a number, PNG and PDF non-empty;
    then a second call runs nothing (all complete) and draws again."""
    store, out = tmp_path / "store", tmp_path / "out"
    cmd = [sys.executable, "-m", "cli", "reproduce", "all", "--profile", "smoke", "--store", str(store),
           "--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for figure in spec.list_figures():
        folder = out / figure
        png, pdf = folder / "figure.png", folder / "figure.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, figure
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000, figure
        report = json.loads((folder / "report.json").read_text())
        wanted = [c.id for c in spec.load_figure(figure).claims]
        assert [c["id"] for c in report["claims"]] == wanted, figure
        for row in report["claims"]:
            assert isinstance(row["ours"], float) and math.isfinite(row["ours"]), (figure, row)
            assert row["verdict"] in claims.VERDICTS
        assert report["complete"] and report["profile"] == "smoke"
        assert not [p for p in report["panels"] if "error" in p], (figure, report["panels"])
        assert "| claim | paper | ours | verdict |" in (folder / "report.md").read_text()
    again = subprocess.run(cmd[:4] + ["3"] + cmd[5:], capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 0 and "done" not in again.stdout.replace("Fig. 3:", ""), again.stdout


def test_families_are_compared_at_the_largest_size_both_reach():
    """Modular nets that stop at N = 1,000 are not compared with dense nets at N = 4,000: both are read at
    N = 1,000, the dense one interpolated log–log between its sizes."""
    data = {"modular": claims.RunSetData([entry(n, 10.0 / n) for n in (100, 1000)]),
            "dense": claims.RunSetData([entry(n, 1.0 / n ** 0.6) for n in (250, 4000)])}
    q = {"metric": "test_rmse", "runs": "dense", "at": "common", "with": "modular"}
    dense = claims.evaluate(q, data)
    assert dense.reached and dense.value == pytest.approx(1000 ** -0.6, rel=1e-12)
    result = claims.judge(claim(lhs={"metric": "test_rmse", "runs": "modular", "at": "common", "with": "dense"},
                                op="<", rhs=q), data)
    assert result.verdict == "confirmed" and result.ours == pytest.approx(1e-2)
    at_max = claims.judge(claim(lhs={"metric": "test_rmse", "runs": "modular", "at": "max"}, op="<",
                                rhs={"metric": "test_rmse", "runs": "dense", "at": "max"}), data)
    assert at_max.verdict == "refuted"  # what comparing unequal sizes would have said
