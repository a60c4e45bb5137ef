"""mkdocs hook: tables generated from the JSON that benchmarks and `prec reproduce` write.

A page holds a marker, ``<!-- table: NAME -->`` or ``<!-- table: NAME ARG -->``, and every build replaces it
with a table read from the files as they are on disk, so a page can never quote a stale number:

- ``chaos``: one column per ``benchmarks/results/chaos*.json`` (``python benchmarks/chaos.py``), its counts;
- ``reproduce PROFILE``: one row per ``docs/figures/PROFILE/<figure>/report.json``
  (``prec reproduce all --profile PROFILE --out docs/figures/PROFILE``), each claim with its verdict, and a
  note naming the reports judged before claims stated their preconditions;
- ``reproduce-both``: one row per claim of either profile's reports (``reduced`` and ``paper``), matched by claim
  id: the paper's number, then each profile's number and verdict, or, where a profile has no report for the
  figure, what ``prec reproduce --list``'s cost model estimates running it would take;
- ``classical``, ``speed``, ``precision_training``, ``auto_chain``, ``peers``, ``width_sweep``,
  ``refusal_latency``, ``big_nets``, ``auto_budget``: the ``benchmarks/results/<name>.json`` a benchmark
  writes (``speed``: every ``bench_stages*``, ``sweep_throughput*`` and ``precision_milestones*`` file;
  ``classical``: ``classical_scaling.py``'s), each followed by the machine,
  thread settings, date, commit and command the file records (``benchmarks/record.py`` writes them). Where a
  benchmark prints its own markdown table (``peers.py --markdown``, ``auto_chain.py --table``,
  ``auto_budget.py --table``), the page shows that function's output, so the two cannot differ.

Only files that exist make rows; a marker with no file behind it becomes one line saying which command
writes it. An unknown marker stops the build, so a typo cannot leave a marker in the site.

Run as a script, ``python scripts/docs_tables.py --readme`` writes README.md's per-figure reproduction summary
(each profile's verdict counts, or the estimated cost where a figure has no report) between its
``<!-- reproduce-summary:start -->`` and ``<!-- reproduce-summary:end -->`` markers; a test fails while the
README's copy differs from what it would write.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARK_CODE = REPO / "benchmarks"  # the scripts whose table functions render their JSON (REPO may move in tests)
MARKER = re.compile(r"<!--\s*table:\s*([\w-]+)(?:\s+([\w-]+))?\s*-->")


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda m: _table(m.group(1), m.group(2), page.file.src_uri), markdown)


def _table(name: str, arg: str | None, page_uri: str) -> str:
    if name == "chaos":
        return chaos_table(sorted((REPO / "benchmarks" / "results").glob("chaos*.json")))
    if name == "reproduce" and arg:
        return reproduce_table(REPO / "docs" / "figures" / arg, arg, page_uri)
    if name == "reproduce-both" and not arg:
        return both_table(page_uri)
    if name in BENCHMARKS and not arg:
        return benchmark_table(name)
    raise ValueError(f"{page_uri}: unknown table marker {name!r} {arg or ''}".rstrip())


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(value) -> str:
    """As report.md writes a number: 3 significant digits, exponent form outside [1e-3, 1e4)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "—"
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


# The chaos soak's counts worth a row, in the order the soak reports them; a file without a key shows "—".
CHAOS_ROWS = [
    ("runs (seed groups)", lambda c: f"{c['runs']} ({c['seed_groups']})"),
    ("sweep processes at once", lambda c: c["processes_at_once"]),
    ("minutes, seed, CPUs", lambda c: f"{c['minutes']:g}, {c['seed']}, {c['cpus']}"),
    ("SIGKILL / SIGINT sent", lambda c: f"{c['kills']['SIGKILL']} / {c['kills']['SIGINT']}"),
    ("SIGKILL / SIGINT survived", lambda c: f"{c['kills_survived']['SIGKILL']} / {c['kills_survived']['SIGINT']}"),
    ("restarts", lambda c: c["restarts"]),
    ("duplicates", lambda c: c["duplicates"]),
    ("lost", lambda c: c["lost"]),
    ("metric / model-array mismatches", lambda c: f"{c['metric_mismatches']} / {c['model_array_mismatches']}"),
    ("unreadable runs", lambda c: c["unreadable"]),
    ("tmp leftovers", lambda c: c["tmp_leftovers"]),
    ("blocked locks", lambda c: c["blocked_locks"]),
    ("tracebacks", lambda c: c["tracebacks"]),
    ("unexpected exits", lambda c: c["unexpected_exits"]),
    ("reference sweep (s)", lambda c: f"{c['reference_seconds']:.1f}"),
    ("sweep under chaos (s)", lambda c: f"{c['chaos_seconds']:.1f}"),
    ("final unkilled sweep (s)", lambda c: f"{c['final_sweep_seconds']:.1f}"),
]


