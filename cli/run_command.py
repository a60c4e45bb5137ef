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
        line = (f"stage {point.stage} {point.kind:<6} step {point.step:>7}  "
                f"train RMSE {point.train_rmse:.3e}  test RMSE {point.test_rmse:.3e}  {elapsed:7.1f} s")
        if self.live is not None:
            self.live.update(line)
        elif elapsed - self.last_print >= 5 or point.step == 0:
            self.last_print = elapsed
            print(line, flush=True)


def summary_table(summary: dict) -> Table:
    table = Table(title=f"{summary['name']}  ({summary['model']}, N={summary['N']}, D={summary['D']})")
    for column in ("stage", "kind", "steps", "stop reason", "best train RMSE", "seconds"):
        table.add_column(column, justify="right" if column not in ("kind", "stop reason") else "left")
    for i, s in enumerate(summary["stages"]):
        table.add_row(str(i), s["kind"], str(s["steps"]), s["stop_reason"], f"{s['train_rmse']:.3e}",
                      f"{s['seconds']:.1f}")
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
    from precision_jax.config import ConfigError, load_config
    from precision_jax.training import run_experiment

    cfg = load_config(config, overrides or [])
    root = out if out is not None else Path(cfg.output.dir)
    with Progress(quiet) as progress:
        try:
            result = run_experiment(cfg, on_log=progress)
        except ConfigError as e:  # found only once the target is known (sizes, orders, graph inputs)
            raise e.located(e.source or str(config)) from None
    path = store.save_run(root, result)
    if quiet:
        print(path)
        return
    m = result.summary["metrics"]
    console.print(summary_table(result.summary))
    console.print(f"test RMSE {m['test_rmse']:.3e}  relative {m['test_relative_rmse']:.3e}  "
                  f"max |error| {m['test_max_abs_error']:.3e}  train RMSE {m['train_rmse']:.3e}")
    console.print(f"status {result.summary['status']}, {result.summary['wall_seconds']:.1f} s  →  {path}")
    if result.summary["status"] != "complete":
        sys.exit(1)
