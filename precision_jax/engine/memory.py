"""Will the run fit in memory? Estimates checked before any data are drawn or anything compiled.

A run's peak memory is its data arrays plus the largest stage's working set.
Data: training and test inputs and outputs in float64, kept about three times
over (the drawn points, the standardized copy, the seeds' stacked problems).
A stage's working set is its own estimate (``Stage.memory_bytes``: N×N
matrices for dense BFGS, LM's QR factor and Jacobian chunks, LCS's Hessian),
times the number of seeds trained together, since every seed's state is kept.
The estimates are deliberately rough (within a factor of about two); they exist
to refuse a run that cannot fit, in seconds, instead of failing after minutes.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from precision_jax.config.engine import ConfigError

GIB = 2**30


def available_bytes() -> int:
    """Memory the machine can give a new process now (``MemAvailable``; total memory if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def describe_bytes(n: float) -> str:
    return f"{n / GIB:.1f} GB" if n >= 0.1 * GIB else f"{n / 2**20:.0f} MB"


def data_bytes(n_train: int, n_test: int, d: int, seeds: int = 1) -> int:
    return 8 * 3 * (int(n_train) + int(n_test)) * (int(d) + 1) * int(seeds)


def check_memory(needs: int, where: str, what: str, limit: Optional[int] = None) -> None:
    """Refuse (ConfigError at ``where``) when ``needs`` bytes exceed ``limit`` (default: what is available)."""
    limit = available_bytes() if limit is None else int(limit)
    if needs > limit:
        raise ConfigError(f"{what}needs ~{describe_bytes(needs)}, {describe_bytes(limit)} available "
                          f"(--max-memory GB overrides)", where)


def check_run_memory(n_train: int, n_test: int, d: int, chains: Sequence[tuple[str, Sequence]], seeds: int = 1,
                     limit: Optional[int] = None) -> int:
    """Check the data and every stage of ``chains`` (``(prefix, stages)`` pairs); returns the peak estimate.

    The data are checked first, on their own key (``data.train_points`` or
    ``data.test_points``, whichever dominates), then each stage with its
    position and kind, e.g. ``train.1 (bfgs): needs ~9.8 GB, 7.1 GB available``.
    """
    data = data_bytes(n_train, n_test, d, seeds)
    key = "data.train_points" if n_train >= n_test else "data.test_points"
    check_memory(data, key, f"{n_train} training and {n_test} test points in {d}-D ", limit)
    peak = data
    for prefix, stages in chains:
        for i, stage in enumerate(stages):
            needs = data + seeds * int(stage.memory_bytes(n_train))
            check_memory(needs, f"{prefix}.{i}", f"({stage.kind}) ", limit)
            peak = max(peak, needs)
    return peak