def chaos_table(paths: list[Path]) -> str:
    if not paths:
        return ("*No soak recorded yet: `python benchmarks/chaos.py --minutes 10` writes "
                "`benchmarks/results/chaos.json`.*")
    reports = [json.loads(p.read_text()) for p in paths]
    lines = ["| | " + " | ".join(f"`{p.relative_to(REPO)}`" for p in paths) + " |",
             "|---|" + "---|" * len(paths)]
    for label, get in CHAOS_ROWS:
        cells = []
        for rep in reports:
            try:
                cells.append(_cell(get(rep["counts"])))
            except (KeyError, TypeError):
                cells.append("—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| problems | " + " | ".join(_cell(len(r.get("problems") or {})) for r in reports) + " |")
    return "\n".join(lines) + "\n"


def _figure_order(name: str):
    """1, 2, …, 6a, 6b, …, 9, then A1, A2, …: the paper's order."""
    m = re.fullmatch(r"([A-Z]*)(\d+)(\w*)", name)
    return (m.group(1), int(m.group(2)), m.group(3)) if m else ("~", 0, name)


def _verdict(claim: dict) -> str:
    unmet = [p["name"] for p in claim.get("preconditions") or [] if not p.get("met")]
    if claim.get("verdict") == "inconclusive" and unmet:
        return f"**inconclusive** ({', '.join(unmet)})"
    return f"**{claim.get('verdict')}**"


def _reports(folder: Path) -> dict[str, dict]:
    """Figure → its ``FOLDER/<figure>/report.json``, in the paper's order."""
    paths = sorted(folder.glob("*/report.json"), key=lambda p: _figure_order(p.parent.name))
    return {p.parent.name: json.loads(p.read_text()) for p in paths}


def _judged_without_preconditions(rep: dict) -> bool:
    # Reports written before claims stated their preconditions (issue 23) could only say confirmed or refuted.
    return any("preconditions" not in c for c in rep.get("claims", []))


def reproduce_table(folder: Path, profile: str, page_uri: str) -> str:
    reports = _reports(folder)
    if not reports:
        return (f"*No reports yet: `prec reproduce all --profile {profile} --out docs/figures/{profile} --table` "
                f"writes them.*")
    # Links are relative to the page (docs/<page>.md), the reports to docs/.
    depth = len(Path(page_uri).parent.parts)
    prefix = "../" * depth + folder.relative_to(REPO / "docs").as_posix()
    lines = ["| fig | command | runs' wall time | claims: paper → ours (verdict) |", "|---|---|---|---|"]
    unchecked = []
    for fig, rep in reports.items():
        seconds = rep.get("run_seconds", float("nan"))
        wall = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
        if not rep.get("complete", False):
            wall += " (incomplete)"
        claims = "<br>".join(f"{_cell(c['text'])}: {_cell(c['paper'])} → {_fmt(c.get('ours'))} ({_verdict(c)})"
                             for c in rep.get("claims", []))
        lines.append(f"| [{fig}]({prefix}/{fig}/report.md) | `prec reproduce {fig} --profile "
                     f"{rep.get('profile', profile)}` | {wall} | {claims} |")
        if _judged_without_preconditions(rep):
            unchecked.append(fig)
    if unchecked:
        lines += ["", _unchecked_note(", ".join(unchecked), len(unchecked), len(reports))]
    return "\n".join(lines) + "\n"


def _unchecked_note(figures: str, count: int, total: int) -> str:
    return (f"*Judged before claims stated their preconditions: {figures} ({count} of {total}). There, read "
            f"\"refuted\" as \"not shown by these runs\" until the profile is run again.*")


