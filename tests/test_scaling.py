"""Power-law fits, the seed bootstrap, and the error metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from precision_jax.analysis.power_laws import PowerLawFit, bootstrap_exponent, fit_power_law
from precision_jax.numerics.error_metrics import masked_errors, max_abs_error, relative_rmse, rmse


def synthetic(n_seeds=4, noise=0.05, alpha=-1.5, A=3.0, seed=0):
    """y = A x^alpha (1 + noise·N(0,1)) at 9 log-spaced sizes, for each seed."""
    rng = np.random.default_rng(seed)
    sizes = np.logspace(1, 5, 9)
    xs, ys, gs = [], [], []
    for s in range(n_seeds):
        xs.append(sizes)
        ys.append(A * sizes**alpha * (1 + noise * rng.standard_normal(sizes.size)))
        gs.append(np.full(sizes.size, s))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)


def test_exact_power_law():
    x = np.array([10.0, 100.0, 1e3, 1e4])
    fit = fit_power_law(x, 3.0 * x**-1.5)
    assert isinstance(fit, PowerLawFit)
    assert fit.exponent == pytest.approx(-1.5, abs=1e-12)
    assert fit.prefactor == pytest.approx(3.0, rel=1e-12)
    assert fit.n_points == 4 and fit.size_range == (10.0, 1e4)
    assert np.allclose(fit(x), 3.0 * x**-1.5, rtol=1e-12)


def test_synthetic_power_law_with_noise_and_bootstrap():
    x, y, g = synthetic()
    fit = fit_power_law(x, y)
    alpha, lo, hi = bootstrap_exponent(x, y, g, n_boot=1000, seed=0)
    print(f"\n[scaling] y = 3 x^-1.5 (1 + 5% noise), 4 seeds x 9 sizes 1e1..1e5: exponent {alpha:.4f}, "
          f"95% seed-bootstrap [{lo:.4f}, {hi:.4f}], prefactor {fit.prefactor:.3f}")
    assert alpha == fit.exponent
    assert alpha == pytest.approx(-1.5, abs=0.02)
    assert fit.prefactor == pytest.approx(3.0, rel=0.1)
    assert lo <= alpha <= hi and lo < hi
    assert lo <= -1.5 <= hi
    # Reproducible, and a wider level gives a wider interval.
    assert bootstrap_exponent(x, y, g, n_boot=1000, seed=0) == (alpha, lo, hi)
    _, lo50, hi50 = bootstrap_exponent(x, y, g, n_boot=1000, seed=0, level=0.5)
    assert lo <= lo50 <= hi50 <= hi


def test_bootstrap_interval_coverage():
    # With 8 seeds the 95% percentile interval should contain the true exponent
    # most of the time (percentile bootstraps over few groups under-cover a bit).
    hits = 0
    trials = 100
    for t in range(trials):
        x, y, g = synthetic(n_seeds=8, noise=0.2, seed=1000 + t)
        _, lo, hi = bootstrap_exponent(x, y, g, n_boot=300, seed=t)
        hits += lo <= -1.5 <= hi
    print(f"\n[scaling] bootstrap 95% interval coverage over {trials} synthetic datasets (8 seeds): {hits}%")
    assert hits >= 75


def test_filters_and_errors():
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    y = 2.0 * x**-2.0
    y_bad = y.copy()
    y_bad[[1, 3, 4]] = [np.nan, 0.0, -1.0]
    fit = fit_power_law(x, y_bad)
    assert fit.n_points == 3 and fit.exponent == pytest.approx(-2.0, abs=1e-12)
    y_bad[[2, 5]] = np.inf
    with pytest.raises(ValueError, match="at least 2 points"):
        fit_power_law(x, y_bad)
    with pytest.raises(ValueError, match="2 distinct sizes"):
        fit_power_law([5.0, 5.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        fit_power_law([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="at least 2 groups"):
        bootstrap_exponent(x, y, np.zeros(6))
    with pytest.raises(ValueError, match="one label per point"):
        bootstrap_exponent(x, y, [0, 1])
    # String labels and dropped points are fine.
    alpha, lo, hi = bootstrap_exponent(np.r_[x, x], np.r_[y, y * 1.01], ["a"] * 6 + ["b"] * 6)
    assert alpha == pytest.approx(-2.0, abs=1e-12)
    assert lo == pytest.approx(-2.0, abs=1e-12) and hi == pytest.approx(-2.0, abs=1e-12)


def test_metrics():
    y = np.array([1.0, -2.0, 3.0, 4.0])
    pred = y + np.array([0.1, -0.1, 0.2, 0.0])
    assert rmse(pred, y) == pytest.approx(math.sqrt((0.01 + 0.01 + 0.04) / 4), rel=1e-12)
    assert relative_rmse(pred, y) == pytest.approx(rmse(pred, y) / math.sqrt(30 / 4), rel=1e-12)
    assert max_abs_error(pred, y) == pytest.approx(0.2, rel=1e-12)
    assert isinstance(rmse(pred, y), float)

    pred_nan = pred.copy()
    pred_nan[2] = np.nan
    assert math.isnan(rmse(pred_nan, y))
    assert math.isnan(relative_rmse(pred_nan, y))
    assert math.isnan(max_abs_error(pred_nan, y))
    val, n = rmse(pred_nan, y, nan_policy="omit")
    assert n == 1 and val == pytest.approx(math.sqrt(0.02 / 3), rel=1e-12)
    val, n = relative_rmse(pred_nan, y, nan_policy="omit")
    assert n == 1 and val == pytest.approx(math.sqrt(0.02 / 3) / math.sqrt(21 / 3), rel=1e-12)
    assert max_abs_error(pred_nan, y, nan_policy="omit") == (pytest.approx(0.1), 1)
    assert rmse(pred, y, nan_policy="omit") == (rmse(pred, y), 0)
    with pytest.raises(ValueError, match="1 of 4 positions are NaN"):
        rmse(pred_nan, y, nan_policy="raise")
    with pytest.raises(ValueError, match="nan_policy"):
        rmse(pred, y, nan_policy="drop")
    with pytest.raises(ValueError, match="same number of elements"):
        rmse(pred[:3], y)
    all_nan = np.full(4, np.nan)
    val, n = rmse(all_nan, y, nan_policy="omit")
    assert math.isnan(val) and n == 4

    errs, n_out = masked_errors(pred_nan, y)
    assert n_out == 1 and np.allclose(errs, [0.1, -0.1, 0.0])
    # (n, 1) vs (n,) shapes are flattened, float64 throughout.
    assert rmse(pred[:, None], y) == rmse(pred, y)
    # Tiny errors are not lost: relative RMSE at the float64 floor.
    y1 = np.linspace(1, 2, 1001)
    assert relative_rmse(y1 * (1 + 2.0**-52), y1) == pytest.approx(2.0**-52, rel=0.5)
