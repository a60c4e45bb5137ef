"""Run one benchmark script in this checkout and at a git revision, alternately, in one invocation.

Each side runs its own copy of the script (the revision's from a temporary
worktree, with ``PYTHONPATH`` pointing there, so it imports the revision's
package), ``--repeats`` times, alternating, so that a machine getting slower
or faster during the run affects both sides alike. The numbers the script
prints are pulled out by the patterns given for it (``--metric NAME=REGEX``, the
regex's first group a number; default patterns for ``bench_stages.py`` and
``sweep_throughput.py``) and reported as medians with the ratio revision/here
(above 1: this checkout is faster, for times).

    python benchmarks/against.py e684e5d benchmarks/bench_stages.py --repeats 3
    python benchmarks/against.py e684e5d benchmarks/sweep_throughput.py --repeats 1 -- --seeds 2
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Script name -> {metric: regex whose first group is the number}; all are times (lower is better).
DEFAULT_METRICS = {
    "bench_stages.py": {
        "adam jitted stage (s)": r"the driver's jitted stage ([0-9.]+) s",
        "bfgs jitted (ms/it)": r"jitted while_loop \d+ iterations in [0-9.]+ s \(([0-9.]+) ms/it",
    },
    "sweep_throughput.py": {
        "prec sweep, cold cache (s)": r"prec sweep \(cold compile cache\):\s+([0-9.]+) s",
        "shell loop of prec run (s)": r"shell loop of prec run:\s+([0-9.]+) s",
    },
}


def run(script: str, tree: Path, args: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, str(tree / script), *args], cwd=tree, env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{script} at {tree} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("script", help="path of the benchmark script, relative to the repository")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--metric", action="append", default=[], help="NAME=REGEX (first group: the number)")
    parser.add_argument("script_args", nargs="*")
    args = parser.parse_args()
    metrics = dict(m.split("=", 1) for m in args.metric) or DEFAULT_METRICS.get(Path(args.script).name, {})
    if not metrics:
        raise SystemExit(f"no patterns for {args.script}: give --metric NAME=REGEX")
    values: dict[str, dict[str, list[float]]] = {"here": {m: [] for m in metrics}, "there": {m: [] for m in metrics}}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "rev"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.revision],
                       check=True, capture_output=True)
        try:
            for repeat in range(args.repeats):
                for side, where in (("there", tree), ("here", ROOT)):
                    out = run(args.script, where, args.script_args)
                    print(f"--- {side} ({args.revision if side == 'there' else 'this checkout'}), "
                          f"repeat {repeat + 1}\n{out.strip()}", flush=True)
                    for name, pattern in metrics.items():
                        match = re.search(pattern, out)
                        if match is None:
                            raise SystemExit(f"{name}: /{pattern}/ not found in the {side} output")
                        values[side][name].append(float(match.group(1)))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False,
                           capture_output=True)
    from precision_jax.runs import provenance

    machine = provenance.machine()
    print(f"\n{machine['cpu_model']}, CPUs {machine['cpus_usable']}, threads {provenance.thread_settings()}, "
          f"median of {args.repeats}")
    print(f"| {Path(args.script).name} | at {args.revision} | this checkout | ratio |\n|---|---|---|---|")
    for name in metrics:
        there, here = statistics.median(values["there"][name]), statistics.median(values["here"][name])
        print(f"| {name} | {there:.4g} | {here:.4g} | {there / here:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
