"""The judge's preconditions: a claim is confirmed or refuted only by runs that could have confirmed it.

Run sets are built in memory (entries with a typed-enough summary) with each trained run's learning curve
written as a real ``curve.csv``, so the converged check reads curves as it does from a store.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from precision_jax.analysis.figures.runs import Entry
from precision_jax.analysis.reproduce import claims, preconditions, report, spec
from precision_jax.config.engine import ConfigError
from precision_jax.runs import store

STEPS = 1000


def write_curve(folder: Path, rmse_at) -> None:
    """A one-stage Adam curve logged every 100 steps, train RMSE ``rmse_at(step)``."""
    folder.mkdir(parents=True)
    rows = [",".join(store.CURVE_FIELDS)]
    for step in range(0, STEPS + 1, 100):
        values = {"round": 0, "stage": 0, "kind": "adam", "step": step, "train_rmse": repr(rmse_at(step)),
                  "test_rmse": repr(rmse_at(step)), "seconds": 0.0}
        rows.append(",".join(str(values[f]) for f in store.CURVE_FIELDS))
    (folder / store.CURVE_FILE).write_text("\n".join(rows) + "\n")


def still_descending(step: int) -> float:
    return 1.0 / (1.0 + step) ** 2  # the loss falls ∝ t^-4: over the last 10 % it falls (1000/900)^4 ≈ 1.5×


def settled(step: int) -> float:
    return 1e-3 * (1.0 + 100.0 * math.exp(-step / 50.0))  # flat long before the end


def net(tmp: Path, x: float, rmse: float, seed: int, curve=settled, stop="max_steps", **config) -> Entry:
    path = tmp / f"net-{x:g}-{seed}-{len(config)}-{rmse:.6g}"
    write_curve(path, curve)
    stages = [{"round": 0, "stage": 0, "kind": "adam", "steps": STEPS, "stop_reason": stop}]
    summary = SimpleNamespace(N=x, D=x, seed=seed, metrics={"test_rmse": rmse, "min_test_rmse": rmse},
                              stages=stages)
    return Entry(path, "complete", {"seed": seed, **config}, summary)


def fitted(x: float, rmse: float, seed: int) -> Entry:
    """An interpolant: its one stage is a fit, nothing to converge."""
    stages = [{"round": 0, "stage": 0, "kind": "fit", "steps": 0, "stop_reason": "fitted"}]
    summary = SimpleNamespace(N=x, D=x, seed=seed, metrics={"test_rmse": rmse}, stages=stages)
    return Entry(Path(f"/nowhere/fit-{x:g}-{seed}"), "complete", {"seed": seed}, summary)


FIGURE = {"figure": "t", "title": "t",
          "runs": {name: {"base": {"target": {"equation": "Z.001"}, "model": {"kind": "simplex"}}}
                   for name in ("net", "simplex")},
          "panels": [{"kind": "scaling", "series": [{"runs": "net"}]}], "claims": []}


def parse_claim(**fields) -> spec.ClaimSpec:
    """A claim as the spec parser reads it (so its preconditions get their defaults by kind)."""
    data = copy.deepcopy(FIGURE)
    data["claims"] = [{"id": "c", "text": "t", "paper": "p", **fields}]
    return spec.parse_figure(data, "fig.yaml").claims[0]


BEATS = {"lhs": {"metric": "test_rmse", "runs": "net"}, "op": "<", "rhs": {"metric": "test_rmse", "runs": "simplex"}}
SLOPE = {"lhs": {"slope": "simplex"}, "op": "within", "rhs": -2.0, "tol": 0.2}


def simplex(values: dict[int, float]) -> claims.RunSetData:
    return claims.RunSetData([fitted(100, v, s) for s, v in values.items()])


def unmet(result: claims.ClaimResult) -> list[str]:
    return [c.name for c in result.preconditions if not c.met]


# ---------------------------------------------------------------------------------------------- verdicts
def test_still_descending_nets_are_inconclusive_never_refuted(tmp_path):
    """Nets worse than simplex on every seed, but still descending: the claim 'nets beat simplex' is not
    refuted by them, it is inconclusive (converged), with the drop over the last 10 % in the reason."""
    data = {"net": claims.RunSetData([net(tmp_path, 100, 0.5, s, still_descending) for s in (0, 1, 2)]),
            "simplex": simplex({0: 0.1, 1: 0.1, 2: 0.1})}
    result = claims.judge(parse_claim(**BEATS), data)
    assert result.verdict == "inconclusive"
    assert unmet(result) == ["converged"]
    reason = result.reason
    assert "3 of 3 runs still descending" in reason and "last 10% of adam" in reason
    drop = (STEPS + 1) ** 4 / (0.9 * STEPS + 1) ** 4
    assert f"{drop:.2g}×" in reason


def test_converged_runs_on_the_wrong_side_are_refuted_and_on_the_right_side_confirmed(tmp_path):
    worse = {"net": claims.RunSetData([net(tmp_path, 100, 0.5, s) for s in (0, 1, 2)]),
             "simplex": simplex({0: 0.1, 1: 0.12, 2: 0.09})}
    result = claims.judge(parse_claim(**BEATS), worse)
    assert result.verdict == "refuted" and all(c.met for c in result.preconditions)
    assert [c.name for c in result.preconditions] == ["converged", "seeds agree"]
    assert "3 runs at the step limit, none still descending" in result.preconditions[0].detail
    better = {"net": claims.RunSetData([net(tmp_path, 100, 0.01 * (1 + s), s) for s in (0, 1, 2)]),
              "simplex": worse["simplex"]}
    result = claims.judge(parse_claim(**BEATS), better)
    assert result.verdict == "confirmed" and result.reason == ""
    assert "holds on each of 3 seeds" in result.preconditions[1].detail


def test_a_stage_that_slowed_but_still_lowers_its_loss_10_percent_is_descending(tmp_path):
    """The default factor is 1.1: a loss ∝ t^-1 (RMSE ∝ t^-1/2) lowers it (1000/900)× ≈ 1.11× over the last
    10 %, so it is still descending; a loss ∝ t^-1/2 (1.054×) counts as stopped."""
    def slow(power):
        return lambda step: (1.0 + step) ** -power
    for power, verdict in ((0.5, "inconclusive"), (0.25, "refuted")):
        data = {"net": claims.RunSetData([net(tmp_path / str(power), 100, 0.5, s, slow(power)) for s in (0, 1, 2)]),
                "simplex": simplex({0: 0.1, 1: 0.1, 2: 0.1})}
        assert claims.judge(parse_claim(**BEATS), data).verdict == verdict, power


def test_a_stage_that_stopped_before_its_step_limit_has_converged(tmp_path):
    data = {"net": claims.RunSetData([net(tmp_path, 100, 0.5, s, still_descending, stop="converged")
                                      for s in (0, 1, 2)]),
            "simplex": simplex({0: 0.1, 1: 0.1, 2: 0.1})}
    assert claims.judge(parse_claim(**BEATS), data).verdict == "refuted"


def test_seeds_straddling_the_threshold_are_inconclusive_with_the_seed_interval(tmp_path):
    data = {"net": claims.RunSetData([net(tmp_path, 100, v, s) for s, v in enumerate((0.05, 0.2, 0.08))]),
            "simplex": simplex({0: 0.1, 1: 0.1, 2: 0.1})}
    result = claims.judge(parse_claim(**BEATS), data)
    assert result.verdict == "inconclusive" and unmet(result) == ["seeds agree"]
    assert "holds on 2 of 3 seeds" in result.reason and "0.05…0.2" in result.reason


def test_fewer_seeds_than_asked_are_inconclusive(tmp_path):
    data = {"net": claims.RunSetData([net(tmp_path, 100, 0.01, s) for s in (0, 1)]),
            "simplex": simplex({0: 0.1, 1: 0.1})}
    result = claims.judge(parse_claim(**BEATS), data)
    assert result.verdict == "inconclusive" and unmet(result) == ["seeds agree"]
    assert "2 seeds (0, 1); at least 3 needed" in result.reason
    turned_off = parse_claim(**BEATS, preconditions={"seeds_agree": False})
    assert claims.judge(turned_off, data).verdict == "confirmed"


def power_law(sizes, exponent=-2.0, seeds=(0, 1, 2)) -> claims.RunSetData:
    rng = np.random.default_rng(1)
    return claims.RunSetData([fitted(n, 3.0 * n ** exponent * float(np.exp(0.02 * rng.standard_normal())), s)
                              for n in sizes for s in seeds])


def test_three_sizes_are_inconclusive_and_four_are_judged():
    three = claims.judge(parse_claim(**SLOPE), {"simplex": power_law((100, 200, 400)), "net": simplex({})})
    assert three.verdict == "inconclusive" and unmet(three) == ["enough sizes"]
    assert "rests on 3 sizes (at least 4 needed" in three.reason and math.isfinite(three.ours)
    four = claims.judge(parse_claim(**SLOPE), {"simplex": power_law((100, 200, 400, 800)), "net": simplex({})})
    assert four.verdict == "confirmed" and all(c.met for c in four.preconditions)
    wrong = claims.judge(parse_claim(**{**SLOPE, "rhs": -1.0}),
                         {"simplex": power_law((100, 200, 400, 800)), "net": simplex({})})
    assert wrong.verdict == "refuted"


def test_a_window_whose_local_slope_has_not_settled_is_not_asymptotic():
    """Spectral convergence, log y = −c·x: the local slope −c·x steepens across the window, and a fitted
    'slope' of −6 there is no power law's. The same claim on a power law is judged."""
    sizes = (10, 15, 22, 33)
    curved = claims.RunSetData([fitted(n, math.exp(-0.36 * n), s) for n in sizes for s in (0, 1, 2)])
    claim = parse_claim(**{**SLOPE, "rhs": -6.0, "tol": 0.6})
    result = claims.judge(claim, {"simplex": curved, "net": simplex({})})
    assert result.verdict == "inconclusive" and unmet(result) == ["asymptotic"]
    assert "not settled" in result.reason
    straight = claims.judge(claim, {"simplex": power_law(sizes, -6.0), "net": simplex({})})
    assert straight.verdict == "confirmed"


