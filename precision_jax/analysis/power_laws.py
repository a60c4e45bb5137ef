"""Power-law fits for scaling laws (plain numpy, float64).

A scaling law ``error ≈ A · size^α`` is fitted by ordinary least squares on
``log error = log A + α log size`` (``fit_power_law``). The uncertainty on α
comes from a seed-level bootstrap (``bootstrap_exponent``): the seeds (groups)
are the independent replicates, so whole seeds are resampled with
replacement, the line refitted, and a percentile interval reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PowerLawFit", "fit_power_law", "bootstrap_exponent"]

@dataclass(frozen=True)
class PowerLawFit:
    """``error ≈ prefactor · size**exponent``, fitted in log–log space.

    Attributes
    ----------
    exponent : float -- the slope α of log error vs log size.
    prefactor : float -- ``A = exp(intercept)``.
    n_points : int -- number of (size, error) points used after filtering.
    size_range : (float, float) -- smallest and largest size used.
    """

    exponent: float
    prefactor: float
    n_points: int
    size_range: tuple[float, float]

    def __call__(self, sizes) -> np.ndarray:
        """The fitted law evaluated at ``sizes``."""
        return self.prefactor * np.asarray(sizes, dtype=np.float64) ** self.exponent


def _loglog(sizes, errors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log sizes, log errors and the boolean mask of points kept."""
    sizes = np.asarray(sizes, dtype=np.float64).ravel()
    errors = np.asarray(errors, dtype=np.float64).ravel()
    if sizes.shape != errors.shape:
        raise ValueError(f"sizes and errors must have the same length, got {sizes.size} and {errors.size}")
    # A zero, negative, NaN or inf error has no logarithm: drop it rather than
    # let one diverged run poison the fit. (Sizes must be positive too.)
    keep = np.isfinite(errors) & (errors > 0) & np.isfinite(sizes) & (sizes > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(sizes), np.log(errors), keep


def _line(lx: np.ndarray, ly: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and intercept of ly vs lx (centred, for conditioning)."""
    mx, my = lx.mean(), ly.mean()
    dx = lx - mx
    sxx = float(dx @ dx)
    slope = float(dx @ (ly - my)) / sxx
    return slope, float(my - slope * mx)


def fit_power_law(sizes, errors) -> PowerLawFit:
    """Fit ``errors ≈ A · sizes**α`` by least squares on the logarithms.

    Parameters
    ----------
    sizes : array_like, shape (m,) -- model/data sizes (D, N, ...), > 0.
    errors : array_like, shape (m,) -- e.g. test RMSE. Points with a
        non-finite or non-positive error (or size) are ignored.

    Returns
    -------
    PowerLawFit

    Raises
    ------
    ValueError if fewer than 2 points, or fewer than 2 distinct sizes, remain.
    """
    lx, ly, keep = _loglog(sizes, errors)
    lx, ly = lx[keep], ly[keep]
    s = np.asarray(sizes, dtype=np.float64).ravel()[keep]
    if lx.size < 2:
        raise ValueError(f"need at least 2 points with finite positive errors to fit a power law, got {lx.size}")
    if np.ptp(lx) == 0:
        raise ValueError("need at least 2 distinct sizes to fit a power law")
    slope, intercept = _line(lx, ly)
    return PowerLawFit(slope, float(np.exp(intercept)), int(lx.size), (float(s.min()), float(s.max())))


def bootstrap_exponent(sizes, errors, groups, n_boot: int = 1000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float, float]:
    """Power-law exponent with a seed-level bootstrap percentile interval.

    The groups (typically the training seed of each point) are the independent
    replicates: each bootstrap replicate draws ``G`` groups with replacement
    from the ``G`` distinct groups, takes all points of each drawn group (with
    multiplicity), and refits the log–log line. Drawing a group ``c`` times is
    the same as weighting its points by ``c``, so all replicates are solved at
    once from per-group regression sums.

    Parameters
    ----------
    sizes, errors : array_like, shape (m,) -- as for :func:`fit_power_law`
        (non-finite / non-positive errors are ignored).
    groups : array_like, shape (m,) -- group label of each point (any hashable
        values numpy can compare, e.g. ints or strings).
    n_boot : int -- number of bootstrap replicates.
    seed : int -- seed of the resampling RNG (results are reproducible).
    level : float in (0, 1) -- coverage of the percentile interval.

    Returns
    -------
    (exponent, low, high) : exponent from the fit to all points, and the
        ``(1-level)/2`` and ``(1+level)/2`` percentiles of the replicates.
        Replicates whose resampled sizes are all equal (no slope) are dropped.

    Raises
    ------
    ValueError if fewer than 2 groups remain after filtering (a one-seed
    bootstrap would give a zero-width, meaningless interval), or if the fit
    to all points is impossible.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    lx, ly, keep = _loglog(sizes, errors)
    groups = np.asarray(groups).ravel()
    if groups.shape != lx.shape:
        raise ValueError(f"groups must have one label per point, got {groups.size} labels for {lx.size} points")
    exponent = fit_power_law(sizes, errors).exponent
    lx, ly, groups = lx[keep], ly[keep], groups[keep]
    labels, gidx = np.unique(groups, return_inverse=True)
    n_groups = labels.size
    if n_groups < 2:
        raise ValueError(f"bootstrap over groups needs at least 2 groups (seeds), got {n_groups}")

    # Per-group sufficient statistics of the regression, on globally centred
    # logs (less cancellation): [n, Σx, Σy, Σx², Σxy]. A replicate's statistics
    # are the count-weighted sums of its groups', so cost is O(n_boot · G).
    cx, cy = lx - lx.mean(), ly - ly.mean()
    stats = np.stack([np.bincount(gidx, weights=v, minlength=n_groups)
                      for v in (np.ones_like(cx), cx, cy, cx * cx, cx * cy)], axis=1)
    rng = np.random.default_rng(seed)
    # counts[b, g]: how often group g was drawn in replicate b.
    counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot).astype(np.float64)
    n, sx, sy, sxx_raw, sxy_raw = (counts @ stats).T
    sxx = sxx_raw - sx * sx / n
    sxy = sxy_raw - sx * sy / n
    # A replicate whose groups all share one size has no slope (sxx ~ 0 up to rounding).
    ok = sxx > 1e-10 * max(float(np.ptp(cx)) ** 2, 1e-300) * n
    if not ok.any():
        raise ValueError("no bootstrap replicate had two distinct sizes")
    slopes = sxy[ok] / sxx[ok]
    low, high = np.percentile(slopes, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(exponent), float(low), float(high)
