"""SLURM array scripts: valid bash, the right #SBATCH lines, task i → shard i/n; and a real cluster run."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from precision_jax.runs import slurm, store
from precision_jax.runs import sweep as sw

REPO = Path(__file__).resolve().parents[1]
TINY = {"name": "tiny", "target": {"equation": "II.8.31"},
        "data": {"train_points": 30, "test_points": 100, "standardize": True},
        "model": {"kind": "mlp", "depth": 3, "width": 5, "activation": "tanh"},
        "train": [{"kind": "adam", "lr": 1e-2, "steps": 40}], "output": {"log_every": 20}}


def write_spec(path: Path) -> Path:
    path.write_text(yaml.safe_dump({"name": "arr", "base": TINY,
                                    "grid": {"data.test_compactification": [0.5, 0.7, 0.9], "seed": [0, 1]}}))
    return path


def test_sbatch_script_is_valid_and_tasks_map_to_shards(tmp_path, monkeypatch):
    spec_file = write_spec(tmp_path / "arr.yaml")
    options = slurm.SlurmOptions(partition="debug", time="00:10:00", mem="2G", array_parallel=2, job_name="t")
    text = slurm.sbatch_script(spec_file, tmp_path / "res", 3, options, workdir=REPO)
    script = slurm.write_script(text, tmp_path / "job.sbatch")
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    directives = re.findall(r"^#SBATCH (.*)$", text, re.MULTILINE)
    assert "--array=0-2%2" in directives and "--partition=debug" in directives
    assert "--time=00:10:00" in directives and "--mem=2G" in directives
    assert text.index("#SBATCH") < text.index("set -euo")  # directives before the first command
    assert (tmp_path / "res" / "slurm-logs").is_dir()

    # Replace the prec executable by echo and run each task's command as SLURM would.
    monkeypatch.setattr(slurm, "prec_command", lambda: ["echo"])
    echo_script = slurm.write_script(slurm.sbatch_script(spec_file, tmp_path / "res", 3, options, REPO),
                                     tmp_path / "echo.sbatch")
    groups = sw.group_runs(sw.expand(sw.load_sweep(spec_file)))
    covered = []
    for task in range(3):
        out = subprocess.run(["bash", str(echo_script)], env={**os.environ, "SLURM_ARRAY_TASK_ID": str(task)},
                             capture_output=True, text=True, check=True).stdout.split()
        assert out[:2] == ["sweep", str(spec_file.resolve())]
        assert out[out.index("--shard") + 1] == f"{task}/3"
        assert out[out.index("--out") + 1] == str((tmp_path / "res").resolve())
        index, count = sw.parse_shard(out[out.index("--shard") + 1])
        covered += [r.run_id for g in sw.shard(groups, index, count) for r in g]
    assert sorted(covered) == sorted(r.run_id for g in groups for r in g)


def test_a_log_folder_with_a_space_or_hash_is_quoted_for_sbatch(tmp_path):
    """sbatch reads #SBATCH lines as a shell would (quotes group, an unquoted '#' starts a comment)."""
    logs = tmp_path / "my logs #1"
    text = slurm.sbatch_script(write_spec(tmp_path / "arr.yaml"), tmp_path / "res", 2, slurm.SlurmOptions(),
                               log_dir=logs)
    line = re.search(r"^#SBATCH --output=(.*)$", text, re.MULTILINE).group(1)
    assert shlex.split(line) == [f"{logs}/%x-%A_%a.out"]
    slurm.write_script(text, tmp_path / "job.sbatch")
    assert logs.is_dir()


def test_bad_slurm_options_are_config_errors(tmp_path):
    from precision_jax.experiment import ConfigError

    with pytest.raises(ConfigError, match="--time"):
        slurm.sbatch_script(tmp_path / "s.yaml", tmp_path, 2, slurm.SlurmOptions(time="soon"))
    with pytest.raises(ConfigError, match="--mem"):
        slurm.sbatch_script(tmp_path / "s.yaml", tmp_path, 2, slurm.SlurmOptions(mem="lots"))


def test_cli_writes_the_script(tmp_path):
    from typer.testing import CliRunner

    from cli.main import app

    spec_file = write_spec(tmp_path / "arr.yaml")
    result = CliRunner().invoke(app, ["sweep", str(spec_file), "--slurm", "--out", str(tmp_path / "res"),
                                      "--time", "00:05:00", "--array-parallel", "2"])
    assert result.exit_code == 0, result.output
    script = tmp_path / "res" / "slurm" / "arr.sbatch"
    assert "#SBATCH --array=0-2%2" in script.read_text()  # one task per seed group