# --------------------------------------------------------------------------- both profiles; the README's summary

PROFILES = ("reduced", "paper")
COUNTED = ("confirmed", "inconclusive", "refuted", "not reached")  # the README's order of the verdicts
# reproduce.md's paper profile runs here the figures whose paper-size runs fit in 2 hours on 2 cores; the others
# need a cluster, so their command is the --slurm one.
HERE_SECONDS = 2 * 3600
README_START, README_END = "<!-- reproduce-summary:start -->", "<!-- reproduce-summary:end -->"
README_BLOCK = re.compile(rf"^([ \t]*){re.escape(README_START)}\n.*?^[ \t]*{re.escape(README_END)}[ \t]*$",
                          re.MULTILINE | re.DOTALL)


def estimate(figure: str, profile: str) -> tuple[float, str] | None:
    """What ``prec reproduce --list`` estimates for ``figure`` at ``profile``: the cost model's seconds (the results
    store's calibrated constants, else the committed defaults) and the machine they price ("2 cores"); None when
    the figure has no spec to plan."""
    from precision_jax.analysis.reproduce import cost, runner, spec
    from precision_jax.config.engine import ConfigError

    store = REPO / "results"
    try:
        plan = runner.plan_figure(spec.load_figure(figure), profile, store)
    except ConfigError:
        return None
    model = cost.load(store)
    cores = re.search(r"(\d+)[- ]cores?\b", model.machine)
    return cost.estimate_seconds(plan, model), f"{cores.group(1)} cores" if cores else model.machine or "?"


def measured_paper_cost(figure: str) -> float | None:
    """The figure's paper-profile cost scaled by benchmarks/paper_run_cost.py's probes at the paper's sizes
    (``docs/reproduce.md#cluster-cost``), if they measured it; else None."""
    path = _results() / "paper_run_cost.json"
    if not path.exists():
        return None
    rep = _load(path)
    fig = rep.get("figures", {}).get(figure) if rep.get("profile", "paper") == "paper" else None
    probed = fig and any("measured_over_model" in row.get("probe", {}) for row in fig["run_sets"].values())
    return float(fig["scaled_seconds"]) if probed else None


def _not_run(figure: str, profile: str, short: bool = False) -> str:
    """A figure without a report at ``profile``: its estimated cost (and, for a cluster figure, its cost as
    measured at the paper's sizes) and, unless ``short``, the command to run."""
    from precision_jax.analysis.reproduce.cost import format_duration

    guess = estimate(figure, profile)
    seconds, where = guess if guess else (math.nan, "")
    cluster = profile == "paper" and seconds > HERE_SECONDS
    measured = measured_paper_cost(figure) if cluster else None
    if short:
        label = "cluster" if cluster else "not run"
        if measured is not None:
            return f"{label} (≈ {format_duration(measured)} measured, {format_duration(seconds)} modelled)"
        return f"{label} (≈ {format_duration(seconds)})" if math.isfinite(seconds) else label
    command = f"`prec reproduce {figure} --profile {profile}{' --slurm' if cluster else ''}`"
    price = f": ≈ {format_duration(seconds)} on {_cell(where)}" if math.isfinite(seconds) else ""
    if measured is not None:
        price += f" by the model, ≈ {format_duration(measured)} [measured at the paper's sizes](#cluster-cost)"
    return f"not run here{price}; {command}"


def _claim_cell(claim: dict | None) -> str:
    if claim is None:
        return "— (not a claim of this profile's report)"
    return f"{_fmt(claim.get('ours'))} ({_verdict(claim)})"


