"""What the guide weighs and what it answers: a :class:`Candidate` method and the :class:`Recommendation`.

Plain data, shared by the rules (:mod:`~precision_jax.analysis.guide.recommendation`), the config writer
(:mod:`~precision_jax.analysis.guide.config_writer`) and the probes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

__all__ = ["Candidate", "Recommendation"]


@dataclass(frozen=True)
class Candidate:
    """One method the guide weighs: its model, expected scaling and probe sizes."""

    key: str                        # chebyshev | spline | simplex | net | modular
    label: str                      # "spline order 7"
    exponent: Optional[float]       # expected slope of RMSE vs N; None: spectral (faster than any power)
    expectation: str                # "N^-8 = N^-(n+1)/d"
    model: dict                     # the probe's model section (nets: sized per probe point)
    sizes: tuple[int, ...]          # probe sizes: D for interpolants, target N for nets
    quick_sizes: tuple[int, ...]
    exponent_range: Optional[tuple[float, float]] = None  # (steepest, shallowest) when only bounds are known


@dataclass
class Recommendation:
    regime: str
    method: Candidate
    reason: str
    candidates: list[Candidate]     # what --probe fits, the recommended first
    notes: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)   # the ready-to-run config (target paths absolute)
