"""Big nets, measured (issue 25, item 4): Adam alone against Adam → matrix-free LM at equal wall time.

Task: the Feynman equation I.12.11, F = q(E_f + B v sin θ) on [1, 5]⁵ (d = 5), 20,000 training
points, 5,000 test points, inputs standardized; depth-3 (two hidden layers) ReLU and tanh nets, N =
w² + 8w + 1 parameters for width w (w = 140: N = 20,721; w = 160: N = 26,881).

**Sweep** (the default): for each activation and width, each arm runs from the same initialization
against the wall clock, compilation excluded (every program is compiled before the clock starts):

- ``adam``: Adam (η = 1e-3, constant) for the whole time;
- ``lm_fixed``: Adam for ``--switch`` seconds, then LM with ``solver: cg, cg_forcing: fixed`` (the default
  until this benchmark showed it stalls: every CG solve to ``cg_tol`` = 1e-10 or ``cg_maxiter`` = 200 iterations);
- ``lm_ew``: the same with ``cg_forcing: eisenstat_walker`` (truncated-Newton tolerance per step).

The test RMSE is recorded after every Adam chunk (``--chunk`` steps) and every LM iteration; the RMSE
"at t minutes" is that of the last parameters finished by t (an LM iteration that straddles t
counts at its end, so a slow step is never credited early). Writes
``benchmarks/results/big_nets.json`` (machine, threads, command, every curve).

    python benchmarks/big_nets.py                                   # 2 × 4 widths × 3 arms × 15 min ≈ 6 h
    python benchmarks/big_nets.py --widths 140 --minutes 0.5 1      # a smoke run (~3 min per activation)

**Profile** (``--profile``): where one CG-LM iteration's time goes on one net (default tanh, w =
140, after ``--warmup`` Adam steps): one Adam step; one Jacobian–vector plus vector–Jacobian
product pair recomputing the forward pass (``jax.jvp`` + ``jax.vjp``) and reusing one
linearization (``jax.linearize`` + ``jax.linear_transpose``, what the stage does); and two LM
iterations per forcing rule with their CG iteration counts (the first includes the 20 Lanczos
steps for μ₀). Writes ``benchmarks/results/big_nets_profile.json``.

    python benchmarks/big_nets.py --profile [--width 140] [--activation tanh]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS must not fight XLA's threads

import jax
import jax.numpy as jnp

import precision_jax  # noqa: F401  (float64)
from precision_jax.engine.stages.adam import AdamConfig
from precision_jax.engine.stages.base import REASONS, Problem, build_stage
from precision_jax.engine.stages.lm import LMConfig
from precision_jax.experiment import build_config
from precision_jax.runs.plan import cached_model, resolve_target
from precision_jax.runs.training import draw_data

RESULTS = Path(__file__).resolve().parent / "results"
ARMS = ("adam", "lm_fixed", "lm_ew")
FORCING = {"lm_fixed": "fixed", "lm_ew": "eisenstat_walker"}


def machine() -> dict:
    return {"machine": platform.node(), "processor": platform.processor() or platform.machine(),
            "platform": platform.platform(), "threads": os.cpu_count(),
            "jax": jax.__version__, "device": str(jax.devices()[0]), "command": " ".join([sys.executable] + sys.argv)}


def setup(activation: str, width: int, points: int, seed: int = 0):
    """(predict, θ₀, Problem) for the I.12.11 net of this width."""
    cfg = build_config({
        "name": "big_nets", "seed": seed, "target": {"equation": "I.12.11"},
        "data": {"train_points": points, "test_points": 5000, "standardize": True},
        "model": {"kind": "mlp", "depth": 3, "width": width, "activation": activation},
        "train": [{"kind": "adam"}]})
    target = resolve_target(cfg)
    model = cached_model(cfg.model, target.d, tuple(target.variables))
    data = draw_data(cfg, target, points)
    problem = Problem(data.x_train, data.y_train, data.x_test, data.y_test, jax.random.key(seed))
    return model.apply, model.init(jax.random.key(seed)), problem


def rmse(predict, theta, x, y) -> float:
    r = predict(theta, x) - y
    return float(jnp.sqrt(jnp.mean(r * r)))


class Clock:
    """Wall time of the arm's own computing: paused while the curve is scored."""

    def __init__(self):
        self.spent, self.started = 0.0, time.perf_counter()

    def pause(self) -> float:
        self.spent += time.perf_counter() - self.started
        return self.spent

    def resume(self) -> None:
        self.started = time.perf_counter()


