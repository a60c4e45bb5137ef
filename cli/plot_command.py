"""``prec plot``, ``prec table``, ``prec fit``: figures, summary tables and fitted exponents from the store."""

from __future__ import annotations

import csv
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from cli.app import app
from cli.common import clean_errors, console, err_console, fail, print_wide


class Metric(str, Enum):
    rmse = "rmse"
    relative = "relative"


class Axis(str, Enum):
    N = "N"
    D = "D"


def _fit_range(text: Optional[str]):
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        fail(f"--fit-range: expected LOW:HIGH sizes, e.g. 100:10000, got {text!r}")
    if not 0 < low < high:
        fail(f"--fit-range: need 0 < LOW < HIGH, got {text!r}")
    return low, high


def _filters(results: Path, where) -> dict:
    """Check the store exists and parse ``--where`` filters, failing with one line otherwise."""
    from precision_jax.analysis.figures.runs import parse_where

    if not results.exists():
        fail(f"{results}: no such results directory")
    try:
        return parse_where(where)
    except ValueError as e:
        fail(str(e))


def _load(results: Path, include_failed=False):
    """The store's entries; runs it cannot read are reported on stderr (one line each, at most five)."""
    from precision_jax.analysis.figures.runs import load_records

    records = load_records(results, include_failed)
    if records.unreadable:
        err_console.print(f"prec: warning: skipped {len(records.unreadable)} unreadable run(s):", markup=False)
        for line in records.unreadable[:5]:
            err_console.print(f"  {line}", markup=False, soft_wrap=True)
    if records.duplicates:
        err_console.print(f"prec: note: {len(records.duplicates)} run(s) found again in another folder were "
                          f"counted once (same run id), e.g. {records.duplicates[0]}", markup=False, soft_wrap=True)
    return records


def _records(results: Path, target, where, include_failed=False):
    from precision_jax.analysis.figures.runs import select

    filters = _filters(results, where)
    return select(_load(results, include_failed), target, filters)


WHERE_HELP = "Keep runs with KEY=VALUE (config keys like model.activation=tanh, or N, D, status, seed); repeatable."


@app.command("plot")
@clean_errors
def plot(
    results: Path = typer.Argument(Path("results"), help="Results store (or one run directory)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the PNG and PDF files "
                                                          "(default: RESULTS/plots)."),
    metric: Metric = typer.Option(Metric.rmse, "--metric", help="rmse or relative (RMSE / √mean y²)."),
    x: Axis = typer.Option(Axis.N, "--x", help="N (parameters) or D (training points) on the x axis."),
    target: Optional[str] = typer.Option(None, "--target", help="Only this target (equation id or name)."),
    where: Optional[list[str]] = typer.Option(None, "--where", help=WHERE_HELP),
    theory: bool = typer.Option(False, "--theory", help="Draw reference slopes −2/d, −(n+1)/d, −2/d*."),
    fit_range: Optional[str] = typer.Option(None, "--fit-range", help="Fit exponents over sizes LOW:HIGH only."),
) -> None:
    """Scaling curves per target (with fitted exponents), learning curves and Hessian spectra.

    Series are named short ("ReLU depth 2", "tanh, Adam → LM"); the config keys that set each apart are
    printed after the files.

    Example: prec plot results/ --metric relative --where model.activation=tanh --theory
    """
    from precision_jax.analysis.figures.series import describe
    from precision_jax.analysis.figures.store_figures import plot_results
    from precision_jax.runs import atomic_files, store

    filters = _filters(results, where)
    out = out if out is not None else results / "plots"
    if store.is_complete(results):  # one run: its own files must be readable (one line naming the bad one)
        store.read_summary(results)
        store.read_curve(results)
        records = None
    else:
        records = _load(results)
    atomic_files.check_writable(out)
    made = plot_results(results, out, x.value, metric.value, target, filters, theory, _fit_range(fit_range), records)
    if not any(made.files.values()):
        fail(f"{results}: no complete runs match; nothing to plot")
    for kind, paths in made.files.items():
        pngs = [p for p in paths if p.suffix == ".png"]
        if pngs:
            console.print(f"{kind}: {len(pngs)} figure(s) (PNG + PDF)")
            for p in pngs:
                console.print(f"  {p}")
    if made.series:
        t = Table(title="series: the config keys that set each apart")
        for c in ("target", "series", "runs", "config"):
            t.add_column(c, justify="right" if c == "runs" else "left")
        for tgt, s in made.series:
            t.add_row(tgt, s.label, str(len(s.runs)), describe(s.keys))
        print_wide(t)


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.3e}" if value == value and (abs(value) < 1e-2 or abs(value) >= 1e4) else f"{value:.4g}"
    if isinstance(value, tuple):
        return "-".join(map(str, value))
    return "" if value is None else str(value)