def test_sizes_outside_the_papers_range_are_inconclusive():
    ranged = {**SLOPE, "preconditions": {"in_range": {"x": "N", "min": 1000, "max": 1.0e6}}}
    small = claims.judge(parse_claim(**ranged), {"simplex": power_law((100, 200, 400, 800)), "net": simplex({})})
    assert small.verdict == "inconclusive" and unmet(small) == ["in range"]
    assert "4 of 4 sizes outside the paper's range [1e+03, 1e+06]" in small.reason
    inside = claims.judge(parse_claim(**ranged), {"simplex": power_law((1000, 2000, 4000, 8000)),
                                                  "net": simplex({})})
    assert inside.verdict == "confirmed"


def test_missing_runs_stay_not_reached_with_their_preconditions_listed(tmp_path):
    data = {"net": claims.RunSetData([net(tmp_path, 100, 0.01, s, still_descending) for s in (0, 1, 2)],
                                     missing=1),
            "simplex": simplex({0: 0.1, 1: 0.1, 2: 0.1})}
    result = claims.judge(parse_claim(**BEATS), data)
    assert result.verdict == "not reached"
    assert [c["name"] for c in result.as_dict()["preconditions"]] == ["converged", "seeds agree"]


def test_the_converged_rule_reads_the_last_tenth_of_the_curve(tmp_path):
    path = tmp_path / "c"
    write_curve(path, still_descending)
    stage = {"round": 0, "stage": 0}
    drop = preconditions.stage_drop(store.read_curve(path), stage, 0.1)
    assert drop == pytest.approx((STEPS + 1) ** 4 / (900 + 1) ** 4, rel=1e-12)
    # a wider window starts at the last logged step at or before 80 % of the stage
    drop = preconditions.stage_drop(store.read_curve(path), stage, 0.2)
    assert drop == pytest.approx((STEPS + 1) ** 4 / (800 + 1) ** 4, rel=1e-12)


