"""Jitted Adam and BFGS stages vs the same optimizers driven step by step from Python.

The problem is configs/quickstart.yaml (teacher 1-3-3-1 tanh, student
1-20-20-1 tanh, 3000 training points). The Python-driven baselines are what
the paper's code does: a Python loop calling a compiled loss/gradient once per
step (Adam), and scipy's BFGS with the loss and gradient evaluated by the
framework (here jax, jitted) and converted to numpy at every call.

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/bench_stages.py [--adam-steps 2000] [--bfgs-iters 1000]

Prints wall times and the speed ratios, all measured in this one run; each
timing excludes compilation (a warm-up call runs first).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS must not fight XLA's threads

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import scipy.optimize  # noqa: E402

from precision_jax import approximators  # noqa: E402
from precision_jax.config import load_config  # noqa: E402
from precision_jax.data import make_dataset  # noqa: E402
from precision_jax.stages.adam import make_adam_chunk  # noqa: E402
from precision_jax.stages.base import Problem  # noqa: E402
from precision_jax.stages.quasi_newton import make_quasi_newton  # noqa: E402
from precision_jax.training import resolve_target  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup():
    cfg = load_config(os.path.join(ROOT, "configs", "quickstart.yaml"))
    target = resolve_target(cfg)
    model = approximators.build_model(cfg.model, target.d)
    data_key, init_key = jax.random.split(jax.random.PRNGKey(cfg.seed))
    data = make_dataset(target, cfg.data.train_points, cfg.data.test_points, data_key, 1.0)
    return cfg, Problem.from_model(model, data), model.init(init_key)


def timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def bench_adam(cfg, problem, theta0, steps):
    adam_cfg = cfg.train[0].__class__(lr=cfg.train[0].lr, steps=steps)
    optimizer, chunk = make_adam_chunk(adam_cfg, problem, steps)
    chunk = jax.jit(chunk)
    x, y = problem.x_train, problem.y_train
    state0 = optimizer.init(theta0)
    step0 = jnp.asarray(0, jnp.int64)
    timed(chunk, theta0, state0, step0, x, y)  # compile
    (theta_jit, *_), t_jit = timed(chunk, theta0, state0, step0, x, y)

    @jax.jit
    def one_step(theta, state):
        grad = jax.grad(problem.loss)(theta, x, y)
        updates, state = optimizer.update(grad, state, theta)
        return theta + updates, state

    timed(one_step, theta0, state0)  # compile

    def python_loop(theta, state):
        for _ in range(steps):
            theta, state = one_step(theta, state)
        return theta

    theta_py, t_py = timed(python_loop, theta0, state0)
    agree = float(jnp.max(jnp.abs(theta_jit - theta_py)))
    return t_jit, t_py, agree, float(jnp.sqrt(problem.loss(theta_jit)))


def bench_bfgs(cfg, problem, theta0, iterations):
    bfgs_cfg = cfg.train[1].__class__(maxiter=iterations)
    init, run_chunk = make_quasi_newton(bfgs_cfg, problem)
    init, run_chunk = jax.jit(init), jax.jit(run_chunk)
    x, y = problem.x_train, problem.y_train
    scale = problem.loss(theta0)
    state = init(theta0, x, y, scale)
    timed(run_chunk, state, x, y, scale, jnp.asarray(1, jnp.int64))  # compile
    state, t_jit = timed(run_chunk, state, x, y, scale, jnp.asarray(iterations, jnp.int64))
    ours_iters, ours_rmse = int(state.iteration), float(jnp.sqrt(problem.loss(state.theta)))

    value_and_grad = jax.jit(jax.value_and_grad(problem.loss))
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
    args = parser.parse_args()
    cfg, problem, theta0 = setup()
    print(f"problem: quickstart teacher–student, N={problem.n_params}, D={problem.x_train.shape[0]}, "
          f"backend={jax.default_backend()}, dtype={theta0.dtype}")

    t_jit, t_py, agree, rmse = bench_adam(cfg, problem, theta0, args.adam_steps)
    print(f"adam, {args.adam_steps} steps: jitted scan {t_jit:.3f} s, python loop {t_py:.3f} s "
          f"-> jitted is {t_py / t_jit:.1f}x faster  (max |Δθ| between the two = {agree:.1e}, RMSE {rmse:.2e})")

    t_jit, n_jit, rmse_jit, t_py, n_py, rmse_py = bench_bfgs(cfg, problem, theta0, args.bfgs_iters)
    per_jit, per_py = t_jit / max(n_jit, 1), t_py / max(n_py, 1)
    print(f"bfgs: jitted while_loop {n_jit} iterations in {t_jit:.2f} s ({1e3 * per_jit:.2f} ms/it, "
          f"train RMSE {rmse_jit:.2e}); scipy BFGS + jax gradients {n_py} iterations in {t_py:.2f} s "
          f"({1e3 * per_py:.2f} ms/it, train RMSE {rmse_py:.2e})")
    print(f"bfgs per-iteration speed ratio (scipy / jitted): {per_py / per_jit:.1f}x")


if __name__ == "__main__":
    main()
