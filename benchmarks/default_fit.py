"""What ``pj.fit(x, y)`` gives with no config (``model: auto``, issue 25): the method it chose, test RMSE, time.

Two data sets of 4,000 scattered rows (numpy ``default_rng(0)``, uniform on the box), as a user would have
them: the smooth J0(3x)·exp(−y²) on [0, 2] × [−1, 1], where the goal is within 100× of the float64 floor
(≤ 1e-13) in ≤ 60 s, and the non-smooth |x − y| on [−1, 1]², which should get simplex interpolation or a
net, never a series. Each fit is timed from the call to the returned model, in a fresh results store (nothing
found complete), with ``prec``'s own 20 % held out as its test rows. The thread settings in force are
recorded; the committed numbers ran with the defaults.

    python benchmarks/default_fit.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/default_fit.py --out benchmarks/results/default_fit_1thread.json

Writes ``benchmarks/results/default_fit.json``; ``docs/own-data.md`` renders it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import record
from scipy.special import j0

import precision_jax as pj

ROWS = 4000
CASES = {
    "J0(3x)·exp(−y²)": (lambda p: j0(3 * p[:, 0]) * np.exp(-p[:, 1] ** 2), [0.0, -1.0], [2.0, 1.0]),
    "|x − y|": (lambda p: np.abs(p[:, 0] - p[:, 1]), [-1.0, -1.0], [1.0, 1.0]),
}


def measure(name: str, rows: int = ROWS) -> dict:
    f, lo, hi = CASES[name]
    x = np.random.default_rng(0).uniform(lo, hi, size=(rows, len(lo)))
    y = f(x)
    with tempfile.TemporaryDirectory(prefix="prec-default-fit-") as store:
        started = time.perf_counter()
        model = pj.fit(x, y, out=store)  # what a user types: no config, no names
        seconds = time.perf_counter() - started
        summary = model.summary
    auto = summary.auto or {}
    return {"data": name, "rows": rows, "box": [lo, hi], "seconds": seconds, "model": summary.model,
            "chosen": auto.get("chosen"), "probe_seconds": auto.get("probe_seconds"), "probes": auto.get("probes"),
            "test_rmse": summary.metrics.get("test_rmse"), "rms_y": float(np.sqrt(np.mean(y ** 2))),
            "test_max_abs_error": summary.metrics.get("test_max_abs_error")}


def table(rep: dict) -> str:
    lines = ["| data (scattered rows) | chosen | test RMSE | test max error | seconds: probes / whole fit |",
             "|---|---|---|---|---|"]
    for r in rep["rows"]:
        probes = f"{r['probe_seconds']:.1f}" if r.get("probe_seconds") is not None else "—"
        data = r["data"].replace("|", "\\|")  # |x − y| inside a table cell
        lines.append(f"| {data} ({r['rows']:,}) | {r.get('chosen') or r['model']} | {r['test_rmse']:.2e} | "
                     f"{r['test_max_abs_error']:.2e} | {probes} / {r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--out", type=Path, default=record.RESULTS / "default_fit.json")
    args = parser.parse_args(argv)
    rows = []
    for name in CASES:
        rows.append(measure(name, args.rows))
        r = rows[-1]
        print(f"{name}: {r['model']}, test RMSE {r['test_rmse']:.3e}, {r['seconds']:.1f} s", flush=True)
    record.write(args.out, {"benchmark": "default_fit", "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
