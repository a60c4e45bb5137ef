"""Refactors do not change results: the golden runs give the recorded metrics, to the last bit.

``tests/golden/metrics.json`` was recorded by ``python -m tests.golden.cases`` on main before the package
reorganisation (issue 22). Run ids, sizes and the stage rows (kind, steps, stop reason) must match anywhere;
the metric bits are compared on a machine like the recording one (same CPU model and library versions),
because XLA:CPU may compile float64 programs differently for another CPU.
"""

from __future__ import annotations

import json

import pytest

from tests.golden.cases import RECORD, machine, run_all, shipped_run_ids

RECORDED = json.loads(RECORD.read_text())


def test_every_shipped_config_keeps_its_run_id():
    assert shipped_run_ids() == RECORDED["run_ids"]


@pytest.fixture(scope="module")
def golden_runs(tmp_path_factory):
    return run_all(tmp_path_factory.mktemp("golden"))


def test_golden_runs_keep_ids_sizes_and_stage_rows(golden_runs):
    assert sorted(golden_runs) == sorted(RECORDED["runs"])
    for case, got in golden_runs.items():
        want = RECORDED["runs"][case]
        assert (got["run_id"], got["N"], got["D"], got["stages"]) == \
            (want["run_id"], want["N"], want["D"], want["stages"]), case


def test_golden_runs_keep_their_metrics_to_the_last_bit(golden_runs):
    if machine() != RECORDED["machine"]:
        pytest.skip(f"metrics were recorded on {RECORDED['machine']}, this is {machine()}")
    for case, got in golden_runs.items():
        assert got["metrics"] == RECORDED["runs"][case]["metrics"], case