# ---------------------------------------------------------------------------------------------- reports
def test_report_rows_carry_the_preconditions_and_the_markdown_names_the_failed_one(tmp_path):
    data = {"net": claims.RunSetData([net(tmp_path, 100, 0.5, s, still_descending) for s in (0, 1, 2)]),
            "simplex": simplex({0: 0.1, 1: 0.1, 2: 0.1})}
    row = claims.judge(parse_claim(**BEATS), data).as_dict()
    assert row["verdict"] == "inconclusive" and row["reason"].startswith("converged: 3 of 3 runs still descending")
    assert [set(p) for p in row["preconditions"]] == [{"name", "met", "detail"}] * 2
    text = report.markdown({"figure": "t", "title": "t", "profile": "reduced", "store": "s", "complete": True,
                            "run_seconds": 1.0, "wall_seconds": 1.0, "claims": [row], "runs": {}})
    assert "**inconclusive**: converged: 3 of 3 runs still descending" in text
    assert "converged ✗" in text and "seeds agree ✓" in text


# ---------------------------------------------------------------------------------------------- specs
def test_defaults_by_claim_kind():
    assert [n for n, _ in parse_claim(**BEATS).preconditions] == ["converged", "seeds_agree"]
    assert [n for n, _ in parse_claim(**SLOPE).preconditions] == ["converged", "enough_sizes", "asymptotic",
                                                                  "seeds_agree"]
    tuned = parse_claim(**SLOPE, preconditions={"enough_sizes": 5, "asymptotic": False,
                                                "converged": {"factor": 2}})
    assert dict(tuned.preconditions) == {"converged": {"factor": 2.0, "window": 0.1}, "enough_sizes": {"min": 5},
                                         "seeds_agree": {"min": 3}}


