"""What a claim's runs must satisfy before its numbers may confirm or refute it.

Each check reads the runs a claim's quantities were computed from and says whether it is met, with its numbers:

- **converged** — every trained stage of every run has stopped falling. A stage that ended for a reason other
  than its step limit (converged, no progress, a failed line search, a fit) has. One that ran to its step limit
  ``T`` has if the last ``window`` of its logged curve lowered its best training loss by less than ``factor``:
  with ``L(t) = min_{s ≤ t} train_rmse(s)²`` (the best loss so far, so minibatch noise is not progress),
  ``L(t₀) / L(T) < factor`` where ``t₀`` is the last logged step at or before ``(1 − window)·T``.
- **in range** — the sizes (``N`` or ``D``) the claim reads lie in the paper's range ``[min, max]`` for it.
- **enough sizes** — each fitted slope rests on at least ``min`` sizes.
- **asymptotic** — each slope's window starts where the local slope has settled: every local slope
  ``sᵢ = Δlog y / Δlog x`` between successive sizes of the window lies within ``tol·|α|`` of the fitted
  exponent ``α``. Curvature in log–log space (spectral convergence before the floor, a bend from one regime
  to the next) moves the local slopes apart, and the fitted number is then no one regime's exponent.
- **seeds agree** — (in :mod:`precision_jax.analysis.reproduce.claims`, which re-judges the claim per seed.)

A check that has nothing to read (no trained stage, no slope) is met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from precision_jax.analysis.figures.runs import Entry
from precision_jax.runs import store

STEP_LIMIT = "max_steps"  # the stop reason of a stage that ran out of steps (engine.stages.base.REASONS)


@dataclass(frozen=True)
class Check:
    """One precondition as judged: its report name, whether it holds, and the numbers that say so."""

    name: str
    met: bool
    detail: str

    def as_dict(self) -> dict:
        return {"name": self.name, "met": bool(self.met), "detail": self.detail}


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def stage_drop(curve: list, stage: dict, window: float) -> float:
    """``L(t₀) / L(T)`` of one stage (see the module docstring); NaN where its curve has fewer than two points."""
    points = sorted((p for p in curve if p.round == stage.get("round", 0) and p.stage == stage.get("stage", 0)),
                    key=lambda p: p.step)
    points = [p for p in points if math.isfinite(p.train_rmse)]
    if len(points) < 2:
        return math.nan
    end = points[-1].step
    before = [p for p in points if p.step <= (1.0 - window) * end]
    if not before:
        return math.nan
    best_before = min(p.train_rmse for p in before) ** 2
    best_end = min(p.train_rmse for p in points) ** 2
    return best_before / best_end if best_end > 0 else math.inf


def converged(entries: Iterable[Entry], factor: float, window: float) -> tuple[bool, str]:
    """Every stage that ran to its step limit lowered its loss by < ``factor`` over its last ``window``."""
    runs = descending = unread = 0
    worst = (1.0, "")  # the largest drop, and its stage's kind
    for entry in {str(e.path): e for e in entries}.values():
        stages = [s for s in (getattr(entry.summary, "stages", None) or []) if s.get("stop_reason") == STEP_LIMIT]
        if not stages:
            continue
        runs += 1
        try:
            curve = store.read_curve(entry.path)
        except (store.StoreError, OSError):
            unread += 1
            continue
        drops = [(stage_drop(curve, s, window), str(s.get("kind", "?"))) for s in stages]
        drops = [d for d in drops if not math.isnan(d[0])]
        descending += any(d >= factor for d, _ in drops)
        worst = max([worst] + drops, key=lambda d: d[0])
    if runs == 0:
        return True, "every stage stopped before its step limit"
    last = f"last {window:.0%}"
    if unread:
        return False, f"{unread} of {runs} runs at their step limit have no readable curve"
    if descending:
        return False, (f"{descending} of {runs} run{'s' if runs > 1 else ''} still descending ({last} of "
                       f"{worst[1]} lowered the loss {worst[0]:.2g}×, at least {factor:g}× is descending)")
    return True, (f"{runs} run{'s' if runs > 1 else ''} at the step limit, none still descending (largest drop "
                  f"over the {last}: {worst[0]:.3g}×, below {factor:g}×)")


def in_range(sizes: Iterable[float], x: str, lo, hi) -> tuple[bool, str]:
    """Every size read lies in the paper's ``[lo, hi]`` (a bound of None is open)."""
    sizes = sorted({float(s) for s in sizes if math.isfinite(s)})
    span = f"[{_fmt(lo) if lo is not None else '…'}, {_fmt(hi) if hi is not None else '…'}]"
    if not sizes:
        return False, f"no sizes read (the paper's {x} range {span})"
    outside = [s for s in sizes if (lo is not None and s < lo) or (hi is not None and s > hi)]
    ours = f"{x} {_fmt(sizes[0])}…{_fmt(sizes[-1])}" if len(sizes) > 1 else f"{x} {_fmt(sizes[0])}"
    if outside:
        return False, f"{ours}: {len(outside)} of {len(sizes)} sizes outside the paper's range {span}"
    return True, f"{ours} within the paper's range {span}"


def enough_sizes(windows: list[np.ndarray], least: int) -> tuple[bool, str]:
    """Each slope's window holds at least ``least`` sizes."""
    counts = [int(np.unique(w).size) for w in windows]
    if not counts:
        return False, "no slope was fitted"
    short = [c for c in counts if c < least]
    text = " and ".join(str(c) for c in counts)
    if short:
        return False, f"a slope rests on {min(short)} sizes (at least {least} needed; fitted on {text})"
    return True, f"slopes fitted on {text} sizes (at least {least})"


def local_slopes(sizes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``Δlog y / Δlog x`` between successive sizes."""
    return np.diff(np.log(values)) / np.diff(np.log(sizes))


def asymptotic(fits: list[tuple[np.ndarray, np.ndarray, float]], tol: float) -> tuple[bool, str]:
    """Every local slope of each window lies within ``tol·|α|`` of the window's fitted ``α``."""
    parts, met = [], True
    for sizes, values, alpha in fits:
        local = local_slopes(sizes, values)
        band = tol * abs(alpha)
        worst = float(np.max(np.abs(local - alpha))) if local.size else 0.0
        settled = worst <= band
        met &= settled
        parts.append(f"local slopes {', '.join(f'{s:.3g}' for s in local)} vs fitted {alpha:.3g} "
                     f"(±{tol:.0%} = ±{band:.2g}){'' if settled else ': not settled'}")
    return met, "; ".join(parts)
