"""Time to test-RMSE milestones on the teacher–student task: `prec`'s best chain vs the paper's method.

Task: configs/precision/teacher_student_best.yaml (teacher 1-3-3-1 tanh, student
1-20-20-1 tanh, 100k training / 10k test points over [-1, 1], float64).

- **prec**: the config's chain as `prec run` runs it (Levenberg–Marquardt with
  geodesic acceleration on training subsamples, then boosting rounds), timed
  from the start of training; a milestone is reached at the first curve point
  whose test RMSE (of the whole ensemble) is at or below it.
- **paper**: a plain-Python re-creation of the paper's code: scipy's BFGS
  (gtol 1e-60, maxiter 25,000) on the full-batch MSE, run through
  ``jaxopt.ScipyMinimize(method="BFGS")`` — scipy's own BFGS loop, with the loss
  and its gradient from ``jax.value_and_grad`` (jitted by jaxopt, float64) handed
  to scipy as numpy arrays at every call, as the paper's torch code did; then
  boosting rounds, each a fresh 1-20-20-1 fitted by scipy BFGS to the
  training residual scaled to unit mean |r|, each round followed by one
  low-curvature-subspace step with a full dense Hessian (τ = 1e-15, log-spaced
  line search over [1e-12, 1e12], 15 points, 4 refinements). The test RMSE is
  evaluated every ``--every`` BFGS iterations, off the clock. It runs until its
  budget (``--budget`` seconds) is spent; a milestone it does not reach is
  printed as "> budget", so the ratio is then a lower bound.

Both run here, one after the other, in this one process. BLAS threads of numpy
are pinned to 1 so scipy's side does not fight XLA's thread pool (an unfair
baseline otherwise). jaxopt 0.8.5 is its final release and warns on import that
it is no longer maintained; it is imported only when the baseline runs, with
that warning silenced.

Writes the milestone times, machine, thread settings and command to
``benchmarks/results/precision_milestones.json`` (``--json PATH`` elsewhere), from which the docs' speed table
is generated.

Run:  python benchmarks/precision_milestones.py [--budget 600] [--every 25] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax
import jax.numpy as jnp
import numpy as np
import record

from precision_jax import models
from precision_jax.engine.data_chunks import default_chunk
from precision_jax.engine.hessian import mse_hessian
from precision_jax.experiment import load_config
from precision_jax.numerics.random_keys import run_keys
from precision_jax.runs.plan import resolve_target
from precision_jax.runs.training import residual_scale, run_data, run_experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "precision", "teacher_student_best.yaml")
MILESTONES = (1e-8, 1e-10, 1e-12, 1e-13, 1e-14, 1e-15)
PAPER_GTOL, PAPER_MAXITER = 1e-60, 25_000  # the paper's scipy BFGS options: it stops on line-search precision loss


def paper_bfgs(mse, callback=None):
    """The paper's optimizer for ``mse(θ, *args) -> scalar``: ``.run(θ₀, *args).params`` is scipy's BFGS result.

    ``jaxopt.ScipyMinimize`` calls ``scipy.optimize.minimize(method="BFGS")``
    with ``jac=True``, the value and gradient from ``jax.value_and_grad`` (jitted
    once, float64) converted to numpy at every call: the same iterates as calling
    scipy by hand. ``callback(θ)`` runs after each iteration; raising
    ``StopIteration`` there ends the run at the current iterate (scipy ≥ 1.11).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="JAXopt is no longer maintained", category=DeprecationWarning)
        import jaxopt

    return jaxopt.ScipyMinimize(fun=jax.value_and_grad(mse), value_and_grad=True, method="BFGS",
                                options={"gtol": PAPER_GTOL}, maxiter=PAPER_MAXITER, callback=callback)


class Clock:
    """Wall time of the optimizer only: evaluation for the record is paused out."""

    def __init__(self):
        self.start, self.paused = time.perf_counter(), 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def pause(self):
        return _Pause(self)


class _Pause:
    def __init__(self, clock):
        self.clock = clock

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.clock.paused += time.perf_counter() - self.t0


def first_times(history: list[tuple[float, float]]) -> dict[float, float]:
    """For each milestone, the first time at which the test RMSE was at or below it (absent: never)."""
    out = {}
    for m in MILESTONES:
        hits = [t for t, rmse in history if rmse <= m]
        if hits:
            out[m] = min(hits)
    return out


def run_prec() -> tuple[list[tuple[float, float]], float, float]:
    cfg = load_config(CONFIG)
    history: list[tuple[float, float]] = []
    start = time.perf_counter()
    result = run_experiment(cfg, on_log=lambda p: history.append((time.perf_counter() - start, p.test_rmse)))
    final = result.summary.metrics["test_rmse"]
    history.append((time.perf_counter() - start, final))
    return history, final, time.perf_counter() - start