def both_table(page_uri: str) -> str:
    """One row per claim, the figures in the paper's order: the paper's number, then each profile's number and
    verdict, matched by claim id; a profile without the figure's report gives what running it would cost."""
    reports = {p: _reports(REPO / "docs" / "figures" / p) for p in PROFILES}
    figures = sorted(set().union(*reports.values()), key=_figure_order)
    if not figures:
        return "*No reports yet: `prec reproduce all --profile reduced --out docs/figures/reduced` writes them.*"
    prefix = "../" * len(Path(page_uri).parent.parts) + "figures"
    lines = ["| fig | claim | paper | reduced: ours (verdict) | paper profile: ours (verdict) |",
             "|---|---|---|---|---|"]
    for fig in figures:
        claims = {p: {c["id"]: c for c in reports[p][fig].get("claims", [])} for p in PROFILES if fig in reports[p]}
        missing = {p: _not_run(fig, p) for p in PROFILES if p not in claims}
        ids = list(dict.fromkeys(i for p in PROFILES for i in claims.get(p, {})))
        link = f"[{fig}]({prefix}/{next(p for p in PROFILES if p in claims)}/{fig}/report.md)"
        for n, cid in enumerate(ids):
            claim = next(claims[p][cid] for p in PROFILES if cid in claims.get(p, {}))
            cells = [_claim_cell(claims[p].get(cid)) if p in claims else missing[p] if n == 0 else "not run here"
                     for p in PROFILES]
            lines.append(f"| {link if n == 0 else ''} | {_cell(claim['text'])} | {_cell(claim['paper'])} | "
                         + " | ".join(cells) + " |")
    for p in PROFILES:
        unchecked = [f for f, r in reports[p].items() if _judged_without_preconditions(r)]
        if unchecked:
            lines += ["", _unchecked_note(f"{p} profile {', '.join(unchecked)}", len(unchecked), len(reports[p]))]
    return "\n".join(lines) + "\n"


def readme_summary() -> str:
    """The README's per-figure table: each profile's verdict counts, or what the figure would cost to run."""
    from precision_jax.analysis.reproduce import spec

    reports = {p: _reports(REPO / "docs" / "figures" / p) for p in PROFILES}
    figures = sorted(set(spec.list_figures()).union(*reports.values()), key=_figure_order)
    lines = ["| fig | reduced: confirmed / inconclusive / refuted / not reached | paper profile: the same | reports |",
             "|---|---|---|---|"]
    totals = {p: [0] * len(COUNTED) for p in PROFILES}
    unchecked = False
    for fig in figures:
        cells, links = [], []
        for p in PROFILES:
            rep = reports[p].get(fig)
            if rep is None:
                cells.append(_not_run(fig, p, short=True))
                continue
            verdicts = [c.get("verdict") for c in rep.get("claims", [])]
            counts = [verdicts.count(v) for v in COUNTED]
            totals[p] = [a + b for a, b in zip(totals[p], counts)]
            old = _judged_without_preconditions(rep)
            unchecked |= old
            cells.append(" / ".join(map(str, counts)) + (" †" if old else ""))
            links.append(f"[{p}](docs/figures/{p}/{fig}/report.md)")
        lines.append(f"| {fig} | {cells[0]} | {cells[1]} | {' · '.join(links) or '—'} |")
    lines.append("| all | " + " | ".join(f"{' / '.join(map(str, totals[p]))} ({len(reports[p])} figures)"
                                        for p in PROFILES) + " | [claim by claim](docs/reproduce.md#both) |")
    if unchecked:
        lines += ["", "† judged before claims stated their preconditions: there, read \"refuted\" as \"not shown by "
                  "these runs\"."]
    return "\n".join(lines) + "\n"


def with_readme_summary(text: str, summary: str) -> str:
    """``text`` (the README) with ``summary`` between its markers, indented as the start marker is."""
    m = README_BLOCK.search(text)
    if m is None:
        raise ValueError(f"README.md has no {README_START} … {README_END} block")
    indent = m.group(1)
    body = "".join(indent + line if line.strip() else line for line in f"\n{summary}\n".splitlines(keepends=True))
    return f"{text[:m.start()]}{indent}{README_START}\n{body}{indent}{README_END}{text[m.end():]}"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Write generated tables outside the docs site (mkdocs runs this "
                                                 "file as a hook for the site's own).")
    parser.add_argument("--readme", action="store_true", help="Rewrite README.md's reproduction summary (between "
                                                              f"{README_START} and {README_END}) from the reports.")
    args = parser.parse_args(argv)
    if not args.readme:
        parser.error("nothing to write: pass --readme")
    path = REPO / "README.md"
    text = path.read_text()
    new = with_readme_summary(text, readme_summary())
    if new != text:
        path.write_text(new)
    print(f"{path.relative_to(REPO)}: reproduction summary {'rewritten' if new != text else 'already current'}")
    return 0


