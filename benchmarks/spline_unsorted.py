"""1-D spline evaluation on unsorted points: ``SplineInterpolant.predict`` against scipy on the same points.

scipy's ``BSpline`` finds each point's knot interval by a walk from the previous point's interval, so on a
fine grid unsorted points cost O(n · knots) and sorted ones O(n + knots). ``predict`` sorts, evaluates once
and scatters back (``tests/test_figure_fixes.py`` checks that scipy sees the points once, in order, and that
every value is bit for bit scipy's own). This script times, on the test's case (p = 1e5 knots, 1e6 uniform
random points in [-1, 1]): ``predict`` on the unsorted points; scipy on the same points presorted (the
floor: what ``predict`` adds is the argsort and the scatter); and scipy on the first ``--unsorted`` points
as given, scaled to 1e6 (the cost sorting avoids). It prints the ratios and exits 1 if ``predict`` is over
the 5 s the test used to assert.

    python benchmarks/spline_unsorted.py [--repeats 3] [--unsorted 20000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from refusal_latency import median_seconds  # benchmarks/ is the script's folder, on sys.path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_SECONDS = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unsorted", type=int, default=20_000, help="points scipy evaluates unsorted")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from precision_jax.models.spline import fit_spline

    spline = fit_spline(lambda x: np.exp(x[:, 0]), [-1.0], [1.0], 100_000, 3)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (1_000_000, 1))
    ordered = np.sort(x[:, 0])
    scipy_spline = spline._spline
    predict = median_seconds(lambda: spline.predict(x), args.repeats)
    floor = median_seconds(lambda: scipy_spline(ordered), args.repeats)
    few = x[: args.unsorted, 0]
    unsorted = median_seconds(lambda: scipy_spline(few), args.repeats) * x.shape[0] / few.size
    print(f"predict, 1e6 unsorted points:        {predict:8.3f} s")
    print(f"scipy, the same points presorted:    {floor:8.3f} s   predict / presorted = {predict / floor:.2f}")
    print(f"scipy, unsorted (from {few.size:,}, scaled): {unsorted:8.1f} s   unsorted / predict = "
          f"{unsorted / predict:.0f}")
    if predict >= LIMIT_SECONDS:
        print(f"predict is over the {LIMIT_SECONDS:g} s the test used to assert")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
