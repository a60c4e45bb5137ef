"""What one boosting round can fit: a fresh net trained on the residual of a run's main net, on a subsample.

A boosting round (``precision_jax/runs/training.py``) fits a new net to the
residual r = y − c₀ f₀(x) of the main net f₀, scaled to unit RMS, with LM on
a subsample of m points. This script repeats that fit outside the chain for a
few round-net designs and reports, for each, the relative RMSE
‖f_round − r/‖r‖_rms‖ on the m fitted points (what the net can represent) and
on all D training points (what the subsample pins down). The product of the
second with ‖r‖_rms is the training RMSE the round would leave.

Designs: ``tanh`` nets 2-w-w-1 (the round net of ``train: auto``), and
multistage's two suggestions for high-frequency residuals (Wang & Lai; the
``multistage`` package's ``feature_map``): a first layer of Fourier features
sin(κ(Wx + b)), or of Chebyshev features cos(κ(W arccos x̂ + b)) with x̂ the
inputs mapped onto [−1, 1] by the training set's box, κ scaling the default
U(±1/√fan_in) initialization, then tanh layers.

A round's result depends on its initialization and its subsample as much as
on its design, so each design is fitted ``--seeds`` times, seed k drawing
both, the same k for every design; the summary line per design gives the
median and range over the seeds. (A seed's time includes compiling for the
first seed of each design.)

With ``--main-steps K`` it first continues the main net itself from its end
for K LM steps on a fresh subsample of each size m, and prints its RMSE on
those m points and on all D every 50 steps: when the two fall together, the
main net is limited by its optimization rather than by the points it fits.

Run:  python benchmarks/boost_round_fit.py RUN_DIR [--steps 300] [--designs tanh:1:20,sin:3:20,cheb:1:20]
                                          [--points 4000] [--seeds 3] [--main-steps 200]
RUN_DIR is any run of an MLP in the store, e.g. the output of
``prec run configs/precision/auto/exp_sin.yaml``; its part 0 is the main net
(the round nets are d-w-w-1 for the run's d inputs).
One LM stage (``solver: qr``, the stage's defaults) of ``--steps`` steps per
design, one design at a time; prints one line each and the thread settings.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

jax.config.update("jax_enable_x64", True)

from precision_jax.engine.stages.base import RUNNING  # noqa: E402
from precision_jax.engine.stages.lm import LMConfig, make_lm  # noqa: E402
from precision_jax.models.mlp import init_mlp  # noqa: E402
from precision_jax.runs import plan, provenance, store, training  # noqa: E402

FIRST_LAYER = {"tanh": jnp.tanh, "sin": jnp.sin, "cheb": jnp.cos}


def round_net(first: str, kappa: float, width: int, d: int, box: tuple[jax.Array, jax.Array]):
    """``(init, apply)`` of a d-width-width-1 net with first-layer activation ``first`` and its weights × κ;
    ``cheb`` feeds that layer arccos x̂, x̂ = x mapped from ``box`` = (lower, upper) onto [−1, 1]."""
    widths = [d, width, width, 1]
    lower, upper = box
    edge = 1.0 - 1e2 * float(jnp.finfo(jnp.float64).eps)  # arccos is not differentiable at ±1
    unflatten = ravel_pytree(init_mlp(jax.random.PRNGKey(0), widths))[1]

    def init(key):
        params = init_mlp(key, widths)
        w, b = params[0]
        params[0] = (w * kappa, b * kappa)
        return ravel_pytree(params)[0]

    def apply(theta, x):
        params, h = unflatten(theta), x
        if first == "cheb":
            h = jnp.arccos(jnp.clip(2.0 * (x - lower) / (upper - lower) - 1.0, -edge, edge))
        for i, (w, b) in enumerate(params[:-1]):
            h = (FIRST_LAYER[first] if i == 0 else jnp.tanh)(h @ w + b)
        w, b = params[-1]
        return (h @ w + b)[:, 0]

    return init, apply


def iterate_until(iterate, state, until):
    """The LM ``state`` after iterating until ``until`` steps are accepted or the stage stops (jittable)."""
    return jax.lax.while_loop(lambda s: (s.iteration < until) & (s.status == RUNNING), iterate, state)


def continue_main(apply, theta, coefficient: float, x, y, m: int, steps: int, every: int = 50) -> None:
    """Print the main net's RMSE on m fresh points and on all of x while LM continues it for ``steps``."""
    fitted = np.random.default_rng(0).choice(x.shape[0], m, replace=False)
    scaled = lambda theta, x: coefficient * apply(theta, x)  # noqa: E731
    start, iterate, _ = make_lm(LMConfig(maxiter=steps), scaled, m, "qr")
    chunk = jax.jit(lambda state, until: iterate_until(iterate, state, until))
    state, t0 = jax.jit(start)(theta, x[fitted], y[fitted]), time.perf_counter()
    for done in range(every, steps + 1, every):
        state = chunk(state, done)
        on_all = float(jnp.sqrt(jnp.mean((scaled(state.theta, x) - y) ** 2)))
        print(f"m = {m:6d}  main net continued {int(state.iteration)} steps: RMSE "
              f"{float(jnp.sqrt(state.sse / m)):.3e} on its points, {on_all:.3e} on all  "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--points", default="4000", help="comma-separated subsample sizes m")
    parser.add_argument("--designs", default="tanh:1:20,sin:1:20,sin:3:20,cheb:1:20,cheb:3:20",
                        help="comma-separated first-layer:kappa:width, first-layer one of " + ", ".join(FIRST_LAYER))
    parser.add_argument("--seeds", type=int, default=3, choices=range(1, 100), metavar="K",
                        help="initializations (and subsamples) per design")
    parser.add_argument("--main-steps", type=int, default=0, help="continue the main net this many steps first")
    args = parser.parse_args()

    record = store.read_run(args.run_dir, extra=False)
    cfg = record.config
    target = plan.resolve_target(cfg)
    model = plan.cached_model(cfg.model, target.d, tuple(target.variables))
    data = training.run_data(cfg, target, model.n_params)
    main_part = record.parts[0]
    main_theta = jnp.asarray(main_part.arrays["theta"])
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    residual = y - main_part.coefficient * model.apply(main_theta, x)
    scale = float(jnp.sqrt(jnp.mean(residual ** 2)))
    t = residual / scale
    print(f"{args.run_dir}: main net's training RMSE {scale:.3e} on D = {x.shape[0]} points; "
          f"threads {provenance.thread_settings()}, CPUs {provenance.machine()['cpus_usable']}", flush=True)

    box = (jnp.min(x, axis=0), jnp.max(x, axis=0))
    for m in (int(p) for p in args.points.split(",")):
        if args.main_steps:
            continue_main(model.apply, main_theta, main_part.coefficient, x, y, m, args.main_steps)
        for design in filter(None, args.designs.split(",")):
            first, kappa, width = design.split(":")
            init, apply = round_net(first, float(kappa), int(width), target.d, box)
            start, iterate, _ = make_lm(LMConfig(maxiter=args.steps), apply, m, "qr")
            steps = args.steps
            fit = jax.jit(lambda theta, xs, ts: iterate_until(iterate, start(theta, xs, ts), steps))
            label = f"{first:4s} κ = {float(kappa):g}  {target.d}-{width}-{width}-1"
            left = []
            for seed in range(args.seeds):
                fitted = np.random.default_rng(1 + seed).choice(x.shape[0], m, replace=False)
                t0 = time.perf_counter()
                state = jax.block_until_ready(fit(init(jax.random.PRNGKey(7 + seed)), x[fitted], t[fitted]))
                on_all = float(jnp.sqrt(jnp.mean((apply(state.theta, x) - t) ** 2)))
                left.append(on_all)
                print(f"m = {m:6d}  {label}  seed {seed}  "
                      f"{int(state.iteration)} steps: relative RMSE {float(jnp.sqrt(state.sse / m)):.3f} on its "
                      f"points, {on_all:.3f} on all -> training RMSE {on_all * scale:.3e}  "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
            print(f"m = {m:6d}  {label}  over {args.seeds} seeds: "
                  f"relative RMSE on all points, median {statistics.median(left):.3f}, "
                  f"range {min(left):.3f}–{max(left):.3f}", flush=True)


if __name__ == "__main__":
    main()
