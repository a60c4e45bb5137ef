"""Where a run came from: when, on which machine, by which command, from which code, with which threads.

:func:`collect` returns plain JSON data for ``summary.json``'s ``provenance``
(:class:`precision_jax.runs.store.Summary`). Nothing here can fail a run: a value
that cannot be found is ``"unknown"``, and the one outside command it calls
(``git``, for the commit and whether the checkout was dirty) has a short
timeout. The git state and the machine description are read once per process:
the code a process runs is the code it imported at its start.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Optional, Union

UNKNOWN = "unknown"
GIT_TIMEOUT_S = 3.0

# Environment variables that change threading or numerics (thread pools of BLAS/LAPACK and XLA, the backend).
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "XLA_FLAGS", "JAX_PLATFORMS",
                    "JAX_ENABLE_X64", "JAX_DEFAULT_MATMUL_PRECISION", "CUDA_VISIBLE_DEVICES", "TF_CPP_MIN_LOG_LEVEL",
                    "PREC_JAX_CACHE")
PACKAGES = ("prec", "jax", "jaxlib", "optax", "jaxopt", "numpy", "scipy", "sympy", "mpmath", "pyyaml")


def utc_iso(when: Union[float, _dt.datetime, None] = None) -> str:
    """ISO 8601 UTC time to the second, e.g. ``2026-05-09T07:35:25Z``; ``when`` a Unix time or a datetime."""
    if when is None:
        moment = _dt.datetime.now(_dt.timezone.utc)
    elif isinstance(when, _dt.datetime):
        moment = when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)
    else:
        moment = _dt.datetime.fromtimestamp(float(when), _dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def project_root() -> Path:
    """The folder holding the ``precision_jax`` package (the repository, for an editable install)."""
    return Path(__file__).resolve().parents[2]


def _git(*args: str) -> Optional[str]:
    try:
        result = subprocess.run(["git", "-C", str(project_root()), *args], capture_output=True, text=True,
                                timeout=GIT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_state() -> dict:
    """``{"commit": sha | "unknown", "dirty": bool | "unknown"}`` of the checkout the package runs from."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": UNKNOWN, "dirty": UNKNOWN}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": UNKNOWN if status is None else bool(status.strip())}


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else what :mod:`platform` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor", "cpu model"):
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or UNKNOWN


def thread_settings() -> dict:
    """The environment variables of :data:`THREAD_VARIABLES` that are set (unset ones are left out)."""
    return {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@functools.lru_cache(maxsize=1)
def machine() -> dict:
    """Host, CPU model, core counts and platform (read once per process)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    return {"host": socket.gethostname() or UNKNOWN, "cpu_model": cpu_model(), "cpu_count": os.cpu_count() or 0,
            "cpus_usable": usable, "platform": platform.platform(), "python": sys.version.split()[0]}


def collect(start: Union[float, _dt.datetime, None] = None, end: Union[float, _dt.datetime, None] = None) -> dict:
    """Provenance of a run that began at ``start`` (Unix time or datetime; None: unknown) and ends now.

    Keys: ``started_utc``, ``finished_utc`` (ISO 8601), ``host``, ``cpu_model``,
    ``cpu_count``, ``cpus_usable`` (this process's affinity), ``platform``,
    ``python``, ``command`` (``sys.argv``), ``cwd``, ``git`` (``commit``,
    ``dirty``), ``threads`` (the threading variables that are set) and
    ``versions``.
    """
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = UNKNOWN
    return {
        "started_utc": utc_iso(start) if start is not None else UNKNOWN,
        "finished_utc": utc_iso(end),
        **machine(),
        "command": [str(a) for a in sys.argv],
        "cwd": cwd,
        "git": dict(git_state()),
        "threads": thread_settings(),
        "versions": package_versions(),
    }