@app.command("table")
@clean_errors
def table(
    results: Path = typer.Argument(Path("results"), help="Results store."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on stdout."),
    as_json: bool = typer.Option(False, "--json", help="JSON (a list of rows) on stdout."),
    target: Optional[str] = typer.Option(None, "--target", help="Only this target."),
    where: Optional[list[str]] = typer.Option(None, "--where", help=WHERE_HELP),
) -> None:
    """One row per run: the config keys that vary, N, D, RMSEs, status, wall time (failed runs included).

    Example: prec table results/ --where model.activation=tanh --csv
    """
    from precision_jax.analysis.figures.series import table_rows

    records = _records(results, target, where, include_failed=True)
    columns, rows = table_rows(records)
    if not any(r.get("reason") for r in rows):
        columns.remove("reason")
    if as_json:
        print(json.dumps([{c: (list(r[c]) if isinstance(r[c], tuple) else r[c]) for c in columns} for r in rows],
                         indent=2, default=str))
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_format(r[c]) if isinstance(r[c], tuple) else ("" if r[c] is None else r[c])
                             for c in columns])
        return
    if not rows:
        fail(f"{results}: no runs match")
    t = Table(title=f"{len(rows)} runs in {results}")
    for c in columns:
        t.add_column(c, justify="right" if c in ("N", "D", "wall_seconds") or c.endswith("rmse") else "left")
    for r in rows:
        t.add_row(*(_format(r[c]) for c in columns))
    print_wide(t)


@app.command("fit")
@clean_errors
def fit(
    results: Path = typer.Argument(Path("results"), help="Results store."),
    metric: Metric = typer.Option(Metric.rmse, "--metric", help="rmse or relative."),
    x: Axis = typer.Option(Axis.N, "--x", help="Fit against N or D."),
    target: Optional[str] = typer.Option(None, "--target", help="Only this target."),
    where: Optional[list[str]] = typer.Option(None, "--where", help=WHERE_HELP),
    fit_range: Optional[str] = typer.Option(None, "--fit-range", help="Fit over sizes LOW:HIGH only."),
    as_json: bool = typer.Option(False, "--json", help="JSON on stdout."),
) -> None:
    """Fitted scaling exponents per target and series: error ≈ A·size^α, 95% bootstrap interval over seeds.

    Example: prec fit results/ --metric relative --x D --target I.8.14
    """
    from precision_jax.analysis.figures.series import fit_all

    records = _records(results, target, where)
    fits = fit_all(records, x.value, metric.value, _fit_range(fit_range))
    if as_json:
        print(json.dumps([f.as_dict() for f in fits], indent=2))
        return
    if not fits:
        fail(f"{results}: no series with at least two sizes to fit")
    t = Table(title=f"{metric.value} ≈ A·{x.value}^α  (least squares in log–log; 95% bootstrap over seeds)")
    for c in ("target", "series", "α", "95% interval", f"{x.value} range", "points", "seeds"):
        t.add_column(c, justify="left" if c in ("target", "series") else "right")
    for f in fits:
        interval = f"[{f.low:+.3f}, {f.high:+.3f}]" if f.low == f.low else "(one seed)"
        t.add_row(f.target, f.series, f"{f.exponent:+.3f}", interval,
                  f"{f.size_range[0]:.4g}–{f.size_range[1]:.4g}", str(f.n_points), str(f.n_seeds))
    print_wide(t)
