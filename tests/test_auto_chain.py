"""`train: auto`: the chain is a pure function of (d, D, N), recorded in the run, and it really trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from precision_jax.config.engine import ConfigError
from precision_jax.engine import auto_chain
from precision_jax.experiment import build_config, load_config
from precision_jax.runs import store
from precision_jax.runs.plan import with_chain
from precision_jax.runs.training import run_experiment

REPO = Path(__file__).resolve().parents[1]


def test_subsample_follows_dimension_and_size():
    assert auto_chain.subsample_size(1, 100_000, 481) == 1500  # the hand-tuned 1-D chain's 1,500
    assert auto_chain.subsample_size(2, 100_000, 501) == 4000  # 2-D: 4,000 beat 1,500 by 50x
    assert auto_chain.subsample_size(6, 100_000, 581) == int(2e9 // 581**2)  # capped by the step's cost
    assert auto_chain.subsample_size(1, 100_000, 2000) == 6000  # never under 3N
    assert auto_chain.subsample_size(2, 900, 501) == 900  # never more than D


def test_the_1d_plan_is_the_hand_tuned_teacher_student_chain():
    best = load_config(REPO / "configs" / "precision" / "teacher_student_best.yaml")
    train, boost = auto_chain.plan(1, 100_000, 481)
    strip = [(s.kind, s.maxiter, s.subsample, s.focus) for s in train]
    assert strip == [(s.kind, s.maxiter, s.subsample, s.focus) for s in best.train]
    assert (boost.rounds, boost.normalize) == (best.boost.rounds, best.boost.normalize)
    assert [(s.maxiter, s.subsample) for s in boost.train] == [(s.maxiter, s.subsample) for s in best.boost.train]


def test_higher_dimensions_get_focused_stages_and_small_d_full_data_polish():
    train, boost = auto_chain.plan(2, 100_000, 501)
    assert [s.focus for s in train] == [0.0] + [auto_chain.FOCUS] * 4
    assert boost.rounds == 2 and boost.train[-1].subsample is None  # 4 steps on all points
    train, boost = auto_chain.plan(6, 100_000, 1015)
    assert boost.train[-1].subsample is None  # D·N² = 1e11: a full step is affordable
    train, boost = auto_chain.plan(6, 100_000, 2000)
    assert all(s.subsample is not None for s in boost.train)  # a full step is too dear at D·N² = 4e11


def test_a_costly_plan_is_scaled_to_the_budget():
    cheap_train, cheap_boost = auto_chain.plan(1, 100_000, 481)
    train, boost = auto_chain.plan(6, 100_000, 1015)  # 2,600 steps of c = 1.9e10 would be 4.9e13
    m = auto_chain.subsample_size(6, 100_000, 1015)
    steps = sum(s.maxiter for s in train) + boost.rounds * sum(s.maxiter for s in boost.train if s.subsample)
    assert boost.rounds == 1  # a cut plan keeps one boosting round
    assert steps < 2100
    assert steps * auto_chain.step_cost(m, 1015) <= 1.05 * auto_chain.BUDGET_FLOPS
    assert min(s.maxiter for s in train) >= auto_chain.MIN_STEPS
    assert cheap_train[0].maxiter == 800 and cheap_boost.rounds == 3  # within budget: not cut


def test_the_rule_version_is_part_of_an_auto_run_id(tmp_path, monkeypatch):
    cfg = build_config(_tiny_auto_config(tmp_path))
    before = store.run_id(cfg)
    monkeypatch.setattr(auto_chain, "VERSION", auto_chain.VERSION + 1)
    assert store.run_id(cfg) != before


def test_plan_is_pure():
    assert auto_chain.plan(3, 50_000, 700) == auto_chain.plan(3, 50_000, 700)


def _tiny_auto_config(tmp_path, **extra) -> dict:
    return {"name": "tiny_auto", "seed": 0,
            "target": {"teacher": {"widths": [1, 3, 1], "activation": "tanh", "seed": 0}},
            "data": {"train_points": 400, "test_points": 400},
            "model": {"kind": "mlp", "depth": 2, "width": 4, "activation": "tanh"},
            "train": "auto", "output": {"dir": str(tmp_path), "log_every": 100}, **extra}


def test_auto_with_a_boost_section_is_refused(tmp_path):
    data = _tiny_auto_config(tmp_path, boost={"rounds": 1, "train": [{"kind": "lm"}]})
    with pytest.raises(ConfigError) as e:
        build_config(data)
    assert e.value.key == "boost"
    data = _tiny_auto_config(tmp_path)
    data["train"] = "automatic"
    with pytest.raises(ConfigError, match="list of stages or 'auto'"):
        build_config(data)


def test_auto_run_trains_records_its_chain_and_keeps_its_config(tmp_path):
    cfg = build_config(_tiny_auto_config(tmp_path))
    record = run_experiment(cfg)
    path = store.write_run(tmp_path, record)
    summary = store.read_summary(path)
    planned = with_chain(cfg, 1, 400, summary.N)
    # The run holds the config as written (its id), and the chain that ran.
    assert yaml.safe_load((path / "config.yaml").read_text())["train"] == "auto"
    assert path.name == store.run_id(cfg)
    assert summary.chain["train"][0]["maxiter"] == planned.train[0].maxiter
    assert summary.chain["boost"]["rounds"] == planned.boost.rounds
    kinds = {(row["round"], row["stage"]) for row in summary.stages}
    assert (1, 0) in kinds  # boosting ran
    # A 1-3-1 teacher is inside a 1-4-4-1 student: the chain drives the test RMSE to near float64's floor.
    assert summary.metrics["test_rmse"] < 1e-9
    assert all(np.isfinite(row["compile_seconds"]) and row["compile_seconds"] >= 0 for row in summary.stages)
