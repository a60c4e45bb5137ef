"""The width sweep of ``configs/sweeps/widths.yaml`` and its fitted scaling exponents, as a user gets them.

Runs ``prec sweep widths --out OUT`` (II.8.31, d = 2, depth-3 tanh and ReLU nets of widths 4–32, Adam then
BFGS, 3 seeds; complete runs in OUT are kept) and then ``prec fit OUT --target II.8.31 --json``: test RMSE
≈ A·N^α per activation, by log–log least squares with a 95 % bootstrap interval over seeds. Theory for a
piecewise-linear (ReLU) net: α = −2/d = −1; tanh nets are not piecewise linear and may scale faster. The
exponents, with the machine, thread settings and command, go to ``benchmarks/results/width_sweep.json``
(``--json PATH`` elsewhere), from which the docs' networks table is generated. A few minutes on 2 cores.

    python benchmarks/width_sweep.py [--out results/benchmarks/widths] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import record

ROOT = Path(__file__).resolve().parents[1]
THEORY = {"relu": "−2/d = −1"}


def prec(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"prec {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr.strip()[-2000:]}")
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "widths"), help="the run store")
    parser.add_argument("--json", default=str(record.RESULTS / "width_sweep.json"), help="where the results go")
    args = parser.parse_args()
    t0 = time.perf_counter()
    prec("sweep", "widths", "--out", args.out, "--no-progress")
    sweep_seconds = time.perf_counter() - t0
    fits = json.loads(prec("fit", args.out, "--target", "II.8.31", "--json"))
    rows = []
    for f in fits:
        activation = next((a for a in ("relu", "tanh") if a in str(f["series"]).lower()), None)
        bounds = [f["ci_low"], f["ci_high"]]  # NaN with one seed
        interval = bounds if all(isinstance(b, float) and math.isfinite(b) for b in bounds) else None
        rows.append({"series": f["series"], "N": [int(f["range"][0]), int(f["range"][1])],
                     "exponent": f["exponent"], "interval": interval, "seeds": f["seeds"], "points": f["points"],
                     "theory": THEORY.get(activation, "—")})
        print(rows[-1], flush=True)
    record.write(args.json, {"benchmark": "width_sweep", "sweep": "configs/sweeps/widths.yaml",
                             "target": "II.8.31", "metric": "test RMSE", "rows": rows,
                             "sweep_seconds": sweep_seconds})


if __name__ == "__main__":
    main()