def adam_programs(predict, n: int, chunk: int, problem: Problem, theta):
    adam = build_stage(AdamConfig(lr=1e-3, steps=10**9), predict, n)
    init = jax.jit(adam.init).lower(problem, theta).compile()
    state = init(problem, theta)
    advance = jax.jit(lambda s, p: jax.lax.fori_loop(0, chunk, lambda _, t: adam.step(t, p), s))
    return init, advance.lower(state, problem).compile()


def lm_programs(predict, n: int, forcing: str, problem: Problem, theta):
    lm = build_stage(LMConfig(solver="cg", maxiter=10**6, cg_forcing=forcing), predict, n)
    init = jax.jit(lm.init).lower(problem, theta).compile()
    step = jax.jit(lm.step).lower(init(problem, theta), problem).compile()
    return lm, init, step


def run_arm(arm: str, predict, theta0, problem: Problem, seconds: float, switch: float, chunk: int) -> dict:
    n = theta0.shape[0]
    adam_init, adam_chunk = adam_programs(predict, n, chunk, problem, theta0)
    lm = lm_programs(predict, n, FORCING[arm], problem, theta0) if arm != "adam" else None
    curve = [(0.0, rmse(predict, theta0, problem.x_test, problem.y_test), 0)]
    clock, theta = Clock(), theta0
    state, adam_steps, adam_until = adam_init(problem, theta0), 0, seconds if lm is None else min(switch, seconds)
    while clock.pause() < adam_until:
        clock.resume()
        state = jax.block_until_ready(adam_chunk(state, problem))
        adam_steps += chunk
        elapsed = clock.pause()
        theta = state.theta
        curve.append((elapsed, rmse(predict, theta, problem.x_test, problem.y_test), adam_steps))
        clock.resume()
    lm_steps, cg_iterations, stop = 0, 0, "time"
    if lm is not None:
        stage, lm_init, lm_step = lm
        clock.resume()
        state = lm_init(problem, theta)
        while clock.pause() < seconds:
            clock.resume()
            state = jax.block_until_ready(lm_step(state, problem))
            elapsed = clock.pause()
            lm_steps, cg_iterations = int(state.iteration), int(state.krylov_iterations)
            curve.append((elapsed, rmse(predict, state.theta, problem.x_test, problem.y_test), adam_steps + lm_steps))
            done, reason = stage.terminate(state)
            if bool(done):
                stop = REASONS.get(int(reason), str(int(reason)))
                break
            clock.resume()
    return {"arm": arm, "adam_steps": adam_steps, "lm_steps": lm_steps, "cg_iterations": cg_iterations,
            "stop": stop, "curve": [{"seconds": t, "test_rmse": e, "steps": s} for t, e, s in curve]}


def at(curve: list[dict], seconds: float) -> float:
    """The test RMSE of the last parameters finished by ``seconds``."""
    return [p["test_rmse"] for p in curve if p["seconds"] <= seconds][-1]


def sweep(args) -> None:
    rows = []
    horizon = 60 * max(args.minutes)
    for activation in args.activations:
        for width in args.widths:
            predict, theta0, problem = setup(activation, width, args.points)
            for arm in args.arms:
                row = {"activation": activation, "width": width, "n_params": int(theta0.shape[0]),
                       **run_arm(arm, predict, theta0, problem, horizon, args.switch, args.chunk)}
                row["rmse_at"] = {f"{m:g} min": at(row["curve"], 60 * m) for m in args.minutes}
                rows.append(row)
                print(f"{activation:5s} w={width:4d} N={row['n_params']:6d} {arm:9s} " + "  ".join(
                    f"{k}: {v:.3e}" for k, v in row["rmse_at"].items())
                    + f"  (Adam {row['adam_steps']}, LM {row['lm_steps']}, CG {row['cg_iterations']})", flush=True)
    write(args.out, {**machine(), "points": args.points, "switch_seconds": args.switch, "minutes": args.minutes,
                     "rows": rows})


