"""Classical approximators: real fits, and the paper's scaling laws recovered by fitting exponents.

Protocol (paper §3): training points uniform in the box, redrawn per seed;
test points uniform in the box shrunk about its centre to 80% ("test
compactification" 0.8). The 0.8 box also keeps the spline tests clear of the
not-a-knot boundary layer, whose extra O(h^(n+1)·√h) RMSE contribution
steepens the apparent slope on the full box (e.g. cubic 1-D: -4.4 instead of -4).

Run with ``-s`` to see the measured exponents.
"""

from __future__ import annotations

import csv
import time
from importlib import resources

import numpy as np
import pytest

from precision_jax.analysis.power_laws import bootstrap_exponent, fit_power_law
from precision_jax.models.chebyshev import chebyshev_points, fit_chebyshev
from precision_jax.models.simplex import estimate_triangulation_bytes, fit_simplex
from precision_jax.models.spline import fit_spline, points_per_axis_for, supported_orders
from precision_jax.numerics.error_metrics import relative_rmse, rmse

TEST_COMPACTIFICATION = 0.8


def feynman_box(eq_id: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Variable names, lows and highs of equation ``eq_id`` from the packaged CSV."""
    path = resources.files("precision_jax.problems") / "feynman_equations.csv"
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if row["id"] == eq_id:
                names, lows, highs = [], [], []
                for spec in row["variables"].split():
                    name, lo, hi = spec.split(":")
                    names.append(name)
                    lows.append(float(lo))
                    highs.append(float(hi))
                return names, np.array(lows), np.array(highs)
    raise KeyError(eq_id)


# The formulas, in plain numpy, in the CSV's variable order.
FEYNMAN = {
    "Z.001": (["x"], lambda x: x[:, 0] ** 2),
    "II.8.31": (["epsilon", "Ef"], lambda x: x[:, 0] * x[:, 1] ** 2 / 2),
    "I.30.5": (["lambd", "d", "n"], lambda x: np.arcsin(x[:, 0] / (x[:, 2] * x[:, 1]))),
}


def uniform_box(lows, highs, n, rng, shrink=1.0) -> np.ndarray:
    lows, highs = np.asarray(lows, float), np.asarray(highs, float)
    mid, half = (lows + highs) / 2, shrink * (highs - lows) / 2
    return rng.uniform(mid - half, mid + half, size=(n, lows.size))


def exp1(x):
    return np.exp(x[:, 0])


def exp_xy(x):
    return np.exp(x[:, 0] * x[:, 1])


def _test_set_1d(n=30000, seed=123):
    x = uniform_box([-1.0], [1.0], n, np.random.default_rng(seed), TEST_COMPACTIFICATION)
    return x, exp1(x)


# ---------------------------------------------------------------------------
# simplex
# ---------------------------------------------------------------------------

SIMPLEX_CASES = [
    # eq, d, D range (asymptotic regime, few/no test points outside the hull), seeds
    ("Z.001", 1, [100, 300, 1000, 3000, 10000], 6),
    ("II.8.31", 2, [300, 1000, 3000, 10000], 3),
    ("I.30.5", 3, [1000, 3000, 10000, 30000], 3),
]


@pytest.mark.parametrize("eq_id,d,Ds,n_seeds", SIMPLEX_CASES, ids=[c[0] for c in SIMPLEX_CASES])
def test_simplex_scaling_exponent(eq_id, d, Ds, n_seeds):
    names, lows, highs = feynman_box(eq_id)
    assert names == FEYNMAN[eq_id][0] and len(names) == d
    f = FEYNMAN[eq_id][1]
    t0 = time.perf_counter()
    sizes, errors, groups, outside = [], [], [], []
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        x_test = uniform_box(lows, highs, 30000, rng, TEST_COMPACTIFICATION)
        y_test = f(x_test)
        for D in Ds:
            x = uniform_box(lows, highs, D, rng)
            interp = fit_simplex(x, f(x))
            assert (interp.n_train, interp.n_params) == (D, D * (d + 1))
            pred = interp.predict(x_test)
            err, n_out = rmse(pred, y_test, nan_policy="omit")
            assert n_out == interp.outside_hull_count(x_test) == int(np.isnan(pred).sum())
            assert n_out < 0.01 * len(x_test)
            sizes.append(D), errors.append(err), groups.append(seed), outside.append(n_out)
    alpha, lo, hi = bootstrap_exponent(sizes, errors, groups, n_boot=500)
    print(f"\n[simplex {eq_id} d={d}] D={Ds[0]}..{Ds[-1]}, {n_seeds} seeds: exponent {alpha:.3f} "
          f"(95% seed-bootstrap {lo:.3f}..{hi:.3f}), expected {-2 / d:.3f}; "
          f"test points outside hull per fit: max {max(outside)}, total {sum(outside)} "
          f"[{time.perf_counter() - t0:.1f}s]")
    assert abs(alpha - (-2 / d)) <= 0.15


def test_simplex_exact_and_nan_outside():
    rng = np.random.default_rng(0)
    # Linear functions are reproduced exactly inside the hull.
    x = rng.uniform(0, 1, (200, 2))
    def lin(z):
        return 1.5 + 2 * z[:, 0] - 3 * z[:, 1]
    interp = fit_simplex(x, lin(x))
    xt = rng.uniform(0.2, 0.8, (1000, 2))
    assert np.max(np.abs(interp.predict(xt) - lin(xt))) < 1e-13
    assert np.allclose(interp.predict(x), lin(x), rtol=0, atol=1e-13)
    out = np.array([[2.0, 2.0], [-1.0, 0.5]])
    assert np.all(np.isnan(interp.predict(out)))
    assert interp.outside_hull_count(out) == 2
    # 1-D: NaN outside [min, max], not clamped.
    x1 = np.array([[0.3], [-0.5], [0.9]])
    i1 = fit_simplex(x1, x1[:, 0] ** 2)
    p = i1.predict(np.array([[-0.6], [-0.5], [0.0], [0.9], [1.0]]))
    assert np.isnan(p[0]) and np.isnan(p[-1])
    assert np.allclose(p[1:4], [0.25, 0.25 + (0.09 - 0.25) * 0.5 / 0.8, 0.81])
    assert i1.outside_hull_count(np.array([[-0.6], [0.0], [1.0]])) == 2


def test_simplex_rejects_bad_sizes_before_triangulating(monkeypatch):
    # The refusal comes from the size estimate alone: qhull is never called (how long it takes is
    # benchmarks/refusal_latency.py's to measure).
    import scipy.spatial

    def no_triangulation(*args, **kwargs):
        raise AssertionError("Delaunay was called before the size check refused the points")

    monkeypatch.setattr(scipy.spatial, "Delaunay", no_triangulation)
    with pytest.raises(ValueError, match="at least d\\+1=4 points"):
        fit_simplex(np.zeros((3, 3)), np.zeros(3))
    x = np.random.default_rng(0).uniform(size=(10**6, 8))
    with pytest.raises(ValueError, match=r"D=1000000 points in d=8 dimensions needs ~.* GiB.*limit is"):
        fit_simplex(x, x[:, 0])
    monkeypatch.undo()
    # The limit is a parameter; the estimate grows steeply with d.
    assert estimate_triangulation_bytes(1000, 6) > 100 * estimate_triangulation_bytes(1000, 3)
    with pytest.raises(ValueError, match="limit is 0.001 GiB"):
        fit_simplex(np.random.default_rng(1).uniform(size=(5000, 3)), np.zeros(5000), max_memory_gib=1e-3)


# ---------------------------------------------------------------------------
# splines
# ---------------------------------------------------------------------------

SPLINE_1D_CASES = [
    # order, D = points on [-1, 1]; ranges end before relative RMSE ~1e-13 (order 5: the
    # 0.8-box asymptotic regime only starts near 1e-13, so it runs down to ~3e-15).
    (1, [16, 32, 64, 128, 256, 512, 1024]),
    (2, [16, 32, 64, 128, 256, 512, 1024]),
    (3, [24, 32, 48, 64, 100, 150, 200, 300]),
    (5, [56, 64, 72, 80, 90, 100]),
]


@pytest.mark.parametrize("order,Ds", SPLINE_1D_CASES, ids=[f"order{c[0]}" for c in SPLINE_1D_CASES])
def test_spline_1d_scaling_exponent(order, Ds):
    x_test, y_test = _test_set_1d()
    errors = []
    for D in Ds:
        s = fit_spline(exp1, [-1.0], [1.0], D, order)
        assert s.n_params == s.n_train == D
        errors.append(relative_rmse(s.predict(x_test), y_test))
    fit = fit_power_law(Ds, errors)
    print(f"\n[spline 1-D order {order} on e^x] D={Ds[0]}..{Ds[-1]}: exponent {fit.exponent:.3f}, "
          f"expected {-(order + 1)}; rel RMSE {errors[0]:.1e}..{errors[-1]:.1e}")
    assert min(errors) > 1e-15  # still above the floor
    assert abs(fit.exponent - (-(order + 1))) <= 0.3


def test_spline_2d_cubic_scaling_exponent():
    rng = np.random.default_rng(7)
    x_test = uniform_box([-1, -1], [1, 1], 30000, rng, TEST_COMPACTIFICATION)
    y_test = exp_xy(x_test)
    ps = [32, 48, 64, 100, 140, 200]
    sizes, errors = [], []
    for p in ps:
        s = fit_spline(exp_xy, [-1, -1], [1, 1], p, 3)
        assert s.n_params == s.n_train == p * p and s.method == "cubic"
        sizes.append(s.n_train)
        errors.append(relative_rmse(s.predict(x_test), y_test))
    fit = fit_power_law(sizes, errors)
    print(f"\n[spline 2-D cubic on e^(xy)] D={sizes[0]}..{sizes[-1]}: exponent {fit.exponent:.3f}, expected -2; "
          f"rel RMSE {errors[0]:.1e}..{errors[-1]:.1e}")
    assert abs(fit.exponent - (-2.0)) <= 0.3


def test_spline_nd_is_exact_tensor_interpolant():
    # Non-symmetric target on a non-square box: catches axis mix-ups in the per-axis solve.
    lows, highs = [-1.0, 0.5], [2.0, 1.5]
    def f(x):
        return np.sin(1.3 * x[:, 0]) * np.exp(x[:, 1]) + x[:, 0] * x[:, 1] ** 2
    for order in (3, 5):
        s = fit_spline(f, lows, highs, 12, order)
        g0, g1 = np.linspace(-1, 2, 12), np.linspace(0.5, 1.5, 12)
        grid = np.stack(np.meshgrid(g0, g1, indexing="ij"), -1).reshape(-1, 2)
        assert np.max(np.abs(s.predict(grid) - f(grid))) < 1e-13
    # Not-a-knot cubic reproduces polynomials of degree <= 3 per axis exactly.
    def poly(x):
        return 1 + x[:, 0] ** 3 - 2 * x[:, 0] * x[:, 1] ** 2 + 0.5 * x[:, 1] ** 3 * x[:, 0] ** 2
    s = fit_spline(poly, lows, highs, 7, 3)
    xt = uniform_box(lows, highs, 2000, np.random.default_rng(0))
    assert np.max(np.abs(s.predict(xt) - poly(xt))) < 1e-12
    # 3-D tricubic on I.30.5 (paper's 3-D spline) runs and converges.
    names, lo3, hi3 = feynman_box("I.30.5")
    f3 = FEYNMAN["I.30.5"][1]
    xt3 = uniform_box(lo3, hi3, 5000, np.random.default_rng(1), TEST_COMPACTIFICATION)
    e = [relative_rmse(fit_spline(f3, lo3, hi3, p, 3).predict(xt3), f3(xt3)) for p in (10, 20, 40)]
    assert e[0] > 8 * e[1] > 64 * e[2]
    # NaN outside the box.
    assert np.isnan(s.predict(np.array([[2.5, 1.0]]))).all()
    s1 = fit_spline(exp1, [-1], [1], 10, 3)
    assert np.isnan(s1.predict(np.array([[1.01], [-1.01]]))).all()
    assert np.isfinite(s1.predict(np.array([[1.0], [-1.0]]))).all()


def test_spline_reaches_float64_floor():
    x_test, y_test = _test_set_1d()
    floors = {}
    for order, D in [(3, 3000), (5, 300), (7, 100)]:
        floors[order] = relative_rmse(fit_spline(exp1, [-1], [1], D, order).predict(x_test), y_test)
        assert floors[order] <= 1e-14
    print("\n[spline floor on e^x] rel RMSE: " + ", ".join(f"order {k} D={D}: {floors[k]:.1e}"
                                                         for k, D in [(3, 3000), (5, 300), (7, 100)]))


def test_spline_validation():
    with pytest.raises(ValueError, match=r"order 4 is not supported in d=2; supported orders: \[1, 3, 5\]"):
        fit_spline(exp_xy, [-1, -1], [1, 1], 10, 4)
    with pytest.raises(ValueError, match=r"supported orders: \[1, 2, 3, 4, 5, 6, 7\]"):
        fit_spline(exp1, [-1], [1], 10, 8)
    with pytest.raises(ValueError, match="points_per_axis >= 6"):
        fit_spline(exp1, [-1], [1], 5, 5)
    with pytest.raises(ValueError, match="limit is"):
        fit_spline(exp_xy, [-1, -1], [1, 1], 10**5, 3)
    with pytest.raises(ValueError, match="non-finite"):
        with np.errstate(invalid="ignore"):
            fit_spline(lambda x: np.log(x[:, 0]), [-1], [1], 10, 3)
    assert supported_orders(3) == (1, 3, 5)


def test_points_per_axis_for():
    assert points_per_axis_for(64, 3) == 4  # 64 ** (1/3) == 3.9999999999999996
    assert points_per_axis_for(63, 3) == 3
    assert points_per_axis_for(1000, 3) == 10
    assert points_per_axis_for(10**6, 2) == 1000
    assert points_per_axis_for(10**6 - 1, 2) == 999
    assert points_per_axis_for(5**10, 10) == 5
    for D in range(1, 3000, 7):
        for d in (1, 2, 3, 4):
            p = points_per_axis_for(D, d)
            assert p**d <= D < (p + 1) ** d


# ---------------------------------------------------------------------------
# Chebyshev
# ---------------------------------------------------------------------------

def test_chebyshev_1d_machine_precision():
    x_test, y_test = _test_set_1d()
    def sin_pi(x):
        return np.sin(np.pi * x[:, 0])
    x_full = uniform_box([-1.0], [1.0], 30000, np.random.default_rng(5))
    results = {}
    for name, f, degree in [("e^x", exp1, 20), ("sin(pi x)", sin_pi, 30)]:
        c = fit_chebyshev(f, [-1], [1], degree)
        assert c.n_params == c.n_train == degree + 1 <= 40
        for label, xt in (("0.8 box", x_test), ("full box", x_full)):
            err = relative_rmse(c.predict(xt), f(xt))
            results[f"{name} {label}"] = err
            assert err <= 2e-15
    print("\n[chebyshev 1-D] rel RMSE: " + ", ".join(f"{k}: {v:.1e}" for k, v in results.items()))
    # Geometric convergence: each 5 degrees gains orders of magnitude on e^x.
    errs = [relative_rmse(fit_chebyshev(exp1, [-1], [1], n).predict(x_test), y_test) for n in (4, 8, 12)]
    assert errs[0] > 1e3 * errs[1] > 1e6 * errs[2]


def test_chebyshev_2d_and_3d():
    rng = np.random.default_rng(11)
    x2 = uniform_box([-1, -1], [1, 1], 30000, rng, TEST_COMPACTIFICATION)
    c = fit_chebyshev(exp_xy, [-1, -1], [1, 1], 20)
    assert c.n_params == c.n_train == 21**2
    err2 = relative_rmse(c.predict(x2), exp_xy(x2))
    # 3-D, analytic, non-symmetric, on a non-cube box (catches axis mix-ups).
    lo3, hi3 = np.array([1.0, 2.0, 1.0]), np.array([2.0, 5.0, 5.0])
    def f3(x):
        return np.exp(0.5 * x[:, 0]) * np.sin(x[:, 1]) / (1.0 + 0.3 * x[:, 2])
    x3 = uniform_box(lo3, hi3, 5000, rng, TEST_COMPACTIFICATION)
    c3 = fit_chebyshev(f3, lo3, hi3, 24)
    assert c3.n_params == 25**3
    err3 = relative_rmse(c3.predict(x3), f3(x3))
    # I.30.5 = arcsin(λ/(n d)) on its CSV box touches the branch point λ/(n d) = 1 at the
    # corner (λ, d, n) = (2, 2, 1): not analytic there, so convergence is only algebraic.
    _, lo_f, hi_f = feynman_box("I.30.5")
    f_f = FEYNMAN["I.30.5"][1]
    xf = uniform_box(lo_f, hi_f, 5000, rng, TEST_COMPACTIFICATION)
    err_f = relative_rmse(fit_chebyshev(f_f, lo_f, hi_f, 24).predict(xf), f_f(xf))
    print(f"\n[chebyshev] e^(xy) degree 20 (441 coefficients): rel RMSE {err2:.1e}; "
          f"3-D analytic degree 24 (15625 coefficients): {err3:.1e}; "
          f"I.30.5 degree 24 (branch point at a corner): {err_f:.1e}")
    assert err2 <= 1e-14
    assert err3 <= 1e-13
    assert np.isnan(c.predict(np.array([[1.5, 0.0]]))).all()
    assert np.isfinite(c.predict(np.array([[1.0, -1.0]]))).all()


def test_chebyshev_points_and_validation():
    t = chebyshev_points(4)
    assert np.allclose(t, np.cos(np.pi * np.arange(5) / 4), rtol=0, atol=2.3e-16)
    assert t[2] == 0.0 and t[0] == 1.0 and t[-1] == -1.0
    with pytest.raises(ValueError, match="d <= 3, got d=4"):
        fit_chebyshev(lambda x: x.sum(1), [0] * 4, [1] * 4, 3)
    with pytest.raises(ValueError, match="degree must be >= 1"):
        fit_chebyshev(exp1, [-1], [1], 0)
    # Polynomials of degree <= n are reproduced exactly.
    def p(x):
        return 3 - x[:, 0] + 2 * x[:, 0] ** 5
    c = fit_chebyshev(p, [0.0], [2.0], 5)
    xt = np.linspace(0, 2, 101)[:, None]
    assert np.max(np.abs(c.predict(xt) - p(xt))) < 1e-12
