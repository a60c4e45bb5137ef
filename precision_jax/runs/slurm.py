"""SLURM job arrays for sweeps: task i of an array of n runs ``prec sweep SPEC --shard i/n``.

Every task writes into the same results directory. That is safe because
shards are disjoint (:func:`precision_jax.runs.sweep.shard`) and each run is
written atomically (:func:`precision_jax.runs.store.write_run`); a task that is
requeued or re-submitted skips the runs already complete.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from precision_jax.experiment import ConfigError


@dataclass(frozen=True)
class SlurmOptions:
    partition: Optional[str] = None
    time: Optional[str] = None  # SLURM time format, e.g. 02:00:00 or 1-00:00:00
    mem: Optional[str] = None  # e.g. 4G
    cpus_per_task: int = 2
    array_parallel: Optional[int] = None  # at most K tasks at once (the %K of --array)
    job_name: str = "prec"
    extra: tuple[str, ...] = ()  # further #SBATCH lines, verbatim options


_TIME = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$|^\d+-\d+$")
_MEM = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)


def _validate(options: SlurmOptions, tasks: int) -> None:
    if tasks < 1:
        raise ConfigError(f"an array needs at least one task, got {tasks}", "--tasks")
    if options.time is not None and not _TIME.match(options.time):
        raise ConfigError(f"expected a SLURM time like 30, 02:00:00 or 1-00:00:00, got {options.time!r}", "--time")
    if options.mem is not None and not _MEM.match(options.mem):
        raise ConfigError(f"expected a memory size like 4G or 500M, got {options.mem!r}", "--mem")
    if options.array_parallel is not None and options.array_parallel < 1:
        raise ConfigError(f"must be >= 1, got {options.array_parallel}", "--array-parallel")
    for name, value in (("--partition", options.partition), ("--job-name", options.job_name)):
        if value is not None and not re.match(r"^[A-Za-z0-9_.,-]+$", value):
            raise ConfigError(f"unexpected characters in {value!r}", name)


def prec_command() -> list[str]:
    """How a compute node starts ``prec``: the installed entry point, else this interpreter."""
    exe = shutil.which("prec")
    if exe is not None:
        return [str(Path(exe).resolve())]
    return [sys.executable, "-c", "import sys; from cli.main import app; sys.argv[0] = 'prec'; app()"]


def sbatch_script(spec_path: str | Path, results_dir: str | Path, tasks: int, options: SlurmOptions,
                  workdir: str | Path = ".", log_dir: str | Path | None = None,
                  sweep_args: tuple[str, ...] = ()) -> str:
    """The text of an array job script whose task ``i`` (0-based) runs ``prec sweep SPEC --shard i/tasks``.

    Paths are made absolute, so the script runs from any directory on a
    shared filesystem.
    """
    spec_path, results_dir = Path(spec_path).resolve(), Path(results_dir).resolve()
    return array_script(["sweep", str(spec_path), "--shard", SHARD, "--out", str(results_dir), "--no-progress",
                         *sweep_args], results_dir, tasks, options, workdir, log_dir)


SHARD = "{shard}"  # where an array script's command takes the task's shard I/N


def array_script(prec_args: list[str], results_dir: str | Path, tasks: int, options: SlurmOptions,
                 workdir: str | Path = ".", log_dir: str | Path | None = None) -> str:
    """An array job script whose task ``i`` runs ``prec PREC_ARGS`` with :data:`SHARD` replaced by ``i/tasks``."""
    _validate(options, tasks)
    results_dir = Path(results_dir).resolve()
    workdir = Path(workdir).resolve()
    log_dir = Path(log_dir).resolve() if log_dir is not None else results_dir / "slurm-logs"
    array = f"0-{tasks - 1}" + (f"%{options.array_parallel}" if options.array_parallel else "")
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name={options.job_name}",
             f"#SBATCH --array={array}",
             # sbatch splits #SBATCH lines like a shell (quotes group, '#' starts a comment): a log path with a
             # space or '#' must be quoted.
             f"#SBATCH --output={shlex.quote(f'{log_dir}/%x-%A_%a.out')}",
             f"#SBATCH --cpus-per-task={options.cpus_per_task}"]
    if options.partition:
        lines.append(f"#SBATCH --partition={options.partition}")
    if options.time:
        lines.append(f"#SBATCH --time={options.time}")
    if options.mem:
        lines.append(f"#SBATCH --mem={options.mem}")
    lines += [f"#SBATCH {extra}" for extra in options.extra]
    shard = f"${{SLURM_ARRAY_TASK_ID}}/{tasks}"
    command = prec_command() + [shard if a == SHARD else a for a in prec_args]
    # Quote everything but the shard argument, which needs the variable expanded.
    quoted = " ".join(f'"{a}"' if "SLURM_ARRAY_TASK_ID" in a else shlex.quote(a) for a in command)
    lines += [
        "",
        "# Task i runs the i-th of the disjoint shards against the shared results directory;",
        "# re-running a task skips its runs that are already complete.",
        "set -euo pipefail",
        f"cd {shlex.quote(str(workdir))}",
        f"export OMP_NUM_THREADS={options.cpus_per_task}",
        f"exec {quoted}",
        "",
    ]
    return "\n".join(lines)


def write_script(text: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    # The log directory must exist before SLURM opens the task's output file.
    match = re.search(r"^#SBATCH --output=(.*)$", text, re.MULTILINE)
    if match:
        Path(shlex.split(match.group(1))[0]).parent.mkdir(parents=True, exist_ok=True)
    return path


def submit(script: str | Path) -> str:
    """``sbatch --parsable SCRIPT``; returns the job id. Raises ``RuntimeError`` with sbatch's message."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise RuntimeError("sbatch not found on PATH; is this a SLURM login node?")
    done = subprocess.run([sbatch, "--parsable", str(script)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"sbatch failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip().split(";")[0]
