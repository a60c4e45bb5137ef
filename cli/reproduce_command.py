"""``prec reproduce FIGURE|all``: run what a figure of the paper needs, draw it and judge its claims."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from cli import interrupts
from cli.app import app
from cli.common import clean_errors, console, err_console, fail, print_wide
from cli.sweep_command import SweepProgress


def default_out(profile: str) -> Path:
    return Path("results") / f"reproduce-{profile}"


def _list(figures, store_root: Path, out: Optional[Path], calibrate: Optional[Path] = None) -> None:
    from precision_jax.analysis.reproduce import cost, report, runner, spec

    model = cost.load(store_root)
    if calibrate is not None:  # fit the constants to the store's recorded times (and the reports' drawing time)
        reports = [r for p in spec.PROFILES for f in figures if (r := report.read_report(out or default_out(p), f))]
        model = cost.calibrate(calibrate, reports)
        console.print(f"wrote {cost.save(calibrate, model)}: constants fitted to {model.runs} runs on {model.machine}; "
                      f"list with them by --store {calibrate}")
    former = {}
    for old, (now, _) in spec.FORMER_IDS.items():
        former.setdefault(now, []).append(old)
    table = Table("figure", "title", "runs (smoke / reduced / paper)", "≈ smoke", "≈ reduced", "≈ paper",
                  "last measured", title=f"prec reproduce: figures and estimated cost ({model.machine})")
    for figure in figures:
        fs = spec.load_figure(figure)
        counts, costs = [], []
        for profile in spec.PROFILES:
            plan = runner.plan_figure(fs, profile, store_root)
            counts.append(str(len(plan.runs)))
            costs.append(cost.format_duration(runner.estimate_seconds(plan, model)))
        measured = []
        for profile in spec.PROFILES:
            previous = report.read_report(out or default_out(profile), figure)
            if previous and previous.get("profile") == profile:
                measured.append(f"{profile} {cost.format_duration(previous.get('run_seconds', math.nan))}")
        name = figure + (f" (was {', '.join(former[figure])})" if figure in former else "")
        table.add_row(name, fs.title, " / ".join(counts), *costs, ", ".join(measured) or "—")
    print_wide(table)


@app.command("reproduce")
@clean_errors
def reproduce(
    figure: Optional[str] = typer.Argument(None, help="A published figure's id (1, 2, …, 9, A1, …, A4), an extra "
                                                      "figure's name, a figure YAML, or all."),
    profile: str = typer.Option("smoke", "--profile", "-p", help="smoke (minutes, proves the pipeline), reduced "
                                                                 "(≤ 45 min a figure on 2 cores) or paper."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where figures and reports go: OUT/<figure>/ "
                                                           "(default results/reproduce-<profile>)."),
    store_root: Path = typer.Option(Path("results"), "--store", help="The results store the runs go to."),
    list_figures: bool = typer.Option(False, "--list", help="List the figures with each profile's estimated cost."),
    calibrate: Optional[Path] = typer.Option(None, "--calibrate", help="With --list: fit the cost model to the "
                                             "recorded times of STORE's complete runs and write STORE/cost_model.json"
                                             " (--list reads it when STORE is the --store)."),
    table: bool = typer.Option(False, "--table", help="Print a markdown table of the reports already in OUT "
                                                      "(one row per figure: wall time, every claim's verdict)."),
    shard_text: Optional[str] = typer.Option(None, "--shard", help="Run only shard I of N of each figure's "
                                                                   "seed groups (no drawing), e.g. 2/8."),
    draw_only: bool = typer.Option(False, "--draw-only", help="Run nothing: draw and judge from the runs "
                                                              "already in the store."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Seed groups trained in parallel processes."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Plain lines instead of a progress bar."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Run again the runs that failed before."),
    slurm: bool = typer.Option(False, "--slurm", help="Write an sbatch array script whose task i runs shard i; "
                                                      "draw afterwards with --draw-only."),
    tasks: int = typer.Option(16, "--tasks", min=1, help="SLURM array size."),
    partition: Optional[str] = typer.Option(None, "--partition", help="SLURM partition."),
    time_limit: Optional[str] = typer.Option(None, "--time", help="SLURM time limit per task, e.g. 04:00:00."),
    mem: Optional[str] = typer.Option(None, "--mem", help="SLURM memory per task, e.g. 8G."),
    cpus: int = typer.Option(2, "--cpus-per-task", min=1, help="SLURM CPUs per task."),
    submit: bool = typer.Option(False, "--submit", help="Also submit the SLURM script with sbatch."),
) -> None:
    """Regenerate a figure of the paper: its runs (resumable), the figure (PNG + PDF) and report.md/json
    with the paper's number, ours and a verdict for every claim.

    Examples: prec reproduce --list;  prec reproduce 3;  prec reproduce all --profile smoke;
    prec reproduce 2 --profile reduced --shard 0/4;  prec reproduce all --profile paper --slurm --time 08:00:00
    """
    from precision_jax.analysis.reproduce import claims, cost, report, runner, spec
    from precision_jax.config.engine import ConfigError
    from precision_jax.runs import atomic_files
    from precision_jax.runs import sweep as sw

    if profile not in spec.PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; expected one of: {', '.join(spec.PROFILES)}", "--profile")
    if figure is None and not (list_figures or table or calibrate is not None):
        fail("name a figure (prec reproduce --list shows them) or all")
    figures = spec.list_figures() if figure in (None, "all") else [spec.resolve_id(figure)]
    note = spec.former_id_note(figure) if figure not in (None, "all") else None
    if note:  # an id from before the published numbering: say what it means now
        err_console.print(note, markup=False, soft_wrap=True)
    if list_figures or calibrate is not None:
        _list(figures, store_root, out, calibrate)
        return
    out = out or default_out(profile)
    if table:
        unreported = {f: runner.plan_figure(spec.load_figure(f), profile, store_root)
                      for f in figures if report.read_report(out, f) is None}
        estimates = {f: cost.format_duration(runner.estimate_seconds(plan)) for f, plan in unreported.items()}
        print(report.summary_table(out, figures, estimates), end="")
        return
    # Every figure is read and planned before anything runs: a bad spec is refused before any work.
    plans = [runner.plan_figure(spec.load_figure(f), profile, store_root) for f in figures]
    shard = sw.parse_shard(shard_text) if shard_text is not None else None
    if not draw_only:
        atomic_files.check_writable(store_root)
    elif not store_root.is_dir():  # nothing to draw from: a mistyped --store would judge every claim "not reached"
        raise ConfigError(f"{store_root} is not a results store (no such folder); --draw-only draws from the "
                          f"runs already in the --store", "--store")
    atomic_files.check_writable(out)

    if slurm:
        from precision_jax.runs import slurm as sl

        options = sl.SlurmOptions(partition, time_limit, mem, cpus, None, f"prec-reproduce-{profile}")
        args = ["reproduce", figure or "all", "--profile", profile, "--store", str(store_root.resolve()),
                "--out", str(out.resolve()), "--shard", sl.SHARD, "--no-progress"]
        text = sl.array_script(args, store_root, tasks, options, workdir=Path.cwd())
        path = sl.write_script(text, store_root / "slurm" / f"reproduce-{figure or 'all'}-{profile}.sbatch")
        total = sum(len(p.runs) for p in plans)
        console.print(f"wrote {path}: {tasks} array tasks over {total} runs; afterwards draw with "
                      f"`prec reproduce {figure or 'all'} --profile {profile} --draw-only`")
        if submit:
            try:
                console.print(f"submitted job {sl.submit(path)}")
            except RuntimeError as e:
                fail(str(e))
        return

    sw.enable_compilation_cache()
    failed = 0
    for plan in plans:
        started = time.time()
        if not draw_only:
            runs = plan.runs
            progress = SweepProgress(len(runs), not no_progress)
            console.print(f"{plan.spec.label} ({plan.profile}): {len(runs)} runs"
                          + (f", shard {shard_text}" if shard else ""))
            with progress:
                summary = runner.run_plan(plan, shard, jobs=jobs, on_start=progress.start, on_outcome=progress,
                                          retry_failed=retry_failed, worker_setup=interrupts.install_worker)
            failed += summary.failed
            for o in summary.outcomes:
                if o.state in ("failed", "diverged", "timeout"):
                    err_console.print(f"  {o.state} {o.run_id} {o.label}: {o.reason}", markup=False,
                                      soft_wrap=True)
        if shard is not None:
            continue  # a shard sees only part of the runs: drawing waits for --draw-only or an unsharded call
        data = runner.collect(plan)
        result = report.write_report(plan, data, out, started)
        verdicts = [c["verdict"] for c in result["claims"]]
        console.print(f"{plan.spec.label}: " + ", ".join(f"{verdicts.count(v)} {v}" for v in claims.VERDICTS)
                      + f"  →  {out / plan.spec.figure}")
    if failed:
        sys.exit(1)
