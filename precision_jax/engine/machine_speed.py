"""The machine-speed figure a budgeted ``train: auto`` plan turns seconds into LM steps with.

The figure u is in the planner's cost units per second
(:func:`precision_jax.engine.auto_chain.step_cost`): a subsampled LM step on m
points with N parameters is priced c(m, N) = (2mN² + 4N³)(1 + N₀/N), and u·T
is what T seconds buy. It is measured on the work that dominates such a step:
one Householder QR of an m×(N+1) matrix (the step's [J | r]) and 1.2 QRs of a
2N×(N+1) one (its trial dampings), at m = 4,000 and N = 500 (the 2-D nets'
size), compiled by XLA as the LM stage compiles them; the fastest of
:data:`REPEATS` timed calls after a warm-up call gives

    u = c(m, N) / (t_QR(m×(N+1)) + 1.2·t_QR(2N×(N+1))) / STEP_OVERHEAD,

STEP_OVERHEAD = 1.6 being the rest of a step (Jacobian, trial losses,
geodesic term, curve points): on the 2-core development machine a 2-D net's
LM iteration took 0.22 s of which the m×(N+1) QR was 0.08–0.15 s.

A machine measures once (on a busy machine the figure is low: the load
average at the time is recorded; delete the entry to measure again): the figure is cached in
``~/.cache/prec/machine_speed.json``
(``PREC_SPEED_CACHE`` names another file) under a key of what changes it (host,
CPU, cores, JAX backend and version, the BLAS/XLA thread settings), with how
it was measured. ``PREC_MACHINE_SPEED=<units per second>`` fixes the figure
instead (e.g. to plan as another machine did), and is recorded as such.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax.config.engine import ConfigError

M, N = 4000, 500  # the measured step's size: the 2-D nets' subsample and parameter count
REPEATS = 5
DAMPING_QRS = 1.2  # trial dampings per accepted step, as priced in auto_chain.step_flops
STEP_OVERHEAD = 1.6  # a whole LM iteration over its QRs (see the module docstring)
THREAD_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
FORMAT = 1  # of the cache file


def cache_path() -> Path:
    return Path(os.environ.get("PREC_SPEED_CACHE", Path.home() / ".cache" / "prec" / "machine_speed.json"))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What the figure depends on: the cache key's fields."""
    return {"host": platform.node(), "cpu": _cpu_name(), "cores": os.cpu_count(),
            "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
            "jax": jax.__version__, "threads": {k: os.environ.get(k) for k in THREAD_SETTINGS}}


def _key(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def measure(m: int = M, n: int = N, repeats: int = REPEATS) -> dict:
    """Time the step's QRs now (a few seconds on an idle machine) and return the figure with how it was measured
    (``m``, ``n``, ``repeats``: smaller for a quick check; the cached figure always uses the defaults)."""
    from precision_jax.engine.auto_chain import step_cost

    qr = jax.jit(lambda a: jnp.linalg.qr(a, mode="r"))
    rng = np.random.default_rng(0)
    shapes = {"step": (m, n + 1), "damping": (2 * n, n + 1)}
    best = {}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    for name, shape in shapes.items():
        a = jnp.asarray(rng.standard_normal(shape))
        qr(a).block_until_ready()  # compile and warm up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            qr(a).block_until_ready()
            times.append(time.perf_counter() - t0)
        best[name] = min(times)
    seconds = (best["step"] + DAMPING_QRS * best["damping"]) * STEP_OVERHEAD
    # The load average says whether other work shared the cores: a figure measured on a busy machine is low.
    return {"units_per_second": step_cost(m, n) / seconds, "method": "qr-timing",
            "how": f"fastest of {repeats} jitted QRs of {m}x{n + 1} and {2 * n}x{n + 1} float64 matrices, "
                   f"(t_step + {DAMPING_QRS}·t_damping)·{STEP_OVERHEAD} priced as step_cost({m}, {n})",
            "qr_seconds": best, "load_average_1min": load,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == FORMAT else {}


def machine_speed() -> dict:
    """The figure for this machine: ``PREC_MACHINE_SPEED``, else the cached measurement, else measured now and
    cached. A dict with ``units_per_second``, ``method``, ``how`` and ``machine``."""
    fields = machine()
    fixed = os.environ.get("PREC_MACHINE_SPEED")
    if fixed:
        try:
            value = float(fixed)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and value > 0):
            raise ConfigError(f"expected a number of cost units per second > 0 such as 4e10, got {fixed!r}",
                              "PREC_MACHINE_SPEED")
        return {"units_per_second": value, "method": "PREC_MACHINE_SPEED",
                "how": "fixed by the PREC_MACHINE_SPEED environment variable", "machine": fields}
    path = cache_path()
    cached = _read(path)
    key = _key(fields)
    entry = cached.get("machines", {}).get(key)
    if isinstance(entry, dict) and entry.get("units_per_second", 0) > 0:
        return {**entry, "machine": fields, "cache": str(path)}
    entry = measure()
    _store(path, cached, key, {**entry, "machine": fields})
    return {**entry, "machine": fields, "cache": str(path)}


def _store(path: Path, cached: dict, key: str, entry: dict) -> None:
    """Add ``entry`` to the cache file, written whole under a temporary name and renamed. A file there that is
    not this cache (unreadable, another format) is left as it is: the figure is then measured again next time."""
    if path.exists() and not cached:
        return
    data = {"format": FORMAT, "machines": {**cached.get("machines", {}), key: entry}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    except OSError:
        return  # a read-only home: the figure is used, not cached
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)  # our own temporary file