# --------------------------------------------------------------------------- benchmarks/results/<name>.json

def _results() -> Path:
    return REPO / "benchmarks" / "results"


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _benchmark(name: str):
    """The benchmark script ``benchmarks/NAME.py`` as a module, for the table function it prints with."""
    folder = str(BENCHMARK_CODE)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the scripts import their sibling ``record``
    key = f"_docs_benchmark_{name}"
    if key not in sys.modules:  # once per build; registered first, as dataclasses look their module up
        spec = importlib.util.spec_from_file_location(key, BENCHMARK_CODE / f"{name}.py")
        sys.modules[key] = module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]


# Recorded beside the thread variables by provenance.thread_settings, but no thread setting.
NOT_THREADS = {"TF_CPP_MIN_LOG_LEVEL", "PREC_JAX_CACHE", "JAX_ENABLE_X64"}


def _short_threads(threads) -> str:
    """The thread settings a file records, flattened to ``K=V``; nothing set reads "defaults"."""
    if not isinstance(threads, dict):
        return "defaults"
    flat = {}
    for key, value in threads.items():
        if isinstance(value, dict):
            flat.update({k: v for k, v in value.items() if v is not None})
        elif value is not None and not isinstance(value, list):
            flat[key] = value
    return ", ".join(f"{k}={v}" for k, v in flat.items() if k not in NOT_THREADS) or "defaults"


def provenance_line(path: Path, rep: dict) -> str:
    """Where and how ``path``'s numbers were measured: machine, threads, date, commit, command."""
    prov = rep.get("provenance") if isinstance(rep.get("provenance"), dict) else {}
    machine = rep.get("machine") if isinstance(rep.get("machine"), dict) else prov
    host = machine.get("host") or rep.get("host") or "unknown host"
    cpus = machine.get("cpus_usable") or rep.get("cpus")
    load = machine.get("load_average")
    what = ", ".join(str(x) for x in (host, machine.get("cpu_model"), f"{cpus} CPUs" if cpus else None,
                                      rep.get("device") if rep.get("backend") not in (None, "cpu") else None,
                                      f"load {' / '.join(f'{v:g}' for v in load)} (1 / 5 / 15 min)" if load else None)
                     if x)
    git = rep.get("git") or prov.get("git") or {}
    commit = git.get("commit", "") if isinstance(git, dict) else str(git)
    commit = commit[:7] + (" (uncommitted changes)" if isinstance(git, dict) and git.get("dirty") is True else "")
    command = rep.get("command") or prov.get("command") or "—"
    if isinstance(command, list):
        command = " ".join(command)
    when = rep.get("when") or prov.get("finished_utc") or "—"
    threads = _short_threads(rep.get("threads"))
    return (f"*`{path.relative_to(REPO).as_posix()}`: {_cell(what)}; threads: {_cell(threads)}; "
            f"{_cell(when)}, commit {commit or '—'}. Command: `{_cell(command)}`*")


def _missing(path: Path, command: str, by_benchmark: bool = True) -> str:
    who = "Not yet measured by the JSON-writing benchmark" if by_benchmark else "Not yet measured"
    return f"*{who}: `{command}` writes `{path.relative_to(REPO).as_posix()}`.*\n"


def _with_provenance(table: str, sources: list[tuple[Path, dict]]) -> str:
    return table.rstrip("\n") + "\n\n" + "<br>\n".join(provenance_line(p, r) for p, r in sources) + "\n"


def _exponent(row: dict) -> str:
    text = f"{row['exponent']:.3f}".replace("-", "−")
    if row.get("interval"):
        lo, hi = row["interval"]
        text += f" [{lo:.3f}, {hi:.3f}]".replace("-", "−")
    return text


def classical_table(rep: dict) -> str:
    lines = ["| method | target | D range | fitted exponent | theory |", "|---|---|---|---|---|"]
    for r in rep["rows"]:
        lo, hi = r["D"]
        lines.append(f"| {_cell(r['method'])} | {_cell(r['target'])} | {lo:,}–{hi:,} | {_exponent(r)} | "
                     f"{r['theory']:.3g} |".replace("| -", "| −"))
    floors = "; ".join(f"{_cell(f['method'])}: {_fmt(f['relative_rmse'])}" for f in rep.get("floors", []))
    if floors:
        lines += ["", f"Floors (relative test RMSE on e^x): {floors}."]
    return "\n".join(lines) + "\n"


