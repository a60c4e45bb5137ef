"""What checkpointing costs: the same run with and without checkpoints, measured in one invocation.

The run is ``configs/quickstart.yaml`` (or ``--config``). With ``--every S``
the checkpointer saves at the first chunk boundary after every S seconds
(the default in configs is 60 s; 1 s here is a deliberately harsh case). The
script prints both wall times, the number of saves, the time spent saving and
that time as a fraction of the run, and checks that both runs give identical
metrics (a checkpointed run must compute the same numbers).

    python benchmarks/checkpoint_overhead.py [--config PATH] [--every 1.0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    parser.add_argument("--every", type=float, default=1.0, help="seconds between checkpoints")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each kind, alternated")
    args = parser.parse_args()

    from precision_jax.experiment import load_config
    from precision_jax.runs.checkpoint import Checkpointer
    from precision_jax.runs.training import run_experiment

    cfg = load_config(args.config)
    run_experiment(cfg)  # compile once, so every timed run starts warm
    plain_times, saved_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):  # alternate, so drifts in the machine's speed hit both alike
            start = time.perf_counter()
            plain = run_experiment(cfg)
            plain_times.append(time.perf_counter() - start)
            checkpoint = Checkpointer(Path(tmp) / f".ckpt-{repeat}.npz", ["benchmark"], every_seconds=args.every)
            start = time.perf_counter()
            saved = run_experiment(cfg, checkpoint=checkpoint)
            saved_times.append(time.perf_counter() - start)
            size = os.path.getsize(checkpoint.path) if checkpoint.path.exists() else 0
    plain_seconds, saved_seconds = float(np.median(plain_times)), float(np.median(saved_times))
    print(f"{Path(args.config).name}, median of {args.repeats}: without checkpoints {plain_seconds:.2f} s, with a "
          f"checkpoint every {args.every:g} s {saved_seconds:.2f} s ({checkpoint.saves} saves of "
          f"~{size / 2**20:.1f} MiB in the last run, {checkpoint.save_seconds:.3f} s saving = "
          f"{100 * checkpoint.save_seconds / saved_times[-1]:.2f} % of it; "
          f"wall-time ratio {saved_seconds / plain_seconds:.3f})")
    same = plain.summary.metrics == saved.summary.metrics
    print(f"metrics identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
