"""Figures and tables from the results store: scaling curves, learning curves, Hessian spectra.

Reading: every complete run below a results directory (its typed summary and
its config, read through :mod:`precision_jax.runs.store`) and, for tables, every
failure record becomes one :class:`Entry` — dotted config keys
(``model.width``), ``N``, ``D``, metrics, status. A run the store cannot read
(corrupt, foreign, another format version) is skipped and counted in
:attr:`Records.unreadable`, never a crash.

Series: within one target, runs belong to the same series when they agree
on every config key that varies across the runs, except the seed and the
*size* keys (widths, numbers of points), which move a run along the curve.
The paper's conventions: a network series is drawn as the median over seeds
per size with each seed as a dot; an interpolant series (fitted, no
optimizer) as mean ± one standard deviation. The exponent α of
``error ≈ A · size^α`` is the least-squares log–log slope over the stated
range, with a percentile interval from a bootstrap over seeds
(:func:`precision_jax.analysis.power_laws.bootstrap_exponent`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from precision_jax import models

from precision_jax.runs import store
from precision_jax.config.engine import to_dict

METRICS = {"rmse": "test_rmse", "relative": "test_relative_rmse"}
METRIC_LABELS = {"rmse": "test RMSE", "relative": "relative test RMSE  (RMSE / √mean y²)"}
X_LABELS = {"N": "N  (number of parameters)", "D": "D  (number of training points)"}
LABEL_LIMIT = 48  # legend labels and series names: longer ones are cut, with a hash of the whole for uniqueness
STEM_LIMIT = 80   # file names (without extension): the same
SIZE_KEY = re.compile(r"(^|\.)(width|widths|train_points|test_points|points_per_axis|n_points|init_seed)$")
IGNORED_KEY = re.compile(r"^(seed|name|target(\..*)?|output\..*)$")


# --------------------------------------------------------------------------- reading


def flatten(data: Any, prefix: str = "") -> dict:
    """Nested dicts/lists → ``{"a.b.0.c": value}``; lists of scalars stay whole values (as tuples)."""
    out: dict = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        for i, value in enumerate(data):
            out.update(flatten(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix] = tuple(data) if isinstance(data, list) else data
    return out


@dataclass
class Entry:
    """One run of the store as figures and tables see it: flat config keys plus the typed summary.

    ``summary`` is None for a failure record (``status == "failed"``, with ``reason``).
    """

    path: Path
    status: str
    config: dict  # flattened config keys
    summary: Optional[store.Summary] = None
    reason: str = ""
    failed_seed: Optional[int] = None  # a failure record's seed (complete runs: summary.seed)

    @property
    def target(self) -> str:
        return self.summary.target.name if self.summary is not None else _target_name(self.config)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def seed(self) -> Optional[int]:
        return self.summary.seed if self.summary is not None else self.failed_seed

    @property
    def interpolant(self) -> bool:
        """Fitted, not trained: an interpolant kind, or a chain of nothing but ``fit`` stages."""
        if self.config.get("model.kind") in models.INTERPOLANTS:
            return True
        stages = self.summary.stages if self.summary is not None else []
        return bool(stages) and all(s.get("kind") == "fit" for s in stages)

    def size(self, x: str) -> float:
        """``N`` or ``D`` as a float (NaN for a failure record)."""
        return float(getattr(self.summary, x)) if self.summary is not None else float("nan")

    def metric(self, name: str) -> float:
        value = self.summary.metrics.get(METRICS.get(name, name)) if self.summary is not None else None
        return float("nan") if value is None else float(value)

    def value(self, key: str) -> Any:
        """A config key (``model.width``), a summary field (``N``, ``status``) or a metric (``test_rmse``)."""
        if key in self.config:
            return self.config[key]
        if key in ("status", "run_id", "target", "seed"):
            return getattr(self, key)
        if self.summary is None:
            return None
        if key in ("N", "D", "n_test", "wall_seconds", "model"):
            return getattr(self.summary, key)
        return self.summary.metrics.get(key)


class Records(list):
    """The entries read from a store, and one line per run that could not be read (:attr:`unreadable`)."""

    def __init__(self, entries: Iterable[Entry] = (), unreadable: Iterable[str] = (), duplicates: Iterable[str] = ()):
        super().__init__(entries)
        self.unreadable: list[str] = list(unreadable)
        self.duplicates: list[str] = list(duplicates)  # further copies of a run id already read (counted once)


def _target_name(config: dict) -> str:
    for key in ("target.equation", "target.formula"):
        if config.get(key) is not None:
            return str(config[key])
    return "teacher" if any(k.startswith("target.teacher") for k in config) else "?"


def load_records(root: str | Path, include_failed: bool = False) -> Records:
    """Every complete run below ``root`` (and, if asked, every failure record) as an :class:`Entry`.

    Runs the store refuses (:class:`~precision_jax.runs.store.StoreError`) are not
    data points: they are skipped and their one-line errors kept in ``unreadable``.
    A run id found again in another sub-folder (a copied store) is the same run:
    it is read once, and the other paths are kept in ``duplicates``.
    """
    records = Records()
    seen: set[str] = set()
    for path in store.iter_runs(root):
        if path.name in seen:
            records.duplicates.append(str(path))
            continue
        try:
            summary = store.read_summary(path)
            config = to_dict(store.read_config(path))
        except store.StoreError as e:
            records.unreadable.append(str(e))
            continue
        seen.add(path.name)
        records.append(Entry(path, summary.status, flatten(config), summary))
    if include_failed:
        for path in store.iter_failures(root):
            if path.name in seen:
                records.duplicates.append(str(path))
                continue
            seen.add(path.name)
            try:
                failure = store.read_failure(path)
            except store.StoreError as e:
                records.unreadable.append(str(e))
                continue
            config = failure.get("config") if isinstance(failure.get("config"), dict) else {}
            seed = failure.get("seed") if isinstance(failure.get("seed"), int) else config.get("seed")
            records.append(Entry(path, "failed", flatten(config), None, str(failure.get("reason", "")), seed))
    return records


def _matches(actual: Any, wanted: str) -> bool:
    if actual is None:
        return wanted.lower() in ("none", "null", "")
    if isinstance(actual, (list, tuple)):
        return str(list(actual)).replace(" ", "") == wanted.replace(" ", "")
    if isinstance(actual, bool):
        return str(actual).lower() == wanted.lower()
    if isinstance(actual, (int, float)):
        try:
            return math.isclose(float(actual), float(wanted), rel_tol=1e-12)
        except ValueError:
            return False
    return str(actual) == wanted


def parse_where(items: Iterable[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--where expects key=value, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def select(records: list[Entry], target: Optional[str] = None, where: Iterable[tuple[str, str]] = ()
           ) -> list[Entry]:
    """Records of ``target`` (its name or equation id) satisfying every ``key=value`` filter."""
    out = []
    for r in records:
        if target is not None and target not in (r.target, r.config.get("target.equation")):
            continue
        if all(_matches(r.value(k), v) for k, v in where):
            out.append(r)
    return out


def varying_keys(records: list[Entry]) -> list[str]:
    """Config keys whose value is not the same in every record (in first-seen order)."""
    keys = list(dict.fromkeys(k for r in records for k in r.config))
    return [k for k in keys if len({json.dumps(r.config.get(k), default=str) for r in records}) > 1]


def series_label(record: Entry, keys: list[str]) -> str:
    """The series a run belongs to, as ``key=value, ...`` over ``keys`` (keys the run does not have left out),
    at most :data:`LABEL_LIMIT` characters (:func:`abbreviate`)."""
    parts = [f"{k.split('.')[-1] if k.count('.') <= 1 else k}={_short(record.config.get(k))}" for k in keys
             if record.config.get(k) is not None]
    if parts:
        return abbreviate(", ".join(parts), LABEL_LIMIT)
    kind = record.config.get("model.kind", "model")
    activation = record.config.get("model.activation")
    return f"{kind} {activation}" if activation else str(kind)


def abbreviate(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start, "…" and 6 hex digits of its hash
    (so two long texts with the same start stay apart)."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:6]
    return f"{text[:max(1, limit - 8)].rstrip(' ,=_-')}…{digest}"


def _size(value: float) -> str:
    return f"{value:.0f}" if value >= 1 and float(value).is_integer() else f"{value:.3g}"


def _short(value: Any) -> str:
    return "-".join(map(str, value)) if isinstance(value, tuple) else str(value)


def series_keys(records: list[Entry]) -> list[str]:
    return [k for k in varying_keys(records) if not SIZE_KEY.search(k) and not IGNORED_KEY.match(k)]


# --------------------------------------------------------------------------- fitting


@dataclass
class SeriesFit:
    target: str
    series: str
    x: str
    metric: str
    exponent: float
    low: float
    high: float
    size_range: tuple[float, float]
    n_points: int
    n_seeds: int
    interpolant: bool

    def legend(self) -> str:
        lo, hi = self.size_range
        ci = f" [{self.low:+.2f}, {self.high:+.2f}]" if np.isfinite(self.low) else ""
        return f"α = {self.exponent:+.2f}{ci}  (fit over {self.x} = {_size(lo)}–{_size(hi)})"

    def as_dict(self) -> dict:
        return {"target": self.target, "series": self.series, "x": self.x, "metric": self.metric,
                "exponent": self.exponent, "ci_low": self.low, "ci_high": self.high,
                "range": list(self.size_range), "points": self.n_points, "seeds": self.n_seeds}


def group_series(records: list[Entry]) -> dict[str, dict[str, list[Entry]]]:
    """``{target: {series label: records}}`` over complete runs."""
    out: dict[str, dict[str, list[Entry]]] = {}
    by_target: dict[str, list[Entry]] = {}
    for r in records:
        if r.status != "failed":
            by_target.setdefault(r.target, []).append(r)
    for target, runs in sorted(by_target.items()):
        keys = series_keys(runs)
        series: dict[str, list[Entry]] = {}
        for r in runs:
            series.setdefault(series_label(r, keys), []).append(r)
        out[target] = series
    return out


def fit_series(records: list[Entry], x: str = "N", metric: str = "rmse", fit_range=None,
               n_boot: int = 1000, level: float = 0.95) -> Optional[tuple[float, float, float, tuple, int, int]]:
    """(α, CI low, CI high, size range, points, seeds) of one series, or None if it cannot be fitted."""
    from precision_jax.analysis import power_laws

    sizes = np.array([r.size(x) for r in records])
    errors = np.array([r.metric(metric) for r in records])
    seeds = np.array([str(r.seed) for r in records])
    keep = np.isfinite(sizes) & np.isfinite(errors) & (errors > 0) & (sizes > 0)
    if fit_range is not None:
        keep &= (sizes >= fit_range[0]) & (sizes <= fit_range[1])
    sizes, errors, seeds = sizes[keep], errors[keep], seeds[keep]
    if len(np.unique(sizes)) < 2:
        return None
    if len(np.unique(seeds)) >= 2:
        exponent, low, high = power_laws.bootstrap_exponent(sizes, errors, seeds, n_boot=n_boot, seed=0, level=level)
    else:
        exponent, low, high = power_laws.fit_power_law(sizes, errors).exponent, float("nan"), float("nan")
    return exponent, low, high, (float(sizes.min()), float(sizes.max())), int(sizes.size), len(np.unique(seeds))


def fit_all(records: list[Entry], x: str = "N", metric: str = "rmse", fit_range=None) -> list[SeriesFit]:
    fits = []
    for target, series in group_series(records).items():
        for label, runs in series.items():
            result = fit_series(runs, x, metric, fit_range)
            if result is not None:
                exponent, low, high, size_range, n, seeds = result
                fits.append(SeriesFit(target, label, x, metric, exponent, low, high, size_range, n, seeds,
                                      all(r.interpolant for r in runs)))
    return fits


# --------------------------------------------------------------------------- figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str, limit: int = STEM_LIMIT) -> str:
    """A file-name-safe form of ``text``, at most ``limit`` characters (long ones end in a hash of the whole)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"
    if len(slug) <= limit:
        return slug
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{slug[:limit - 9].rstrip('_.-')}-{digest}"


