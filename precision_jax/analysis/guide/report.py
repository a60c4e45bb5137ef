"""The guide's report as plain text: what ``prec guide`` prints for an analysis, its recommendation and a probe."""

from __future__ import annotations

from typing import Sequence

from precision_jax.analysis.guide.graph import graph_text
from precision_jax.analysis.guide.probes import FLOOR_MARGIN, PROBE_TEST_POINTS, ProbeResult, probe_verdict
from precision_jax.analysis.guide.recommendation import Recommendation
from precision_jax.analysis.guide.singularities import SMOOTH
from precision_jax.analysis.guide.target_analysis import EPS, Analysis

__all__ = ["format_report", "format_probe"]


def _range_text(a: Analysis) -> str:
    parts = [f"{v} ∈ [{lo:g}, {hi:g}]" for v, lo, hi in zip(a.variables, a.lows, a.highs)]
    return ", ".join(parts) if len(parts) <= 8 else ", ".join(parts[:8]) + f", … ({len(parts)} in all)"


def format_report(a: Analysis, rec: Recommendation, config_text: str) -> str:
    """The guide's report as plain text (what ``prec guide`` prints before any probe)."""
    w = 16
    lines = [a.description, ""]

    def row(key: str, value: str) -> None:
        lines.append(f"  {key:<{w}}{value}")

    box = "the data's range" if a.kind == "data" else "the sampling box"
    row("dimension d", f"{a.d}   ({box}: {_range_text(a)})")
    if a.d_star is None:
        row("arity d*", "unknown (a data file has no formula; a network can find low-arity structure if any)")
    else:
        why = "the largest number of inputs of any node of the formula's graph of unary/binary operations"
        if a.kind == "teacher":
            why = "a net is a graph of sums, products and unary activations"
        row("arity d*", f"{a.d_star}   ({why})")
    if a.graph is not None:
        row("module graph", graph_text(a.graph))
    note = f"  ({'; '.join(a.smooth.notes)})" if a.smooth.notes else ""
    row("smooth", f"{'yes' if a.smooth.verdict == SMOOTH else a.smooth.verdict}{note}")
    row("output scale", f"RMS {a.scale_rms:.4g}, max |f| {a.scale_max:.4g}  (over {a.scale_from})")
    row("float64 floor", f"≈ {a.floor:.2g} absolute RMSE  (ε · RMS, ε = 2^-52 ≈ {EPS:.3g}; relative ≈ {EPS:.1g})")
    lines += ["", f"Recommendation: {rec.method.label}  [{rec.regime}]", f"  {rec.reason}.",
              f"  expected scaling: RMSE ∝ {rec.method.expectation}"]
    for note in rec.notes:
        lines.append(f"  {note}" if note.startswith("warning:") else f"  note: {note}")
    lines += ["", "Candidates (--probe fits each at 2–3 sizes):"]
    width = max(len(c.label) for c in rec.candidates)
    for c in rec.candidates:
        mark = "→" if c is rec.method else " "
        lines.append(f"  {mark} {c.label:<{width}}  RMSE ∝ {c.expectation}")
    lines += ["", "Ready-to-run config:", *("  " + line for line in config_text.rstrip("\n").splitlines())]
    return "\n".join(lines)


def format_probe(a: Analysis, rec: Recommendation, results: Sequence[ProbeResult], seconds: float) -> str:
    lines = [f"Probe ({seconds:.0f} s; test RMSE on {PROBE_TEST_POINTS} points; slopes fitted above "
             f"{FLOOR_MARGIN:g} × the floor = {FLOOR_MARGIN * a.floor:.2g}):"]
    width = max(len(r.candidate.label) for r in results)
    for r in results:
        c = r.candidate
        pts = "  ".join(f"N={p.N:,}: {p.test_rmse:.3g}" for p in r.points) or "(none)"
        lines.append(f"  {c.label:<{width}}  {pts}")
        expected = "spectral" if c.exponent is None else f"{c.exponent:.3g}"
        if c.exponent_range is not None:
            expected = f"{c.exponent_range[0]:.3g} … {c.exponent_range[1]:.3g}"
        measured = f"{r.slope:.3g}" if r.slope is not None else "—"
        lines.append(f"  {'':<{width}}  slope {measured} (expected {expected}): {r.verdict}"
                     + (f"; stopped: {r.skipped}" if r.skipped else ""))
    lines.append(f"  {probe_verdict(rec, results)}")
    return "\n".join(lines)
