"""A reproduced figure on disk: ``<out>/<figure>/figure.png``, ``figure.pdf``, ``report.md`` and ``report.json``.

``report.json`` (format 1) is the owner's record of a reproduction::

    {"format": 1, "figure", "title", "published": bool, "caption", "profile", "store", "complete": bool,
     "claims": [{"id", "text", "paper", "ours", "against", "verdict", "detail", "reason",
                 "preconditions": [{"name", "met", "detail"}]}],
     "runs": {run set: {"planned", "complete", "diverged", "missing", "seeds", "N", "D", "run_seconds"}},
     "panels": [numbers each panel drew], "wall_seconds": this invocation, "run_seconds": Σ runs' wall time,
     "provenance": {...}}

``figure`` is the published paper's number (``published`` false: an extra figure, named, not numbered) and
``caption`` a paraphrase of the published caption. ``report.md`` is the same for a reader: the figure's published
number and caption, then a table with one row per claim. A claim's verdict is confirmed,
refuted, inconclusive (a precondition unmet: ``reason`` names each with its numbers) or not reached
(:mod:`precision_jax.analysis.reproduce.claims`); reports written before preconditions have no
``preconditions`` or ``reason`` and read as they were.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

from precision_jax.analysis.figures import style
from precision_jax.analysis.figures.panels import PANELS, Series
from precision_jax.analysis.reproduce.claims import ClaimResult, RunSetData, judge, select
from precision_jax.analysis.reproduce.runner import Plan
from precision_jax.runs import atomic_files, provenance, store

REPORT_FORMAT = 1


def panel_series(data: dict[str, RunSetData], panel) -> list[Series]:
    """A panel's series with their runs: the entries of the named run set that match the series' ``where``."""
    return [Series(s.label, select(data[s.runs].entries, s.where), dict(s.style)) for s in panel.series]


def draw(plan: Plan, data: dict[str, RunSetData], folder: Path) -> tuple[list[Path], list[dict]]:
    """Draw every panel of the figure into one PNG and one PDF; returns the paths and each panel's numbers."""
    plt = style.pyplot()
    spec = plan.spec
    rows, cols = spec.layout
    fig, axes = plt.subplots(rows, cols, figsize=spec.size, squeeze=False)
    numbers = []
    for i, ax in enumerate(axes.flat):
        if i >= len(spec.panels):
            ax.set_axis_off()
            continue
        panel = spec.panels[i]
        options = dict(panel.options)
        options.setdefault("title", panel.title)
        try:
            drawn = PANELS[panel.kind](ax, panel_series(data, panel), options) or {}
        except Exception as exc:  # noqa: BLE001 — one broken panel must not lose the others or the report
            ax.text(0.5, 0.5, f"panel failed:\n{type(exc).__name__}: {exc}"[:200], ha="center", va="center",
                    transform=ax.transAxes, fontsize=8, wrap=True)
            drawn = {"error": f"{type(exc).__name__}: {exc}"}
        numbers.append({"panel": i, "kind": panel.kind, "title": panel.title, **drawn})
    fig.suptitle(f"{spec.label}: {spec.title}\n[{plan.profile} profile]", fontsize=11 if cols > 1 else 10)
    fig.tight_layout()
    paths = style.save(fig, folder, "figure", dpi=130, tight=False)
    plt.close(fig)
    return paths, numbers


def run_set_rows(plan: Plan, data: dict[str, RunSetData]) -> dict:
    rows = {}
    for name, runs in plan.run_sets.items():
        entries = data[name].entries
        rows[name] = {
            "planned": len(runs), "complete": len(entries), "missing": data[name].missing,
            "diverged": sum(e.status == "diverged" for e in entries),
            "seeds": sorted({r.config.seed for r in runs}),
            "N": sorted({e.summary.N for e in entries}), "D": sorted({e.summary.D for e in entries}),
            "run_seconds": sum(e.summary.wall_seconds for e in entries),
        }
    return rows


def judge_all(plan: Plan, data: dict[str, RunSetData]) -> list[ClaimResult]:
    return [judge(c, data) for c in plan.spec.claims]


def _fmt(value: Optional[float]) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.3g}" if abs(value) >= 1e-3 and abs(value) < 1e4 else f"{value:.2e}"


def _brief(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_brief(v)}" for k, v in value.items() if not isinstance(v, (list, dict)))
    return _fmt(value) if isinstance(value, float) else str(value)


def _verdict(claim: dict, short: bool = False) -> str:
    """The verdict in bold; an inconclusive one with what failed (``short``: the names only)."""
    unmet = [p for p in claim.get("preconditions") or [] if not p["met"]]
    if claim["verdict"] != "inconclusive" or not unmet:
        return f"**{claim['verdict']}**"
    if short:
        return f"**inconclusive** ({', '.join(p['name'] for p in unmet)})"
    return "**inconclusive**: " + "; ".join(f"{p['name']}: {p['detail']}" for p in unmet)


