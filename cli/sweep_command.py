"""``prec sweep NAME_OR_PATH``: run (a shard of) a sweep, resumably; or write/submit a SLURM array for it."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from cli import interrupts
from cli.app import app
from cli.common import clean_errors, console, err_console, fail


class SweepProgress:
    """Runs done / total, the group in flight and an ETA; a live bar on a terminal, plain lines otherwise."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled
        self.count, self.executed, self.t0 = 0, 0, time.perf_counter()
        self.bar = None
        if enabled and console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                console=console, transient=False)
            self.task = self.bar.add_task("sweep", total=total)

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def eta(self) -> str:
        # Skipped runs cost nothing, so the rate comes from the runs actually executed.
        if self.executed == 0:
            return "?"
        remaining = (time.perf_counter() - self.t0) / self.executed * (self.total - self.count)
        return f"{remaining:.0f} s"

    def start(self, group) -> None:
        label = group[0].label if len(group) == 1 else f"{group[0].label} (+{len(group) - 1} seeds)"
        interrupts.set_where(label)
        if self.bar is not None:
            self.bar.update(self.task, description=f"running {label}")
        elif self.enabled:
            print(f"[{self.count}/{self.total}] running {label}", flush=True)

    def __call__(self, outcome) -> None:
        self.count += 1
        self.executed += outcome.state != "skipped"
        detail = f"  ({outcome.reason})" if outcome.reason else ""
        line = f"[{self.count}/{self.total}] {outcome.state:<7} {outcome.label}{detail}"
        if not self.enabled:  # --no-progress: no bar, no ETA, but still one plain line per run that finished
            if outcome.state != "skipped":
                print(line, flush=True)
            return
        if self.bar is not None:
            self.bar.advance(self.task)
            if outcome.state == "failed":
                self.bar.console.print(line, markup=False)
        elif outcome.state != "skipped" or self.count == self.total:
            print(f"{line}  ETA {self.eta()}", flush=True)


def dry_run_table(runs, root: Path) -> Table:
    from precision_jax.runs.sweep import status_of

    keys = list(dict.fromkeys(k for r in runs for k in r.values))
    table = Table(title=f"{len(runs)} runs → {root}")
    table.add_column("#", justify="right")
    for key in keys:
        table.add_column(key)
    table.add_column("run id")
    table.add_column("status")
    for r in runs:
        table.add_row(str(r.index), *(str(r.values.get(k, "")) for k in keys), r.run_id,
                      status_of(root, r.config))
    return table


@app.command("sweep")
@clean_errors
def sweep(
    name_or_path: str = typer.Argument(..., help="A sweep name (configs/sweeps/NAME.yaml) or a sweep YAML path."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the runs and their status; run nothing."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Seed groups trained in parallel processes."),
    shard_text: Optional[str] = typer.Option(None, "--shard", help="Run only shard I of N (0-based), e.g. 2/8."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results store (default: the sweep's or base "
                                                          "config's output.dir)."),
    no_batch: bool = typer.Option(False, "--no-batch", help="Train seeds one by one instead of as one batch."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar or ETA: one plain line per "
                                                                  "finished run, then the summary."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="JAX persistent compilation cache "
                                                                      "(default ~/.cache/prec/jax)."),
    slurm: bool = typer.Option(False, "--slurm", help="Write an sbatch array script (task i = shard i)."),
    tasks: Optional[int] = typer.Option(None, "--tasks", help="Array size (default: one task per seed "
                                                              "group, at most 1000)."),
    partition: Optional[str] = typer.Option(None, "--partition", help="SLURM partition."),
    time_limit: Optional[str] = typer.Option(None, "--time", help="SLURM time limit per task, e.g. 02:00:00."),
    mem: Optional[str] = typer.Option(None, "--mem", help="SLURM memory per task, e.g. 4G."),
    cpus: int = typer.Option(2, "--cpus-per-task", min=1, help="SLURM CPUs per task."),
    array_parallel: Optional[int] = typer.Option(None, "--array-parallel", help="At most K array tasks at once."),
    script: Optional[Path] = typer.Option(None, "--script", help="Where to write the sbatch script "
                                                                 "(default RESULTS/slurm/NAME.sbatch)."),
    submit: bool = typer.Option(False, "--submit", help="Also submit the script with sbatch."),
    force: bool = typer.Option(False, "--force", help="Let --script replace an existing FILE (complete runs are "
                                                      "still skipped)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Run again the runs that failed before."),
) -> None:
    """Run every experiment of a sweep into the results store; complete runs are skipped.

    Examples: prec sweep widths --dry-run;  prec sweep widths --jobs 2;
    prec sweep widths --shard 0/4;  prec sweep widths --slurm --time 01:00:00 --submit
    """
    from precision_jax.runs import atomic_files
    from precision_jax.runs import sweep as sw

    spec = sw.load_sweep(name_or_path)
    runs = sw.expand(spec)
    root = out or Path(spec.output_dir or runs[0].config.output.dir)
    groups = sw.group_runs(runs)
    if not dry_run:
        atomic_files.check_writable(root)  # a file, a read-only or full folder: refused before any run starts

    if slurm:
        from precision_jax.runs import slurm as sl

        # A --script FILE is the user's to keep; the default, under RESULTS/slurm/, is prec's own to rewrite.
        if script is not None and (script.exists() or script.is_symlink()) and not force:
            fail(f"--script: {script} exists; --force replaces it")
        n_tasks = tasks or min(len(groups), 1000)
        options = sl.SlurmOptions(partition, time_limit, mem, cpus, array_parallel, f"prec-{spec.name}")
        extra = ("--no-batch",) if no_batch else ()
        text = sl.sbatch_script(spec.source, root, n_tasks, options, workdir=Path.cwd(), sweep_args=extra)
        path = sl.write_script(text, script or root / "slurm" / f"{spec.name}.sbatch")
        console.print(f"wrote {path}: {n_tasks} array tasks over {len(runs)} runs ({len(groups)} seed groups)")
        if submit:
            try:
                job = sl.submit(path)
            except RuntimeError as e:
                fail(str(e))
            console.print(f"submitted job {job}")
        return

    if shard_text is not None:
        index, count = sw.parse_shard(shard_text)
        groups = sw.shard(groups, index, count)
        runs = [r for g in groups for r in g]
    if dry_run:
        console.print(dry_run_table(runs, root))
        return

    sw.enable_compilation_cache(cache_dir)
    progress = SweepProgress(len(runs), not no_progress)
    start = time.perf_counter()
    with progress:
        summary = sw.run_sweep(runs, root, jobs=jobs, batch=not no_batch, on_start=progress.start,
                               on_outcome=progress, cache_dir=cache_dir, retry_failed=retry_failed,
                               worker_setup=interrupts.install_worker)
    elapsed = time.perf_counter() - start
    console.print(f"{spec.name}: {summary.done} done, {summary.skipped} skipped, {summary.diverged} diverged, "
                  f"{summary.failed} failed, {summary.timeout} timed out of {len(runs)} runs in {elapsed:.1f} s  "
                  f"→  {root}")
    for o in summary.outcomes:
        if o.state in ("failed", "diverged", "timeout"):
            err_console.print(f"  {o.state} {o.run_id} {o.label}: {o.reason}", markup=False, soft_wrap=True)
    if summary.failed:
        sys.exit(1)