def run_paper(budget: float, every: int) -> tuple[list[tuple[float, float]], float]:
    cfg = load_config(CONFIG)
    target = resolve_target(cfg)
    model = models.build_model(cfg.model, target.d)
    keys = run_keys(cfg.seed)
    data, init_key = run_data(cfg, target, model.n_params, keys), keys.init
    x, y, xt, yt = data.x_train, data.y_train, data.x_test, data.y_test
    apply = model.apply

    def mse(theta, target_y):
        return jnp.mean((apply(theta, x) - target_y) ** 2)

    loss_and_grad = jax.jit(jax.value_and_grad(mse))

    predict_train, predict_test = jax.jit(lambda t: apply(t, x)), jax.jit(lambda t: apply(t, xt))
    chunk = default_chunk(model.n_params, int(x.shape[0]))
    hessian = jax.jit(lambda t, target_y: mse_hessian(apply, t, x, target_y, chunk))
    loss_many = jax.jit(jax.vmap(lambda t, target_y: jnp.mean((apply(t, x) - target_y) ** 2), in_axes=(0, None)))

    clock = Clock()
    history: list[tuple[float, float]] = []
    thetas: list[np.ndarray] = []
    coefficients: list[float] = []

    def ensemble_test_rmse(theta_now, c_now):
        pred = sum(c * np.asarray(predict_test(jnp.asarray(t))) for t, c in zip(thetas, coefficients))
        pred = pred + c_now * np.asarray(predict_test(jnp.asarray(theta_now)))
        return float(np.sqrt(np.mean((pred - np.asarray(yt)) ** 2)))

    fitting = {"iterations": 0, "c": 1.0}  # of the round being fitted, for the callback

    def callback(theta):
        fitting["iterations"] += 1
        if fitting["iterations"] % every == 0:
            with clock.pause():
                history.append((clock.now(), ensemble_test_rmse(theta, fitting["c"])))
        if clock.now() > budget:
            raise StopIteration

    bfgs = paper_bfgs(mse, callback)  # one solver (one compiled value_and_grad) for every round

    def fit(theta0, target_y, c):
        """scipy BFGS, numpy in/out at every call, as the paper's code; stops at the budget."""
        fitting.update(iterations=0, c=c)
        return np.asarray(bfgs.run(jnp.asarray(theta0), target_y).params)

    def lcs_step(theta, target_y):
        """One low-curvature-subspace step (the paper's: a full dense Hessian, eigh, log-spaced search)."""
        t = jnp.asarray(theta)
        value, grad = loss_and_grad(t, target_y)
        lam, vec = np.linalg.eigh(np.asarray(hessian(t, target_y)))
        g_low = vec @ np.where(np.abs(lam) < 1e-15, vec.T @ np.asarray(grad), 0.0)
        lo, hi, best_a, best_v = -12.0, 12.0, 0.0, float(value)
        for _ in range(5):
            logs = np.linspace(lo, hi, 15)
            values = np.asarray(loss_many(jnp.asarray(theta[None] - (10.0**logs)[:, None] * g_low[None]), target_y))
            i = int(np.nanargmin(values))
            if values[i] < best_v:
                best_a, best_v = 10.0 ** logs[i], float(values[i])
            lo, hi = logs[max(i - 1, 0)], logs[min(i + 1, 14)]
        return theta - best_a * g_low if best_a > 0 else theta

    key = init_key
    residual = np.asarray(y)
    c = 1.0
    rounds = 0
    while clock.now() < budget:
        theta = fit(model.init(key), jnp.asarray(residual / c), c)
        if clock.now() < budget:
            theta = lcs_step(theta, jnp.asarray(residual / c))
        thetas.append(theta)
        coefficients.append(c)
        rounds += 1
        with clock.pause():
            history.append((clock.now(), ensemble_test_rmse(np.zeros_like(theta), 0.0)))
        f_train = sum(cc * np.asarray(predict_train(jnp.asarray(t))) for t, cc in zip(thetas, coefficients))
        residual = np.asarray(y) - f_train
        c = residual_scale(residual, "mean_abs")
        key = jax.random.fold_in(init_key, rounds)
    return history, clock.now()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600.0, help="seconds for the paper's method (default 600)")
    parser.add_argument("--every", type=int, default=25, help="BFGS iterations between test evaluations")
    parser.add_argument("--json", default=str(record.RESULTS / "precision_milestones.json"),
                        help="where the results go")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)

    print(f"task: {os.path.relpath(CONFIG, ROOT)}  backend: {jax.default_backend()}  "
          f"devices: {[str(d) for d in jax.devices()]}", flush=True)
    prec_history, prec_final, prec_wall = run_prec()
    print(f"prec: final test RMSE {prec_final:.3e} in {prec_wall:.1f} s (compilation included)", flush=True)
    paper_history, paper_wall = run_paper(args.budget, args.every)
    paper_final = min(r for _, r in paper_history)
    print(f"paper's method: best test RMSE {paper_final:.3e} in {paper_wall:.1f} s of optimizer time", flush=True)

    prec_t, paper_t = first_times(prec_history), first_times(paper_history)
    print(f"\n{'milestone':>10} {'prec (s)':>10} {'paper (s)':>12} {'speed-up':>10}")
    for m in MILESTONES:
        a = f"{prec_t[m]:.1f}" if m in prec_t else "never"
        if m in paper_t:
            b = f"{paper_t[m]:.1f}"
            ratio = f"{paper_t[m] / prec_t[m]:.1f}x" if m in prec_t else "-"
        else:
            b = f"> {args.budget:.0f}"
            ratio = f"> {args.budget / prec_t[m]:.1f}x" if m in prec_t else "-"
        print(f"{m:>10.0e} {a:>10} {b:>12} {ratio:>10}")
    record.write(args.json, {"benchmark": "precision_milestones", "task": os.path.relpath(CONFIG, ROOT),
                             "budget_seconds": args.budget, "milestones": list(MILESTONES),
                             "prec": {"final_test_rmse": prec_final, "wall_seconds": prec_wall,
                                      "time_to": {f"{m:g}": prec_t.get(m) for m in MILESTONES}},
                             "paper": {"best_test_rmse": paper_final, "wall_seconds": paper_wall,
                                       "time_to": {f"{m:g}": paper_t.get(m) for m in MILESTONES}}})


if __name__ == "__main__":
    main()
