"""The panels every figure is made of — ``prec reproduce``'s figures and ``prec plot``'s — drawn from finished runs.

``PANELS[kind](ax, series, options) -> dict`` draws one panel into a matplotlib
``Axes`` (the caller owns the figure and its layout) and returns the numbers it
drew. ``series`` is a list of :class:`Series` (a short legend label, complete
runs as directories or :class:`~precision_jax.analysis.figures.runs.Entry`, style
hints); ``options`` the panel's settings from the figure spec. Every kind

* reads runs only through :mod:`precision_jax.analysis.figures.runs` (never writes to them) and draws
  in the style of :mod:`precision_jax.analysis.figures.style`;
* leaves out a run it cannot read or draw and lists it in ``result["skipped"]``
  ("path: why"), and a series with no runs in ``result["empty"]``; when nothing
  at all could be drawn the panel says so in its middle and ``result["note"]``
  says why — a panel never raises for missing runs, NaN metrics or NaN curve points;
* takes ``title``, ``xlabel``, ``ylabel``, ``xlim``, ``ylim`` and ``legend``
  (False: none; a string: its ``loc``, ``"outside"``: right of the axes) options;
* takes ``paper``, the paper's own numbers, drawn beside ours so that agreement shows at a glance.
  On ``scaling`` and ``curves`` panels: a list of marks ``{y, x?, series?, text?}``, ``y`` and ``x`` a
  number or a range ``[low, high]`` (the paper's "1e-4…1e-3"), each drawn as a grey open diamond at the
  range's centre (geometric on a log axis) with a bar over the range, all under one legend entry "paper".
  A mark without ``x`` sits at the end of the series it names (its last step; its largest size), or, on a
  learning-curve panel, at the last step drawn. On ``function_1d`` and ``regions_2d`` panels: one number,
  written in the title after ours ("test RMSE 2.4e-2 (paper 2.36e-2)"). The marks are returned in
  ``result["paper"]``; one that cannot be read is named in ``result["skipped"]``.

Style hints (``Series.style``, all optional): ``color`` (a matplotlib colour, or
``"<colormap>:<0..1>"`` for a colour from a colormap, e.g. ``"cool:0.3"``), ``dashed`` or ``dotted``
(bool), ``marker``, ``kind`` ("net" | "interpolant"; default from the runs' model kind),
``colour_by`` (a dotted config key, e.g. ``train.0.lr``: one colour per run from a
colormap with a colourbar), ``cmap``, ``colour_label`` (the colourbar's label).

Kinds and their options:

``scaling``
    error vs size, log–log. ``x`` "N" (default) or "D"; ``metric`` a summary metric
    (default ``test_rmse``; ``min_test_rmse``, ``test_relative_rmse``, ...);
    ``relative`` (divide by the output RMS, i.e. use test_rmse / test_relative_rmse);
    ``guides`` [{slope, label?, color?, anchor? (series label, or "top": the smallest size at the
    largest error), scale? (factor on the anchor), legend? (label in the legend, not at the end)}];
    ``fit_range`` [lo, hi] for the returned slopes; ``fit`` True: each series' power law
    (:func:`precision_jax.analysis.figures.series.fit_points`, over ``fit_range``) drawn dotted,
    its α and bootstrap interval in the legend and in the returned numbers (``fit``). Nets: the median over seeds per
    size as a line with markers and every seed as a small dot; interpolants: the
    mean as a line with a ± one standard deviation band. A guide is a dashed line
    through the first (smallest-size) point of its anchor series (the first drawn
    series by default), times ``scale``, with its label written at its end; guides
    stop a decade below the lowest data point. Returns per series the sizes, the
    medians/means, the number of runs and the least-squares log–log slope of
    the drawn points. The legend's title says what lines and dots are ("line: median over seeds, dots:
    seeds"; "band: mean ± 1 std over seeds"), returned as ``legend_note``.
``curves``
    learning curves: each run's curve with its stages (and boosting rounds)
    concatenated on one step axis (:func:`precision_jax.analysis.figures.runs.stage_offsets`).
    ``metric`` "test_rmse" (default) or "train_rmse"; ``train`` True: each run's train RMSE too,
    dotted in its colour; ``logy`` (default True), ``logx``;
    ``kinds`` [stage kinds]: keep only those stages' points, counting steps over them
    alone (e.g. ``[lcs]`` for RMSE vs LCS step); ``shade_stages`` True / False / a series
    label: mark and name the stages of that series' first run (default: when the
    panel has exactly one run) in a strip along the top of the axes, each band its stage's own span
    (:func:`stage_spans`), dashed lines at the boundaries, every name inside the axes; returned as
    ``stages``. A series whose curves lie on another series' curve (BFGS alone under the chain that starts
    with the same BFGS) is drawn on top of it, dashed with open markers, and its ``drawn_over`` names the
    series it would hide under. A series with ``style.colour_by`` (a config key or a summary
    field such as ``N``) is drawn one colour per
    run from ``style.cmap`` (viridis) with a colourbar, logarithmic when the key is a
    learning rate or a τ (or ``style.log_colour``). Returns per series the runs' final
    and minimum metric.
``tau``
    ``curves`` with ``colour_by`` the first LCS stage's ``tau`` (found in the config),
    the plasma colormap, and ``kinds: [lcs]`` unless given.
``function_1d``
    the fitted function of a 1-D run (:func:`precision_jax.runs.store.load_model`) on ``points``
    (default 2000) points over the box (or ``xlim``), the target (dashed, black) and the
    training points (dots: the interpolant's stored points, or a net's set regenerated
    with :func:`precision_jax.runs.training.run_data`; each distinct set once, the first in black).
    ``metric`` (default ``test_rmse``) is written in the title after ``title``; several series:
    in the legend instead. One run per series (its first).
``regions_2d``
    the linear-region map of a 2-D run (:func:`precision_jax.analysis.reproduce.measures.region_map`):
    ``resolution`` (default 400), ``tolerance`` (1e-8); one colour per region, white where
    no region (outside a simplex's hull); ``points`` True overlays the training points;
    ``metric`` as for function_1d. The title gets the metric and the region count. One map
    per panel: the first run of the first series with runs. Returns ``regions`` {label: count}.
    Only piecewise-linear nets (ReLU) have linear regions: a net with a smooth activation (tanh, …) has a
    different input gradient at every grid point, so its panel says "smooth activation: no linear regions"
    instead of drawing one colour per pixel, and returns ``smooth`` {label: activation}.
``hessian``
    the exact Hessian spectrum of a run's training MSE
    (:func:`precision_jax.analysis.reproduce.measures.run_spectrum`): eigenvalue index (most
    positive → most negative) vs |λ| (log; blue λ > 0, red λ < 0), |g·v| on a second
    log axis (orange), a dotted vertical line where λ changes sign. ``threshold``
    (default 1e-10) is drawn as a dotted horizontal line when given and used for the
    small fraction; ``top`` (0.1) for the gradient concentration; ``round`` (0) the
    boosting round. ``split`` True: as ``hessian_split``.
``hessian_split``
    the same spectrum in two stacked sub-panels made inside the given Axes
    (``ax.inset_axes``; the Axes itself is switched off): λ > 0 on top, λ < 0 below,
    each with |g·v|; the index keeps counting across both.
Both Hessian kinds return ``hessian`` {label: :func:`~precision_jax.analysis.reproduce.measures.spectrum_numbers`}.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from precision_jax.analysis.figures.gadget_panel import draw_gadget
from precision_jax.analysis.figures.runs import Entry, curve_rows, panel_metric, read_entry
from precision_jax.analysis.figures.series import fit_legend, fit_points
from precision_jax.analysis.figures.style import (
    BAND_NOTE,
    DOT,
    FONT,
    GRID_ALPHA,
    GUIDE_COLOR,
    LINE,
    MARKER,
    NEGATIVE_COLOR,
    PAPER_COLOR,
    PAPER_LABEL,
    PAPER_MARKER,
    POSITIVE_COLOR,
    PROJECTION_COLOR,
    SEEDS_NOTE,
    SIZE_LABELS,
    SMALL,
    STAGE_NAMES,
    STAGE_SHADES,
    TARGET_COLOR,
    finish,
    fmt,
    metric_name,
    nothing,
    pyplot,
    series_colors,
    title,
)
from precision_jax.analysis.reproduce import measures
from precision_jax.runs import store

__all__ = ["Series", "PANELS", "draw_scaling", "draw_curves", "draw_tau", "draw_function_1d", "draw_regions_2d",
           "draw_hessian", "draw_hessian_split"]


@dataclass
class Series:
    """One legend entry of a panel: a short label, its complete runs (directories or entries), style hints."""

    label: str
    runs: list = field(default_factory=list)
    style: dict = field(default_factory=dict)


# Per stage kind: the name written on a shaded stage, and its shade (each stage kind's own facts; "fit" is the
# span of a data-file model's fit, which is no stage).
LOG_COLOUR_KEY = re.compile(r"(^|\.)(lr|final_lr|tau|alpha_min|alpha_max|scale|damping)$")


def _style(series: Series) -> dict:
    return series.style if isinstance(series.style, dict) else {}


def _result() -> dict:
    return {"empty": [], "skipped": []}


def _skip(result: dict, run, error: Exception | str) -> None:
    text = " ".join(str(error).split())
    result["skipped"].append(text if text.startswith(str(run)) else f"{run}: {text}")


def _runs_of(series: Series, result: dict) -> list[Entry]:
    """The series' runs as entries (an entry as given, a directory read); unreadable ones skipped, named."""
    runs = []
    for run in series.runs or ():
        if isinstance(run, Entry):
            runs.append(run)
            continue
        try:
            runs.append(read_entry(run))
        except (store.StoreError, OSError, ValueError) as e:
            _skip(result, run, e)
    if not runs:
        result["empty"].append(series.label)
    return runs


