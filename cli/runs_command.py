"""``prec runs list|show|diff``: what a results store holds, one run in full, and how two runs differ.

Everything is read through :mod:`precision_jax.runs.store`; a run it cannot read is
listed as unreadable (``list``) or refused in one line naming the file
(``show``, ``diff``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from cli.app import app
from cli.common import clean_errors, console, err_console, fail, print_wide

runs_app = typer.Typer(help="List the runs of a results store, show one, or compare two.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


def _number(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "—"
        return f"{value:.3e}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.4g}"
    return "—" if value is None else str(value)


@runs_app.command("list")
@clean_errors
def list_runs(
    root: Path = typer.Argument(Path("results"), help="Results store (or one run directory)."),
    as_json: bool = typer.Option(False, "--json", help="JSON (a list of rows) on stdout."),
) -> None:
    """One row per run: name, run id, status, N, D, test RMSE, wall time, seed (failed runs included).

    Example: prec runs list results/
    """
    from precision_jax.runs import store

    if not root.exists():
        fail(f"{root}: no such results directory")
    rows, seen, unreadable = [], set(), []
    for path in store.iter_runs(root):
        if path.name in seen:
            continue  # the same run copied into another folder: listed once
        seen.add(path.name)
        try:
            s = store.read_summary(path)
        except store.StoreError as e:
            unreadable.append(str(e))
            continue
        rows.append({"name": s.name, "run_id": s.run_id or path.name, "status": s.status, "N": s.N, "D": s.D,
                     "test_rmse": s.metrics.get("test_rmse"), "wall_seconds": s.wall_seconds, "seed": s.seed,
                     "path": str(path)})
    for path in store.iter_failures(root):
        if path.name in seen:
            continue
        seen.add(path.name)
        try:
            f = store.read_failure(path)
        except store.StoreError as e:
            unreadable.append(str(e))
            continue
        rows.append({"name": f.get("name", path.parent.name), "run_id": path.name, "status": "failed", "N": None,
                     "D": None, "test_rmse": None, "wall_seconds": None, "seed": f.get("seed"), "path": str(path)})
    rows.sort(key=lambda r: (str(r["name"]), r["N"] if r["N"] is not None else -1, str(r["seed"]), r["run_id"]))
    for line in unreadable[:5]:
        err_console.print(f"prec: warning: unreadable run skipped: {line}", markup=False, soft_wrap=True)
    if len(unreadable) > 5:
        err_console.print(f"prec: warning: {len(unreadable) - 5} more unreadable run(s) skipped", markup=False)
    if as_json:
        print(store.json_text(rows), end="")  # strict JSON: a NaN metric is null
        return
    if not rows:
        fail(f"{root}: no runs")
    table = Table(title=f"{len(rows)} runs in {root}")
    for column in ("name", "run id", "status", "N", "D", "test RMSE", "wall s", "seed"):
        table.add_column(column, justify="right" if column in ("N", "D", "test RMSE", "wall s", "seed") else "left")
    for r in rows:
        table.add_row(str(r["name"]), r["run_id"], r["status"], _number(r["N"]), _number(r["D"]),
                      _number(r["test_rmse"]), _number(r["wall_seconds"]), _number(r["seed"]))
    print_wide(table)


def _read(run_dir: Path):
    from precision_jax.config.engine import to_dict
    from precision_jax.runs import store

    return store.read_summary(run_dir), to_dict(store.read_config(run_dir))


@runs_app.command("show")
@clean_errors
def show(
    run_dir: Path = typer.Argument(..., help="A run directory."),
    as_json: bool = typer.Option(False, "--json", help="Config, summary and provenance as JSON on stdout."),
) -> None:
    """One run in full: its resolved config, metrics, a row per stage and its provenance.

    Example: prec runs show results/quickstart/2c4e1a7b9f03
    """
    from cli.run_command import summary_table
    from precision_jax.runs import store

    summary, config = _read(run_dir)
    if as_json:
        print(store.json_text({"path": str(run_dir), "config": config, "summary": summary.to_json()}), end="")
        return
    console.print(f"[bold]{run_dir}[/bold]  run {summary.run_id}, {summary.status}, seed {summary.seed}, "
                  f"{summary.wall_seconds:.1f} s")
    console.print(f"target {summary.target.name} (d = {summary.target.d}), {summary.model}, N = {summary.N}, "
                  f"D = {summary.D}, {summary.n_test} test points", markup=False, soft_wrap=True)
    console.print("\n[bold]config[/bold]")
    console.print(yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=10**6).rstrip(),
                  markup=False, soft_wrap=True)
    metrics = Table(title="metrics", show_header=False)
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key, value in summary.metrics.items():
        metrics.add_row(key, _number(value))
    console.print(metrics)
    console.print(summary_table(summary))
    if summary.boost is not None:
        console.print(f"boosting: {summary.boost.get('rounds')} round(s) accepted of "
                      f"{len(summary.boost.get('rows', []))} run")
    console.print("\n[bold]provenance[/bold]")
    if not summary.provenance:
        console.print("  (none recorded: a run written before provenance was kept)")
    for key, value in summary.provenance.items():
        text = " ".join(value) if key == "command" and isinstance(value, list) else (
            ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value))
        console.print(f"  {key}: {text}", markup=False, soft_wrap=True)


def _differences(a: dict, b: dict) -> list[tuple[str, Any, Any]]:
    keys = list(dict.fromkeys([*a, *b]))
    return [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]


@runs_app.command("diff")
@clean_errors
def diff(
    run_a: Path = typer.Argument(..., help="A run directory."),
    run_b: Path = typer.Argument(..., help="Another run directory."),
    as_json: bool = typer.Option(False, "--json", help="The differences as JSON on stdout."),
) -> None:
    """The config keys, sizes and metrics in which two runs differ.

    Example: prec runs diff results/widths/0a1b2c3d4e5f results/widths/9f8e7d6c5b4a
    """
    from precision_jax.analysis.figures.runs import flatten
    from precision_jax.runs import store

    summary_a, config_a = _read(run_a)
    summary_b, config_b = _read(run_b)
    config_rows = _differences(flatten(config_a), flatten(config_b))
    sizes = ("status", "model", "N", "D", "n_test", "seed")
    summary_rows = _differences({k: getattr(summary_a, k) for k in sizes}, {k: getattr(summary_b, k) for k in sizes})
    metric_rows = _differences(store.jsonable(summary_a.metrics), store.jsonable(summary_b.metrics))
    if as_json:
        print(store.json_text({"a": str(run_a), "b": str(run_b),
                               "config": [{"key": k, "a": x, "b": y} for k, x, y in config_rows],
                               "summary": [{"key": k, "a": x, "b": y} for k, x, y in summary_rows],
                               "metrics": [{"key": k, "a": x, "b": y} for k, x, y in metric_rows]}), end="")
        return
    if not (config_rows or summary_rows or metric_rows):
        console.print(f"{run_a} and {run_b}: same config, sizes and metrics")
        return
    table = Table(title=f"A = {run_a}\nB = {run_b}")
    for column in ("", "key", "A", "B"):
        table.add_column(column)
    for section, rows in (("config", config_rows), ("run", summary_rows), ("metrics", metric_rows)):
        for k, x, y in rows:
            table.add_row(section, k, _cell(x), _cell(y))
    print_wide(table)


def _cell(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return "(absent)" if value is None else _number(value)
