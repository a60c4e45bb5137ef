"""The paper-size cost probe (benchmarks/paper_run_cost.py, issue 23): a seed group cut to a few iterations a
stage, timed from its learning curve and scaled back to its full limits, on a figure's smoke profile."""

from __future__ import annotations

import importlib.util
import math
import sys
import tempfile
from pathlib import Path

import pytest

from precision_jax.analysis.reproduce import cost, runner, spec
from precision_jax.runs import sweep as sw

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def probe_script():
    sys.path.insert(0, str(REPO / "benchmarks"))  # the script imports its sibling ``record``
    try:
        module_spec = importlib.util.spec_from_file_location("paper_run_cost", REPO / "benchmarks" /
                                                             "paper_run_cost.py")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_a_probe_cuts_every_stage_and_keeps_its_full_limit(probe_script):
    plan = runner.plan_figure(spec.load_figure("A2"), "smoke", probe_script.SCRATCH)
    run = plan.run_sets["tau"][0]
    probe, facts, main = probe_script.probe_config(run.config, 0.01, 3, 1, cost.DEFAULT)
    assert [(kind, limit) for kind, limit, _ in facts] == [("bfgs", 200), ("lcs", 5)] and main == 2
    assert (probe.train[0].maxiter, probe.train[1].steps) == (3, 3)  # 1% of the limit, raised to min_steps
    assert probe.output.log_every == 3
    # Everything else is the figure's run: the same target, net and data.
    assert (probe.target, probe.model, probe.data) == (run.config.target, run.config.model, run.config.data)
    assert all(rate > 0 for _, _, rate in facts)


def test_a_probed_figure_scales_its_model_price_by_measured_rates(probe_script):
    before = set(Path(tempfile.gettempdir()).glob("prec-probe-*"))
    result = probe_script.figure_cost("A2", cost.DEFAULT, seconds=0.5, share=0.0, min_steps=3, profile="smoke")
    probe = result["run_sets"]["tau"]["probe"]
    assert "error" not in probe, probe
    bfgs = probe["stages"][0]
    assert bfgs["kind"] == "bfgs" and bfgs["from_slope"] and bfgs["seconds_per_iteration"] > 0
    assert 1 <= bfgs["probe_steps"] <= bfgs["limit"] == 200
    # The full group: the fixed part plus each stage's rate times its full limit (times the share it runs).
    full = sum(st["seconds_per_iteration"] * st["limit"] * st["share_used"] for st in probe["stages"])
    assert probe["measured_group_seconds"] == pytest.approx(probe["fixed_seconds"] + full)
    assert probe["measured_over_model"] == pytest.approx(probe["measured_group_seconds"] /
                                                         probe["model_group_seconds"])
    row = result["run_sets"]["tau"]
    assert row["scaled_seconds"] == pytest.approx(row["model_seconds"] * probe["measured_over_model"])
    assert math.isfinite(result["scaled_seconds"]) and result["scaled_seconds"] > 0
    # The probe's store was a temporary folder of its own, and it is gone.
    assert set(Path(tempfile.gettempdir()).glob("prec-probe-*")) <= before | {probe_script.SCRATCH}
    table = probe_script.table({"figures": {"A2": result}})
    assert "| A2 | tau (1 seeds" in table and "bfgs" in table
    # A second figure sharing the group's runs reuses the measurement instead of running it again.
    group = sw.group_runs(runner.plan_figure(spec.load_figure("A2"), "smoke", probe_script.SCRATCH).run_sets["tau"])
    dearest = max(group, key=lambda g: probe_script.group_seconds(g, cost.DEFAULT))
    assert probe_script.probe_group(dearest, cost.DEFAULT, 0.5, 3) is probe