@pytest.mark.parametrize("given, key", [
    ({"enough_sizes": 4}, "claims.0.preconditions.enough_sizes"),  # BEATS has no slope
    ({"converged": {"factor": 0.5}}, "claims.0.preconditions.converged"),
    ({"converged": {"steps": 3}}, "claims.0.preconditions.converged.steps"),
    ({"in_range": {"x": "N"}}, "claims.0.preconditions.in_range"),
    ({"in_range": {"x": "W", "min": 1}}, "claims.0.preconditions.in_range.x"),
    ({"seeds_agree": 0}, "claims.0.preconditions.seeds_agree.min"),
    ({"settled": True}, "claims.0.preconditions.settled"),
])
def test_bad_preconditions_are_refused_naming_the_key(given, key):
    with pytest.raises(ConfigError) as e:
        parse_claim(**BEATS, preconditions=given)
    assert key in str(e.value) and "fig.yaml" in str(e.value)


def test_every_shipped_claim_states_or_defaults_its_preconditions():
    for figure in spec.list_figures():
        for c in spec.load_figure(figure).claims:
            names = [n for n, _ in c.preconditions]
            assert names == [n for n in spec.PRECONDITIONS if n in names], (figure, c.id)
            if spec.has_slope(c.lhs) or spec.has_slope(c.rhs):
                assert "enough_sizes" in names, (figure, c.id)


def test_every_committed_report_judges_only_from_met_preconditions():
    """Issue 23's rule on what the repository ships: in every docs/figures/<profile>/<fig>/report.json, a
    confirmed or refuted claim has all its preconditions met, and an inconclusive one names an unmet one."""
    import json
    from pathlib import Path

    reports = sorted((Path(__file__).resolve().parents[1] / "docs" / "figures").glob("*/*/report.json"))
    assert reports, "no committed reports found"
    for path in reports:
        for claim in json.loads(path.read_text())["claims"]:
            where = f"{path.parent.parent.name}/{path.parent.name}: {claim['id']}"
            assert "preconditions" in claim, f"{where} was judged without preconditions"
            unmet = [p["name"] for p in claim["preconditions"] if not p["met"]]
            if claim["verdict"] in ("confirmed", "refuted"):
                assert not unmet, f"{where} is {claim['verdict']} with {unmet} unmet"
            if claim["verdict"] == "inconclusive":
                assert unmet and all(name in claim["reason"] for name in unmet), where
