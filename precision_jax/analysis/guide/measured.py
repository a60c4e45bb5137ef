"""The guide's advice on a data file, measured: the probes of ``model: auto`` decide between the rules' candidates.

A data file's smoothness is unknown to the rules (:mod:`~precision_jax.analysis.guide.recommendation`), which
therefore recommend simplex interpolation for d ≤ 3. :func:`quick_probe` runs the probes that ``model: auto``
runs (:func:`precision_jax.runs.auto_model.choose`: each candidate fitted to 80 % of the training rows and scored
on the rest, seconds for a few thousand rows), and :func:`follow` makes the measured winner the recommendation,
with its config. ``prec guide FILE`` does both unless ``--no-probe``; ``--probe`` (scaling slopes) is separate.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

from precision_jax.analysis.guide.candidates import Recommendation
from precision_jax.analysis.guide.config_writer import recommended_config
from precision_jax.analysis.guide.recommendation import candidates
from precision_jax.analysis.guide.target_analysis import Analysis
from precision_jax.config.engine import to_dict
from precision_jax.experiment import build_config
from precision_jax.runs import auto_model
from precision_jax.runs.plan import resolve_target

__all__ = ["quick_probe", "follow", "format_choice"]

INTERPOLANTS = ("chebyshev", "spline", "simplex")


def quick_probe(a: Analysis, on_probe: Optional[Callable[[auto_model.ProbeRow], None]] = None) -> auto_model.Choice:
    """The ``model: auto`` probes on the analysed data file (seed 0, every row but the held-out 20 %)."""
    cfg = build_config({"name": "guide_probe", "seed": 0, "target": dict(a.target), "model": "auto"},
                       source="prec guide")
    return auto_model.choose(cfg, resolve_target(cfg), on_probe=on_probe)


def follow(a: Analysis, rec: Recommendation, choice: auto_model.Choice) -> Recommendation:
    """``rec`` with the probes' winner as its method (and config); unchanged but for a note when they agree."""
    measured = f"measured by the probes: {auto_model.describe_choice(choice)}"
    if choice.candidate == rec.method.key:
        return dataclasses.replace(rec, notes=[*rec.notes, measured])
    method = candidates(a).get(choice.candidate)
    if method is None:  # a method the rules do not weigh for this d: keep the rules' advice, say what won
        return dataclasses.replace(rec, notes=[*rec.notes, f"{measured} (not a candidate of the rules here)"])
    out = Recommendation(f"{rec.regime}; measured", method,
                         f"{measured}; the rules alone would say {rec.method.label} ({rec.reason})",
                         [method, *(c for c in rec.candidates if c.key != method.key)], list(rec.notes))
    out.config = recommended_config(a, method)
    if choice.config.model.kind in INTERPOLANTS:  # the size that was validated (a Chebyshev series' degree)
        out.config["model"] = to_dict(choice.config.model)
    return out


def format_choice(choice: auto_model.Choice) -> str:
    """The probe table as ``prec guide`` prints it."""
    lines = [f"Probes ({choice.seconds:.1f} s; fitted to {choice.fit_rows:,} rows, RMSE on {choice.validation_rows:,} "
             f"held-out rows: {choice.split}):"]
    width = max(len(r.candidate) for r in choice.rows)
    for r in choice.rows:
        mark = "→" if r.candidate == choice.candidate else " "
        if r.skipped is not None:
            lines.append(f"  {mark} {r.candidate:<{width}}  skipped: {r.skipped}")
            continue
        unscored = f", {r.unscored} outside its domain" if r.unscored else ""
        lines.append(f"  {mark} {r.candidate:<{width}}  RMSE {r.rmse:.3g}  max {r.max_abs_error:.3g}  N = {r.N:,}  "
                     f"{r.seconds:.1f} s{unscored}")
    return "\n".join(lines)
