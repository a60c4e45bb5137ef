"""Interrupted runs resume from their checkpoint and end with the numbers of an uninterrupted run."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from precision_jax.experiment import build_config
from precision_jax.runs import store
from precision_jax.runs.checkpoint import Checkpointer, CheckpointError, RunTimeout, checkpoint_path
from precision_jax.runs.training import run_experiment

CHAIN = {
    "name": "resumable",
    "seed": 1,
    "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 200, "test_points": 200, "test_compactification": 1.0},
    "model": {"kind": "mlp", "depth": 3, "width": 6, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-2, "steps": 40}, {"kind": "bfgs", "maxiter": 40, "subsample": 150}],
    "boost": {"rounds": 2, "normalize": "rms", "train": [{"kind": "lm", "maxiter": 12}]},
    "output": {"log_every": 5},
}


def fingerprint(record):
    return ([(p.round, p.stage, p.kind, p.step, p.train_rmse, p.test_rmse) for p in record.curve],
            record.summary.metrics, [p.arrays["theta"].tolist() for p in record.parts])


@pytest.fixture(scope="module")
def reference():
    return run_experiment(build_config(copy.deepcopy(CHAIN)))


@pytest.mark.parametrize("interrupt_at", [4, 12, 17, 22])  # in Adam, in BFGS, in round 1, in round 2
def test_an_interrupted_run_resumes_to_the_same_numbers(reference, tmp_path, interrupt_at):
    cfg = build_config(copy.deepcopy(CHAIN))
    path = tmp_path / ".ckpt-test.npz"
    seen = []

    def interrupt(point):
        seen.append(point)
        if len(seen) == interrupt_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, on_log=interrupt, checkpoint=Checkpointer(path, ["r"], every_seconds=0))
    assert path.is_file()
    resumed_from = Checkpointer(path, ["r"])
    resumed = run_experiment(cfg, checkpoint=resumed_from)
    assert resumed_from.resumed_seconds > 0
    assert fingerprint(resumed) == fingerprint(reference)
    assert resumed.summary.status == reference.summary.status
    assert [s["stop_reason"] for s in resumed.summary.stages] == [s["stop_reason"] for s in reference.summary.stages]


def test_a_time_cap_stops_resumably(reference, tmp_path):
    cfg = build_config(copy.deepcopy(CHAIN))
    path = tmp_path / ".ckpt-cap.npz"
    with pytest.raises(RunTimeout):
        run_experiment(cfg, checkpoint=Checkpointer(path, ["r"], every_seconds=1e9, max_seconds=1e-9))
    assert path.is_file()
    assert fingerprint(run_experiment(cfg, checkpoint=Checkpointer(path, ["r"]))) == fingerprint(reference)


def test_a_checkpoint_of_other_runs_or_a_corrupt_one_is_refused_in_one_line(tmp_path):
    path = tmp_path / ".ckpt-x.npz"
    Checkpointer(path, ["a"]).save({"anything": np.arange(3)})
    with pytest.raises(CheckpointError, match="checkpoint of other runs"):
        Checkpointer(path, ["b"]).load()
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match=str(path)):
        Checkpointer(path, ["a"]).load()


def test_kill_9_then_the_same_command_resumes_with_identical_metrics(tmp_path):
    data = copy.deepcopy(CHAIN)
    data["train"] = [{"kind": "adam", "lr": 1e-2, "steps": 3000}, {"kind": "bfgs", "maxiter": 300}]
    data["output"] = {"log_every": 20, "checkpoint_every": 0.2}
    config = tmp_path / "resumable.yaml"
    config.write_text(yaml.safe_dump(data))
    out, reference_out = tmp_path / "store", tmp_path / "reference"
    command = [sys.executable, "-m", "cli", "run", str(config), "-q", "--out"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ckpt = checkpoint_path(out, [build_config(data)])
    process = subprocess.Popen(command + [str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if ckpt.is_file() and ckpt.stat().st_size > 0:
            time.sleep(1.0)  # a few more checkpoints, so the kill lands mid-training
            break
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not list(store.iter_runs(out)) and ckpt.is_file()

    resumed = subprocess.run(command + [str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    uninterrupted = subprocess.run(command + [str(reference_out)], env=env, capture_output=True, text=True,
                                   timeout=300)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    a = store.read_run(resumed.stdout.strip())
    b = store.read_run(uninterrupted.stdout.strip())
    assert a.summary.metrics == b.summary.metrics
    assert [(p.stage, p.step, p.train_rmse) for p in a.curve] == [(p.stage, p.step, p.train_rmse) for p in b.curve]
    assert not ckpt.exists()  # the run that completed it removed its own checkpoint
