"""Jitted Adam and BFGS stages (the driver's compiled programs) vs the same optimizers driven from Python.

The problem is configs/quickstart.yaml (teacher 1-3-3-1 tanh, student
1-20-20-1 tanh, 3000 training points). The Python-driven baselines are what
the paper's code does: a Python loop calling a compiled loss/gradient once per
step (Adam), and scipy's BFGS with the loss and gradient evaluated by the
framework (here jax, jitted) and converted to numpy at every call.

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/bench_stages.py [--adam-steps 2000] [--bfgs-iters 1000]

Prints wall times and the speed ratios, all measured in this one run; each
timing excludes compilation (a warm-up call runs first), and writes them with the machine, thread settings
and command to ``benchmarks/results/bench_stages.json`` (``--json PATH`` elsewhere), from which the docs'
speed table is generated.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS must not fight XLA's threads

import jax
import jax.numpy as jnp
import numpy as np
import optax
import record
import scipy.optimize

from precision_jax.engine import driver
from precision_jax.engine.stages.base import mse
from precision_jax.experiment import load_config
from precision_jax.numerics.random_keys import run_keys
from precision_jax.runs.plan import cached_model, resolve_target
from precision_jax.runs.training import _stack_problems, run_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup():
    cfg = load_config(os.path.join(ROOT, "configs", "quickstart.yaml"))
    target = resolve_target(cfg)
    model = cached_model(cfg.model, target.d, tuple(target.variables))
    keys = run_keys(cfg.seed)
    data = run_data(cfg, target, model.n_params, keys)
    problems = _stack_problems([data], [keys.subsets])  # a batch of one seed, as `prec run` trains it
    return cfg, model, data, problems, model.init(keys.init)


def timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def run_stage(stage_cfg, model, problems, theta0, chunk):
    """The driver's compiled programs for one stage, run to the end in chunks of ``chunk`` iterations."""
    progs = driver.programs(stage_cfg, model.apply, model.n_params, chunk)
    problems = driver._stage_problems(problems, problems.key, 0)

    def run(theta):
        state, report = progs.start(problems, theta[None])
        running = ~np.asarray(report[2])
        while running.any():
            state, report = progs.advance(state, problems, jnp.asarray(running))
            running &= ~np.asarray(report[2])
        return progs.result(state)

    return run


def bench_adam(cfg, model, data, problems, theta0, steps):
    adam_cfg = cfg.train[0].__class__(lr=cfg.train[0].lr, steps=steps)
    run = run_stage(adam_cfg, model, problems, theta0, steps)
    timed(run, theta0)  # compile
    out, t_jit = timed(run, theta0)
    theta_jit = out.theta[0]
    x, y = data.x_train, data.y_train
    optimizer = optax.adam(adam_cfg.lr)

    @jax.jit
    def one_step(theta, state):
        grad = jax.grad(lambda t: mse(model.apply, t, x, y))(theta)
        updates, state = optimizer.update(grad, state, theta)
        return theta + updates, state

    state0 = optimizer.init(theta0)
    timed(one_step, theta0, state0)  # compile

    def python_loop(theta, state):
        for _ in range(steps):
            theta, state = one_step(theta, state)
        return theta

    theta_py, t_py = timed(python_loop, theta0, state0)
    agree = float(jnp.max(jnp.abs(theta_jit - theta_py)))
    return t_jit, t_py, agree, float(jnp.sqrt(mse(model.apply, theta_jit, x, y)))


def bench_bfgs(cfg, model, data, problems, theta0, iterations):
    bfgs_cfg = cfg.train[1].__class__(maxiter=iterations)
    run = run_stage(bfgs_cfg, model, problems, theta0, iterations)
    timed(run, theta0)  # compile
    out, t_jit = timed(run, theta0)
    x, y = data.x_train, data.y_train
    ours_iters, ours_rmse = int(out.steps[0]), float(jnp.sqrt(mse(model.apply, out.theta[0], x, y)))

    value_and_grad = jax.jit(jax.value_and_grad(lambda t: mse(model.apply, t, x, y)))
    value_and_grad(theta0)

    def fun(theta):
        value, grad = value_and_grad(jnp.asarray(theta))
        return float(value), np.asarray(grad, np.float64)

    start = time.perf_counter()
    result = scipy.optimize.minimize(fun, np.asarray(theta0), jac=True, method="BFGS",
                                     options={"maxiter": iterations, "gtol": 1e-60})
    t_py = time.perf_counter() - start
    return t_jit, ours_iters, ours_rmse, t_py, int(result.nit), float(np.sqrt(result.fun))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adam-steps", type=int, default=2000)
    parser.add_argument("--bfgs-iters", type=int, default=1000)
    parser.add_argument("--json", default=str(record.RESULTS / "bench_stages.json"), help="where the results go")
    args = parser.parse_args()
    cfg, model, data, problems, theta0 = setup()
    print(f"problem: quickstart teacher–student, N={model.n_params}, D={data.n_train}, "
          f"backend={jax.default_backend()}, dtype={theta0.dtype}")

    t_jit, t_py, agree, rmse = bench_adam(cfg, model, data, problems, theta0, args.adam_steps)
    adam = {"steps": args.adam_steps, "jitted_seconds": t_jit, "python_loop_seconds": t_py,
            "speedup": t_py / t_jit, "max_theta_difference": agree, "train_rmse": rmse}
    print(f"adam, {args.adam_steps} steps: the driver's jitted stage {t_jit:.3f} s, python loop {t_py:.3f} s "
          f"-> jitted is {t_py / t_jit:.1f}x faster  (max |Δθ| between the two = {agree:.1e}, RMSE {rmse:.2e})")

    t_jit, n_jit, rmse_jit, t_py, n_py, rmse_py = bench_bfgs(cfg, model, data, problems, theta0, args.bfgs_iters)
    per_jit, per_py = t_jit / max(n_jit, 1), t_py / max(n_py, 1)
    print(f"bfgs: jitted while_loop {n_jit} iterations in {t_jit:.2f} s ({1e3 * per_jit:.2f} ms/it, "
          f"train RMSE {rmse_jit:.2e}); scipy BFGS + jax gradients {n_py} iterations in {t_py:.2f} s "
          f"({1e3 * per_py:.2f} ms/it, train RMSE {rmse_py:.2e})")
    print(f"bfgs per-iteration speed ratio (scipy / jitted): {per_py / per_jit:.1f}x")
    bfgs = {"jitted_iterations": n_jit, "jitted_seconds": t_jit, "jitted_ms_per_iteration": 1e3 * per_jit,
            "jitted_train_rmse": rmse_jit, "scipy_iterations": n_py, "scipy_seconds": t_py,
            "scipy_ms_per_iteration": 1e3 * per_py, "scipy_train_rmse": rmse_py, "speedup": per_py / per_jit}
    record.write(args.json, {"benchmark": "bench_stages", "problem": "configs/quickstart.yaml",
                             "N": model.n_params, "D": data.n_train, "backend": jax.default_backend(),
                             "device": str(jax.devices()[0]), "adam": adam, "bfgs": bfgs})


if __name__ == "__main__":
    main()