def _is_interpolant(series: Series, runs: list[Entry]) -> bool:
    kind = _style(series).get("kind")
    if kind in ("net", "interpolant"):
        return kind == "interpolant"
    return bool(runs) and all(r.interpolant for r in runs)


# --------------------------------------------------------------------------- the paper's numbers


def _number_or_range(value) -> Optional[tuple[float, float]]:
    """A number as ``(v, v)``, a two-item list as ``(lo, hi)``; None unless finite (and positive: log axes)."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(items) not in (1, 2) or any(isinstance(v, bool) for v in items):
        return None
    try:
        values = [float(v) for v in items]
        lo, hi = min(values), max(values)
    except (TypeError, ValueError):
        return None
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) and lo > 0 else None


def _paper_marks(options: dict, result: dict) -> list[dict]:
    """``options["paper"]`` as marks ``{y: (lo, hi), x: (lo, hi) | None, series, text}``; a mark that cannot
    be read is left out and named in ``result["skipped"]``."""
    given = options.get("paper")
    if given is None:
        return []
    given = given if isinstance(given, list) else [given]
    marks = []
    for i, mark in enumerate(given):
        mark = {"y": mark} if not isinstance(mark, dict) else mark
        y = _number_or_range(mark.get("y"))
        x = _number_or_range(mark["x"]) if mark.get("x") is not None else None
        if y is None or (mark.get("x") is not None and x is None):
            result["skipped"].append(f"paper mark {i + 1}: needs y (and x, if given) as a positive number or "
                                     f"[low, high], got {mark!r}")
            continue
        marks.append({"y": y, "x": x, "series": mark.get("series"), "text": str(mark.get("text") or "")})
    return marks


def _place_marks(marks: list[dict], ends: dict[str, float], default_x: Optional[float], result: dict
                 ) -> list[dict]:
    """Each mark's x: its own, else the end of the series it names (``ends``), else ``default_x``."""
    placed = []
    for mark in marks:
        x = mark["x"]
        if x is None and mark["series"] is not None:
            end = ends.get(str(mark["series"]))
            x = None if end is None else (end, end)
            if x is None:
                result["skipped"].append(f"paper mark for {mark['series']!r}: no such series drawn")
                continue
        if x is None and default_x is not None:
            x = (default_x, default_x)
        if x is None:
            result["skipped"].append(f"paper mark {mark['y']}: needs x (or a drawn series to sit at the end of)")
            continue
        placed.append({**mark, "x": x})
    return placed


def _draw_marks(ax, placed: list[dict], result: dict, x_span: tuple[float, float], log_x: bool = True) -> None:
    """The paper's numbers as grey diamonds at the geometric centre of each range, a bar over the range, one
    legend entry "paper" (they sit above every curve, so agreement or its absence shows at a glance). A mark's
    text goes to its right, or to its left in the last quarter of ``x_span``, so that it stays in the axes."""
    drawn = []
    scale = (lambda v: math.log(v)) if log_x else (lambda v: v)
    lo_span, hi_span = scale(x_span[0]), scale(x_span[1])
    for j, mark in enumerate(placed):
        (x_lo, x_hi), (y_lo, y_hi) = mark["x"], mark["y"]
        x, y = math.sqrt(x_lo * x_hi) if log_x else (x_lo + x_hi) / 2, math.sqrt(y_lo * y_hi)
        ax.errorbar([x], [y], yerr=[[y - y_lo], [y_hi - y]] if y_hi > y_lo else None,
                    xerr=[[x - x_lo], [x_hi - x]] if x_hi > x_lo else None, fmt=PAPER_MARKER, ms=MARKER + 1.5,
                    mfc="white", mec=PAPER_COLOR, mew=1.3, ecolor=PAPER_COLOR, elinewidth=1.3, capsize=2.5,
                    zorder=7, label=PAPER_LABEL if j == 0 else None)
        if mark["text"]:
            left = hi_span > lo_span and (scale(x) - lo_span) / (hi_span - lo_span) > 0.75
            if x_hi > x_lo:  # a bar along x: the text above the diamond, clear of the bar
                offset, ha, va = (0, 6), "center", "bottom"
            else:
                offset, ha, va = (-6 if left else 6, 0), "right" if left else "left", "center"
            ax.annotate(mark["text"], (x, y), xytext=offset, textcoords="offset points", fontsize=SMALL - 0.5,
                        color=PAPER_COLOR, va=va, ha=ha, zorder=7, annotation_clip=True)
        drawn.append({"x": x, "y": y, "x_range": [x_lo, x_hi], "y_range": [y_lo, y_hi],
                      "series": mark["series"], "text": mark["text"]})
    result["paper"] = drawn


