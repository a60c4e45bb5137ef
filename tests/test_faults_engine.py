"""Faults the training engine refuses or records: sizes, unusable targets, divergence, concurrent writers.

(The input and CLI faults of the same issue are in ``tests/test_faults.py``.)
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
import sys
from pathlib import Path

import jax
import pytest
import yaml

from precision_jax.config.engine import ConfigError
from precision_jax.experiment import build_config
from precision_jax.runs import store
from precision_jax.runs.training import run_experiment

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "name": "faulty",
    "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 100, "test_points": 100, "test_compactification": 1.0},
    "model": {"kind": "mlp", "depth": 3, "width": 6, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-2, "steps": 20}],
    "output": {"log_every": 10},
}


def prec(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


# `prec` with every JAX loop primitive replaced by a failure: a stage's iterations are a lax.scan or a
# lax.while_loop, so a command that traces any of them fails with status 1 and a traceback instead of
# the one-line refusal. (Model initialisation and memory estimates use neither.)
UNTRAINED_PREC = """
import jax

def no_training(*args, **kwargs):
    raise AssertionError("a training loop was traced before the refusal")

jax.lax.scan = jax.lax.while_loop = jax.lax.fori_loop = no_training
from cli.main import app
app(prog_name="prec")
"""


def prec_without_training(*args, timeout=240):
    return subprocess.run([sys.executable, "-c", UNTRAINED_PREC, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def one_line_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("prec: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_run_too_big_for_memory_is_refused_before_training_naming_the_stage(tmp_path):
    data = {**copy.deepcopy(TINY), "target": {"equation": "I.8.14"},
            "model": {"kind": "mlp", "depth": 3, "width": 200},
            "train": [{"kind": "adam", "steps": 5}, {"kind": "bfgs", "maxiter": 10}]}
    config = tmp_path / "big.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "store"
    # Refused before any training: no stage's loop is even traced (benchmarks/refusal_latency.py times it).
    line = one_line_error(prec_without_training("run", config, "--out", out, "--max-memory", 4))
    assert re.search(r"big\.yaml: train\.1: \(bfgs\) needs ~[\d.]+ GB, 4\.0 GB available", line), line
    assert not out.exists()


@pytest.mark.parametrize("key, value", [("data.train_points", 1e9), ("data.test_points", 2e9)])
def test_data_too_big_for_memory_is_refused_before_it_is_drawn(key, value, monkeypatch):
    section, name = key.split(".")
    data = copy.deepcopy(TINY)
    data[section][name] = value
    uniform, drawn = jax.random.uniform, []

    def counted_uniform(rng, shape=(), *args, **kwargs):  # every random draw's size, refused past 1e6 numbers
        drawn.append(math.prod(shape))
        assert drawn[-1] <= 10**6, f"drew {shape} before refusing"
        return uniform(rng, shape, *args, **kwargs)

    monkeypatch.setattr(jax.random, "uniform", counted_uniform)
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}: .* needs ~[\d.]+ GB"):
        run_experiment(build_config(data), max_memory=8 * 2**30)
    assert sum(drawn) < 10**4  # the model's initial weights at most; no data point was drawn


def test_a_target_not_finite_on_its_box_is_refused_with_the_box_and_a_point():
    data = {**copy.deepcopy(TINY), "target": {"formula": "sqrt(x)", "variables": {"x": [-1, 1]}}}
    message = r"^target: .*not finite on its sampling box \(x in \[-1, 1\]\): nan at x = -"
    with pytest.raises(ConfigError, match=message):
        run_experiment(build_config(data))


def test_a_huge_learning_rate_is_recorded_as_diverged_not_complete():
    data = copy.deepcopy(TINY)
    data["train"] = [{"kind": "adam", "lr": 1e3, "steps": 50}, {"kind": "bfgs", "maxiter": 20}]
    record = run_experiment(build_config(data))
    assert record.summary.status == "diverged"
    first = record.summary.stages[0]
    assert "diverged" in first and len(record.summary.stages) == 1  # the chain stopped at the diverged stage


def test_the_same_sweep_started_three_times_trains_every_run_exactly_once(tmp_path):
    base = copy.deepcopy(TINY)
    spec = {"name": "shared", "base": base, "grid": {"model.width": [4, 5, 6], "seed": [0, 1]}}
    path = tmp_path / "shared.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "store"
    command = [sys.executable, "-m", "cli", "sweep", str(path), "--out", str(out), "--no-progress"]
    processes = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    results = [p.communicate(timeout=600) for p in processes]
    for p, (_, stderr) in zip(processes, results):
        assert p.returncode == 0, stderr
        assert "Traceback" not in stderr
    done = sum(int(re.search(r"(\d+) done", stdout).group(1)) for stdout, _ in results)
    assert done == 6  # each run trained by exactly one of the three processes
    runs = sorted(p.name for p in store.iter_runs(out))
    assert len(runs) == 6 == len(set(runs))
    leftovers = [p for p in (out / base["name"]).iterdir() if p.name.startswith((store.TMP_PREFIX, ".ckpt-"))]
    assert leftovers == []
