"""Where an LM iteration's time goes on the `train: auto` tasks' models, and how much one QR call varies.

For each task (its model, at the subsample size m that ``precision_jax.engine.auto_chain``
plans, 30 LM iterations from the initialization first): the per-sample
Jacobian alone; the Jacobian folded into the QR of [J | r] (the system's
factor); that plus one trial damping (one QR of [[R, z], [√μI, 0]]); a whole
iteration as the stage runs it; and the two QRs alone on stored matrices. Each
is a jitted function timed after one compiling call: min and median of
``--repeats`` calls.

``--spread`` then calls one compiled QR of an m×(N+1) matrix (exp-sin's shape,
4,000×502, by default) on 12 freshly drawn inputs and prints the fastest of 5
calls for each: on the 2-core development machine, with OpenBLAS's default 2
threads, these fall in two clusters about 2× apart (compare a run with
``OPENBLAS_NUM_THREADS=1``), which is the call-to-call spread behind the
stage-to-stage differences of ``benchmarks/auto_chain.py``.

Run:  python benchmarks/lm_profile.py [--tasks exp_sin,I.11.19_dense,I.11.19_modular] [--repeats 5] [--spread]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from lm_step import TASKS, timed, warmed_lm  # the same LM stage, set up as lm_step.py measures it


def profile(task: str, repeats: int) -> dict:
    lm = warmed_lm(task, 30)
    theta, x, y, n, m = lm.state.theta, lm.x, lm.y, lm.n, lm.m
    jacobian = jax.jit(jax.vmap(jax.grad(lambda t, xi: lm.model.apply(t, xi[None])[0]), in_axes=(None, 0)))
    j = jacobian(theta, x)
    r_factor = jnp.linalg.qr(j, mode="r")[:n, :n]
    qr = jax.jit(lambda a: jnp.linalg.qr(a, mode="r"))
    trials = int(lm.iterate(lm.state).evaluations - lm.state.evaluations)
    rows = {
        "Jacobian": (jacobian, theta, x),
        "Jacobian + QR of [J | r]": (jax.jit(lambda t: lm.system(t, x, y).zero_gradient), theta),
        "… + 1 trial damping": (jax.jit(lambda t: lm.system(t, x, y).damped(1e-8).step), theta),
        f"LM iteration ({trials} trials)": (lm.iterate, lm.state),
        f"QR of J alone ({m}×{n})": (qr, j),
        f"QR of [R; √μI] alone ({2 * n}×{n})": (qr, jnp.concatenate([r_factor, 1e-4 * jnp.eye(n)]))}
    return {"N": n, "m": m, "rows": {name: min_and_median(timed(*call, repeats=repeats))
                                     for name, call in rows.items()}}


def min_and_median(seconds: list[float]) -> tuple[float, float]:
    return seconds[0], seconds[len(seconds) // 2]


def spread(m: int, n: int) -> list[float]:
    qr = jax.jit(lambda a: jnp.linalg.qr(a, mode="r"))
    fastest = []
    for k in range(12):
        a = jax.block_until_ready(jax.random.normal(jax.random.PRNGKey(k), (m, n)))
        fastest.append(timed(qr, a)[0])
    return fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--spread", action="store_true", help="also time one QR on 12 fresh inputs")
    parser.add_argument("--shape", default="4000x502", help="m×n of the --spread QR")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    from precision_jax.runs import provenance

    machine = provenance.machine()
    print(f"{machine['cpu_model']}, CPUs {machine['cpus_usable']}, threads {provenance.thread_settings()}, "
          f"commit {provenance.git_state()}; seconds, min / median of {args.repeats}")
    for task in [t for t in args.tasks.split(",") if t]:
        found = profile(task, args.repeats)
        print(f"{task} (N = {found['N']}, m = {found['m']})")
        for name, (low, mid) in found["rows"].items():
            print(f"  {name:<40} {low:.3f} / {mid:.3f}")
    if args.spread:
        m, n = (int(v) for v in args.shape.lower().split("x"))
        print(f"one compiled QR of {m}×{n}, fastest of 5 calls, 12 fresh inputs:",
              " ".join(f"{s:.3f}" for s in spread(m, n)))


if __name__ == "__main__":
    main()
