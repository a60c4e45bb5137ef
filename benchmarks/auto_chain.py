"""The `train: auto` chain on the issue-14 tasks: final test RMSE against each task's goal, and the wall time.

Each task is a shipped config in ``configs/precision/auto/`` whose ``train``
is ``auto`` (:mod:`precision_jax.engine.auto_chain` sizes the chain from d, D and
N). Each runs as a user runs it, ``prec run CONFIG --out OUT --force`` in a
fresh process, so the wall time includes start-up and compilation (with the
persistent compilation cache as ``prec run`` leaves it; ``--cold`` points it at
an empty folder first). The goal is met when the run's test RMSE (the model of
lowest training loss, 10k test points) is at or below it; the time to the goal
is the first curve point at or below it, counted from the start of training.

Prints a markdown table (the `train: auto` table of docs/benchmarks.md) and
writes ``OUT/auto_chain.json`` with the numbers, thread settings, host and
versions, and the same to ``--json`` (default ``benchmarks/results/auto_chain.json``, which the docs table
is generated from) with the command and the machine.

Run:  python benchmarks/auto_chain.py [--tasks teacher_student,xy] [--out results/benchmarks/auto_chain] [--cold]
      python benchmarks/auto_chain.py --tasks I.11.19_dense --merge   (rerun one task, keep the others' rows)
      python benchmarks/auto_chain.py --table   (the table again, from OUT/auto_chain.json and its runs)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import record

from precision_jax.engine import auto_chain
from precision_jax.runs import store

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "precision" / "auto"
# task -> (config file, goal test RMSE from issue 14, what it is)
TASKS = {
    "teacher_student": ("teacher_student.yaml", 5e-16, "1-D teacher–student, 1-20-20-1 tanh"),
    "xy": ("xy.yaml", 1e-13, "x·y on [−1, 1]², 2-20-20-1 tanh"),
    "exp_sin": ("exp_sin.yaml", 1e-12, "exp(sin πx + y²) on [−1, 1]², 2-20-20-1 tanh"),
    "I.11.19_modular": ("I.11.19_modular.yaml", 1e-10, "I.11.19 (d = 6), modular tanh net"),
    "I.11.19_dense": ("I.11.19_dense.yaml", 1e-8, "I.11.19 (d = 6), dense 6-20-20-1 tanh"),
}


def run_task(name: str, out: Path, env: dict) -> dict:
    config, goal, what = TASKS[name]
    t0 = time.perf_counter()
    proc = subprocess.run(["prec", "run", str(CONFIGS / config), "--out", str(out), "--force", "--quiet"],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"task": name, "what": what, "goal": goal, "error": (proc.stderr or proc.stdout).strip()[-500:],
                "wall_seconds": wall}
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    summary, curve = store.read_summary(run_dir), store.read_curve(run_dir)
    rmse = summary.metrics["test_rmse"]
    # A curve point's seconds count from its stage's start; the stages before it add up to the stage's offset.
    offsets, elapsed = {}, 0.0
    for row in summary.stages:
        offsets[(row["round"], row["stage"])] = elapsed
        elapsed += row["seconds"]
    to_goal = next((offsets[(p.round, p.stage)] + p.seconds for p in curve if p.test_rmse <= goal), None)
    compile_seconds = sum(row.get("compile_seconds", 0.0) for row in summary.stages)
    return {"task": name, "what": what, "goal": goal, "test_rmse": rmse, "met": bool(rmse <= goal),
            "seconds_to_goal": to_goal, "wall_seconds": wall, "training_seconds": summary.wall_seconds,
            "compile_seconds": compile_seconds, "N": summary.N, "D": summary.D,
            "boost_rounds": (summary.boost or {}).get("rounds"), "chain": summary.chain, "run_dir": str(run_dir),
            "lm_gflops": lm_throughput(summary),
            "rule_version": auto_chain.VERSION, "git": summary.provenance.get("git"),
            "when": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def lm_throughput(summary: store.Summary) -> float | None:
    """GFlop/s of the run's subsampled LM stages: Σ steps · F(m, N) / Σ seconds (``auto_chain.step_flops``,
    which counts ~1.2 trial dampings per step; a stage that rejects more does more flops than this counts)."""
    rows = [r for r in summary.stages if r["kind"] == "lm" and r.get("fitted_points", summary.D) < summary.D]
    seconds = sum(r["seconds"] for r in rows)
    flops = sum(r["steps"] * auto_chain.step_flops(int(r["fitted_points"]), summary.N) for r in rows)
    return flops / seconds / 1e9 if seconds > 0 else None


def table(results: list[dict]) -> str:
    lines = ["| task | goal | test RMSE | met | time to goal | wall time (compile) | LM GFlop/s |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['what']} | {r['goal']:.0e} | failed: {r['error'][:80]} | — | — | "
                         f"{r['wall_seconds']:.0f} s |")
            continue
        to_goal = f"{r['seconds_to_goal']:.0f} s" if r["seconds_to_goal"] is not None else "—"
        # Rows written before the rate was stored with them read it from their run.
        rate = r["lm_gflops"] if "lm_gflops" in r else lm_throughput(store.read_summary(r["run_dir"]))
        lines.append(f"| {r['what']} | {r['goal']:.0e} | {r['test_rmse']:.2e} | {'yes' if r['met'] else 'no'} | "
                     f"{to_goal} | {r['wall_seconds']:.0f} s ({r['compile_seconds']:.0f} s) | "
                     f"{'—' if rate is None else f'{rate:.1f}'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated, of: " + ", ".join(TASKS))
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "auto_chain"))
    parser.add_argument("--cold", action="store_true", help="start from an empty compilation cache")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other tasks' results in OUT/auto_chain.json (replace only the tasks run)")
    parser.add_argument("--json", default=str(record.RESULTS / "auto_chain.json"),
                        help="the copy the docs table is generated from (default benchmarks/results/auto_chain.json)")
    parser.add_argument("--table", action="store_true", help="print the table of the runs in OUT/auto_chain.json, "
                                                              "run nothing")
    args = parser.parse_args()
    record.stop_children_on_sigterm()
    if args.table:
        print(table(json.loads((Path(args.out) / "auto_chain.json").read_text())["results"]))
        return
    names = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in names if t not in TASKS]
    if unknown:
        sys.exit(f"auto_chain.py: unknown task(s) {', '.join(unknown)}; known: {', '.join(TASKS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.cold:
        env["PREC_JAX_CACHE"] = tempfile.mkdtemp(prefix="prec-cold-cache-")
    results = []
    for name in names:
        print(f"running {name} …", flush=True)
        results.append(run_task(name, out, env))
        print(table(results[-1:]).splitlines()[-1], flush=True)
    stored = out / "auto_chain.json"
    if args.merge and not stored.exists() and Path(args.json).exists():
        stored = Path(args.json)  # a fresh checkout keeps only the docs' copy
    if args.merge and stored.exists():
        kept = {r["task"]: r for r in json.loads(stored.read_text())["results"]}
        kept.update({r["task"]: r for r in results})
        results = [kept[t] for t in TASKS if t in kept]
    print()
    print(table(results))
    threads = {k: os.environ.get(k) for k in ("XLA_FLAGS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    report = {"results": results, "host": platform.node(), "cpus": os.cpu_count(), "threads": threads,
              "python": platform.python_version(), "cold_cache": args.cold,
              "when": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    (out / "auto_chain.json").write_text(json.dumps(report, indent=1))
    record.write(args.json, {"benchmark": "auto_chain", **report})


if __name__ == "__main__":
    main()