def wait_for_job(job: str, timeout: float) -> None:
    """Poll squeue until every task of ``job`` has left the queue (no sacct: the test cluster keeps no accounting)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = subprocess.run(["squeue", "-h", "-j", job, "-o", "%i %T"], capture_output=True, text=True)
        # A finished job stays known to the controller for MinJobAge (300 s) but squeue lists it no more;
        # after that squeue answers "Invalid job id", which also means finished.
        if done.returncode != 0 and "invalid job id" not in done.stderr.lower():
            pytest.fail(f"squeue failed: {done.stderr.strip()}")
        if done.returncode != 0 or not done.stdout.strip():
            return
        time.sleep(2)
    pytest.fail(f"job {job} still queued after {timeout:.0f} s:\n{done.stdout}")


def task_states(job: str) -> dict[str, tuple[str, str]]:
    """``{task id: (JobState, ExitCode)}`` from ``scontrol show job``, one line per array task."""
    lines = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    fields = [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in lines if line.strip()]
    return {f["ArrayTaskId"]: (f["JobState"], f["ExitCode"]) for f in fields}


def sweep_counts(log: str) -> tuple[int, int, int]:
    """(done, skipped, failed) from the summary line ``arr: D done, S skipped, … F failed …`` of a task's log."""
    match = re.search(r"^arr: (\d+) done, (\d+) skipped, \d+ diverged, (\d+) failed", log, re.MULTILINE)
    assert match, log
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def store_files(results: Path) -> dict[str, int]:
    """Every file of the store (the SLURM logs aside) with its modification time in ns."""
    return {str(p.relative_to(results)): p.stat().st_mtime_ns for p in results.rglob("*")
            if p.is_file() and "slurm-logs" not in p.relative_to(results).parts}


@pytest.mark.slurm
def test_array_job_on_a_real_cluster_completes_the_sweep(tmp_path):
    """Submit the array to a running SLURM controller and wait for every run to land in the store;
    submit it again and check that the second job finds every run complete and writes nothing.

    The store's folder has a space and a '#' in its name, so sbatch itself must read the quoted
    ``#SBATCH --output`` path (an unquoted '#' starts a comment there) and the job's command line too.

    A one-node cluster on this machine: ``bash scripts/slurm_single_node.sh``.
    """
    assert shutil.which("sbatch") and shutil.which("squeue"), "sbatch/squeue not on PATH"
    shared = Path(os.environ.get("PREC_SLURM_SHARED", tmp_path))
    spec_file = write_spec(shared / "arr.yaml")
    results = shared / "my results #1"
    text = slurm.sbatch_script(spec_file, results, 3, slurm.SlurmOptions(time="00:20:00", cpus_per_task=1),
                               workdir=REPO)
    script = slurm.write_script(text, shared / "arr.sbatch")
    expected = sorted(r.run_id for r in sw.expand(sw.load_sweep(spec_file)))

    def logs_of(job: str) -> list[str]:
        return [p.read_text() for p in sorted((results / "slurm-logs").glob(f"*-{job}_*.out"))]

    job = slurm.submit(script)
    wait_for_job(job, 900)
    logs = "\n".join(p.read_text() for p in (results / "slurm-logs").glob("*.out"))
    assert sorted(p.name for p in store.iter_runs(results)) == expected, logs
    assert len(logs_of(job)) == 3, logs
    assert task_states(job) == {str(i): ("COMPLETED", "0:0") for i in range(3)}, logs
    counts = [sweep_counts(log) for log in logs_of(job)]
    assert sum(c[0] for c in counts) == len(expected) and all(c[2] == 0 for c in counts), logs

    # The same array again: every task finds its runs complete, trains nothing, touches no file of the store.
    before = store_files(results)
    again = slurm.submit(script)
    assert again != job
    wait_for_job(again, 900)
    logs = "\n".join(logs_of(again))
    assert len(logs_of(again)) == 3, logs
    assert task_states(again) == {str(i): ("COMPLETED", "0:0") for i in range(3)}, logs
    counts = [sweep_counts(log) for log in logs_of(again)]
    assert [c[0] for c in counts] == [0, 0, 0] and sum(c[1] for c in counts) == len(expected), logs
    assert store_files(results) == before
    assert sorted(p.name for p in store.iter_runs(results)) == expected
