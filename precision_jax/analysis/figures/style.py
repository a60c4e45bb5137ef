"""The one look of every figure ``prec`` draws: matplotlib set-up, sizes and colours, labels, files.

Matplotlib is imported on first use (:func:`pyplot`, Agg backend), so a command that
draws nothing never loads it. Every panel finishes its axes with :func:`finish`
(labels, limits, grid, legend), and every figure is written by :func:`save`: a PNG
and a PDF, each to a temporary name first and then renamed, so a reader never
sees half a file.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np

from precision_jax.engine.stages import STAGE_KINDS

# How figures name and shade a stage on a learning curve: each stage kind's own facts (its StageConfig).
STAGE_NAMES = {**{kind: cfg.display_name for kind, cfg in STAGE_KINDS.items()}, "fit": "fit"}
STAGE_SHADES = {kind: cfg.shade for kind, cfg in STAGE_KINDS.items()}

FONT = 9          # axis labels, titles
SMALL = 7.5       # legends, annotations, tick labels
LINE = 1.5
MARKER = 4.0
DOT = 9.0         # seed dots (points²)
GRID_ALPHA = 0.3
GUIDE_COLOR = "0.45"
TARGET_COLOR = "black"
POSITIVE_COLOR, NEGATIVE_COLOR, PROJECTION_COLOR = "C0", "C3", "C1"
# The paper's own numbers, drawn beside ours: grey, one marker shape, one legend entry.
PAPER_COLOR, PAPER_MARKER, PAPER_LABEL = "0.45", "D", "paper"
# What a scaling panel's lines and dots are, said once in its legend.
SEEDS_NOTE = "line: median over seeds, dots: seeds"
BAND_NOTE = "band: mean ± 1 std over seeds"
METRIC_NAMES = {"test_rmse": "test RMSE", "train_rmse": "train RMSE", "min_test_rmse": "min test RMSE",
                "test_relative_rmse": "relative test RMSE", "train_relative_rmse": "relative train RMSE",
                "test_rmse_at_best_train": "test RMSE", "test_max_abs_error": "max test error"}
SIZE_LABELS = {"N": "N (parameters)", "D": "D (training points)"}
STEM_LIMIT = 80   # file names without extension; longer ones are cut and end in a hash of the whole


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _style(series) -> dict:
    return series.style if isinstance(getattr(series, "style", None), dict) else {}


def explicit_color(series):
    """The series' ``style.color`` as a matplotlib colour (``"cmap:x"`` picks from a colormap), or None."""
    from matplotlib.colors import is_color_like

    color = _style(series).get("color")
    if color is None or is_color_like(color):  # "tab:orange" is a colour, not a colormap
        return color
    if isinstance(color, str) and ":" in color:
        name, _, value = color.partition(":")
        try:
            return pyplot().get_cmap(name)(float(value))
        except (ValueError, TypeError):
            return None
    return None


def series_colors(series: list) -> list:
    """One colour per series: its own ``style.color``, else the next tab10 colour no series has claimed."""
    from matplotlib.colors import to_rgb

    explicit = [explicit_color(s) for s in series]
    taken = {tuple(np.round(to_rgb(c), 3)) for c in explicit if c is not None}
    palette = [pyplot().get_cmap("tab10")(k) for k in range(10)]
    free = [c for c in palette if tuple(np.round(to_rgb(c), 3)) not in taken] or palette
    out, k = [], 0
    for c in explicit:
        if c is None:
            c, k = free[k % len(free)], k + 1
        out.append(c)
    return out


def finish(ax, options: dict, xlabel: str = "", ylabel: str = "", legend: bool = True,
           legend_loc: str = "best", legend_title: str = "") -> None:
    """Labels, limits, grid and legend in the one style every panel shares.

    ``options["legend"]``: False for none, a ``loc`` string, or ``"outside"`` (right of the axes, unframed:
    for long legends of a figure that holds one panel). ``legend_title``: a key to what the entries are drawn
    as (e.g. :data:`SEEDS_NOTE`), written small above them.
    """
    ax.set_xlabel(options.get("xlabel", xlabel), fontsize=FONT)
    ax.set_ylabel(options.get("ylabel", ylabel), fontsize=FONT)
    ax.tick_params(labelsize=SMALL)
    for name, setter in (("xlim", ax.set_xlim), ("ylim", ax.set_ylim)):
        limits = options.get(name)
        if isinstance(limits, (list, tuple)) and len(limits) == 2:
            setter(*[None if v is None else float(v) for v in limits])
    ax.grid(True, which="major", alpha=GRID_ALPHA, lw=0.6)
    wanted = options.get("legend", True)
    handles, _ = ax.get_legend_handles_labels()
    if not (legend and wanted is not False and handles):
        return
    if wanted == "outside":
        made = ax.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
                         frameon=False)
    else:
        made = ax.legend(fontsize=SMALL, loc=wanted if isinstance(wanted, str) else legend_loc, frameon=True,
                         framealpha=0.85, edgecolor="none", handlelength=1.8)
    if legend_title:
        made.set_title(legend_title, prop={"size": SMALL - 0.5})
        made.get_title().set_color("0.3")


def title(ax, text: str) -> None:
    if text:
        ax.set_title(text, fontsize=FONT)


def nothing(ax, result: dict, why: str) -> dict:
    """Mark a panel with nothing to draw: a grey note in its middle, and ``result["note"]``."""
    empty = [label for label in result.get("empty", []) if label]
    text = why + (f"\n(series without runs: {', '.join(empty)})" if empty else "")
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=SMALL, color="0.4", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    result["note"] = why
    return result


def metric_name(metric: str, relative: bool = False) -> str:
    name = METRIC_NAMES.get(metric, metric.replace("_", " "))
    return f"relative {name}" if relative and not name.startswith("relative") else name


def fmt(value) -> str:
    return f"{value:.3g}" if value is not None and math.isfinite(value) else "n/a"


def slug(text: str, limit: int = STEM_LIMIT) -> str:
    """A file-name-safe form of ``text``, at most ``limit`` characters (long ones end in a hash of the whole)."""
    out = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"
    if len(out) <= limit:
        return out
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{out[:limit - 9].rstrip('_.-')}-{digest}"


def stem(*parts: str) -> str:
    """A file stem from ``parts`` joined by "-", within :data:`STEM_LIMIT` characters."""
    return slug("-".join(parts))


def save(fig, out: Path, name: str, dpi: int = 150, tight: bool = True) -> list[Path]:
    """``<out>/<name>.png`` and ``.pdf``, each written to a temporary name and renamed into place."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        path, tmp = out / f"{name}.{ext}", out / f".tmp-{name}.{ext}"
        fig.savefig(tmp, format=ext, dpi=dpi if ext == "png" else None, bbox_inches="tight" if tight else None)
        tmp.replace(path)
        paths.append(path)
    return paths
