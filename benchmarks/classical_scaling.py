"""Scaling laws of the classical approximators: fitted exponents of test RMSE against D, and their floors.

Protocol (paper §3, as ``tests/test_classical.py``): training points uniform in the box (simplex; redrawn
per seed) or a regular grid (splines), test points uniform in the box shrunk about its centre to 80 %. The
exponent α of error ≈ A·D^α is a log–log least-squares fit; for the simplex, with a 95 % bootstrap
interval over seeds. Theory: simplex (piecewise linear) −2/d; a spline of order n, −(n+1)/d. The floors are
relative test RMSEs on e^x where rounding, not the approximation, is left.

Writes ``benchmarks/results/classical.json`` (``--json PATH`` elsewhere), which the docs' scaling-law table is
generated from. A few minutes on 2 cores.

    python benchmarks/classical_scaling.py [--json PATH]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import record

from precision_jax.analysis.power_laws import bootstrap_exponent, fit_power_law
from precision_jax.models.chebyshev import fit_chebyshev
from precision_jax.models.simplex import fit_simplex
from precision_jax.models.spline import fit_spline
from precision_jax.numerics.error_metrics import relative_rmse, rmse
from precision_jax.problems.targets import feynman_registry

SHRINK = 0.8
FEYNMAN = {  # plain numpy, in the CSV's variable order
    "Z.001": lambda x: x[:, 0] ** 2,
    "II.8.31": lambda x: x[:, 0] * x[:, 1] ** 2 / 2,
    "I.30.5": lambda x: np.arcsin(x[:, 0] / (x[:, 2] * x[:, 1])),
}
SIMPLEX = [("Z.001", [100, 300, 1000, 3000, 10000], 6), ("II.8.31", [300, 1000, 3000, 10000], 3),
           ("I.30.5", [1000, 3000, 10000, 30000], 3)]
SPLINE_1D = [(1, [16, 32, 64, 128, 256, 512, 1024]), (2, [16, 32, 64, 128, 256, 512, 1024]),
             (3, [24, 32, 48, 64, 100, 150, 200, 300]), (5, [56, 64, 72, 80, 90, 100])]
SPLINE_2D = [32, 48, 64, 100, 140, 200]  # points per axis
FLOORS = [("spline", 3, 3000), ("spline", 5, 300), ("spline", 7, 100), ("chebyshev", 20, 21)]


def box(eq_id: str) -> tuple[np.ndarray, np.ndarray]:
    equation = feynman_registry()[eq_id]
    return np.array(equation.lows, float), np.array(equation.highs, float)


def uniform(lows, highs, n, rng, shrink=1.0):
    lows, highs = np.asarray(lows, float), np.asarray(highs, float)
    mid, half = (lows + highs) / 2, shrink * (highs - lows) / 2
    return rng.uniform(mid - half, mid + half, size=(n, lows.size))


def exp1(x):
    return np.exp(x[:, 0])


def exp_xy(x):
    return np.exp(x[:, 0] * x[:, 1])


def simplex_rows() -> list[dict]:
    rows = []
    for eq_id, Ds, seeds in SIMPLEX:
        lows, highs = box(eq_id)
        f, d, t0 = FEYNMAN[eq_id], lows.size, time.perf_counter()
        sizes, errors, groups = [], [], []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            x_test = uniform(lows, highs, 30000, rng, SHRINK)
            for D in Ds:
                x = uniform(lows, highs, D, rng)
                err, _ = rmse(fit_simplex(x, f(x)).predict(x_test), f(x_test), nan_policy="omit")
                sizes.append(D), errors.append(err), groups.append(seed)
        alpha, lo, hi = bootstrap_exponent(sizes, errors, groups, n_boot=500)
        rows.append({"method": "simplex", "target": f"{eq_id} (d={d}), {seeds} seeds", "D": [Ds[0], Ds[-1]],
                     "exponent": alpha, "interval": [lo, hi], "theory": -2 / d,
                     "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    return rows


def spline_rows() -> list[dict]:
    x_test = uniform([-1.0], [1.0], 30000, np.random.default_rng(123), SHRINK)
    rows = []
    for order, Ds in SPLINE_1D:
        errors = [relative_rmse(fit_spline(exp1, [-1.0], [1.0], D, order).predict(x_test), exp1(x_test)) for D in Ds]
        rows.append({"method": f"spline order {order}", "target": "e^x, 1-D", "D": [Ds[0], Ds[-1]],
                     "exponent": fit_power_law(Ds, errors).exponent, "interval": None, "theory": -(order + 1)})
        print(rows[-1], flush=True)
    x2 = uniform([-1, -1], [1, 1], 30000, np.random.default_rng(7), SHRINK)
    sizes = [p * p for p in SPLINE_2D]
    errors = [relative_rmse(fit_spline(exp_xy, [-1, -1], [1, 1], p, 3).predict(x2), exp_xy(x2)) for p in SPLINE_2D]
    rows.append({"method": "spline cubic", "target": "e^{xy}, 2-D", "D": [sizes[0], sizes[-1]],
                 "exponent": fit_power_law(sizes, errors).exponent, "interval": None, "theory": -2.0})
    print(rows[-1], flush=True)
    return rows


def floors() -> list[dict]:
    x_test = uniform([-1.0], [1.0], 30000, np.random.default_rng(123), SHRINK)
    out = []
    for kind, order, D in FLOORS:
        model = fit_spline(exp1, [-1], [1], D, order) if kind == "spline" else fit_chebyshev(exp1, [-1], [1], order)
        label = f"spline order {order}, D={D}" if kind == "spline" else f"Chebyshev, {D} coefficients"
        out.append({"method": label, "target": "e^x, 1-D", "relative_rmse": relative_rmse(model.predict(x_test),
                                                                                           exp1(x_test))})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=str(record.RESULTS / "classical.json"), help="where the results go")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = simplex_rows() + spline_rows()
    record.write(args.json, {"benchmark": "classical_scaling", "test_box_shrink": SHRINK, "rows": rows,
                             "floors": floors(), "seconds": time.perf_counter() - t0})


if __name__ == "__main__":
    main()
