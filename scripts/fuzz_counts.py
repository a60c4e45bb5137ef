"""The fuzz tests' counts, read from pytest's ``--hypothesis-show-statistics`` output, into a JSON file and a table.

Run the fuzz tests with statistics, then this on their output::

    python3 -m pytest -q -m slow tests/test_fuzz_*.py --hypothesis-show-statistics > slow.log
    python3 scripts/fuzz_counts.py slow.log --suite slow
    python3 -m pytest -q -m "not slow" tests/test_fuzz_*.py --hypothesis-show-statistics > default.log
    python3 scripts/fuzz_counts.py default.log --suite default

A log may hold several runs one after another (the slow suite run parser by parser, each with its own
``PREC_FUZZ_EXAMPLES``): every statistics section in it is read.

Each call replaces its suite's entry in ``--json`` (default
benchmarks/results/fuzz.json), keeping the other suite's. Per test: the valid
examples run (``examples``: passing + failing, hypothesis' ``max_examples``
counts these), the ``invalid`` ones (drawn, then rejected by the strategy's
own filters, so the parser never saw them), runtime in seconds, per phase
(explicit regressions, generate, shrink); per parser the sums. ``--page``
rewrites the table between ``<!-- fuzz-counts:start -->`` and
``<!-- fuzz-counts:end -->`` in a Markdown page from the whole JSON file;
``--markdown`` prints it.

A log that holds no statistics (the run has not finished, or ran without
``--hypothesis-show-statistics``) is refused in one line, exit status 2,
before anything is written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADER = re.compile(r"^=+ Hypothesis Statistics =+$")
TEST = re.compile(r"^(?P<nodeid>\S+::\S+):$")
PHASE = re.compile(r"^\s*- during (?P<phase>\w+) phase \((?P<seconds>[\d.]+) seconds\):$")
COUNTS = re.compile(r"^\s*- (?P<passing>\d+) passing examples?, (?P<failing>\d+) failing examples?, "
                    r"(?P<invalid>\d+) invalid examples?")
TYPICAL = re.compile(r"^\s*- Typical runtimes: (?P<text>.*)$")
STOPPED = re.compile(r"^\s*- Stopped because (?P<why>.*)$")
OUTCOME = re.compile(r"^(?P<state>FAILED|ERROR) (?P<nodeid>\S+::[^\s]+)")
SUMMARY = re.compile(r"^=*\s*(?P<text>(\d+ (passed|failed|deselected|skipped|errors?|warnings?)[, ]*)+in [\d.]+s.*?)"
                     r"\s*=*$")
START, END = "<!-- fuzz-counts:start -->", "<!-- fuzz-counts:end -->"

# What each fuzz test reads (its name without the ``_slow`` suffix, up to the first word that differs).
PARSERS = (
    ("test_formula_", "formula parser"),
    ("test_read_yaml_", "config engine (YAML reader)"),
    ("test_load_config_", "config engine (configs)"),
    ("test_overrides", "config engine (overrides)"),
    ("test_sweep_", "sweep spec reader"),
    ("test_figure_", "figure spec reader"),
    ("test_table_", "data-file reader"),
    ("test_points", "prec predict's input files"),
)


class LogError(ValueError):
    """A log this script cannot read counts from (one line naming it)."""


def parser_of(nodeid: str) -> str:
    name = nodeid.rsplit("::", 1)[1]
    return next((what for prefix, what in PARSERS if name.startswith(prefix)), "other")


def parse(text: str, source: str) -> dict:
    """The suite's entry: ``tests`` (by node id), ``parsers`` (sums) and pytest's closing line."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if HEADER.match(line.strip())]
    if not starts:
        raise LogError(f"{source}: no 'Hypothesis Statistics' section (the run has not finished, or ran without "
                       f"--hypothesis-show-statistics)")
    failed = {m.group("nodeid") for line in lines if (m := OUTCOME.match(line.strip()))}
    # A log may hold several pytest runs (e.g. one per parser, each with its own example count): every run's
    # closing line and every statistics section count.
    summaries = [m.group("text") for line in lines if (m := SUMMARY.match(line.strip()))]
    summary = "; ".join(summaries) if summaries else None
    tests: dict[str, dict] = {}
    test = phase = None
    for line in lines[starts[0] + 1:]:
        if HEADER.match(line.strip()):
            test = phase = None
        elif m := TEST.match(line.strip()):
            test = tests.setdefault(m.group("nodeid"), {"parser": parser_of(m.group("nodeid")), "phases": {}})
            phase = None
        elif test is None:
            continue
        elif m := PHASE.match(line):
            phase = test["phases"].setdefault(m.group("phase"), {"seconds": float(m.group("seconds"))})
        elif (m := COUNTS.match(line)) and phase is not None:
            phase.update({k: int(v) for k, v in m.groupdict().items()})
        elif (m := TYPICAL.match(line)) and phase is not None:
            phase["typical_runtimes"] = m.group("text").strip()
        elif m := STOPPED.match(line):
            test["stopped_because"] = m.group("why").strip()
    if not tests:
        raise LogError(f"{source}: a 'Hypothesis Statistics' section with no test in it")
    for nodeid, test in tests.items():
        phases = test["phases"].values()
        for key in ("passing", "failing", "invalid"):
            test[key] = sum(p.get(key, 0) for p in phases)
        test["examples"] = test["passing"] + test["failing"]
        test["seconds"] = round(sum(p["seconds"] for p in phases), 2)
        test["outcome"] = "failed" if any(nodeid.startswith(f) or f.startswith(nodeid) for f in failed) else "passed"
    parsers: dict[str, dict] = {}
    for test in tests.values():
        entry = parsers.setdefault(test["parser"], {"tests": 0, "examples": 0, "failing": 0, "invalid": 0,
                                                    "seconds": 0.0})
        entry["tests"] += 1
        for key in ("examples", "failing", "invalid", "seconds"):
            entry[key] += test[key]
    for entry in parsers.values():
        entry["seconds"] = round(entry["seconds"], 2)
    return {"log": source, "pytest": summary, "tests": tests, "parsers": parsers}


