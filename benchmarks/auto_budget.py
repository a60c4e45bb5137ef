"""A time budget for the `train: auto` chain (issue 25, item 2): what 10, 30 and 60 minutes buy on four tasks.

Each task is a shipped config of ``configs/precision/auto/`` with its ``train: auto`` replaced by
``train: {auto: {budget: B, goal: G}}`` (the issue's goal for the task, a *training* RMSE to the chain: the
test set decides nothing). Each (task, budget) runs as a user runs it, ``python -m cli run CONFIG --out OUT
--force --quiet`` in a fresh process of this checkout, one at a time, so the wall time includes start-up and
compiling. Recorded per run: test RMSE, test max |error|, wall and training seconds, the predicted seconds of
the plan, the plan's main-chain steps and boosting rounds, the stop reason (``goal_reached``,
``budget_spent``, ``converged``, ``diverged``), the machine-speed figure and how it was measured, the machine
and the thread settings. Rows go into ``benchmarks/results/auto_budget.json``, replacing the rows of the same
(task, budget) and keeping the others; ``--table`` prints the markdown table from that file.

The machine-speed figure is measured once per machine (cached, see precision_jax/engine/machine_speed.py);
measure it on an idle machine (``--measure`` does it first, alone) or fix it with ``PREC_MACHINE_SPEED``.

Run:  python benchmarks/auto_budget.py --budget 1m --tasks xy                 (a check: minutes)
      python benchmarks/auto_budget.py --budget 10m,30m,60m                    (the table: ~7 h, one job at a time)
      python benchmarks/auto_budget.py --table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import record
import yaml

from precision_jax.config.auto_budget import parse_duration
from precision_jax.runs import store

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "precision" / "auto"
RESULTS = ROOT / "benchmarks" / "results" / "auto_budget.json"
# task -> (config, goal from issue 25, what it is)
TASKS = {
    "exp_sin": ("exp_sin.yaml", 1e-12, "exp(sin πx + y²) on [−1, 1]², 2-20-20-1 tanh"),
    "I.11.19_dense": ("I.11.19_dense.yaml", 1e-8, "I.11.19 (d = 6), dense 6-20-20-1 tanh"),
    "I.11.19_modular": ("I.11.19_modular.yaml", 1e-12, "I.11.19 (d = 6), modular tanh net"),
    "xy": ("xy.yaml", 1e-15, "x·y on [−1, 1]², 2-20-20-1 tanh"),
}


def budgeted_config(task: str, budget: str, work: Path) -> Path:
    """The task's shipped config with ``train: {auto: {budget, goal}}``, written into ``work``."""
    config, goal, _ = TASKS[task]
    data = yaml.safe_load((CONFIGS / config).read_text())
    data["train"] = {"auto": {"budget": budget, "goal": goal}}
    path = work / f"{task}-{budget}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_one(task: str, budget: str, out: Path, work: Path) -> dict:
    _, goal, what = TASKS[task]
    config = budgeted_config(task, budget, work)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cli", "run", str(config), "--out", str(out), "--force", "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    row = {"task": task, "what": what, "budget": budget, "budget_seconds": parse_duration(budget, "--budget"),
           "goal": goal, "wall_seconds": wall, "when": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    if proc.returncode != 0:
        return {**row, "error": (proc.stderr or proc.stdout).strip()[-500:]}
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    summary = store.read_summary(run_dir)
    auto = (summary.chain or {}).get("auto", {})
    metrics = summary.metrics
    return {**row, "test_rmse": metrics["test_rmse"], "test_max_abs_error": metrics["test_max_abs_error"],
            "train_rmse": metrics["train_rmse"], "met": bool(metrics["test_rmse"] <= goal),
            "stop_reason": auto.get("stop_reason"), "training_seconds": summary.wall_seconds,
            "predicted_seconds": auto.get("predicted_seconds"), "growth": auto.get("growth"),
            "planned_main_steps": auto.get("main_steps"), "planned_rounds": auto.get("rounds"),
            "rounds_accepted": (summary.boost or {}).get("rounds"),
            "steps_run": sum(r["steps"] for r in summary.stages),
            "compile_seconds": sum(r.get("compile_seconds", 0.0) for r in summary.stages),
            "machine_speed": auto.get("machine_speed"), "N": summary.N, "D": summary.D, "run_dir": str(run_dir),
            "git": summary.provenance.get("git"), "threads": summary.provenance.get("threads")}


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {"rows": []}


TABLE_BUDGETS = ("10m", "30m", "60m")  # the table issue 25 asks for


def table(rows: list[dict]) -> str:
    """The markdown table of ``rows``, then which of the table's (task, budget) cells have no row yet."""
    lines = ["| task | goal | budget | test RMSE | max error | met | stop | wall (predicted LM) | rounds | steps |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['task']} | {r['goal']:.0e} | {r['budget']} | error: {r['error'][:60]} |||||||")
            continue
        lines.append(f"| {r['what']} | {r['goal']:.0e} | {r['budget']} | {r['test_rmse']:.2e} | "
                     f"{r['test_max_abs_error']:.2e} | {'yes' if r['met'] else 'no'} | {r['stop_reason']} | "
                     f"{r['wall_seconds']:.0f} s ({r['predicted_seconds']:.0f} s) | "
                     f"{r['rounds_accepted']}/{r['planned_rounds']} | {r['steps_run']} |")
    done = {(r["task"], r["budget"]) for r in rows}
    missing = [f"{task} at {budget}" for task in TASKS for budget in TABLE_BUDGETS if (task, budget) not in done]
    if missing:
        lines += ["", f"Not measured yet ({len(missing)} of {len(TASKS) * len(TABLE_BUDGETS)}; "
                  f"`python benchmarks/auto_budget.py --budget B --tasks T` adds one): {', '.join(missing)}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", default=",".join(TABLE_BUDGETS),
                        help="comma-separated budgets, e.g. 1m or 10m,30m,60m")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, of {', '.join(TASKS)}")
    parser.add_argument("--out", default=None, help="the run store (default: a temporary folder)")
    parser.add_argument("--measure", action="store_true", help="measure the machine speed first, alone")
    parser.add_argument("--table", action="store_true", help="print the table from the results file and stop")
    args = parser.parse_args()
    record.stop_children_on_sigterm()
    if args.table:
        print(table(load()["rows"]))
        return
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    budgets = [b.strip() for b in args.budget.split(",") if b.strip()]
    for t in tasks:
        if t not in TASKS:
            parser.error(f"--tasks: unknown task {t!r}; known: {', '.join(TASKS)}")
    for b in budgets:
        try:
            parse_duration(b, "--budget")
        except ValueError as e:
            parser.error(str(e))
    if args.measure:
        from precision_jax.engine.machine_speed import machine_speed

        print(f"machine speed: {machine_speed()['units_per_second']:.3g} units/s", flush=True)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="prec-auto-budget-"))
    results = load()
    with tempfile.TemporaryDirectory(prefix="prec-auto-budget-configs-") as work:
        for task in tasks:
            for budget in budgets:
                row = run_one(task, budget, out, Path(work))
                print(json.dumps({k: row.get(k) for k in ("task", "budget", "test_rmse", "test_max_abs_error",
                                                          "stop_reason", "wall_seconds", "error")}), flush=True)
                results["rows"] = [r for r in results["rows"] if (r["task"], r["budget"]) != (task, budget)] + [row]
                # strict JSON (a diverged run's RMSE becomes null), atomically, with machine, threads and command
                record.write(RESULTS, results)
    print(table(results["rows"]))


if __name__ == "__main__":
    main()
