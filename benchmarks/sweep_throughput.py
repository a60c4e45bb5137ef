"""Sweep throughput: `prec sweep` versus a shell loop of `prec run` processes, same runs, one invocation.

The sweep is 3 widths × 4 seeds of a small Adam → BFGS fit on a Feynman
equation. The loop runs `prec run base.yaml model.width=W seed=S` once per
run, as a shell script would; the sweep runs `prec sweep spec.yaml` once
(seed groups vmapped, compiled programs reused in-process) with a *cold*,
empty persistent compilation cache, so nothing is carried over from earlier
invocations. Both write to fresh stores; the script checks that both stores
hold the same run ids, prints runs per minute and the ratio (the issue asks
for at least 3×), and exits non-zero when any run's metrics differ between the
stores by more than 1e-10 relative: same config and seed must give the same
numbers, batched or not.

Writes the numbers, machine, thread settings and command to ``benchmarks/results/sweep_throughput.json``
(``--json PATH`` elsewhere), from which the docs' speed table is generated.

    python benchmarks/sweep_throughput.py [--widths 4 8 16] [--seeds 4] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import record
import yaml

TOLERANCE = 1e-10  # relative; the sweep reproduces `prec run` bit for bit on CPU

BASE = {
    "name": "throughput",
    "target": {"equation": "II.8.31"},
    "data": {"train_points": "auto", "test_points": 2000, "standardize": True},
    "model": {"kind": "mlp", "depth": 3, "width": 8, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-3, "steps": 500}, {"kind": "bfgs", "maxiter": 300}],
    "output": {"log_every": 100},
}


def prec() -> list[str]:
    exe = shutil.which("prec")
    return [exe] if exe else [sys.executable, "-c", "from cli.main import app; app()"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--json", default=str(record.RESULTS / "sweep_throughput.json"), help="where the results go")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="prec-bench-"))
    env = {**os.environ, "PREC_JAX_CACHE": str(work / "unused-cache")}
    base_file = work / "base.yaml"
    base_file.write_text(yaml.safe_dump(BASE))
    spec_file = work / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({"name": "throughput", "base": "base.yaml",
                                         "grid": {"model.width": args.widths, "seed": list(range(args.seeds))}}))
    runs = [(w, s) for w in args.widths for s in range(args.seeds)]

    start = time.perf_counter()
    subprocess.run(prec() + ["sweep", str(spec_file), "--out", str(work / "sweep"), "--no-progress",
                             "--cache-dir", str(work / "cold-cache")], check=True, env=env)
    sweep_seconds = time.perf_counter() - start

    start = time.perf_counter()
    for width, seed in runs:  # what `for w in ...; do for s in ...; do prec run ...; done; done` does
        subprocess.run(prec() + ["run", str(base_file), f"model.width={width}", f"seed={seed}",
                                 "--out", str(work / "loop"), "--quiet"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
    loop_seconds = time.perf_counter() - start

    def results(root: Path) -> dict[str, dict]:
        from precision_jax.runs import store  # the store's reader: typed summaries, NaN metrics back as NaN

        return {path.name: store.read_summary(path).metrics for path in store.iter_runs(root)}

    swept, looped = results(work / "sweep"), results(work / "loop")
    if set(swept) != set(looped) or len(swept) != len(runs):
        sys.exit(f"FAIL: the stores hold different runs: sweep {sorted(swept)}, loop {sorted(looped)}")

    def relative(a, b) -> float:
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
            return 0.0 if a == b else float("inf")
        if a == b or (a != a and b != b):  # equal, or both NaN
            return 0.0
        return abs(a - b) / max(abs(b), 1e-300)

    differences = {(run, key): relative(swept[run].get(key), value)
                   for run, metrics in looped.items() for key, value in metrics.items()}
    worst = max(abs(swept[k]["test_rmse"] - looped[k]["test_rmse"]) / looped[k]["test_rmse"] for k in swept)
    worst_any = max(differences.values())
    sweep_rate, loop_rate = 60 * len(runs) / sweep_seconds, 60 * len(runs) / loop_seconds
    print(f"{len(runs)} runs ({len(args.widths)} widths × {args.seeds} seeds), {os.cpu_count()} CPUs")
    print(f"prec sweep (cold compile cache): {sweep_seconds:7.1f} s  {sweep_rate:6.1f} runs/min")
    print(f"shell loop of prec run:          {loop_seconds:7.1f} s  {loop_rate:6.1f} runs/min")
    print(f"largest relative test-RMSE difference between the stores: {worst:.1e}")
    print(f"largest relative difference over all metrics:             {worst_any:.1e}")
    print(f"speed-up: {sweep_rate / loop_rate:.1f}x")
    shutil.rmtree(work, ignore_errors=True)
    bad = sorted((k, v) for k, v in differences.items() if not v <= TOLERANCE)
    record.write(args.json, {"benchmark": "sweep_throughput", "runs": len(runs), "widths": args.widths,
                             "seeds": args.seeds, "sweep_seconds": sweep_seconds, "loop_seconds": loop_seconds,
                             "speedup": sweep_rate / loop_rate, "largest_test_rmse_difference": worst,
                             "largest_metric_difference": worst_any, "metrics_identical": worst_any == 0.0,
                             "metrics_differing": len(bad)})
    if bad:
        lines = "\n".join(f"  {run} {key}: sweep {swept[run].get(key)!r} vs prec run {looped[run][key]!r} "
                          f"(relative {v:.1e})" for (run, key), v in bad)
        sys.exit(f"FAIL: {len(bad)} metrics differ between `prec sweep` and `prec run` beyond "
                 f"{TOLERANCE:.0e} relative:\n{lines}")


if __name__ == "__main__":
    main()