def table(counts: dict) -> str:
    """Markdown: one row per parser, a column of examples per suite, then failing examples and tests."""
    suites = [s for s in ("default", "slow") if s in counts]
    names = sorted({p for s in suites for p in counts[s]["parsers"]})
    head = ["parser", *(f"examples ({s} suite)" for s in suites), "failing examples", "tests failed", "fuzz tests",
            "runtime"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        got = [counts[s]["parsers"].get(name) for s in suites]
        cells = [f"{g['examples']:,}" if g else "–" for g in got]
        failing = sum(g["failing"] for g in got if g)
        tests = max(g["tests"] for g in got if g)
        lost = sum(t["outcome"] == "failed" for s in suites for t in counts[s]["tests"].values() if t["parser"] == name)
        seconds = " + ".join(f"{g['seconds']:.0f} s" for g in got if g)
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {failing} | {lost} | {tests} | {seconds} |")
    notes = [f"{s} suite: `{counts[s].get('pytest') or 'no pytest summary line'}`" for s in suites]
    return "\n".join(rows) + "\n\n" + "; ".join(notes) + "."


def fill(page: Path, text: str) -> None:
    """Replace what lies between the markers of ``page`` with ``text``."""
    body = page.read_text()
    if START not in body or END not in body or body.index(START) > body.index(END):
        raise LogError(f"{page}: no '{START}' ... '{END}' markers to fill")
    head, rest = body.split(START, 1)
    page.write_text(f"{head}{START}\n{text}\n{END}{rest.split(END, 1)[1]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, nargs="?", help="pytest output with --hypothesis-show-statistics")
    parser.add_argument("--suite", choices=["slow", "default"], default="slow")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "fuzz.json")
    parser.add_argument("--page", type=Path, help="a Markdown page whose fuzz-counts markers get the table")
    parser.add_argument("--markdown", action="store_true", help="print the table")
    args = parser.parse_args(argv)
    try:
        try:
            counts = json.loads(args.json.read_text()) if args.json.is_file() else {}
        except json.JSONDecodeError as e:
            raise LogError(f"{args.json}: not JSON ({e.msg}, line {e.lineno}); move it away") from None
        if args.log is not None:
            try:
                text = args.log.read_text(errors="replace")
            except OSError as e:
                raise LogError(f"{args.log}: {e.strerror}") from None
            counts[args.suite] = parse(text, str(args.log))
        if not counts:
            raise LogError(f"{args.json}: no counts yet; give a log")
        if args.page is not None:
            fill(args.page, table(counts))
    except LogError as e:
        print(f"fuzz_counts: {e}".splitlines()[0], file=sys.stderr)
        return 2
    if args.log is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(counts, indent=2) + "\n")
        entry = counts[args.suite]
        print(f"{args.suite}: {len(entry['tests'])} tests, "
              f"{sum(t['examples'] for t in entry['tests'].values()):,} examples -> {args.json}")
    if args.markdown:
        print(table(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
