"""The ``gadget`` panel: the four-neuron multiplication gadget drawn as a net, and its error against its scale.

Left, the diagram of :mod:`precision_jax.analysis.reproduce.gadget`: inputs x and y, four tanh neurons with
input weights ±s and bias c, output weights ±1/(4s²·tanh''(c)). Right (an inset), the relative RMSE of the
built net for Σ x_i·x_j over the option ``pairs`` on the test points of the series' first run, at each
scale s in ``scales``, with the truncation law ∝ s² and the rounding law ∝ ε/s² it runs between, and √ε,
the float64 limit of a second difference. The panel returns ``gadget``: {"<n> tanh neurons": {scales,
relative_rmse, best, best_scale, pairs, neurons}}.
"""

from __future__ import annotations

import math

import numpy as np

from precision_jax.analysis.figures import style
from precision_jax.analysis.figures.runs import Entry, read_entry
from precision_jax.analysis.reproduce import gadget, measures

EPS = float(np.finfo(np.float64).eps)
SCALES = [float(s) for s in np.logspace(0, -6, 25)]


def _diagram(ax) -> None:
    """x, y → four tanh neurons → Σ, with the weights written on the edges."""
    inputs = {"x": (0.06, 0.70), "y": (0.06, 0.30)}
    hidden = [(0.27, 0.88), (0.27, 0.63), (0.27, 0.38), (0.27, 0.13)]
    output = (0.46, 0.50)
    for i, (hx, hy) in enumerate(hidden):
        for j, (ix, iy) in enumerate(inputs.values()):
            sign = "+" if gadget.SIGNS[i, j] > 0 else "−"
            ax.annotate("", xy=(hx - 0.035, hy), xytext=(ix + 0.03, iy), xycoords="axes fraction",
                        arrowprops={"arrowstyle": "-|>", "lw": 0.7, "color": "0.35"})
            tx, ty = ix + 0.3 * (hx - ix), iy + 0.3 * (hy - iy) + (0.02 if j == 0 else -0.04)
            ax.text(tx, ty, f"{sign}s", transform=ax.transAxes, fontsize=style.SMALL - 1, color="0.25",
                    ha="center")
        ax.annotate("", xy=(output[0] - 0.035, output[1]), xytext=(hx + 0.035, hy), xycoords="axes fraction",
                    arrowprops={"arrowstyle": "-|>", "lw": 0.7, "color": "0.35"})
        sign = "+" if gadget.OUTPUT_SIGNS[i] > 0 else "−"
        ax.text(hx + 0.045, hy + 0.02, f"{sign}μ", transform=ax.transAxes, fontsize=style.SMALL - 1, color="C3")
        ax.add_patch(_circle(ax, (hx, hy), "tanh"))
    for name, (ix, iy) in inputs.items():
        ax.add_patch(_circle(ax, (ix, iy), name))
    ax.add_patch(_circle(ax, output, "x·y"))
    ax.text(0.02, 0.015, "bias c = artanh(1/√3) on each neuron\nμ = 1 / (4 s² tanh''(c)), no output bias",
            transform=ax.transAxes, fontsize=style.SMALL - 1, va="bottom")


def _circle(ax, centre, text):
    from matplotlib.patches import Circle

    ax.text(centre[0], centre[1], text, transform=ax.transAxes, ha="center", va="center", fontsize=style.SMALL,
            zorder=5)
    return Circle(centre, 0.035, transform=ax.transAxes, facecolor="white", edgecolor="black", lw=0.9, zorder=4)


def draw_gadget(ax, series: list, options: dict) -> dict:
    options = options or {}
    result = {"empty": [], "skipped": []}
    pairs = [[int(i) for i in pair] for pair in options.get("pairs", [[0, 1]])]
    scales = [float(s) for s in options.get("scales", SCALES)]
    ax.set_axis_off()
    _diagram(ax)
    style.title(ax, options.get("title", ""))
    inset = ax.inset_axes([0.62, 0.17, 0.36, 0.72])
    errors = None
    for series_ in series:
        readable = 0
        for run in series_.runs or ():
            try:
                path = run.path if isinstance(run, Entry) else read_entry(run).path
                readable += 1
                if errors is None:
                    errors = measures.gadget_errors(path, pairs, scales)
            except Exception as exc:  # noqa: BLE001 — a run whose points cannot be read or regenerated is named
                result["skipped"].append(f"{getattr(run, 'path', run)}: {' '.join(str(exc).split())}")
        if not readable:
            result["empty"].append(series_.label)
    if errors is None:
        return style.nothing(inset, result, "no run to read test points from")
    if not np.isfinite(errors).any():
        return style.nothing(inset, result, "the gadget's error is not finite at any scale")
    s = np.asarray(scales)
    inset.loglog(s, errors, "o-", ms=2.5, lw=1.0, color="black", label=f"{4 * len(pairs)} tanh neurons")
    best = int(np.nanargmin(errors))
    anchor = errors[len(errors) // 4]
    inset.loglog(s, anchor * (s / s[len(errors) // 4]) ** 2, ":", color=style.GUIDE_COLOR, lw=0.8, label="∝ s²")
    inset.loglog(s, errors[-1] * (s[-1] / s) ** 2, "--", color=style.GUIDE_COLOR, lw=0.8, label="∝ ε/s²")
    inset.axhline(math.sqrt(EPS), color="C3", lw=0.8, label="√ε")
    inset.set_ylim(max(1e-12, float(np.nanmin(errors)) / 30), 3.0)
    inset.set_xlabel("scale s", fontsize=style.SMALL)
    inset.set_ylabel("relative test RMSE", fontsize=style.SMALL)
    inset.tick_params(labelsize=style.SMALL - 1)
    inset.legend(fontsize=style.SMALL - 1.5, loc="upper left")
    inset.grid(alpha=style.GRID_ALPHA)
    result["gadget"] = {f"{4 * len(pairs)} tanh neurons": {
        "pairs": pairs, "neurons": 4 * len(pairs), "best": float(errors[best]), "best_scale": float(s[best]),
        "scales": [float(v) for v in s], "relative_rmse": [float(v) for v in errors]}}
    return result
