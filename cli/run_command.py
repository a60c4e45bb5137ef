"""``prec run CONFIG [KEY=VALUE ...]``: one experiment, start to finish, into the results store."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.live import Live
from rich.table import Table

from cli.app import app
from cli.common import clean_errors, console


class Progress:
    """Live one-line display of stage, step, RMSEs and elapsed time (plain lines when not a terminal)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self.live: Optional[Live] = None
        self.last_print = 0.0

    def __enter__(self):
        if not self.quiet and console.is_terminal:
            self.live = Live(console=console, refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)

    def __call__(self, point) -> None:
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.t0
        where = f"round {point.round} " if point.round else ""
        line = (f"{where}stage {point.stage} {point.kind:<6} step {point.step:>7}  "
                f"train RMSE {point.train_rmse:.3e}  test RMSE {point.test_rmse:.3e}  {elapsed:7.1f} s")
        if self.live is not None:
            self.live.update(line)
        elif elapsed - self.last_print >= 5 or point.step == 0:
            self.last_print = elapsed
            print(line, flush=True)


def summary_table(summary) -> Table:
    table = Table(title=f"{summary.name}  ({summary.model}, N={summary.N}, D={summary.D})")
    boosted = summary.boost is not None
    columns = (("round",) if boosted else ()) + ("stage", "kind", "steps", "stop reason", "best train RMSE", "seconds")
    for column in columns:
        table.add_column(column, justify="right" if column not in ("kind", "stop reason") else "left")
    for s in summary.stages:
        rmse = s.get("train_rmse")
        cells = ((str(s.get("round", 0)),) if boosted else ()) + (
            str(s.get("stage", 0)), s["kind"], str(s["steps"]), s["stop_reason"],
            f"{rmse:.3e}" if isinstance(rmse, float) and rmse == rmse else "—", f"{s['seconds']:.1f}")
        table.add_row(*cells)
    return table


@app.command("run")
@clean_errors
def run(
    config: Path = typer.Argument(..., help="Experiment YAML file."),
    overrides: Optional[list[str]] = typer.Argument(None, help="KEY=VALUE overrides of config keys, "
                                                    "e.g. model.width=40 seed=3 train.0.lr=3e-4."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results store (default: the config's output.dir)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the run directory."),
) -> None:
    """Run one experiment and write it to the results store.

    Example: prec run configs/quickstart.yaml model.width=40 seed=3
    """
    from precision_jax import store
    from precision_jax.config import load_config
    from precision_jax.parse import ConfigError
    from precision_jax.training import run_experiment

    cfg = load_config(config, overrides or [])
    root = out if out is not None else Path(cfg.output.dir)
    with Progress(quiet) as progress:
        try:
            result = run_experiment(cfg, on_log=progress)
        except ConfigError as e:  # found only once the target is known (sizes, orders, graph inputs)
            raise e.located(e.source or str(config)) from None
    path = store.write_run(root, result)
    if quiet:
        print(path)
        return
    summary = result.summary
    m = summary.metrics
    console.print(summary_table(summary))
    if summary.boost is not None:
        rounds = summary.boost["rounds"]
        console.print(f"boost: {rounds} round{'s' if rounds != 1 else ''} accepted of {len(summary.boost['rows'])} run")
    console.print(f"test RMSE {m['test_rmse']:.3e}  relative {m['test_relative_rmse']:.3e}  "
                  f"max |error| {m['test_max_abs_error']:.3e}  train RMSE {m['train_rmse']:.3e}")
    console.print(f"status {summary.status}, {summary.wall_seconds:.1f} s  →  {path}")
    if summary.status != "complete":
        sys.exit(1)