def markdown(report: dict) -> str:
    published = report.get("published", True)
    lines = [f"# {'Fig.' if published else 'Extra figure'} {report['figure']}: {report['title']}", ""]
    if report.get("caption"):
        lines += [(f"Published Fig. {report['figure']} (Entropy 2023, 25(1):175), its caption paraphrased: "
                   if published else "Not in the published paper: ") + report["caption"], ""]
    lines += [f"Profile **{report['profile']}**; store `{report['store']}`; "
              f"{'all runs complete' if report['complete'] else 'SOME RUNS MISSING'}; "
              f"runs' wall time {report['run_seconds']:.0f} s; this invocation {report['wall_seconds']:.0f} s.", ""]
    if report["profile"] == "smoke":
        lines += ["The smoke profile proves the pipeline and the drawing at tiny sizes; its verdicts are not "
                  "the science (use `--profile reduced` or `paper`).", ""]
    lines += ["| claim | paper | ours | verdict | how |", "|---|---|---|---|---|"]
    for c in report["claims"]:
        lines.append(f"| {c['text']} | {c['paper']} | {_fmt(c['ours'])} | {_verdict(c)} | {c['detail']} |")
    checked = [c for c in report["claims"] if c.get("preconditions")]
    if checked:
        lines += ["", "Preconditions (a claim is confirmed or refuted only when all of its own hold):", ""]
        for c in checked:
            lines.append(f"- {c['id']}: " + "; ".join(
                f"{p['name']} {'✓' if p['met'] else '✗'} ({p['detail']})" for p in c["preconditions"]))
    lines += ["", "| run set | runs complete / planned | diverged | seeds | N | D | run time (s) |",
              "|---|---|---|---|---|---|---|"]
    for name, r in report["runs"].items():
        sizes = lambda v: ", ".join(str(x) for x in v[:8]) + (" …" if len(v) > 8 else "")  # noqa: E731
        lines.append(f"| {name} | {r['complete']} / {r['planned']} | {r['diverged']} | {sizes(r['seeds'])} | "
                     f"{sizes(r['N'])} | {sizes(r['D'])} | {r['run_seconds']:.1f} |")
    drawn = [(p, key) for p in report.get("panels", []) for key in ("regions", "hessian", "gadget") if p.get(key)]
    if drawn:
        lines += ["", "Drawn:"]
        for panel, key in drawn:
            lines.append(f"- panel {panel['panel'] + 1} ({panel['title'] or panel['kind']}), {key}: "
                         + "; ".join(f"{label}: {_brief(value)}" for label, value in panel[key].items()))
    if report.get("note"):
        lines += ["", report["note"]]
    lines += ["", "![figure](figure.png)", ""]
    return "\n".join(lines)


def write_report(plan: Plan, data: dict[str, RunSetData], out: Path, started: float,
                 draw_figure: bool = True) -> dict:
    """Judge the claims, draw the figure and write ``<out>/<figure>/``; returns the report data."""
    folder = Path(out) / plan.spec.figure
    panels: list[dict] = []
    if draw_figure:
        _, panels = draw(plan, data, folder)
    claims = judge_all(plan, data)
    runs = run_set_rows(plan, data)
    report = {
        "format": REPORT_FORMAT, "figure": plan.spec.figure, "title": plan.spec.title,
        "published": plan.spec.published, "caption": plan.spec.caption, "profile": plan.profile,
        "store": str(plan.store), "complete": all(d.missing == 0 for d in data.values()),
        "claims": [c.as_dict() for c in claims], "runs": runs, "panels": panels,
        "wall_seconds": time.time() - started,
        "run_seconds": sum(r["run_seconds"] for r in runs.values()), "note": plan.spec.note,
        "provenance": provenance.collect(started),
    }
    folder.mkdir(parents=True, exist_ok=True)
    atomic_files.atomic_write_json(folder / "report.json", report)
    atomic_files.atomic_write_text(folder / "report.md", markdown(report))
    return report


def read_report(out: Path, figure: str) -> Optional[dict]:
    """A previous reproduction's report, or None."""
    path = Path(out) / figure / "report.json"
    try:
        data = store.read_json(path)
    except (store.StoreError, OSError):
        return None
    return data if isinstance(data, dict) and data.get("format") == REPORT_FORMAT else None


def summary_table(out: Path, figures: list[str], estimates: Optional[dict] = None) -> str:
    """A markdown table of the reports under ``out``: one row per figure (wall time, each claim's verdict).

    This is the README's "Reproducing the paper" table; a figure without a report says so, with its
    estimated cost from ``estimates`` (figure → text) when given.
    """
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|")

    lines = ["| fig | command | runs' wall time | claims: paper → ours (verdict) |", "|---|---|---|---|"]
    for figure in figures:
        rep = read_report(out, figure)
        if rep is None:
            estimate = f" (≈ {estimates[figure]} estimated)" if estimates and figure in estimates else ""
            lines.append(f"| {figure} | `prec reproduce {figure} --profile reduced` | not run yet{estimate} | — |")
            continue
        cells = "<br>".join(f"{cell(c['text'])}: {cell(c['paper'])} → {_fmt(c['ours'])} "
                            f"({cell(_verdict(c, short=True))})" for c in rep["claims"])
        done = "" if rep["complete"] else " (incomplete)"
        lines.append(f"| [{figure}]({Path(out) / figure / 'report.md'}) | `prec reproduce {figure} --profile "
                     f"{rep['profile']}` | {_minutes(rep['run_seconds'])}{done} | {cells} |")
    return "\n".join(lines) + "\n"


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