def precision_training_table(rep: dict) -> str:
    lines = ["| config | chain | test RMSE | issue goal | paper | wall |", "|---|---|---|---|---|---|"]
    for r in rep["rows"]:
        if "error" in r:
            result = f"failed: {_cell(r['error'][-80:])}"
        else:
            result = f"**{_fmt(r['test_rmse'])}**"
            if r.get("test_relative_rmse") is not None:
                result += f" (relative {_fmt(r['test_relative_rmse'])})"
        lines.append(f"| `{r['config']}` | {_cell(r['chain'])} | {result} | {_cell(r['goal'])} | {_cell(r['paper'])} | "
                     f"{r['wall_seconds']:.0f} s |")
    return "\n".join(lines) + "\n"


def width_sweep_table(rep: dict) -> str:
    lines = ["| series | N range | fitted exponent α | theory |", "|---|---|---|---|"]
    for r in rep["rows"]:
        lo, hi = r["N"]
        lines.append(f"| {_cell(r['series'])} | {lo:,}–{hi:,} | {_exponent(r)} | {_cell(r.get('theory', '—'))} |")
    return "\n".join(lines) + "\n"


def big_nets_table(rep: dict) -> str:
    minutes = [f"{m:g} min" for m in rep.get("minutes", [])]
    lines = ["| activation | width | N | arm | " + " | ".join(f"test RMSE at {m}" for m in minutes) +
             " | Adam / LM steps | stop |", "|---|---|---|---|" + "---|" * len(minutes) + "---|---|"]
    for r in rep["rows"]:
        cells = " | ".join(_fmt(r.get("rmse_at", {}).get(m)) for m in minutes)
        lines.append(f"| {r['activation']} | {r['width']} | {r['n_params']:,} | {r['arm']} | {cells} | "
                     f"{r.get('adam_steps', '—')} / {r.get('lm_steps', '—')} | {_cell(r.get('stop', '—'))} |")
    return "\n".join(lines) + "\n"


def _speed_rows(name: str, rep: dict) -> list[str]:
    if name == "bench_stages":
        b, a = rep["bfgs"], rep["adam"]
        return [f"`bench_stages.py`: jitted dense BFGS (the driver's compiled stage) vs scipy BFGS + jax gradients, "
                f"per iteration (quickstart) | {b['speedup']:.1f}× ({b['jitted_ms_per_iteration']:.2f} vs "
                f"{b['scipy_ms_per_iteration']:.2f} ms/it)",
                f"`bench_stages.py`: Adam as one compiled stage chunk vs a Python loop of jitted steps "
                f"({a['steps']:,} steps) | {a['speedup']:.1f}× ({a['jitted_seconds']:.2f} s vs "
                f"{a['python_loop_seconds']:.2f} s)"]
    if name == "sweep_throughput":
        same = "metrics identical" if rep.get("metrics_identical") else \
            f"largest metric difference {_fmt(rep.get('largest_metric_difference'))}"
        return [f"`sweep_throughput.py`: `prec sweep` vs a shell loop of `prec run` ({rep['runs']} runs) | "
                f"{rep['speedup']:.1f}× (sweep {rep['sweep_seconds']:.1f} s, loop {rep['loop_seconds']:.1f} s), {same}"]
    if name == "precision_milestones":
        ours, paper = rep["prec"]["time_to"], rep["paper"]["time_to"]
        budget = rep["budget_seconds"]
        cells = []
        for m in ("1e-08", "1e-10", "1e-12", "1e-15"):
            a, b = ours.get(m), paper.get(m)
            mine = f"{a:.1f} s" if a is not None else "never"
            theirs = f"{b:.0f} s" if b is not None else f"> {budget:.0f} s"
            ratio = (f" ({b / a:.2g}×)" if b is not None else f" (> {budget / a:.2g}×)") if a else ""
            cells.append(f"{mine} vs {theirs}{ratio}")
        return [f"`precision_milestones.py --budget {budget:g}`: time to test RMSE 1e-8 / 1e-10 / 1e-12 / 1e-15, "
                f"`teacher_student_best` vs the paper's method re-created | {' / '.join(cells)}; paper's method "
                f"ends at {_fmt(rep['paper']['best_test_rmse'])}"]
    return []