def _paper_value(options: dict) -> Optional[float]:
    """The paper's value of a one-number panel (a fitted function, a region map): ``paper: 2.36e-2``."""
    given = options.get("paper")
    given = given[0] if isinstance(given, list) and given else given
    given = given.get("y") if isinstance(given, dict) else given
    found = _number_or_range(given)
    return None if found is None else math.sqrt(found[0] * found[1])


def _with_paper(line: str, options: dict, result: dict) -> str:
    value = _paper_value(options)
    if value is None:
        return line
    result["paper"] = value
    return f"{line} (paper {fmt(value)})"


# --------------------------------------------------------------------------- scaling


def _mathtext(text: str) -> str:
    """``text`` as mathtext (``N^{-1}`` → ``$N^{-1}$``) when it has ^ or _ and parses; else as given."""
    if "$" in text or not re.search(r"[\^_]", text):
        return text
    from matplotlib.mathtext import MathTextParser

    try:
        MathTextParser("path").parse(f"${text}$")
    except ValueError:
        return text
    return f"${text}$"


def _loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if len(np.unique(x[ok])) < 2:
        return math.nan
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def _is_range(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 2


def _fit_label(label: str, fit: Optional[dict], x_name: str) -> str:
    return label if fit is None else f"{label}\n  {fit_legend(fit, x_name)}"


def draw_scaling(ax, series: list[Series], options: dict) -> dict:
    options = options or {}
    result = _result()
    result["series"] = {}
    x_name = options.get("x", "N")
    x_name = x_name if x_name in ("N", "D") else "N"
    metric = str(options.get("metric", "test_rmse"))
    relative = bool(options.get("relative", False))
    fit_range = options.get("fit_range")
    first_points: dict[str, tuple[float, float]] = {}
    ends: dict[str, float] = {}  # each series' largest size: where a paper mark naming it sits by default
    all_x, all_y = [], []
    dots = band = False
    colors = series_colors(series)
    for i, s in enumerate(series):
        runs = _runs_of(s, result)
        if not runs:
            continue
        style, color = _style(s), colors[i]
        sizes = np.array([float(getattr(r.summary, x_name)) for r in runs])
        errors = np.array([panel_metric(r, metric, relative) for r in runs])
        ok = np.isfinite(sizes) & np.isfinite(errors) & (errors > 0) & (sizes > 0)
        for r, good in zip(runs, ok):
            if not good:
                _skip(result, r.path, f"no finite positive {metric}")
        sizes, errors = sizes[ok], errors[ok]
        if sizes.size == 0:
            result["empty"].append(s.label)
            continue
        unique = np.unique(sizes)
        linestyle = ":" if style.get("dotted") else "--" if style.get("dashed") else "-"
        interpolant = _is_interpolant(s, runs)
        fit = None
        if options.get("fit"):
            seeds = [r.seed for r, good in zip(runs, ok) if good]
            fit = fit_points(sizes, errors, seeds, fit_range if _is_range(fit_range) else None)
        if interpolant:
            centre = np.array([errors[sizes == u].mean() for u in unique])
            spread = np.array([errors[sizes == u].std() for u in unique])
            if np.any(spread > 0):
                # On a log axis mean − std can be ≤ 0: the band's floor is kept a decade under the mean.
                ax.fill_between(unique, np.maximum(centre - spread, centre / 10), centre + spread, color=color,
                                alpha=0.22, lw=0)
                band = True
            ax.plot(unique, centre, linestyle, marker=style.get("marker", "s"), color=color, ms=MARKER, lw=LINE,
                    label=_fit_label(s.label, fit, x_name))
        else:
            centre = np.array([np.median(errors[sizes == u]) for u in unique])
            if len(errors) > len(unique):  # more than one seed somewhere: show every seed
                ax.scatter(sizes, errors, s=DOT, color=color, alpha=0.5, lw=0, zorder=3)
                dots = True
            ax.plot(unique, centre, linestyle, marker=style.get("marker", "o"), color=color, ms=MARKER, lw=LINE,
                    label=_fit_label(s.label, fit, x_name), zorder=4)
        if fit is not None:
            grid = np.geomspace(*fit["range"], 50)
            ax.plot(grid, np.exp(fit["log_a"]) * grid ** fit["exponent"], ":", color=color, lw=1.2, zorder=3)
        keep = np.ones_like(unique, bool)
        if _is_range(fit_range):
            keep = (unique >= float(fit_range[0])) & (unique <= float(fit_range[1]))
        result["series"][s.label] = {"x": unique.tolist(), "y": centre.tolist(), "runs": int(len(errors)),
                                     "summary": "mean" if interpolant else "median",
                                     "slope": _loglog_slope(unique[keep], centre[keep]),
                                     **({"fit": fit} if fit is not None else {})}
        first_points[s.label] = (float(unique[0]), float(centre[0]))
        ends[s.label] = float(unique[-1])
        all_x += sizes.tolist()
        all_y += errors.tolist()
    if not all_x:
        nothing(ax, result, "no runs with a finite error")
        title(ax, options.get("title", ""))
        return result
    ax.set_xscale("log")
    ax.set_yscale("log")
    # On a span of under a decade matplotlib labels the minor ticks too, and they collide: keep majors only.
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    y_low, y_high = min(all_y), max(all_y)
    x_low, x_high = min(all_x), max(all_x)
    guides = options.get("guides") or []
    result["guides"] = []
    top = (x_low, y_high)  # the "top" anchor: every curve lies under a falling guide through it
    marks = _place_marks(_paper_marks(options, result), ends, None, result)
    for mark in marks:  # the paper's sizes may lie beyond ours: the axes (and guides) reach them
        x_low, x_high = min(x_low, mark["x"][0]), max(x_high, mark["x"][1])
        y_low, y_high = min(y_low, mark["y"][0]), max(y_high, mark["y"][1])
    for j, guide in enumerate(guides if isinstance(guides, list) else []):
        try:
            slope = float(guide["slope"])
        except (KeyError, TypeError, ValueError):
            continue
        anchor = guide.get("anchor")
        x0, y0 = top if anchor == "top" else first_points.get(anchor) or next(iter(first_points.values()))
        y0 *= float(guide.get("scale", 1.0))
        # Stop a decade below the lowest data point so a steep guide does not stretch the axis.
        x_end = x_high
        if slope < 0:
            x_end = min(x_high, x0 * ((y_low / 10) / y0) ** (1 / slope))
        if x_end <= x0:
            continue
        grid = np.geomspace(x0, x_end, 50)
        color = guide.get("color", GUIDE_COLOR)
        label = _mathtext(str(guide.get("label") or f"{x_name}^{{{slope:g}}}"))
        in_legend = bool(guide.get("legend"))
        # Guides named in the legend are told apart by their dash pattern.
        ax.plot(grid, y0 * (grid / x0) ** slope, "--", color=color, lw=1.1, zorder=2,
                **({"dashes": (4 + 2 * j, 2 + j), "label": label} if in_legend else {}))
        if not in_legend:
            ax.annotate(label, (grid[-1], y0 * (grid[-1] / x0) ** slope), xytext=(3, 0), textcoords="offset points",
                        fontsize=SMALL + 0.5, color=color, va="center", ha="left", annotation_clip=False)
        result["guides"].append({"slope": slope, "x0": x0, "y0": y0})
        y_low, y_high = min(y_low, y0 * (x_end / x0) ** slope), max(y_high, y0)
    if marks:
        _draw_marks(ax, marks, result, (x_low, x_high))
    ax.set_ylim(y_low / 2.5, y_high * 2.5)
    labels_at_end = any(not g.get("legend") for g in guides if isinstance(g, dict)) and result["guides"]
    ax.set_xlim(x_low / 1.5, x_high * (3.0 if labels_at_end else 1.5))  # room for the guides' labels
    notes = [SEEDS_NOTE] * dots + [BAND_NOTE] * band
    result["legend_note"] = "\n".join(notes)
    finish(ax, options, SIZE_LABELS[x_name], metric_name(metric, relative), legend_title=result["legend_note"])
    title(ax, options.get("title", ""))
    return result


# --------------------------------------------------------------------------- learning curves


def _segments(rows: list[dict]) -> list[tuple[tuple, str, float, float]]:
    """(segment, kind, first step, last step) of each (round, stage) in order."""
    out: dict = {}
    for r in rows:
        seg = r["segment"]
        lo, hi = out.get(seg, (r["kind"], r["total_step"], r["total_step"]))[1:]
        out[seg] = (r["kind"], min(lo, r["total_step"]), max(hi, r["total_step"]))
    return [(seg, kind, lo, hi) for seg, (kind, lo, hi) in out.items()]


def stage_spans(rows: list[dict]) -> list[dict]:
    """Each stage's span on the step axis: ``{round, stage, kind, start, end}``, from its first to its last
    step; a stage that took no step spans the one step :func:`~.runs.stage_offsets` gives it."""
    segments = _segments(rows)
    spans = []
    for j, ((round_, stage), kind, lo, hi) in enumerate(segments):
        if hi <= lo:
            hi = segments[j + 1][2] if j + 1 < len(segments) else lo + 1
        spans.append({"round": round_, "stage": stage, "kind": kind, "start": float(lo), "end": float(hi)})
    return spans


STRIP = 0.065  # height of the stage strip along the top of a learning-curve panel (axes fraction)


def _stage_label(span: dict) -> str:
    name = STAGE_NAMES.get(span["kind"], span["kind"])
    return name if span["round"] == 0 else f"boost {span['round']}: {name}"


def _shade(ax, rows: list[dict], x_limits: tuple[float, float]) -> list[dict]:
    """One run's stages as a strip along the top of the axes, each band exactly its stage's span, a thin line
    at each boundary through the panel, each stage's name in (or, when its band is narrow, just under) the
    strip. The curves keep a white background: the strip says where a stage runs without tinting the data.

    Labels are anchored so that they stay inside the axes: a label near the right end is right-aligned at
    its stage's end, one near the left end left-aligned at its start; narrow stages' labels go in staggered
    rows under the strip so that neighbours do not overlap."""
    spans = stage_spans(rows)
    if not spans:
        return []
    from matplotlib.transforms import blended_transform_factory

    x0, x1 = x_limits
    width = (x1 - x0) or 1.0
    to_axes = blended_transform_factory(ax.transData, ax.transAxes)
    row = 0
    for j, span in enumerate(spans):
        lo, hi = span["start"], span["end"]
        shade = STAGE_SHADES.get(span["kind"], "#dddddd")
        # Alternate rounds darken slightly, so two stages of one kind in a row still read as two.
        band = ax.axvspan(lo, hi, ymin=1 - STRIP, ymax=1.0, facecolor=shade, edgecolor="0.55", lw=0.6,
                          zorder=1.5, alpha=1.0 if span["round"] % 2 == 0 else 0.7)
        band.set_gid("stage-band")
        if j:
            ax.axvline(lo, color="0.6", lw=0.6, ls=(0, (2, 2)), zorder=1)
        fraction = (hi - lo) / width
        centre = (lo + hi) / 2
        if fraction >= 0.15:  # room inside its own band
            y, va = 1 - STRIP / 2, "center"
            x, ha, dx = centre, "center", 0
            if (centre - x0) / width < 0.1:
                x, ha, dx = max(lo, x0), "left", 3
            elif (x1 - centre) / width < 0.1:
                x, ha, dx = min(hi, x1), "right", -3
        else:  # under the strip, staggered
            y, va = 1 - STRIP - 0.01 - 0.055 * (row % 3), "top"
            row += 1
            if (centre - x0) / width > 0.6:
                x, ha, dx = min(hi, x1), "right", -2
            else:
                x, ha, dx = max(lo, x0), "left", 2
        text = ax.annotate(_stage_label(span), (x, y), xycoords=to_axes, xytext=(dx, 0), textcoords="offset points",
                           ha=ha, va=va, fontsize=SMALL - 0.5, color="0.2", zorder=6, annotation_clip=False)
        text.set_gid("stage-label")
    return spans


def _colour_values(runs: list[Entry], key: str) -> list[float]:
    values = []
    for r in runs:
        v = r.value(key)
        try:
            values.append(float(v))
        except (TypeError, ValueError):
            values.append(math.nan)
    return values


def _colour_label(key: str, runs: list[Entry]) -> str:
    leaf = key.split(".")[-1]
    stage_kind = None
    m = re.match(r"^(.*train\.\d+)\.[^.]+$", key)
    if m and runs:
        stage_kind = runs[0].config.get(f"{m.group(1)}.kind")
    if leaf == "lr":
        return f"{STAGE_NAMES.get(stage_kind, 'stage')} learning rate" if stage_kind else "learning rate"
    if leaf == "tau":
        return "LCS threshold τ" if stage_kind == "lcs" else "τ"
    return leaf


def _hidden_under(rows: list[dict], other: list[dict], metric: str, tol: float = 0.05) -> bool:
    """Whether a curve lies on another one: its steps within the other's, and all but a fifth of its points
    within ``tol`` decades of the other curve there (log-linear between the other's points): a BFGS run
    alone under the chain that starts with the same BFGS."""
    def finite(rs):
        pts = [(r["total_step"], r[metric]) for r in rs if math.isfinite(r[metric]) and r[metric] > 0]
        return np.array(sorted(pts), float).reshape(-1, 2)

    mine, theirs = finite(rows), finite(other)
    if len(mine) < 2 or len(theirs) < 2 or mine[0, 0] < theirs[0, 0] or mine[-1, 0] > theirs[-1, 0]:
        return False
    there = np.interp(mine[:, 0], theirs[:, 0], np.log10(theirs[:, 1]))
    return float(np.mean(np.abs(np.log10(mine[:, 1]) - there) <= tol)) >= 0.8


def _lift_hidden(drawn: list, lines: dict[str, list], metric: str, result: dict) -> None:
    """A series whose curves lie on another series' curve (BFGS alone under the chain that starts with BFGS)
    is drawn on top of it, dashed, with open markers, so both stay visible; ``result["series"][label]
    ["drawn_over"]`` names the series it covers."""
    for label, own in lines.items():
        mine = [rows for s, _, rows in drawn if s.label == label]
        over = sorted({s.label for s, _, rows in drawn if s.label != label
                       and any(_hidden_under(m, rows, metric) for m in mine)})
        if not over:
            continue
        result["series"][label]["drawn_over"] = over
        for line in own:
            n = len(line.get_xdata())
            line.set_zorder(4.5)
            line.set_linestyle((0, (3.5, 2)))
            line.set_linewidth(LINE * 1.1)
            line.set_marker("o")
            line.set_markersize(MARKER)
            line.set_markerfacecolor("white")
            line.set_markevery(max(1, n // 12))


def draw_curves(ax, series: list[Series], options: dict) -> dict:
    options = options or {}
    result = _result()
    result["series"] = {}
    plt = pyplot()
    metric = options.get("metric", "test_rmse")
    metric = metric if metric in ("test_rmse", "train_rmse") else "test_rmse"
    train = bool(options.get("train")) and metric == "test_rmse"
    kinds = options.get("kinds")
    kinds = [str(k) for k in kinds] if isinstance(kinds, (list, tuple)) and kinds else None
    drawn: list[tuple[Series, Entry, list[dict]]] = []  # (series as given, run, rows)
    lines: dict[str, list] = {}  # series label → its curves' Line2D, restyled if another series hides them
    finite_values, total_runs = [], 0
    colors = series_colors(series)
    for i, s in enumerate(series):
        runs = _runs_of(s, result)
        curves = []
        for r in runs:
            try:
                rows = curve_rows(r.path, kinds)
            except (store.StoreError, OSError, ValueError, KeyError) as e:
                _skip(result, r.path, e)
                continue
            if not rows:
                _skip(result, r.path, "no curve points" + (f" of stages {', '.join(kinds)}" if kinds else ""))
                continue
            if not any(math.isfinite(row[metric]) and row[metric] > 0 for row in rows):
                _skip(result, r.path, f"no finite positive {metric} on its curve")
                continue
            curves.append((r, rows))
        if runs and not curves:
            result["empty"].append(s.label)
        if not curves:
            continue
        style, color = _style(s), colors[i]
        linestyle = "--" if style.get("dashed") else "-"
        key = style.get("colour_by") or style.get("color_by")
        colours = [color] * len(curves)
        values = _colour_values([r for r, _ in curves], key) if key else []
        finite = [v for v in values if math.isfinite(v)]
        if key and len(set(finite)) > 1:
            from matplotlib.cm import ScalarMappable
            from matplotlib.colors import LogNorm, Normalize

            log = style.get("log_colour", bool(LOG_COLOUR_KEY.search(str(key)))) and min(finite) > 0
            norm = (LogNorm if log else Normalize)(min(finite), max(finite))
            cmap = plt.get_cmap(style.get("cmap", "viridis"))
            colours = [cmap(norm(v)) if math.isfinite(v) else "0.5" for v in values]
            bar = ax.figure.colorbar(ScalarMappable(norm, cmap), ax=ax, pad=0.02, fraction=0.06, aspect=25)
            bar.set_label(style.get("colour_label", _colour_label(str(key), [r for r, _ in curves])), fontsize=SMALL)
            bar.ax.tick_params(labelsize=SMALL)
            # Proxy legend entry: the series is the colour scale.
            ax.plot([], [], linestyle, color=cmap(0.5), lw=LINE, label=s.label)
            labelled = True
        else:
            labelled = False
            if key and finite:  # one value of the colour key: say it in the label instead of a colourbar
                leaf = str(key).split(".")[-1]
                s = Series(f"{s.label} ({'τ' if leaf == 'tau' else leaf} = {finite[0]:g})", s.runs, s.style)
        finals, minima = [], []
        for j, ((r, rows), c) in enumerate(zip(curves, colours)):
            steps = np.array([row["total_step"] for row in rows], float)
            y = np.array([row[metric] for row in rows], float)
            y = np.where(np.isfinite(y) & (y > 0), y, np.nan)  # NaN: a gap in the line, never a crash
            label = s.label if (j == 0 and not labelled) else None
            line, = ax.plot(steps, y, linestyle, color=c, lw=LINE * 0.85, alpha=0.9, label=label, zorder=3)
            lines.setdefault(series[i].label, []).append(line)
            if train:
                y_train = np.array([row["train_rmse"] for row in rows], float)
                y_train = np.where(np.isfinite(y_train) & (y_train > 0), y_train, np.nan)
                ax.plot(steps, y_train, ":", color=c, lw=LINE * 0.6, alpha=0.6, zorder=3)
                finite_values += y_train[np.isfinite(y_train)].tolist()
            good = y[np.isfinite(y)]
            finals.append(float(good[-1]) if good.size else math.nan)
            minima.append(float(good.min()) if good.size else math.nan)
            finite_values += good.tolist()
            drawn.append((series[i], r, rows))
        total_runs += len(curves)
        result["series"][series[i].label] = {"runs": len(curves), "final": finals, "min": minima,
                                     **({"colour_by": key, "colour_values": values} if key else {})}
    if not drawn:
        nothing(ax, result, "no runs with a learning curve")
        title(ax, options.get("title", ""))
        return result
    _lift_hidden(drawn, lines, metric, result)
    all_steps = [row["total_step"] for _, _, rows in drawn for row in rows]
    ends = {}
    for s, _, rows in drawn:
        ends[s.label] = max(ends.get(s.label, -math.inf), max(row["total_step"] for row in rows))
    marks = _place_marks(_paper_marks(options, result), ends, max(all_steps), result)
    for mark in marks:
        all_steps += list(mark["x"])
        finite_values += list(mark["y"])
    x_limits = (min(all_steps), max(max(all_steps), min(all_steps) + 1))
    if marks:
        if any(mark["x"][1] >= x_limits[1] for mark in marks):  # a whole diamond at the last step
            x_limits = (x_limits[0], x_limits[1] + 0.02 * (x_limits[1] - x_limits[0]))
        _draw_marks(ax, marks, result, x_limits, log_x=False)
    if train:  # the key to the two line styles
        ax.plot([], [], "-", color="0.3", label="test RMSE")
        ax.plot([], [], ":", color="0.3", label="train RMSE")
    shade = options.get("shade_stages")
    shade_rows = None
    if shade is None:
        shade_rows = drawn[0][2] if total_runs == 1 else None
    elif isinstance(shade, str):
        shade_rows = next((rows for s, _, rows in drawn if s.label == shade), None)
    elif shade:
        shade_rows = max((rows for _, _, rows in drawn), key=lambda rows: len(_segments(rows)))
    if shade_rows is not None:
        result["stages"] = _shade(ax, shade_rows, x_limits)
    if options.get("logy", True) and finite_values:
        ax.set_yscale("log")
    if options.get("logx", False):
        ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(*x_limits)
    if finite_values and options.get("logy", True):
        # Headroom over the highest point for the stage strip along the top.
        ax.set_ylim(min(finite_values) / 3, max(finite_values) * (30 if shade_rows is not None else 3))
    what = "LCS step" if kinds == ["lcs"] else "optimization step"
    # One series explains itself through the title; stage names sit along the top, so the legend goes low.
    wanted = options.get("legend")
    show = wanted is not None and wanted is not False or len(result["series"]) > 1
    finish(ax, options, what if kinds else f"{what} (stages in sequence)", "RMSE" if train else metric_name(metric),
           legend=show,
           legend_loc="lower left" if shade_rows is not None else "best")
    title(ax, options.get("title", ""))
    return result


def draw_tau(ax, series: list[Series], options: dict) -> dict:
    """``curves`` coloured by the LCS threshold τ (plasma, log colourbar), RMSE vs LCS step by default."""
    options = dict(options or {})
    options.setdefault("kinds", ["lcs"])
    options.setdefault("shade_stages", False)
    options.setdefault("legend", True)  # one τ is written in the series' label, so the legend is its only key
    restyled = []
    for s in series:
        style = dict(_style(s))
        if not style.get("colour_by"):
            key = _tau_key(s)
            if key:
                style["colour_by"] = key
        style.setdefault("cmap", "plasma")
        restyled.append(Series(s.label, list(s.runs or []), style))
    return draw_curves(ax, restyled, options)


def _tau_key(s: Series) -> Optional[str]:
    for run in _runs_of(s, _result()):
        flat = run.config
        for key in flat:
            m = re.match(r"^((?:boost\.)?train\.\d+)\.tau$", key)
            if m and flat.get(f"{m.group(1)}.kind") == "lcs":
                return key
    return None


# --------------------------------------------------------------------------- fitted functions


def _training_points(record, cfg) -> tuple[np.ndarray, np.ndarray]:
    """The run's training points in raw inputs: an interpolant's stored points, else regenerated from the config."""
    part = record.parts[0]
    if "theta" not in part.arrays and "x" in part.arrays and "y" in part.arrays:
        return np.asarray(part.arrays["x"], float), np.asarray(part.arrays["y"], float).ravel()
    from precision_jax.runs.plan import resolve_target
    from precision_jax.runs.training import run_data

    n_params = int(part.arrays["theta"].size) if "theta" in part.arrays else int(record.summary.N)
    data = run_data(cfg, resolve_target(cfg), n_params, standardize=False)
    return np.asarray(data.x_train), np.asarray(data.y_train)


def _target_values(cfg, x: np.ndarray) -> Optional[np.ndarray]:
    try:
        import jax.numpy as jnp

        from precision_jax.runs.plan import resolve_target

        y = np.asarray(resolve_target(cfg).fn(jnp.asarray(x)), float)
        return y if y.shape == (x.shape[0],) else None
    except Exception:  # noqa: BLE001 — a target without a formula (a data file) simply has no curve drawn
        return None


def draw_function_1d(ax, series: list[Series], options: dict) -> dict:
    options = options or {}
    result = _result()
    result.update({"metric": {}, "n_train": {}})
    metric = str(options.get("metric", "test_rmse"))
    n_points = int(options.get("points", 2000))
    drew_target, drawn, point_sets, variables = False, [], [], []
    colors = series_colors(series)
    for i, s in enumerate(series):
        runs = _runs_of(s, result)
        style, color = _style(s), colors[i]
        for r in runs[:1]:
            if r.summary.target.d != 1:
                _skip(result, r.path, f"not a 1-D target (d = {r.summary.target.d})")
                continue
            try:
                record = store.read_run(r.path, extra=False)
                model = store.load_model(record)
                x_train, y_train = _training_points(record, record.config)
            except Exception as e:  # noqa: BLE001 — any unreadable or unrebuildable run is skipped, named
                _skip(result, r.path, e)
                continue
            lo, hi = float(r.summary.target.lows[0]), float(r.summary.target.highs[0])
            xlim = options.get("xlim")
            if isinstance(xlim, (list, tuple)) and len(xlim) == 2:
                lo, hi = float(xlim[0]), float(xlim[1])
            grid = np.linspace(lo, hi, n_points)[:, None]
            with np.errstate(all="ignore"):
                fitted = np.asarray(model(grid), float)
            if not np.isfinite(fitted).any():
                _skip(result, r.path, "the fitted function is not finite on the grid (target and points drawn)")
            if not drew_target:
                truth = _target_values(record.config, grid)
                if truth is not None:
                    ax.plot(grid[:, 0], truth, "--", color=TARGET_COLOR, lw=1.0, label="target", zorder=2)
                    drew_target = True
            value = panel_metric(r, metric)
            label = s.label if len(series) > 1 else "fit"
            if len(series) > 1:
                label += f" ({metric_name(metric)} {fmt(value)})"
            ax.plot(grid[:, 0], fitted, "--" if style.get("dashed") else "-", color=color, lw=LINE, label=label,
                    zorder=3)
            inside = (x_train[:, 0] >= lo) & (x_train[:, 0] <= hi)
            # Series with the same seed share their points: each distinct set is drawn once, the first in black.
            if not any(np.array_equal(np.sort(x_train[:, 0]), seen) for seen in point_sets):
                first = not point_sets
                ax.scatter(x_train[inside, 0], y_train[inside], s=16, color="black" if first else color,
                           edgecolor="white", linewidth=0.5, zorder=4,
                           label="training points" if first else f"training points ({s.label})")
                point_sets.append(np.sort(x_train[:, 0]))
            result["metric"][s.label] = value
            result["n_train"][s.label] = int(x_train.shape[0])
            drawn.append(s.label)
            variables.append(r.summary.target.variables[0] if r.summary.target.variables else None)
    if not drawn:
        nothing(ax, result, "no 1-D runs to draw")
        title(ax, options.get("title", ""))
        return result
    ax.set_xlim(grid[0, 0], grid[-1, 0])
    if len(drawn) == 1:
        head = options.get("title", "")
        line = _with_paper(f"{metric_name(metric)} {fmt(result['metric'][drawn[0]])}", options, result)
        title(ax, f"{head}\n{line}" if head else line)
    else:
        title(ax, options.get("title", ""))
    variable = variables[0] if variables and variables[0] else None
    finish(ax, options, variable or "x", f"f({variable or 'x'})")
    return result


# --------------------------------------------------------------------------- linear regions


def _region_colours(count: int) -> np.ndarray:
    """``count`` RGB colours, distinct and shuffled so that neighbours rarely look alike (fixed seed)."""
    plt = pyplot()
    rng = np.random.default_rng(0)
    if count <= 20:
        base = np.array([plt.get_cmap("tab20")(k)[:3] for k in range(20)])
        return base[rng.permutation(20)[:count]]
    hues = rng.permutation(count) / count
    from matplotlib.colors import hsv_to_rgb

    hsv = np.column_stack([hues, 0.45 + 0.45 * rng.random(count), 0.65 + 0.3 * rng.random(count)])
    return hsv_to_rgb(hsv)


# Activations whose nets are piecewise linear: only these have linear regions to draw.
PIECEWISE_LINEAR = frozenset({"relu"})
NO_REGIONS = "smooth activation: no linear regions"


def _smooth_activation(entry: Entry) -> Optional[str]:
    """The activation of a net (or of its boosting rounds' nets) that is not piecewise linear, else None.
    Such a net's input gradient differs at every grid point, so a region map would be one colour per pixel."""
    for prefix in ("model", "boost.model"):
        if entry.config.get(f"{prefix}.kind") in ("mlp", "modular"):
            activation = str(entry.config.get(f"{prefix}.activation", "tanh"))
            if activation not in PIECEWISE_LINEAR:
                return activation
    return None


def _map_aspect(x0: float, x1: float, y0: float, y1: float) -> str:
    """A 2-D map's aspect: true shape unless the box is more than twice as tall as wide or the reverse."""
    return "equal" if 0.5 <= (y1 - y0) / (x1 - x0) <= 2 else "auto"


def _scatter_training_points(ax, r: Entry, result: dict) -> None:
    """The run's training points over a 2-D map; the map stands without them if they cannot be redrawn."""
    try:
        record = store.read_run(r.path, extra=False)
        x_train, _ = _training_points(record, record.config)
        ax.scatter(x_train[:, 0], x_train[:, 1], s=4, color="black", lw=0, zorder=3)
    except Exception as e:  # noqa: BLE001 — the map stands without its points
        _skip(result, r.path, f"training points not drawn: {e}")


def _no_regions(ax, s: Series, r: Entry, activation: str, options: dict, result: dict) -> dict:
    """A smooth net's panel: the box, the training points if asked, and the sentence :data:`NO_REGIONS`."""
    lows, highs = r.summary.target.lows, r.summary.target.highs
    ax.set_xlim(float(lows[0]), float(highs[0]))
    ax.set_ylim(float(lows[1]), float(highs[1]))
    ax.set_aspect(_map_aspect(float(lows[0]), float(highs[0]), float(lows[1]), float(highs[1])))
    ax.set_facecolor("0.96")
    ax.text(0.5, 0.5, f"{NO_REGIONS}\n({activation} net: its input gradient changes at every point)",
            transform=ax.transAxes, ha="center", va="center", fontsize=SMALL + 0.5, color="0.3", wrap=True)
    if options.get("points"):
        _scatter_training_points(ax, r, result)
    metric = str(options.get("metric", "test_rmse"))
    value = panel_metric(r, metric)
    result["metric"][s.label] = value
    result["kind"] = "net"
    result["smooth"] = {s.label: activation}
    head = options.get("title", s.label)
    line = _with_paper(f"{metric_name(metric)} {fmt(value)}, {NO_REGIONS}", options, result)
    title(ax, f"{head}\n{line}" if head else line)
    variables = r.summary.target.variables
    finish(ax, {**options, "legend": False}, variables[0], variables[1])
    ax.grid(False)
    return result


def draw_regions_2d(ax, series: list[Series], options: dict) -> dict:
    options = options or {}
    result = _result()
    result.update({"regions": {}, "metric": {}})
    resolution = int(options.get("resolution", 400))
    tolerance = float(options.get("tolerance", 1e-8))
    metric = str(options.get("metric", "test_rmse"))
    drawn = None
    for s in series:
        runs = _runs_of(s, result)
        for r in runs:
            if drawn is not None:
                _skip(result, r.path, "one region map per panel; drawn: " + drawn[0].label)
                continue
            activation = _smooth_activation(r)
            if activation is not None and r.summary is not None and r.summary.target.d == 2:
                return _no_regions(ax, s, r, activation, options, result)
            try:
                regions = measures.region_map(r.path, resolution, tolerance)
            except (measures.MeasureError, store.StoreError, ValueError) as e:
                _skip(result, r.path, e)
                continue
            drawn = (s, r, regions)
    if drawn is None:
        nothing(ax, result, "no 2-D run whose regions can be drawn")
        title(ax, options.get("title", ""))
        return result
    s, r, regions = drawn
    colours = _region_colours(regions.count)
    image = np.ones(regions.ids.shape + (3,))
    inside = regions.ids >= 0
    image[inside] = colours[regions.ids[inside]]
    x0, x1, y0, y1 = regions.box
    ax.imshow(image, origin="lower", extent=(x0, x1, y0, y1), interpolation="nearest",
              aspect=_map_aspect(x0, x1, y0, y1))
    if options.get("points"):
        _scatter_training_points(ax, r, result)
    value = panel_metric(r, metric)
    result["regions"][s.label] = regions.count
    result["metric"][s.label] = value
    result["kind"] = regions.kind
    if regions.kind == "simplex":
        result["simplices"] = regions.n_simplices
    head = options.get("title", s.label)
    line = _with_paper(f"{metric_name(metric)} {fmt(value)}, {regions.count} regions", options, result)
    title(ax, f"{head}\n{line}" if head else line)
    variables = r.summary.target.variables
    options = {**options, "legend": False}
    finish(ax, options, variables[0], variables[1])
    ax.grid(False)
    return result


# --------------------------------------------------------------------------- Hessian spectra


def _spectrum_for(series: list[Series], options: dict, result: dict):
    round_ = int(options.get("round", 0))
    for s in series:
        for r in _runs_of(s, result):
            try:
                return s, r, measures.run_spectrum(r.path, round_)
            except (measures.MeasureError, store.StoreError, ValueError) as e:
                _skip(result, r.path, e)
    return None


def _spectrum_axes(ax, index: np.ndarray, lam: np.ndarray, proj: np.ndarray, floor: float, threshold,
                   legend: bool, twin=None) -> Any:
    """|λ| dots (blue +, red −) on ``ax`` and |g·v| on a second log axis (``twin``, default ``ax.twinx()``)."""
    absl = np.maximum(np.abs(lam), floor)
    pos, neg = lam > 0, lam <= 0
    if pos.any():
        ax.scatter(index[pos], absl[pos], s=7, color=POSITIVE_COLOR, lw=0, label="|λ|, λ > 0", zorder=3)
    if neg.any():
        ax.scatter(index[neg], absl[neg], s=7, color=NEGATIVE_COLOR, lw=0, label="|λ|, λ < 0", zorder=3)
    ax.set_yscale("log")
    if threshold is not None:
        ax.axhline(float(threshold), color="0.35", ls=":", lw=0.9)
        ax.annotate(f"|λ| = {float(threshold):g}", (0.005, float(threshold)), xycoords=("axes fraction", "data"),
                    xytext=(0, 2), textcoords="offset points", fontsize=SMALL - 0.5, color="0.35", va="bottom")
    twin = ax.twinx() if twin is None else twin
    p = np.where(np.isfinite(proj) & (proj > 0), proj, np.nan)
    if index.size <= 200:
        twin.plot(index, p, "-", color=PROJECTION_COLOR, lw=0.8, alpha=0.85, label="|g · v|", zorder=2)
    else:  # a line through thousands of scattered values is a smear: dots, like |λ|
        twin.scatter(index, p, s=2.5, color=PROJECTION_COLOR, lw=0, alpha=0.8, label="|g · v|", zorder=2)
    if np.any(np.isfinite(p)):
        twin.set_yscale("log")
    twin.set_ylabel("|g · v|", fontsize=FONT, color=PROJECTION_COLOR)
    twin.tick_params(labelsize=SMALL, colors=PROJECTION_COLOR, which="both")
    ax.set_ylabel("|λ|", fontsize=FONT)
    ax.tick_params(labelsize=SMALL)
    ax.grid(True, which="major", alpha=GRID_ALPHA, lw=0.6)
    if legend:
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = twin.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=SMALL, loc="best", frameon=True, framealpha=0.85, edgecolor="none",
                  markerscale=1.5)
    return twin


def _spectrum_arrays(spectrum: measures.Spectrum):
    lam, proj = spectrum.eigenvalues, spectrum.projections
    nonzero = np.abs(lam[np.isfinite(lam) & (lam != 0)])
    floor = float(nonzero.min()) if nonzero.size else 1e-300  # exact zeros sit on the axis floor
    return np.arange(lam.size), lam, proj, floor


def _hessian_prologue(ax, series: list[Series], options: dict):
    """The panel's result and the spectrum of its first run whose Hessian can be computed, as
    ``(result, (series, its spectrum's numbers, (index, λ, projection, floor)))``; the second is None (and the
    panel says so) when there is none."""
    result = _result()
    result["hessian"] = {}
    found = _spectrum_for(series, options, result)
    if found is None:
        nothing(ax, result, "no run whose Hessian can be computed")
        title(ax, options.get("title", ""))
        return result, None
    s, _, spectrum = found
    threshold = options.get("threshold")
    numbers = measures.spectrum_numbers(spectrum, float(threshold if threshold is not None else 1e-10),
                                        float(options.get("top", 0.1)))
    return result, (s, numbers, _spectrum_arrays(spectrum))


def draw_hessian(ax, series: list[Series], options: dict) -> dict:
    options = options or {}
    if options.get("split"):
        return draw_hessian_split(ax, series, options)
    result, found = _hessian_prologue(ax, series, options)
    if found is None:
        return result
    s, numbers, (index, lam, proj, floor) = found
    threshold = options.get("threshold")
    _spectrum_axes(ax, index, lam, proj, floor, threshold, options.get("legend", True) is not False)
    change = int(np.sum(lam > 0))
    if 0 < change < lam.size:
        ax.axvline(change - 0.5, color="0.2", ls=":", lw=1.0)
        ax.annotate("λ = 0", (change - 0.5, 0.985), xycoords=("data", "axes fraction"), xytext=(3, 0),
                    textcoords="offset points", fontsize=SMALL, va="top", ha="left", color="0.2")
    numbers["sign_change_index"] = change
    result["hessian"][s.label] = numbers
    ax.set_xlim(-0.5, max(lam.size - 0.5, 0.5))
    ax.set_xlabel(options.get("xlabel", "eigenvalue index (most positive → most negative)"), fontsize=FONT)
    head = options.get("title", s.label)
    line = f"N = {lam.size}, {numbers['n_negative']} negative, spans {numbers['orders_of_magnitude']:.0f} decades"
    title(ax, f"{head}\n{line}" if head else line)
    return result


def draw_hessian_split(ax, series: list[Series], options: dict) -> dict:
    options = options or {}
    result, found = _hessian_prologue(ax, series, options)
    if found is None:
        return result
    s, numbers, (index, lam, proj, floor) = found
    threshold = options.get("threshold")
    ax.set_axis_off()
    head = options.get("title", s.label)
    line = f"N = {lam.size}, {numbers['n_positive']} positive, {numbers['n_negative']} negative"
    title(ax, f"{head}\n{line}" if head else line)
    ax.title.set_visible(True)
    gap = float(options.get("gap", 0.14))
    height = (1 - gap) / 2
    parts = [("λ > 0", lam > 0, [0, 1 - height, 1, height]), ("λ ≤ 0", lam <= 0, [0, 0, 1, height])]
    for j, (name, mask, bounds) in enumerate(parts):
        sub = ax.inset_axes(bounds)
        if not mask.any():
            sub.text(0.5, 0.5, f"no eigenvalues with {name}", transform=sub.transAxes, ha="center", va="center",
                     fontsize=SMALL, color="0.4")
            sub.set_xticks([])
            sub.set_yticks([])
            continue
        # The |g·v| axis is a second inset at the same place (twinx of an inset does not follow the layout).
        twin = ax.inset_axes(bounds, sharex=sub)
        twin.patch.set_visible(False)
        twin.yaxis.tick_right()
        twin.yaxis.set_label_position("right")
        twin.xaxis.set_visible(False)
        twin.grid(False)
        _spectrum_axes(sub, index[mask], lam[mask], proj[mask], floor, threshold, legend=j == 0 and
                       options.get("legend", True) is not False, twin=twin)
        sub.set_xlim(index[mask][0] - 0.5, index[mask][-1] + 0.5)
        sub.set_ylabel(f"|λ|, {name}  ({int(mask.sum())})", fontsize=FONT)
        if j == 1:
            sub.set_xlabel(options.get("xlabel", "eigenvalue index (most positive → most negative)"), fontsize=FONT)
    numbers["sign_change_index"] = int(np.sum(lam > 0))
    result["hessian"][s.label] = numbers
    return result


PANELS: dict[str, Callable[[Any, list[Series], dict], dict]] = {
    "scaling": draw_scaling,
    "curves": draw_curves,
    "tau": draw_tau,
    "function_1d": draw_function_1d,
    "regions_2d": draw_regions_2d,
    "hessian": draw_hessian,
    "hessian_split": draw_hessian_split,
    "gadget": draw_gadget,
}
