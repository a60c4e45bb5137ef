"""``prec plot``: the figures of a results store, each one panel of :mod:`~precision_jax.analysis.figures.panels`.

Per target, ``scaling-<target>-<metric>-vs-<x>``: every series (grouped and named by
:func:`~precision_jax.analysis.figures.series.name_series`) as error against size,
nets as the median over seeds with each seed a dot, interpolants as mean ± one
standard deviation, each with its fitted power law (dotted; α and its bootstrap
interval in the legend) and, if asked, the reference slopes −2/d (linear simplex),
−(n+1)/d (order-n splines) and −2/d* with d* = 2 (ReLU nets) from the top-left
data point. Per series of trained runs, ``curve-<target>-<series>``: test RMSE
(solid) and train RMSE (dotted) against the step across stages, one colour per N;
a series of one run has its stages shaded and named. Per run that holds a
spectrum from ``prec hessian``, ``hessian-<run id>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from precision_jax.analysis.figures import style
from precision_jax.analysis.figures.panels import PANELS, Series
from precision_jax.analysis.figures.runs import METRICS, Entry, load_records, read_entry, select
from precision_jax.analysis.figures.series import Named, abbreviate, group_series
from precision_jax.runs import store


@dataclass
class Plotted:
    """What ``prec plot`` wrote (PNG and PDF paths by kind of figure) and the series it named, per target."""

    files: dict[str, list[Path]] = field(default_factory=lambda: {"scaling": [], "curves": [], "hessian": []})
    series: list[tuple[str, Named]] = field(default_factory=list)


def _figure(kind: str, series: list[Series], options: dict, out: Path, name: str,
            size: tuple[float, float] = (7.0, 4.4)) -> Optional[list[Path]]:
    """One panel in a figure of its own, saved as ``<out>/<name>.png`` and ``.pdf``; None if it drew nothing."""
    plt = style.pyplot()
    fig, ax = plt.subplots(figsize=size)
    try:
        drawn = PANELS[kind](ax, series, options)
        return None if drawn.get("note") else style.save(fig, out, name)
    finally:
        plt.close(fig)


def theory_guides(runs: list[Entry], d: int) -> list[dict]:
    """Reference slopes in N or D: −2/d (simplex), −(n+1)/d (order-n splines), −2/d* with d* = 2 (ReLU nets)."""
    lines = [(f"−2/d = {-2 / d:+.2f}  (linear simplex)", -2.0 / d)]
    orders = sorted({int(r.config["model.order"]) for r in runs if isinstance(r.config.get("model.order"), int)})
    lines += [(f"−(n+1)/d = {-(n + 1) / d:+.2f}  (order-{n} spline)", -(n + 1) / d) for n in orders]
    if d > 2:
        lines.append(("−2/d* = −1.00  (d* = 2, ReLU nets)", -1.0))
    return [{"slope": slope, "label": f"theory {text}", "anchor": "top", "legend": True} for text, slope in lines]


def scaling_figure(target: str, named: list[Named], out: Path, x: str = "N", metric: str = "rmse",
                   theory: bool = False, fit_range=None) -> Optional[list[Path]]:
    runs = [r for s in named for r in s.runs]
    d = next((r.summary.target.d for r in runs if r.summary), None)
    options = {"x": x, "metric": METRICS[metric], "fit": True, "fit_range": fit_range, "legend": "outside",
               "guides": theory_guides(runs, int(d)) if theory and d else [],
               "title": f"{abbreviate(target, 40)}  (d = {d if d else '?'}): "
                        f"{style.metric_name(METRICS[metric])} vs {x}"}
    series = [Series(s.label, s.runs) for s in sorted(named, key=lambda s: s.label)]
    return _figure("scaling", series, options, out, style.stem("scaling", style.slug(target, 40), metric, "vs", x),
                   (7.0, 4.8))


def curves_figure(target: str, named: Named, out: Path, name: Optional[str] = None) -> Optional[list[Path]]:
    """The learning curves of a series' trained runs, one colour per N (the seeds of one N share it)."""
    trained = sorted((r for r in named.runs if r.summary is not None and not r.interpolant),
                     key=lambda r: (r.summary.N, r.seed if r.seed is not None else -1))
    if not trained:
        return None
    sizes = sorted({r.summary.N for r in trained})
    series = []
    for i, n in enumerate(sizes):
        runs = [r for r in trained if r.summary.N == n]
        seeds = f" ({len(runs)} seeds)" if len(runs) > 1 else ""
        series.append(Series(f"N = {n}{seeds}", runs, {"color": f"viridis:{0.9 * i / max(1, len(sizes) - 1)}"}))
    one = trained[0].summary
    heading = (f"{abbreviate(target, 40)} — {one.model}, N = {one.N}, D = {one.D}, seed {one.seed}"
               if len(trained) == 1 else f"{abbreviate(target, 40)} — {named.label}: {len(trained)} runs")
    options = {"train": True, "title": heading, "legend": True if len(trained) == 1 else "outside"}
    return _figure("curves", series, options, out, name or style.stem("curve", style.slug(target, 40), named.label))


def learning_curve(run: Path, out: Path) -> Optional[list[Path]]:
    """One run's learning curve, its stages shaded and named (``curve-<target>-<run id>``)."""
    try:
        entry = read_entry(run)
    except store.StoreError:
        return None  # no readable run, no figure
    return curves_figure(entry.target, Named(entry.run_id, [entry], {}), out,
                         style.stem("curve", style.slug(entry.target, 40), entry.run_id))


def hessian_figure(entry: Entry, out: Path) -> Optional[list[Path]]:
    """The spectrum ``prec hessian`` stored in the run (never computed here), as the ``hessian`` panel draws it."""
    if not ((entry.path / "hessian.npz").is_file() and (entry.path / "hessian.json").is_file()):
        return None
    try:
        round_ = int(store.read_json(entry.path / "hessian.json").get("round", 0))
    except (store.StoreError, AttributeError, TypeError, ValueError):
        return None
    model = entry.summary.model if entry.summary is not None else entry.run_id
    options = {"round": round_, "title": f"{abbreviate(entry.target, 40)} — {model}, seed {entry.seed}"
                                         + (f", boosting round {round_}" if round_ else "")}
    return _figure("hessian", [Series(entry.run_id, [entry])], options, out, style.stem("hessian", entry.run_id))


def plot_results(root: str | Path, out: str | Path, x: str = "N", metric: str = "rmse", target=None,
                 where=(), theory: bool = False, fit_range=None,
                 records: Optional[list[Entry]] = None) -> Plotted:
    """Every figure for the runs below ``root`` (module docstring); ``root`` may also be one run directory:
    then its learning curve (and spectrum) only. ``records`` are the store's entries if already read."""
    root, out = Path(root), Path(out)
    made = Plotted()
    if store.is_complete(root):
        made.files["curves"] += learning_curve(root, out) or []
        made.files["hessian"] += hessian_figure(read_entry(root), out) or []
        return made
    records = select(records if records is not None else load_records(root), target, where)
    for tgt, named in group_series(records).items():
        made.files["scaling"] += scaling_figure(tgt, named, out, x, metric, theory, fit_range) or []
        for s in sorted(named, key=lambda s: s.label):
            made.series.append((tgt, s))
            made.files["curves"] += curves_figure(tgt, s, out) or []
    for r in records:
        if r.summary is not None:
            made.files["hessian"] += hessian_figure(r, out) or []
    return made
