"""Seconds per Levenberg–Marquardt iteration on the `train: auto` tasks' models, this checkout against a revision.

One iteration of the LM stage as the driver runs it (``LevenbergMarquardt.functions(m)``:
Jacobian chunks folded into the QR factor, then trial dampings, each with the
geodesic acceleration, until one is accepted), at the subsample size m that
``precision_jax.engine.auto_chain`` plans for each task, from the model's
initialization on m points of the task's training set. The first
``--warmup`` iterations are run untimed: a stage's first steps reject several
dampings while μ adapts (each rejection costs a loss evaluation with the
eigenbasis solver, one QR of [R; √μI] with the triangular one), which the
whole stage pays once. The next iteration is then timed from that same state
``--repeats`` times after one compiling call; the median is reported, with
the trial dampings that iteration took.

With ``--against REV`` the same measurement runs, in the same invocation and
one after the other, on a ``git worktree`` of REV (a subprocess importing that
revision's ``precision_jax``), and the table gives both and the ratio. The
worktree is made under a temporary folder and removed afterwards.

Run:  python benchmarks/lm_step.py [--against 3a28004] [--repeats 5] [--warmup 30] [--tasks exp_sin,I.11.19_dense]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("exp_sin", "I.11.19_dense", "I.11.19_modular")


class WarmedLM(NamedTuple):
    """A task's LM stage after ``warmup`` iterations: the jitted ``iterate``, its state, the stage's
    ``system(θ, x, y)``, the model and the m planned points (x, y)."""

    state: Any
    iterate: Any
    system: Any
    model: Any
    x: Any
    y: Any
    n: int
    m: int


def warmed_lm(task: str, warmup: int) -> WarmedLM:
    """The LM stage of ``task`` (a config in configs/precision/auto/) as the driver runs it, at the subsample
    size m that ``precision_jax.engine.auto_chain`` plans, after ``warmup`` iterations from the model's initialization
    on the first m training points, for the precision_jax on sys.path."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    from precision_jax.engine import auto_chain
    from precision_jax.engine.stages.lm import LevenbergMarquardt, LMConfig
    from precision_jax.experiment import load_config
    from precision_jax.runs import plan, training

    cfg = load_config(str(ROOT / "configs" / "precision" / "auto" / f"{task}.yaml"))
    target = plan.resolve_target(cfg)
    model = plan.cached_model(cfg.model, target.d, tuple(target.variables))
    data = training.run_data(cfg, target, model.n_params)
    n = model.n_params
    m = auto_chain.subsample_size(target.d, data.x_train.shape[0], n)
    x, y = jnp.asarray(data.x_train[:m]), jnp.asarray(data.y_train[:m])
    try:
        stage = LevenbergMarquardt(LMConfig(), model.apply, n)
    except TypeError:  # a revision from before the driver owned the loop: the stage took log_every too
        stage = LevenbergMarquardt(LMConfig(), model.apply, n, 1)
    init, iterate, system = stage.functions(m)
    iterate = jax.jit(iterate)
    state = jax.jit(init)(model.init(jax.random.PRNGKey(0)), x, y)
    for _ in range(warmup):  # past the first steps' rejections, to a damping adapted to the problem
        state = iterate(state)
    return WarmedLM(state, iterate, system, model, x, y, n, m)


def timed(f, *args, repeats: int = 5) -> list[float]:
    """Sorted seconds of ``repeats`` calls ``f(*args)``, after one call that compiles it."""
    import jax

    jax.block_until_ready(f(*args))
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*args))
        seconds.append(time.perf_counter() - t0)
    return sorted(seconds)


def measure(tasks: list[str], repeats: int, warmup: int) -> dict:
    """{task: {"N", "m", "seconds", "trials"}} for the precision_jax on sys.path."""
    out = {}
    for task in tasks:
        lm = warmed_lm(task, warmup)
        after = lm.iterate(lm.state)
        out[task] = {"N": lm.n, "m": lm.m, "seconds": statistics.median(timed(lm.iterate, lm.state, repeats=repeats)),
                     "trials": int(after.evaluations - lm.state.evaluations)}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default=None, help="a git revision to measure too, for the ratio")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the subprocess's output
    args = parser.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    if args.json:
        import precision_jax

        print(json.dumps({"package": precision_jax.__file__, "tasks": measure(tasks, args.repeats, args.warmup)}))
        return 0

    from precision_jax.runs import provenance

    here = measure(tasks, args.repeats, args.warmup)
    there = None
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            tree = os.path.join(tmp, "rev")
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", tree, args.against],
                           check=True, capture_output=True)
            try:
                env = {**os.environ, "PYTHONPATH": tree}
                proc = subprocess.run([sys.executable, __file__, "--json", "--repeats", str(args.repeats),
                                       "--warmup", str(args.warmup),
                                       "--tasks", ",".join(tasks)], env=env, cwd=tree, check=True,
                                      capture_output=True, text=True)
                reply = json.loads(proc.stdout.strip().splitlines()[-1])
                if not reply["package"].startswith(tree):
                    raise SystemExit(f"the subprocess imported {reply['package']}, not {args.against}'s package")
                there = reply["tasks"]
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tree], check=False,
                               capture_output=True)
    machine = provenance.machine()
    print(f"{machine['cpu_model']}, CPUs {machine['cpus_usable']}, threads {provenance.thread_settings()}, "
          f"commit {provenance.git_state()}, median of {args.repeats}")
    head = "| task | N | m | s / LM iteration (trials) |" + (f" at {args.against} | speed-up |" if there else "")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for task, row in here.items():
        line = f"| {task} | {row['N']} | {row['m']} | {row['seconds']:.3f} ({row['trials']}) |"
        if there:
            old = there[task]
            line += f" {old['seconds']:.3f} ({old['trials']}) | {old['seconds'] / row['seconds']:.2f}× |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
