"""The precision-training configs as a user runs them: each ``configs/precision/<config>.yaml`` a fresh
``prec run CONFIG --out OUT --force --quiet`` process, one after the other.

Each row is the run's own ``summary.json``: test RMSE of the final model (boosting ensemble included) and
relative test RMSE (RMSE / RMS of the test targets), with the stop reason of every stage, and the command's
wall time end to end (start-up and compilation included, the persistent compilation cache as ``prec run``
leaves it). The issue's goal and the paper's figure stand beside each config for the table; they are targets,
not measurements. All rows, with the machine, thread settings and command, go to
``benchmarks/results/precision_training.json`` (``--json PATH`` elsewhere), from which the docs' precision
training table is generated; ``--merge`` keeps the rows of the configs not rerun.

About 25 minutes on 2 cores for the default set.

    python benchmarks/precision_training.py [--configs bfgs_only,xy] [--out results/benchmarks/precision]
                                            [--json PATH] [--merge]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import record

from precision_jax.runs import store

ROOT = Path(__file__).resolve().parents[1]
# config -> (what the chain is, issue goal, paper's figure); the run overrides nothing.
CONFIGS = {
    "bfgs_only": ("BFGS on all 100k points", "~1e-7…1e-8", "4.1e-8"),
    "adam_lr_sweep": ("Adam, 1-40-40-1, batches of 10k, 20k steps (lr 1e-3)", "stalls ~1e-4", "~1e-4"),
    "teacher_student": ("the paper's chain: BFGS → LCS → boost ×5 (BFGS → LCS → BFGS), on subsamples",
                        "≤ 3e-14", "~3e-14"),
    "teacher_student_best": ("LM → boost ×3 (LM), geodesic acceleration, subsamples", "≤ 1e-15", "—"),
    "x_squared": ("same chain as `teacher_student_best`, on Z.001", "≤ 1e-13", "~1e-12"),
    "xy": ("LM → 6 × focused LM → boost ×1 (LM → focused LM), standardized inputs, on Z.008", "≤ 1e-9", "~3e-7"),
    "I.11.19": ("modular tanh net (3 product modules + linear sum), LM → 2 × focused LM, d = 6", "≤ 1e-6",
                "~1.3e-4"),
}


def run_config(name: str, out: Path) -> dict:
    what, goal, paper = CONFIGS[name]
    config = ROOT / "configs" / "precision" / f"{name}.yaml"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cli", "run", str(config), "--out", str(out), "--force", "--quiet"],
                          cwd=ROOT, capture_output=True, text=True)
    row = {"config": name, "chain": what, "goal": goal, "paper": paper, "wall_seconds": time.perf_counter() - t0}
    if proc.returncode != 0:
        return {**row, "error": (proc.stderr or proc.stdout).strip()[-500:]}
    summary = store.read_summary(Path(proc.stdout.strip().splitlines()[-1]))
    m = summary.metrics
    return {**row, "test_rmse": m["test_rmse"], "test_relative_rmse": m.get("test_relative_rmse"),
            "train_rmse": m.get("train_rmse"), "training_seconds": summary.wall_seconds,
            "stops": [f"{r['kind']}: {r.get('stop_reason')}" for r in summary.stages],
            "boost_rounds": (summary.boost or {}).get("rounds"), "N": summary.N, "D": summary.D,
            "run_id": summary.run_id, "git": summary.provenance.get("git")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated, of: " + ", ".join(CONFIGS))
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "precision"), help="the run store")
    parser.add_argument("--json", default=str(record.RESULTS / "precision_training.json"), help="where rows go")
    parser.add_argument("--merge", action="store_true", help="keep the rows of the configs not run")
    args = parser.parse_args()
    names = [c for c in args.configs.split(",") if c]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        sys.exit(f"precision_training.py: unknown config(s) {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    rows = []
    for name in names:
        print(f"running {name} …", flush=True)
        rows.append(run_config(name, Path(args.out)))
        print(json.dumps({k: rows[-1].get(k) for k in ("config", "test_rmse", "wall_seconds", "error")}), flush=True)
    if args.merge and os.path.exists(args.json):
        kept = {r["config"]: r for r in json.loads(Path(args.json).read_text())["rows"]}
        kept.update({r["config"]: r for r in rows})
        rows = [kept[c] for c in CONFIGS if c in kept]
    record.write(args.json, {"benchmark": "precision_training", "rows": rows})


if __name__ == "__main__":
    main()
