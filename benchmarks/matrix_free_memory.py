"""Peak memory and time per iteration of the matrix-free second-order stages (LM by CG, LCS by Lanczos).

Memory (the default): one stage on a net too big for the dense stages — a 2-140-140-1 tanh net
(N = 20,301) on 20,000 points of exp(sin πx + y²) — run through ``prec``'s own driver for a few
iterations; prints the process's peak RSS (``ru_maxrss``, so run one stage per process) beside the
dense stage's own estimate for the same net (N² matrices: it would be refused).

    python benchmarks/matrix_free_memory.py --stage lm  --iterations 3
    python benchmarks/matrix_free_memory.py --stage lcs --iterations 3

Timing (``--timing``): dense and matrix-free variants of each stage on the same nets and data, compilation
excluded (each run is repeated in-process with the compiled programs cached and the second is timed):

    python benchmarks/matrix_free_memory.py --timing --widths 20 40 --points 2000

The last line of each measurement starts with ``RESULT`` and is key=value pairs (the slow test reads it).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS must not fight XLA's threads

import precision_jax  # noqa: F401
from precision_jax.engine.driver import build_chain
from precision_jax.experiment import build_config
from precision_jax.runs.plan import cached_model, resolve_target
from precision_jax.runs.training import run_experiment

TARGET = {"formula": "exp(sin(pi*x) + y**2)", "variables": {"x": [-1, 1], "y": [-1, 1]}}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30  # Linux: KiB


def config(stage: dict, width: int, points: int, log_every: int, warmup: int = 0):
    chain = ([{"kind": "adam", "lr": 1e-3, "steps": warmup}] if warmup else []) + [stage]
    return build_config({
        "name": "matrix_free_bench", "seed": 0, "target": TARGET,
        "data": {"train_points": points, "test_points": 1000},
        "model": {"kind": "mlp", "depth": 3, "width": width, "activation": "tanh"},
        "train": chain, "output": {"log_every": log_every}})


# LCS far from a minimum (after 20 Adam steps) needs a τ well inside the spectrum (λ_max ≈ 45 here) to find Ritz
# values below it; near a minimum, where the Hessian is nearly positive semidefinite, τ = 1e-15 does.
# The matrix-free settings (ignored by the dense solvers): a few dozen CG iterations per solve and 100 Lanczos steps.
KRYLOV = {"cg_maxiter": 50, "lanczos_steps": 100}
STAGES = {
    # cg_forcing fixed: what the committed numbers ran (the default then), so the command still reproduces them.
    "lm": lambda solver, n: {"kind": "lm", "solver": solver, "maxiter": n, "cg_maxiter": KRYLOV["cg_maxiter"],
                             "cg_forcing": "fixed"},
    "lcs": lambda solver, n: {"kind": "lcs", "solver": solver, "steps": n, "tau": 1e-1, "alpha_min": 1e-6,
                              "alpha_max": 1e6, "lanczos_steps": KRYLOV["lanczos_steps"]},
}
MATRIX_FREE = {"lm": "cg", "lcs": "lanczos"}
DENSE = {"lm": "qr", "lcs": "dense"}


def stage_row(record):
    row = record.summary.stages[-1]
    points = [p for p in record.curve if p.stage == len(record.summary.stages) - 1]
    return row, points[0].train_rmse, points[-1].train_rmse


def memory(stage: str, iterations: int, width: int, points: int) -> None:
    baseline = peak_rss_gb()
    # LCS starts after a few Adam steps (the flat directions of a net at its initialization are not the interesting
    # ones); LM from the initialization.
    cfg = config(STAGES[stage](MATRIX_FREE[stage], iterations), width, points, iterations,
                 warmup=20 if stage == "lcs" else 0)
    start = time.perf_counter()
    record = run_experiment(cfg)
    seconds = time.perf_counter() - start
    row, first, last = stage_row(record)
    target = resolve_target(cfg)
    model = cached_model(cfg.model, target.d, tuple(target.variables))
    n = model.n_params
    free_stage = build_chain(cfg.train[-1:], model.apply, n)[0]
    dense_estimate = 8 * 6 * (n + 1) ** 2 if stage == "lm" else 8 * 5 * n * n
    print(f"{stage} ({row['solver']}): N={n}, D={points}, {row['steps']} steps ({row['stop_reason']}), "
          f"train RMSE {first:.3e} -> {last:.3e}, {seconds:.1f} s with compilation; peak RSS {peak_rss_gb():.2f} GiB "
          f"(after imports {baseline:.2f}); the stage's estimate {free_stage.memory_bytes(points) / 2**30:.2f} GiB, "
          f"the dense stage's N² matrices alone {dense_estimate / 2**30:.1f} GiB")
    print(f"RESULT stage={stage} n_params={n} points={points} steps={row['steps']} peak_rss_gb={peak_rss_gb():.3f} "
          f"rmse_start={first:.6e} rmse_end={last:.6e} seconds={seconds:.1f}")


def timing(widths, points: int, iterations: dict) -> None:
    for width in widths:
        for stage in ("lm", "lcs"):
            for solver in (DENSE[stage], MATRIX_FREE[stage]):
                cfg = config(STAGES[stage](solver, iterations[stage]), width, points, iterations[stage],
                             warmup=20 if stage == "lcs" else 0)
                run_experiment(cfg)  # compiles
                row, first, last = stage_row(run_experiment(cfg))
                per = row["seconds"] / max(row["steps"], 1)
                extra = f" cg_iterations={row['cg_iterations']}" if "cg_iterations" in row else ""
                print(f"RESULT stage={stage} solver={solver} width={width} points={points} steps={row['steps']} "
                      f"seconds_per_step={per:.4f} rmse_start={first:.3e} rmse_end={last:.3e}{extra}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=["lm", "lcs"], default="lm")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--width", type=int, default=140, help="hidden width (140: N = 20,301 on 2 inputs)")
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--timing", action="store_true", help="dense vs matrix-free seconds per step instead")
    parser.add_argument("--widths", type=int, nargs="+", default=[20, 40])
    parser.add_argument("--cg-maxiter", type=int, default=KRYLOV["cg_maxiter"])
    parser.add_argument("--lanczos-steps", type=int, default=KRYLOV["lanczos_steps"])
    args = parser.parse_args()
    KRYLOV.update(cg_maxiter=args.cg_maxiter, lanczos_steps=args.lanczos_steps)
    if args.timing:
        timing(args.widths, args.points, {"lm": 10, "lcs": 3})
    else:
        memory(args.stage, args.iterations, args.width, args.points)


if __name__ == "__main__":
    main()