SPEED = [("bench_stages", "python benchmarks/bench_stages.py"),
         ("sweep_throughput", "python benchmarks/sweep_throughput.py"),
         ("precision_milestones", "python benchmarks/precision_milestones.py --budget 240")]


def speed_table() -> str:
    lines, sources, notes = ["| benchmark | result | machine |", "|---|---|---|"], [], []
    for stem, command in SPEED:
        paths = sorted(_results().glob(f"{stem}*.json"), key=lambda p: (p.stem != stem, p.name))  # the plain one first
        if not paths:
            notes.append(_missing(_results() / f"{stem}.json", command).strip())
        for path in paths:
            rep = _load(path)
            host = (rep.get("machine") or {}).get("host", "?")
            where = rep.get("device") if rep.get("backend") not in (None, "cpu") else f"{host}, CPU"
            lines += [f"| {row} | {_cell(where)} |" for row in _speed_rows(stem, rep)]
            sources.append((path, rep))
    out = _with_provenance("\n".join(lines), sources) if sources else ""
    return out + ("\n" if out and notes else "") + "<br>\n".join(notes) + ("\n" if notes else "")


def refusal_latency_table(rep: dict) -> str:
    lines = ["| refusal | median seconds | × its baseline | limit the tests once asserted |", "|---|---|---|---|"]
    for r in rep["rows"]:
        lines.append(f"| {_cell(r['case'])} | {r['seconds']:.3g} | {r['seconds'] / r['baseline_seconds']:.1f} | "
                     f"{r['old_limit_seconds']:g} s |")
    b = rep.get("baselines", {})
    if b:
        lines += ["", f"Baselines: a process that imports JAX and the CLI {b['jax_startup_seconds']:.2f} s (command "
                  f"line); `read_yaml` of the quickstart {1e3 * b['read_yaml_quickstart_seconds']:.2f} ms (parsers); "
                  f"`build_config` {1e3 * b['build_config_seconds']:.2f} ms (in-process size checks)."]
    return "\n".join(lines) + "\n"


# name -> (file under benchmarks/results, command that writes it, table from the file's dict, by a benchmark
# that exists and writes JSON: the missing note says so)
BENCHMARKS = {
    "classical": ("classical.json", "python benchmarks/classical_scaling.py", classical_table, True),
    "speed": (None, None, None, True),
    "precision_training": ("precision_training.json", "python benchmarks/precision_training.py",
                           precision_training_table, True),
    "auto_chain": ("auto_chain.json", "python benchmarks/auto_chain.py",
                   lambda rep: _benchmark("auto_chain").table(rep["results"]) + "\n", True),
    "peers": ("peers.json", "taskset -c 1 python benchmarks/peers.py --budget 300 --cpus 1 --prec-log-every 10",
              lambda rep: _benchmark("peers").markdown(rep) + "\n", True),
    "width_sweep": ("width_sweep.json", "python benchmarks/width_sweep.py", width_sweep_table, True),
    "refusal_latency": ("refusal_latency.json", "python benchmarks/refusal_latency.py", refusal_latency_table,
                        True),
    "big_nets": ("big_nets.json", "python benchmarks/big_nets.py", big_nets_table, False),
    "default_fit": ("default_fit.json", "python benchmarks/default_fit.py",
                    lambda rep: _benchmark("default_fit").table(rep), True),
    "paper_run_cost": ("paper_run_cost.json", "python benchmarks/paper_run_cost.py",
                       lambda rep: _benchmark("paper_run_cost").table(rep), True),
    "auto_budget": ("auto_budget.json", "python benchmarks/auto_budget.py --budget 10m,30m,60m",
                    lambda rep: _benchmark("auto_budget").table(rep["rows"]) + "\n", False),
}


def benchmark_table(name: str) -> str:
    if name == "speed":
        return speed_table()
    file, command, table, by_benchmark = BENCHMARKS[name]
    path = _results() / file
    if not path.exists():
        return _missing(path, command, by_benchmark)
    rep = _load(path)
    return _with_provenance(table(rep), [(path, rep)])


if __name__ == "__main__":
    sys.exit(main())
