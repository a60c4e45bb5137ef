"""`train: {auto: {budget, goal}}`: the budgeted plan is pure and grows with the budget, a goal stops a real run
early, the machine's speed is measured once and cached, and bad budgets are refused before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from precision_jax.config.auto_budget import AutoSettings, AutoTrain, parse_duration
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.engine import auto_chain, machine_speed
from precision_jax.experiment import build_config
from precision_jax.runs import store
from precision_jax.runs.training import run_experiment

ROOT = Path(__file__).resolve().parents[1]
SPEED = 3e10  # units of auto_chain.step_cost per second: about the 2-core development machine's
TASKS = [(1, 100_000, 481), (2, 100_000, 501), (6, 100_000, 581), (6, 100_000, 1015), (6, 100_000, 2000),
         (2, 900, 501), (3, 20_000, 60)]
BUDGETS = [1, 10, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400, 86400]


def _steps(p: auto_chain.BudgetPlan) -> tuple[int, int, int]:
    main = sum(s.maxiter for s in p.train)
    return main, p.boost.rounds, main + p.boost.rounds * sum(s.maxiter for s in p.boost.train)


@pytest.mark.parametrize("text, seconds", [("30m", 1800.0), ("90s", 90.0), ("1h", 3600.0), ("1.5h", 5400.0),
                                           (" 2 m ", 120.0), (45, 45.0), (0.5, 0.5)])
def test_budgets_parse(text, seconds):
    assert parse_duration(text, "train.auto.budget") == seconds


@pytest.mark.parametrize("value", ["30", "30x", "m", "-1m", "0s", 0, -5, True, "inf", float("nan"), [30], "1e3m"])
def test_bad_budgets_are_refused_naming_the_key(value):
    with pytest.raises(ConfigError) as e:
        parse_duration(value, "train.auto.budget")
    assert e.value.key == "train.auto.budget"


def _config(tmp_path, train, **extra) -> dict:
    return {"name": "tiny_budget", "seed": 0,
            "target": {"teacher": {"widths": [1, 3, 1], "activation": "tanh", "seed": 0}},
            "data": {"train_points": 400, "test_points": 400},
            "model": {"kind": "mlp", "depth": 2, "width": 4, "activation": "tanh"},
            "train": train, "output": {"dir": str(tmp_path), "log_every": 10}, **extra}


def test_the_budgeted_form_round_trips_and_names_its_run(tmp_path):
    cfg = build_config(_config(tmp_path, {"auto": {"budget": "30m", "goal": "1e-12"}}))
    assert cfg.train == AutoTrain(AutoSettings(budget=1800.0, goal=1e-12))
    again = build_config({**to_dict(cfg), "output": {"dir": str(tmp_path)}})
    assert again.train == cfg.train and store.run_id(again) == store.run_id(cfg)
    other = build_config(_config(tmp_path, {"auto": {"budget": "60m", "goal": 1e-12}}))
    bare = build_config(_config(tmp_path, "auto"))
    assert len({store.run_id(cfg), store.run_id(other), store.run_id(bare)}) == 3
    assert build_config(_config(tmp_path, {"auto": None})).train == AutoTrain(AutoSettings())


@pytest.mark.parametrize("train, key", [({"auto": {"budget": "30x"}}, "train.auto.budget"),
                                        ({"auto": {"budget": -3}}, "train.auto.budget"),
                                        ({"auto": {"goal": 0}}, "train.auto.goal"),
                                        ({"auto": {"goal": "small"}}, "train.auto.goal"),
                                        ({"auto": {"budjet": "3m"}}, "train.auto.budjet"),
                                        ({"auto": "30m"}, "train.auto"),
                                        ({"auto": {}, "steps": 3}, "train")])
def test_bad_auto_settings_are_refused(tmp_path, train, key):
    with pytest.raises(ConfigError) as e:
        build_config(_config(tmp_path, train))
    assert e.value.key == key
    data = _config(tmp_path, {"auto": {"budget": "1m"}}, boost={"rounds": 1, "train": [{"kind": "lm"}]})
    with pytest.raises(ConfigError) as e:
        build_config(data)
    assert e.value.key == "boost"


def test_a_bad_budget_is_one_line_exit_2_before_any_work(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path / "store", {"auto": {"budget": "ten minutes"}})))
    result = subprocess.run([sys.executable, "-m", "cli", "run", str(path), "--out", str(tmp_path / "store")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "PREC_SPEED_CACHE": str(tmp_path / "s.json")})
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert str(path) in lines[0] and "train.auto.budget" in lines[0]
    assert not (tmp_path / "store").exists() and not (tmp_path / "s.json").exists()


def test_no_budget_is_the_unbudgeted_plan():
    for d, D, N in TASKS:
        p = auto_chain.budgeted_plan(d, D, N, None, 1e-9, None)
        assert (p.train, p.boost) == auto_chain.plan(d, D, N) and p.goal == 1e-9


def test_the_budgeted_plan_is_pure():
    for d, D, N in TASKS:
        a = auto_chain.budgeted_plan(d, D, N, 1800.0, 1e-12, SPEED)
        b = auto_chain.budgeted_plan(d, D, N, 1800.0, 1e-12, SPEED)
        assert a == b and a.record["predicted_seconds"] > 0
        # the goal decides where a run stops, not the steps it may take
        assert (auto_chain.budgeted_plan(d, D, N, 1800.0, None, SPEED).train, a.boost) == (a.train, a.boost)


def test_the_budgeted_plan_never_shrinks_as_the_budget_grows():
    for d, D, N in TASKS:
        plans = [_steps(auto_chain.budgeted_plan(d, D, N, float(t), None, SPEED)) for t in BUDGETS]
        for (main0, rounds0, total0), (main1, rounds1, total1) in zip(plans, plans[1:]):
            assert main1 >= main0 and rounds1 >= rounds0 and total1 >= total0, (d, D, N, plans)
        assert plans[-1][1] == auto_chain.MAX_ROUNDS and plans[-1][0] > plans[0][0]  # a day buys more of both
        grown = auto_chain.budgeted_plan(d, D, N, 86400.0, None, SPEED)
        assert len(grown.train) <= auto_chain.MAX_MAIN_STAGES
        # Doubling the machine's speed is doubling the budget.
        fast, long = (auto_chain.budgeted_plan(d, D, N, t, None, v) for t, v in ((600.0, 2 * SPEED), (1200.0, SPEED)))
        assert (fast.train, fast.boost) == (long.train, long.boost)


def test_a_grown_plan_fills_its_budget_and_a_cut_one_stays_within_it():
    for d, D, N in TASKS:
        for t in (600.0, 1800.0, 3600.0):
            p = auto_chain.budgeted_plan(d, D, N, t, None, SPEED)
            predicted = p.record["predicted_seconds"]
            if p.record["growth"] == "grown" and p.boost.rounds < auto_chain.MAX_ROUNDS:
                assert 0.6 * t <= predicted <= auto_chain.USABLE * t, (d, N, t, p.record)
            elif p.record["growth"] == "cut" and min(s.maxiter for s in p.train) > auto_chain.MIN_STEPS:
                assert predicted <= auto_chain.USABLE * t * 1.01, (d, N, t, p.record)


@pytest.fixture
def fixed_speed(monkeypatch):
    monkeypatch.setenv("PREC_MACHINE_SPEED", str(SPEED))


def test_an_easy_goal_stops_a_real_run_before_its_budget(tmp_path, fixed_speed):
    cfg = build_config(_config(tmp_path, {"auto": {"budget": "10m", "goal": 1e-4}}))
    record = run_experiment(cfg)
    auto = record.summary.chain["auto"]
    assert auto["stop_reason"] == "goal_reached" and auto["goal"] == 1e-4 and auto["goal_on"] == "train_rmse"
    assert auto["machine_speed"]["method"] == "PREC_MACHINE_SPEED"
    assert auto["machine_speed"]["units_per_second"] == SPEED
    rows, planned = record.summary.stages, record.summary.chain["train"]
    assert rows[-1]["stop_reason"] == "goal" and rows[-1]["round"] == 0
    assert rows[-1]["steps"] < planned[rows[-1]["stage"]]["maxiter"]  # stopped inside its stage
    assert record.summary.boost["rounds"] == 0 and not record.summary.boost["rows"]  # and before boosting
    assert record.summary.metrics["train_rmse"] <= 1e-4
    path = store.write_run(tmp_path, record)
    written = json.loads((path / "summary.json").read_text())
    assert written["chain"]["auto"]["stop_reason"] == "goal_reached"
    assert yaml.safe_load((path / "config.yaml").read_text())["train"] == {"auto": {"budget": 600.0, "goal": 1e-4}}


def test_without_a_goal_the_run_says_it_spent_its_budget_or_converged(tmp_path, fixed_speed):
    cfg = build_config(_config(tmp_path, {"auto": {"budget": "2s"}}))
    record = run_experiment(cfg)
    auto = record.summary.chain["auto"]
    assert auto["stop_reason"] in ("budget_spent", "converged") and auto["goal"] is None
    assert all(row["stop_reason"] != "goal" for row in record.summary.stages)
    planned = auto_chain.budgeted_plan(1, 400, record.summary.N, 2.0, None, SPEED)
    assert record.summary.chain["train"] == [to_dict(s) for s in planned.train]
    assert auto["rounds"] == planned.boost.rounds == record.summary.chain["boost"]["rounds"]


def test_the_machine_speed_is_measured_once_and_cached(tmp_path, monkeypatch):
    cache = tmp_path / "speed.json"
    monkeypatch.setenv("PREC_SPEED_CACHE", str(cache))
    monkeypatch.delenv("PREC_MACHINE_SPEED", raising=False)
    calls = []

    def fake_measure():
        calls.append(1)
        return {"units_per_second": 1.5e10, "method": "qr-timing", "how": "fake", "qr_seconds": {}}

    monkeypatch.setattr(machine_speed, "measure", fake_measure)
    first = machine_speed.machine_speed()
    second = machine_speed.machine_speed()
    assert len(calls) == 1 and first["units_per_second"] == second["units_per_second"] == 1.5e10
    entry = next(iter(json.loads(cache.read_text())["machines"].values()))
    assert entry["how"] == "fake" and entry["machine"]["threads"].keys() == set(machine_speed.THREAD_SETTINGS)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1" if os.environ.get("OPENBLAS_NUM_THREADS") != "1" else "2")
    machine_speed.machine_speed()  # other thread settings are another machine
    assert len(calls) == 2 and len(json.loads(cache.read_text())["machines"]) == 2


def test_a_file_that_is_not_the_cache_is_left_alone(tmp_path, monkeypatch):
    cache = tmp_path / "speed.json"
    cache.write_text("not prec's")
    monkeypatch.setenv("PREC_SPEED_CACHE", str(cache))
    monkeypatch.delenv("PREC_MACHINE_SPEED", raising=False)
    monkeypatch.setattr(machine_speed, "measure", lambda: {"units_per_second": 2e10, "method": "x", "how": "x"})
    assert machine_speed.machine_speed()["units_per_second"] == 2e10
    assert cache.read_text() == "not prec's" and [p.name for p in tmp_path.iterdir()] == ["speed.json"]


def test_a_bad_fixed_speed_is_refused(monkeypatch):
    monkeypatch.setenv("PREC_MACHINE_SPEED", "fast")
    with pytest.raises(ConfigError) as e:
        machine_speed.machine_speed()
    assert e.value.key == "PREC_MACHINE_SPEED"


def test_the_real_measurement_is_positive_and_says_how():
    speed = machine_speed.measure(m=400, n=50, repeats=2)  # the cached figure uses 4,000 x 501: seconds, idle
    assert speed["units_per_second"] > 0 and set(speed["qr_seconds"]) == {"step", "damping"}
    assert "QR" in speed["how"]