def timed(fn, *args, repeats: int = 3) -> float:
    jax.block_until_ready(fn(*args))  # compiles
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best


def profile(args) -> None:
    predict, theta, problem = setup(args.activation, args.width, args.points)
    n, x, y = theta.shape[0], problem.x_train, problem.y_train
    adam_init, adam_chunk = adam_programs(predict, n, args.warmup, problem, theta)
    theta = adam_chunk(adam_init(problem, theta), problem).theta
    adam_one = adam_programs(predict, n, 1, problem, theta)
    state = adam_one[0](problem, theta)
    residual = lambda t: predict(t, x) - y  # noqa: E731
    u = jnp.sin(jnp.arange(x.shape[0], dtype=jnp.float64))

    @jax.jit
    def recomputed(t, v, w):
        return jax.jvp(residual, (t,), (v,))[1], jax.vjp(residual, t)[1](w)[0]

    @jax.jit
    def reused(t, v, w, repeats: int = 10):
        # One linearization, ``repeats`` product pairs (as CG runs them); the time is divided below.
        _, jvp = jax.linearize(residual, t)
        transpose = jax.linear_transpose(jvp, t)
        def body(_, acc):
            return acc + jnp.vdot(jvp(v + acc), w) + jnp.sum(transpose(w)[0])
        return jax.lax.fori_loop(0, repeats, body, 0.0)

    rows = {"adam_step": timed(adam_one[1], state, problem),
            "jvp+vjp recomputing the forward pass": timed(recomputed, theta, theta, u),
            "jvp+vjp on one linearization (per pair, of 10)": timed(reused, theta, theta, u) / 10}
    for name, seconds in rows.items():
        print(f"{name:50s} {seconds:.4f} s", flush=True)
    lm_rows = {}
    for forcing in args.forcings:
        stage = build_stage(LMConfig(solver="cg", maxiter=10**6, cg_forcing=forcing), predict, n)
        init, step = jax.jit(stage.init), jax.jit(stage.step)
        lm_state = init(problem, theta)
        step = step.lower(lm_state, problem).compile()
        iterations = []
        for _ in range(args.lm_iterations):
            before = int(lm_state.krylov_iterations), int(lm_state.evaluations)
            start = time.perf_counter()
            lm_state = jax.block_until_ready(step(lm_state, problem))
            iterations.append({"seconds": time.perf_counter() - start,
                               "cg_iterations": int(lm_state.krylov_iterations) - before[0],
                               "damping_trials": int(lm_state.evaluations) - before[1],
                               "forcing": float(lm_state.forcing),
                               "train_rmse": float(jnp.sqrt(lm_state.sse / x.shape[0]))})
            print(forcing, iterations[-1], flush=True)
        lm_rows[forcing] = iterations
    report = {**machine(), "activation": args.activation, "width": args.width, "n_params": int(n),
              "points": args.points, "warmup_adam_steps": args.warmup,
              "train_rmse_after_warmup": rmse(predict, theta, x, y), "seconds": rows, "lm_iterations": lm_rows}
    write(args.out.with_name("big_nets_profile.json"), report)


def write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[40, 80, 140, 160])
    parser.add_argument("--activations", nargs="+", default=["relu", "tanh"], choices=["relu", "tanh"])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 15], help="report the RMSE at these times")
    parser.add_argument("--switch", type=float, default=20.0, help="seconds of Adam before LM (the LM arms)")
    parser.add_argument("--chunk", type=int, default=50, help="Adam steps between clock checks")
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=RESULTS / "big_nets.json")
    parser.add_argument("--profile", action="store_true", help="profile one net's LM iteration instead")
    parser.add_argument("--width", type=int, default=140)
    parser.add_argument("--activation", default="tanh", choices=["relu", "tanh"])
    parser.add_argument("--warmup", type=int, default=200, help="--profile: Adam steps before the LM iterations")
    parser.add_argument("--lm-iterations", type=int, default=2)
    parser.add_argument("--forcings", nargs="+", default=["eisenstat_walker", "fixed"],
                        choices=["eisenstat_walker", "fixed"], help="--profile: the cg_forcing rules timed")
    args = parser.parse_args()
    profile(args) if args.profile else sweep(args)


if __name__ == "__main__":
    main()
