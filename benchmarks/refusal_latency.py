"""How long a refusal takes: each one-line refusal the fault tests check, timed against JAX's start-up.

The tests check *where* a refusal happens (before any training loop is traced, before any data point is
drawn, from the file's size alone, by a node count that stops early, in bounded memory); this script
measures *how long* it takes, which the tests cannot assert on a shared, loaded machine. Each case is run
``--repeats`` times and the median kept:

* command line (a fresh ``python -m cli`` process each time): a run too big for ``--max-memory``, an
  output folder that is a file, a sparse 4 GiB config and a 9^9-node alias bomb given to ``prec run`` and
  ``prec sweep``; the baseline is a process that imports JAX, runs one operation and imports the CLI.
* in-process, after one untimed call (imports, compilation): :func:`read_yaml` on each malformed file of
  ``tests/test_faults.py``, baseline ``configs/quickstart.yaml``; ``run_experiment`` refusing 1e9 training
  points and ``fit_simplex`` refusing 1e6 points in 8-D, baseline ``build_config``.

It prints seconds, the ratio to the baseline, and the limit the tests used to assert (60 s, 30 s, 5 s, 1 s),
and exits 1 if a median is over that limit. The rows, with the machine, thread settings and command, go to
``benchmarks/results/refusal_latency.json`` (``--json PATH`` elsewhere), from which the docs' table is generated.

    python benchmarks/refusal_latency.py [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import record
import yaml

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "name": "tiny",
    "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 100, "test_points": 100, "test_compactification": 1.0},
    "model": {"kind": "mlp", "depth": 3, "width": 6, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-2, "steps": 20}],
    "output": {"log_every": 10},
}
BIG = {**copy.deepcopy(TINY), "target": {"equation": "I.8.14"}, "model": {"kind": "mlp", "depth": 3, "width": 200},
       "train": [{"kind": "adam", "steps": 5}, {"kind": "bfgs", "maxiter": 10}]}
STARTUP = "import jax, jax.numpy as jnp; jnp.zeros(1).block_until_ready(); import cli.main"


def alias_bomb() -> str:
    """9 levels of 9 aliases each: 9^9 ≈ 3.9e8 nodes once expanded (the test's file)."""
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    previous = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text


def median_seconds(action, repeats: int, warm: bool = False) -> float:
    """Median wall time of ``action`` over ``repeats`` calls; ``warm``: after one untimed call (imports, compiles)."""
    if warm:
        action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def refusal(*args) -> None:
    result = subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 2 or not result.stderr.startswith("prec: error: "):
        raise SystemExit(f"prec {' '.join(map(str, args))}: expected a one-line refusal, got status "
                         f"{result.returncode}:\n{result.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per case (the median is kept)")
    parser.add_argument("--json", default=str(record.RESULTS / "refusal_latency.json"), help="where the results go")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from precision_jax.config.engine import ConfigError, read_yaml
    from precision_jax.experiment import build_config
    from precision_jax.runs.training import run_experiment

    rows = []  # (case, seconds, baseline seconds, old limit)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big, tiny, a_file = tmp / "big.yaml", tmp / "tiny.yaml", tmp / "results.txt"
        big.write_text(yaml.safe_dump(BIG))
        tiny.write_text(yaml.safe_dump(TINY))
        a_file.write_text("not a folder")
        huge, bomb = tmp / "huge.yaml", tmp / "bomb.yaml"
        with open(huge, "wb") as f:
            f.truncate(4 << 30)  # sparse: no disk used
        bomb.write_text(alias_bomb())
        out = tmp / "store"

        startup = median_seconds(lambda: subprocess.run([sys.executable, "-c", STARTUP], cwd=ROOT, check=True),
                                 args.repeats)
        for case, command, limit in [
            ("prec run: too big for --max-memory 4", ("run", big, "--out", out, "--max-memory", 4), 60),
            ("prec run: output folder is a file", ("run", tiny, "--out", a_file), 60),
            ("prec run: 4 GiB config", ("run", huge, "--out", out), 30),
            ("prec sweep: 4 GiB config", ("sweep", huge, "--out", out), 30),
            ("prec run: alias bomb", ("run", bomb, "--out", out), 30),
            ("prec sweep: alias bomb", ("sweep", bomb, "--out", out), 30),
        ]:
            rows.append((case, median_seconds(lambda c=command: refusal(*c), args.repeats), startup, limit))

        bad_files = {
            "binary": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe",
            "latin-1": "name: caf\xe9\n".encode("latin-1"),
            "alias bomb": alias_bomb().encode(),
            "recursive alias": b"a: &a [1, *a]\n",
            "50,000 nested brackets": b"a: " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
            "not a mapping": b"- 1\n- 2\n",
            "invalid YAML": b"name: [unclosed\n",
        }
        good = median_seconds(lambda: read_yaml(ROOT / "configs" / "quickstart.yaml"), args.repeats, warm=True)

        def refused_in_process(action) -> None:
            try:
                action()
            except ConfigError:
                return
            raise SystemExit("expected a ConfigError")

        for case, content in bad_files.items():
            path = tmp / "bad.yaml"
            path.write_bytes(content)
            rows.append((f"read_yaml: {case}", median_seconds(lambda p=path: refused_in_process(lambda: read_yaml(p)),
                                                              args.repeats, warm=True), good, 5))
        too_many = {**copy.deepcopy(TINY), "data": {**TINY["data"], "train_points": 10**9}}
        build = median_seconds(lambda: build_config(too_many), args.repeats, warm=True)
        rows.append(("run_experiment: 1e9 training points", median_seconds(
            lambda: refused_in_process(lambda: run_experiment(build_config(too_many), max_memory=8 * 2**30)),
            args.repeats, warm=True), build, 5))

        from precision_jax.models.simplex import fit_simplex

        def refused_simplex() -> None:
            try:
                fit_simplex(huge, huge[:, 0])
            except ValueError:
                return
            raise SystemExit("expected the simplex size refusal")

        huge = np.random.default_rng(0).uniform(size=(10**6, 8))
        rows.append(("fit_simplex: 1e6 points in 8-D", median_seconds(refused_simplex, args.repeats, warm=True),
                     build, 1))

    print(f"{'case':<42} {'seconds':>9} {'× baseline':>11} {'old limit':>10}")
    over = 0
    for case, seconds, baseline, limit in rows:
        flag = "" if seconds < limit else "  OVER"
        over += bool(flag)
        print(f"{case:<42} {seconds:>9.3f} {seconds / baseline:>11.1f} {limit:>9} s{flag}")
    print(f"baselines: JAX start-up {startup:.2f} s; read_yaml(quickstart) {good * 1e3:.2f} ms; "
          f"build_config {build * 1e3:.2f} ms")
    record.write(args.json, {"benchmark": "refusal_latency", "repeats": args.repeats,
                             "rows": [{"case": case, "seconds": seconds, "baseline_seconds": baseline,
                                       "old_limit_seconds": limit} for case, seconds, baseline, limit in rows],
                             "baselines": {"jax_startup_seconds": startup, "read_yaml_quickstart_seconds": good,
                                           "build_config_seconds": build}})
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
