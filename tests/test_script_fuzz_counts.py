"""scripts/fuzz_counts.py reads hypothesis' statistics into counts, and refuses a log without them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fuzz_counts.py"
spec = importlib.util.spec_from_file_location("fuzz_counts", SCRIPT)
fuzz_counts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fuzz_counts)

# pytest -q --hypothesis-show-statistics output, as hypothesis 6 writes it (one passing, one failing test)
LOG = """\
.F                                                                       [100%]
=================================== FAILURES ===================================
____________________________ test_formula_deep_slow ____________________________
E   AssertionError
============================ Hypothesis Statistics =============================
tests/test_fuzz_formula.py::test_formula_tokens_slow:

  - during generate phase (12.51 seconds):
    - Typical runtimes: ~ 6-101 ms, of which ~ 0-74 ms in data generation
    - 200 passing examples, 0 failing examples, 26 invalid examples

  - Stopped because settings.max_examples=200


tests/test_fuzz_formula.py::test_formula_deep_slow:

  - during generate phase (0.57 seconds):
    - Typical runtimes: ~ 2-264 ms, of which ~ 0-27 ms in data generation
    - 6 passing examples, 4 failing examples, 1 invalid examples
    - Found 1 distinct error in this phase

  - during shrink phase (1.31 seconds):
    - Typical runtimes: ~ 2-69 ms, of which ~ 0-17 ms in data generation
    - 21 passing examples, 14 failing examples, 0 invalid examples
    - Tried 35 shrinks of which 14 were successful

  - Stopped because nothing left to do


tests/test_fuzz_data.py::test_points_slow:

  - during generate phase (3.00 seconds):
    - Typical runtimes: < 1ms, of which < 1ms in data generation
    - 1000 passing examples, 0 failing examples, 0 invalid examples

  - Stopped because settings.max_examples=1000


=========================== short test summary info ============================
FAILED tests/test_fuzz_formula.py::test_formula_deep_slow - AssertionError
1 failed, 2 passed, 6 deselected in 95.82s (0:01:35)
"""


def test_counts_per_test_and_per_parser():
    got = fuzz_counts.parse(LOG, "slow.log")
    tokens = got["tests"]["tests/test_fuzz_formula.py::test_formula_tokens_slow"]
    assert (tokens["examples"], tokens["invalid"], tokens["seconds"], tokens["outcome"]) == (200, 26, 12.51, "passed")
    deep = got["tests"]["tests/test_fuzz_formula.py::test_formula_deep_slow"]
    assert (deep["examples"], deep["failing"], deep["invalid"], deep["outcome"]) == (45, 18, 1, "failed")
    assert deep["seconds"] == pytest.approx(1.88) and deep["stopped_because"] == "nothing left to do"
    assert got["parsers"]["formula parser"] == {"tests": 2, "examples": 245, "failing": 18, "invalid": 27,
                                                "seconds": pytest.approx(14.39)}
    assert got["parsers"]["prec predict's input files"]["examples"] == 1000
    assert got["pytest"] == "1 failed, 2 passed, 6 deselected in 95.82s (0:01:35)"


def test_a_log_without_statistics_is_refused_in_one_line_and_nothing_is_written(tmp_path, capsys):
    log, out = tmp_path / "slow.log", tmp_path / "fuzz.json"
    log.write_text(".....")  # still running
    assert fuzz_counts.main([str(log), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(log) in err and not out.exists()


def test_suites_merge_and_the_page_table_is_filled_between_the_markers(tmp_path):
    log, out, page = tmp_path / "slow.log", tmp_path / "fuzz.json", tmp_path / "page.md"
    log.write_text(LOG)
    page.write_text(f"# Title\n\nbefore\n{fuzz_counts.START}\nold table\n{fuzz_counts.END}\nafter\n")
    assert fuzz_counts.main([str(log), "--suite", "default", "--json", str(out)]) == 0
    assert fuzz_counts.main([str(log), "--json", str(out), "--page", str(page)]) == 0
    assert set(json.loads(out.read_text())) == {"default", "slow"}
    text = page.read_text()
    assert text.startswith("# Title\n\nbefore\n") and text.endswith(f"{fuzz_counts.END}\nafter\n")
    assert "old table" not in text
    assert "| formula parser | 245 | 245 | 36 | 2 | 2 |" in text  # failing and failed tests summed over suites


def test_a_log_of_several_runs_counts_every_statistics_section():
    # The slow suite runs parser by parser (each with its own PREC_FUZZ_EXAMPLES) into one log.
    second = """\
.                                                                        [100%]
============================ Hypothesis Statistics =============================
tests/test_fuzz_config.py::test_overrides_slow:

  - during generate phase (40.00 seconds):
    - Typical runtimes: ~ 1-3 ms, of which < 1ms in data generation
    - 20000 passing examples, 0 failing examples, 5 invalid examples

  - Stopped because settings.max_examples=20000

1 passed, 4 deselected in 41.00s
"""
    got = fuzz_counts.parse(LOG + "\nrc=1\n" + second, "slow.log")
    assert got["tests"]["tests/test_fuzz_formula.py::test_formula_tokens_slow"]["examples"] == 200
    assert got["tests"]["tests/test_fuzz_config.py::test_overrides_slow"]["examples"] == 20000
    assert got["parsers"]["config engine (overrides)"]["examples"] == 20000
    assert got["tests"]["tests/test_fuzz_formula.py::test_formula_deep_slow"]["outcome"] == "failed"
    assert "1 passed, 4 deselected" in got["pytest"] and "1 failed, 2 passed" in got["pytest"]