def _stem(*parts: str) -> str:
    """A file stem from ``parts`` joined by "-", within :data:`STEM_LIMIT` characters."""
    return _slug("-".join(parts))


def _save(fig, out: Path, stem: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def theory_lines(runs: list[Entry], d: int) -> list[tuple[str, float]]:
    """Reference exponents in N or D: −2/d (simplex), −(n+1)/d (order-n splines), −2/d* with d* = 2 (ReLU nets)."""
    lines = [(f"−2/d = {-2 / d:+.2f}  (linear simplex)", -2.0 / d)]
    orders = sorted({int(r.config["model.order"]) for r in runs if isinstance(r.config.get("model.order"), int)})
    lines += [(f"−(n+1)/d = {-(n + 1) / d:+.2f}  (order-{n} spline)", -(n + 1) / d) for n in orders]
    if d > 2:
        lines.append(("−2/d* = −1.00  (d* = 2, ReLU nets)", -1.0))
    return lines


def plot_scaling(target: str, series: dict[str, list[Entry]], out: Path, x: str = "N", metric: str = "rmse",
                 theory: bool = False, fit_range=None) -> tuple[list[Path], list[SeriesFit]]:
    """One log–log figure of ``metric`` vs ``x`` for every series of ``target``; returns files and fits."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fits, all_x, all_y = [], [], []
    for i, (label, runs) in enumerate(sorted(series.items())):
        color = colors[i % len(colors)]
        sizes = np.array([r.size(x) for r in runs])
        errors = np.array([r.metric(metric) for r in runs])
        ok = np.isfinite(sizes) & np.isfinite(errors) & (errors > 0)
        sizes, errors = sizes[ok], errors[ok]
        if sizes.size == 0:
            continue
        all_x += list(sizes)
        all_y += list(errors)
        unique = np.unique(sizes)
        interpolant = all(r.interpolant for r in runs)
        if interpolant:
            mean = np.array([errors[sizes == s].mean() for s in unique])
            std = np.array([errors[sizes == s].std() for s in unique])
            ax.fill_between(unique, np.maximum(mean - std, mean * 1e-3), mean + std, color=color, alpha=0.2, lw=0)
            ax.plot(unique, mean, "-s", color=color, ms=4, lw=1.6)
            summary_label = "mean ± std"
        else:
            ax.scatter(sizes, errors, s=12, color=color, alpha=0.45, lw=0)
            median = np.array([np.median(errors[sizes == s]) for s in unique])
            ax.plot(unique, median, "-o", color=color, ms=4, lw=1.6)
            summary_label = "median"
        result = fit_series(runs, x, metric, fit_range)
        legend = f"{label} ({summary_label})"
        if result is not None:
            exponent, low, high, size_range, n, seeds = result
            fit = SeriesFit(target, label, x, metric, exponent, low, high, size_range, n, seeds, interpolant)
            fits.append(fit)
            legend += f"\n  {fit.legend()}"
            grid = np.geomspace(*size_range, 50)
            ln_a = np.mean(np.log(errors[(sizes >= size_range[0]) & (sizes <= size_range[1])])
                           - exponent * np.log(sizes[(sizes >= size_range[0]) & (sizes <= size_range[1])]))
            ax.plot(grid, np.exp(ln_a) * grid**exponent, ":", color=color, lw=1.2)
        ax.plot([], [], "-o", color=color, ms=4, label=legend)
    if theory and all_x:
        d = next((r.summary.target.d for runs in series.values() for r in runs if r.summary), None)
        if d:
            # Reference slopes start at the top-left data point, so they bound the curves from above.
            x0, anchor = min(all_x), max(all_y)
            grid = np.geomspace(min(all_x), max(all_x), 50)
            for j, (text, slope) in enumerate(theory_lines([r for rs in series.values() for r in rs], int(d))):
                ax.plot(grid, anchor * (grid / x0) ** slope, "--", color="0.55", lw=1.0,
                        dashes=(4 + 2 * j, 2 + j), label=f"theory {text}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(X_LABELS[x])
    ax.set_ylabel(METRIC_LABELS[metric])
    if all_y:
        ax.set_ylim(min(all_y) / 3, max(all_y) * 3)
    d = next((r.summary.target.d for runs in series.values() for r in runs if r.summary), "?")
    ax.set_title(f"{abbreviate(target, 40)}  (d = {d}): {METRIC_LABELS[metric].split('  ')[0]} vs {x}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)
    paths = _save(fig, out, _stem("scaling", _slug(target, 40), metric, "vs", x))
    plt.close(fig)
    return paths, fits


def stage_offsets(curve) -> list[dict]:
    """Curve points as dicts with ``segment`` = (round, stage) and ``total_step`` = the segment's offset + step.

    Steps are counted continuously across the chain's stages and then each boosting round's chain: a
    segment's offset is the steps taken by every segment before it, so its step-0 point (where it starts)
    shares its x with the previous segment's last point, and a boosting round's jump is drawn where it
    happens. A segment that took no step (an LCS stage that found no lower loss) still occupies one step,
    so the segments' offsets strictly increase and none hides under the next one.
    """
    rows, offset, last, end = [], 0, None, 0
    for point in curve:
        row = dataclasses.asdict(point) if dataclasses.is_dataclass(point) else dict(point)
        segment = (row.get("round", 0), row["stage"])
        if segment != last:
            offset, last, end = (offset + max(end, 1) if last is not None else 0), segment, 0
        end = max(end, row["step"])
        rows.append({**row, "segment": segment, "total_step": offset + row["step"]})
    return rows


def plot_learning_curve(run: Path, out: Path, stem: Optional[str] = None) -> Optional[list[Path]]:
    """Train and test RMSE vs optimization step across stages, stages shaded and labelled."""
    run = Path(run)
    try:
        rows = stage_offsets(store.read_curve(run))
        summary = store.read_summary(run)
    except store.StoreError:
        return None  # no readable curve, no figure; the table still lists the run
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    steps = np.array([r["total_step"] for r in rows], float)
    train = np.array([r["train_rmse"] for r in rows])
    test = np.array([r["test_rmse"] for r in rows])
    segments = list(dict.fromkeys(r["segment"] for r in rows))
    shades = ["#f2f2f2", "#dde8f3"]
    for j, segment in enumerate(segments):
        span = [r["total_step"] for r in rows if r["segment"] == segment]
        kind = next(r["kind"] for r in rows if r["segment"] == segment)
        label = f"{segment[1]}: {kind}" if segment[0] == 0 else f"b{segment[0]}.{segment[1]}: {kind}"
        lo, hi = min(span), max(span)
        ax.axvspan(lo, max(hi, lo + 1), color=shades[j % 2], lw=0, zorder=0)
        ax.text((lo + max(hi, lo + 1)) / 2, 1.01, label, transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=8)
    ax.plot(steps, train, "-", lw=1.4, label="train RMSE")
    ax.plot(steps, test, "-", lw=1.4, label="test RMSE")
    ax.set_yscale("log")
    ax.set_xlabel("optimization step (stages in sequence)")
    ax.set_ylabel("RMSE")
    ax.set_xlim(steps.min(), steps.max())
    ax.set_title(f"{abbreviate(summary.target.name, 40)} — {summary.model}, N = {summary.N}, D = {summary.D}, "
                 f"seed {summary.seed}",
                 fontsize=9, pad=16)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    paths = _save(fig, out, stem or _stem("curve", _slug(summary.target.name, 40), run.name))
    plt.close(fig)
    return paths


HESSIAN_FILES = ("hessian.npz",)


def plot_hessian(run: Path, out: Path) -> Optional[list[Path]]:
    """|λ_i| of the stored Hessian (most positive → most negative) and |g·v_i| on a second axis."""
    files = [Path(run) / name for name in HESSIAN_FILES if (Path(run) / name).is_file()]
    files += sorted(p for p in Path(run).glob("hessian*.npz") if p not in files)
    if not files:
        return None
    try:
        data = store.read_arrays(files[0])
    except store.StoreError:
        return None
    lam_key = next((k for k in ("eigenvalues", "eigvals", "lambda") if k in data), None)
    if lam_key is None:
        return None
    lam = np.asarray(data[lam_key], float).ravel()
    proj_key = next((k for k in ("projections", "gradient_projections", "grad_projections") if k in data), None)
    proj = np.abs(np.asarray(data[proj_key], float).ravel()) if proj_key else None
    order = np.argsort(-lam)
    lam = lam[order]
    proj = proj[order] if proj is not None and proj.size == lam.size else None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    index = np.arange(lam.size)
    tiny = np.finfo(float).tiny
    ax.scatter(index[lam >= 0], np.maximum(np.abs(lam[lam >= 0]), tiny), s=8, label="|λ_i|, λ_i ≥ 0")
    ax.scatter(index[lam < 0], np.maximum(np.abs(lam[lam < 0]), tiny), s=8, label="|λ_i|, λ_i < 0")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue index i (most positive → most negative)")
    ax.set_ylabel("|λ_i| of the MSE Hessian")
    handles, labels = ax.get_legend_handles_labels()
    if proj is not None:
        ax2 = ax.twinx()
        ax2.plot(index, np.maximum(proj, tiny), color="C2", lw=0.9, alpha=0.8, label="|g · v_i|")
        ax2.set_yscale("log")
        ax2.set_ylabel("|g · v_i|  (gradient projection)")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, fontsize=8, loc="lower left")
    try:
        model = store.read_summary(run).model
    except store.StoreError:
        model = Path(run).name
    ax.set_title(f"Hessian spectrum — {model}, N = {lam.size}", fontsize=9)
    paths = _save(fig, out, _stem("hessian", run.name))
    plt.close(fig)
    return paths


def plot_series_curves(target: str, label: str, runs: list[Entry], out: Path, stem: str) -> Optional[list[Path]]:
    """Every trained run of a series in one figure: test RMSE (solid) and train RMSE (dotted) against the
    step, coloured by N, seeds of one N in one colour. One run: :func:`plot_learning_curve` (stages shaded)."""
    curves = []
    trained = [r for r in runs if r.summary is not None and not r.interpolant]
    for r in sorted(trained, key=lambda r: (r.summary.N, r.seed if r.seed is not None else -1)):
        try:
            rows = stage_offsets(store.read_curve(r.path))
        except store.StoreError:
            continue  # no readable curve, no line; the table still lists the run
        if rows:
            curves.append((r, rows))
    if not curves:
        return None
    if len(curves) == 1:
        return plot_learning_curve(curves[0][0].path, out, stem)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    sizes = sorted({r.summary.N for r, _ in curves})
    cmap = plt.get_cmap("viridis")
    colors = {n: cmap(0.9 * i / max(1, len(sizes) - 1)) for i, n in enumerate(sizes)}
    labelled: set[int] = set()
    for r, rows in curves:
        steps = np.array([row["total_step"] for row in rows], float)
        n = r.summary.N
        seeds = sum(1 for q, _ in curves if q.summary.N == n)
        name = None if n in labelled else f"N = {n}" + (f" ({seeds} seeds)" if seeds > 1 else "")
        labelled.add(n)
        ax.plot(steps, [row["test_rmse"] for row in rows], "-", color=colors[n], lw=1.1, alpha=0.85, label=name)
        ax.plot(steps, [row["train_rmse"] for row in rows], ":", color=colors[n], lw=0.9, alpha=0.6)
    ax.plot([], [], "-", color="0.3", label="test RMSE")
    ax.plot([], [], ":", color="0.3", label="train RMSE")
    ax.set_yscale("log")
    ax.set_xlabel("optimization step (stages in sequence)")
    ax.set_ylabel("RMSE")
    ax.set_title(f"{abbreviate(target, 40)} — {label}: {len(curves)} runs", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)
    paths = _save(fig, out, stem)
    plt.close(fig)
    return paths


def representative_runs(series: dict[str, list[Entry]]) -> dict[str, Entry]:
    """Per series, the largest run by N whose seed is the lowest (a deterministic pick for learning curves)."""
    picks = {}
    for label, runs in series.items():
        trained = [r for r in runs if r.summary is not None and not r.interpolant and (r.path / "curve.csv").is_file()]
        if trained:
            picks[label] = max(trained, key=lambda r: (r.summary.N, -int(r.seed or 0)))
    return picks


def plot_results(root: str | Path, out: str | Path, x: str = "N", metric: str = "rmse", target=None,
                 where=(), theory: bool = False, fit_range=None,
                 records: Optional[list[Entry]] = None) -> dict[str, list[Path]]:
    """Every figure for the runs below ``root``: scaling per target, learning curves, Hessian spectra.

    ``root`` may also be one run directory: then its learning curve (and spectrum) only.
    ``records`` are the store's entries if already read (:func:`load_records`).
    """
    root, out = Path(root), Path(out)
    made: dict[str, list[Path]] = {"scaling": [], "curves": [], "hessian": []}
    if store.is_complete(root):
        made["curves"] += plot_learning_curve(root, out) or []
        made["hessian"] += plot_hessian(root, out) or []
        return made
    records = select(records if records is not None else load_records(root), target, where)
    for tgt, series in group_series(records).items():
        paths, _ = plot_scaling(tgt, series, out, x, metric, theory, fit_range)
        made["scaling"] += paths
        for label, runs in series.items():
            made["curves"] += plot_series_curves(tgt, label, runs, out, _stem("curve", _slug(tgt, 40), label)) or []
    for r in records:
        made["hessian"] += plot_hessian(r.path, out) or []
    return made


# --------------------------------------------------------------------------- tables


def table_rows(records: list[Entry]) -> tuple[list[str], list[dict]]:
    """Columns (varying config keys, then sizes, errors, status, time) and one row per record."""
    keys = [k for k in varying_keys(records) if not k.startswith("output.") and k != "seed"] + ["seed"]
    columns = ["target", *keys, "N", "D", "train_rmse", "test_rmse", "test_relative_rmse", "status",
               "wall_seconds", "run_id", "reason"]
    rows = []
    for r in records:
        row = {"target": r.target, **{k: r.config.get(k) for k in keys}}
        row.update({c: r.value(c) for c in ("N", "D", "train_rmse", "test_rmse", "test_relative_rmse", "status",
                                            "wall_seconds", "run_id")})
        row["reason"] = r.reason
        rows.append(row)
    rows.sort(key=lambda row: tuple(str(row.get(c)) if not isinstance(row.get(c), (int, float)) or
                                    isinstance(row.get(c), bool) else f"{row.get(c):020.6f}"
                                    for c in ["target", *keys]))
    return columns, rows
