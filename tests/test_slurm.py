"""SLURM array scripts: valid bash, the right #SBATCH lines, task i → shard i/n; and a real cluster run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from precision_jax import slurm, store
from precision_jax import sweep as sw

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


def test_bad_slurm_options_are_config_errors(tmp_path):
    from precision_jax.config import ConfigError

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


@pytest.mark.slurm
def test_array_job_on_a_real_cluster_completes_the_sweep(tmp_path):
    """Submit the array to a running SLURM controller and wait for every run to land in the store."""
    assert shutil.which("sbatch") and shutil.which("squeue"), "sbatch/squeue not on PATH"
    shared = Path(os.environ.get("PREC_SLURM_SHARED", tmp_path))
    spec_file = write_spec(shared / "arr.yaml")
    results = shared / "results"
    text = slurm.sbatch_script(spec_file, results, 3, slurm.SlurmOptions(time="00:20:00", cpus_per_task=1),
                               workdir=REPO)
    job = slurm.submit(slurm.write_script(text, shared / "arr.sbatch"))
    deadline = time.time() + 900
    while time.time() < deadline:
        queue = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout.strip()
        if not queue:
            break
        time.sleep(2)
    logs = "\n".join(p.read_text() for p in (results / "slurm-logs").glob("*.out"))
    expected = sorted(r.run_id for r in sw.expand(sw.load_sweep(spec_file)))
    assert sorted(p.name for p in store.iter_runs(results)) == expected, logs
    assert len(list((results / "slurm-logs").glob(f"*{job}_*.out"))) == 3, logs
