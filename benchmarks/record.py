"""What every benchmark's JSON says about where it ran, so the docs can print it under each table.

``record(payload)`` adds ``machine`` (host, CPU model, usable CPUs, load average), ``threads`` (the thread variables in
force), ``command`` (as typed), ``git`` (commit, dirty) and ``when`` (UTC) to a benchmark's numbers, and
``write(path, payload)`` stores them as strict JSON (a non-finite float becomes null), atomically, so a
reader never sees half a file. ``scripts/docs_tables.py`` renders these files on every docs build.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import sys
from pathlib import Path

from precision_jax.runs import provenance

RESULTS = Path(__file__).resolve().parent / "results"


def command() -> str:
    """The command line as a user would type it again: ``python benchmarks/NAME.py ARGS`` (the thread
    variables in force are recorded beside it, not in it)."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(RESULTS.parent.parent)
    except ValueError:
        pass
    return "python " + shlex.join([str(script), *sys.argv[1:]])


def stop_children_on_sigterm() -> None:
    """Let SIGTERM (``timeout``, ``kill``) end this benchmark by an exception, so that ``subprocess.run``
    kills the run it is waiting on instead of leaving it to compete with the next measurement (an
    interrupted ``prec run`` resumes from its checkpoint)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _load_average() -> list[float] | None:
    """1, 5 and 15-minute load when the file is written: on a shared machine, what the timings competed with."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def record(payload: dict) -> dict:
    m = provenance.machine()
    return {**payload,
            "machine": {"host": m["host"], "cpu_model": m["cpu_model"], "cpus_usable": m["cpus_usable"],
                        "cpu_count": m["cpu_count"], "load_average": _load_average()},
            "threads": provenance.thread_settings(), "command": command(), "git": provenance.git_state(),
            "versions": provenance.package_versions(), "when": provenance.utc_iso()}


def _strict(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def write(path: str | Path, payload: dict) -> Path:
    """``record(payload)`` to ``path`` (folders made), through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(_strict(record(payload)), indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)
    print(f"written {path}", flush=True)
    return path
