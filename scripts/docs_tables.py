"""mkdocs hook: tables generated from the JSON that benchmarks and `prec reproduce` write.

A page holds a marker, ``<!-- table: NAME -->`` or ``<!-- table: NAME ARG -->``, and every build replaces it
with a table read from the files as they are on disk, so a page can never quote a stale number:

- ``chaos``: one column per ``benchmarks/results/chaos*.json`` (``python benchmarks/chaos.py``), its counts;
- ``reproduce PROFILE``: one row per ``docs/figures/PROFILE/<figure>/report.json``
  (``prec reproduce all --profile PROFILE --out docs/figures/PROFILE``), each claim with its verdict, and a
  note naming the reports judged before claims stated their preconditions.

Only files that exist make rows; a marker with no file behind it becomes one line saying which command
writes it. An unknown marker stops the build, so a typo cannot leave a marker in the site.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!--\s*table:\s*([\w-]+)(?:\s+([\w-]+))?\s*-->")


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda m: _table(m.group(1), m.group(2), page.file.src_uri), markdown)


def _table(name: str, arg: str | None, page_uri: str) -> str:
    if name == "chaos":
        return chaos_table(sorted((REPO / "benchmarks" / "results").glob("chaos*.json")))
    if name == "reproduce" and arg:
        return reproduce_table(REPO / "docs" / "figures" / arg, arg, page_uri)
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


def reproduce_table(folder: Path, profile: str, page_uri: str) -> str:
    reports = sorted(folder.glob("*/report.json"), key=lambda p: _figure_order(p.parent.name))
    if not reports:
        return (f"*No reports yet: `prec reproduce all --profile {profile} --out docs/figures/{profile} --table` "
                f"writes them.*")
    # Links are relative to the page (docs/<page>.md), the reports to docs/.
    depth = len(Path(page_uri).parent.parts)
    prefix = "../" * depth + folder.relative_to(REPO / "docs").as_posix()
    lines = ["| fig | command | runs' wall time | claims: paper → ours (verdict) |", "|---|---|---|---|"]
    unchecked = []
    for path in reports:
        rep = json.loads(path.read_text())
        fig = path.parent.name
        seconds = rep.get("run_seconds", float("nan"))
        wall = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
        if not rep.get("complete", False):
            wall += " (incomplete)"
        claims = "<br>".join(f"{_cell(c['text'])}: {_cell(c['paper'])} → {_fmt(c.get('ours'))} ({_verdict(c)})"
                             for c in rep.get("claims", []))
        lines.append(f"| [{fig}]({prefix}/{fig}/report.md) | `prec reproduce {fig} --profile "
                     f"{rep.get('profile', profile)}` | {wall} | {claims} |")
        if any("preconditions" not in c for c in rep.get("claims", [])):
            unchecked.append(fig)
    if unchecked:
        # Reports written before claims stated their preconditions (issue 23) could only say confirmed or refuted.
        lines += ["", f"*Judged before claims stated their preconditions: {', '.join(unchecked)} "
                  f"({len(unchecked)} of {len(reports)}). There, read \"refuted\" as \"not shown by these runs\" "
                  f"until the profile is run again.*"]
    return "\n".join(lines) + "\n"
