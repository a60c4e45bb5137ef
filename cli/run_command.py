"""``prec run CONFIG [KEY=VALUE ...]``: one experiment, start to finish, into the results store."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.live import Live
from rich.table import Table

from cli import interrupts
from cli.app import app
from cli.common import clean_errors, console, err_console, fail


class Progress:
    """Live one-line display of stage, step, RMSEs and elapsed time (plain lines when not a terminal)."""

    def __init__(self, quiet: bool, name: str = ""):
        self.quiet, self.name = quiet, name
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

    def compiling(self, event) -> None:
        self._show(f"compiling {event.label()}…", always=True)

    def __call__(self, point) -> None:
        where = f"round {point.round} " if point.round else ""
        interrupts.set_where(f"{self.name + ': ' if self.name else ''}{where}stage {point.stage} {point.kind} "
                             f"step {point.step}")
        self._show(f"{where}stage {point.stage} {point.kind:<6} step {point.step:>7}  "
                   f"train RMSE {point.train_rmse:.3e}  test RMSE {point.test_rmse:.3e}", always=point.step == 0)

    def _show(self, text: str, always: bool) -> None:
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.t0
        line = f"{text}  {elapsed:7.1f} s"
        if self.live is not None:
            self.live.update(line)
        elif always or elapsed - self.last_print >= 5:
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


TIMEOUT_STATUS = 3  # the run stopped at its time cap; its checkpoint resumes it


def say_complete(outcome, quiet: bool) -> None:
    """One line for a run the store already holds complete."""
    if quiet:
        print(outcome.path)
        return
    summary = outcome.summary
    rmse = summary.metrics.get("test_rmse")
    shown = f"{rmse:.3e}" if isinstance(rmse, float) else str(rmse)
    console.print(f"{outcome.path}: already complete ({summary.status}, test RMSE {shown}); nothing to do "
                  f"(--force runs it again)", soft_wrap=True)


def _persistent_compilation_cache() -> None:
    """A second run of similar shapes skips most compiling (PREC_JAX_CACHE names the folder); a cache folder
    that cannot be made only costs that saving."""
    from precision_jax.runs.sweep import enable_compilation_cache

    try:
        enable_compilation_cache()
    except OSError as e:
        err_console.print(f"prec: warning: no persistent compilation cache ({e})", markup=False, soft_wrap=True)


@app.command("run")
@clean_errors
def run(
    config: Path = typer.Argument(..., help="Experiment YAML file, or the name of one in ./configs or shipped "
                                            "with prec (quickstart, precision/x_squared; prec configs list)."),
    overrides: Optional[list[str]] = typer.Argument(None, help="KEY=VALUE overrides of config keys, "
                                                    "e.g. model.width=40 seed=3 train.0.lr=3e-4."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results store (default: the config's output.dir)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the run directory."),
    force: bool = typer.Option(False, "--force", help="Run it again even if the store already holds it complete "
                                                      "(files prec did not write there are kept)."),
    max_memory: Optional[float] = typer.Option(None, "--max-memory", min=0.0,
                                               help="Memory limit in GB for the pre-run estimate "
                                                    "(default: what the machine has available)."),
    max_time: Optional[float] = typer.Option(None, "--max-time", min=0.0,
                                             help="Stop after this many seconds of training, resumably "
                                                  "(overrides output.max_time)."),
) -> None:
    """Run one experiment and write it to the results store.

    Example: prec run quickstart model.width=40 seed=3
    """
    from precision_jax.config import shipped
    from precision_jax.config.engine import ConfigError
    from precision_jax.experiment import load_config
    from precision_jax.runs.checkpoint import CheckpointError, checkpoint_path
    from precision_jax.runs.execute import BUSY, COMPLETE, Hooks, execute

    config = shipped.find(config, "experiment")
    cfg = load_config(config, overrides or [])
    root = out if out is not None else Path(cfg.output.dir)

    def note(text: str) -> None:
        if text.startswith("resuming"):
            if not quiet:
                console.print(text, soft_wrap=True)
        else:
            err_console.print(f"prec: warning: {text}", markup=False, soft_wrap=True)

    def start(plan) -> None:
        _persistent_compilation_cache()
        interrupts.set_where(cfg.name)

    with Progress(quiet, cfg.name) as progress:
        try:
            outcome, = execute(root, [cfg], force=force,
                               max_memory=None if max_memory is None else int(max_memory * 2**30), max_time=max_time,
                               hooks=Hooks(on_log=progress, on_compile=progress.compiling, on_note=note,
                                           on_start=start))
        except ConfigError as e:  # found once the target is known (sizes, stages for this model, memory)
            raise e.located(e.source or str(config)) from None
        except CheckpointError as e:
            fail(str(e))
    if outcome.state == "skipped":
        if outcome.reason == BUSY:
            fail(f"{outcome.path}: this run is being trained by another process")
        assert outcome.reason == COMPLETE, outcome
        say_complete(outcome, quiet)
        return
    if outcome.state == "timeout":
        err_console.print(f"prec: {outcome.reason}; the checkpoint is {checkpoint_path(root, [cfg])}; run the same "
                          f"command to resume", markup=False, soft_wrap=True)
        sys.exit(TIMEOUT_STATUS)
    path = outcome.path
    if quiet:
        print(path)
        return
    summary = outcome.summary
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
