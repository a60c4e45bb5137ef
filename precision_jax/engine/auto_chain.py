"""``train: auto``: one precision chain whose sizes follow from the task, with no per-task tuning.

Given the target's dimension d, the number of training points D and the
model's parameter count N, :func:`plan` writes out the chain that the
hand-tuned configs in ``configs/precision/`` converged on, with each size a
rule instead of a number:

- **Subsample** m = min(D, max(3N, m_d), max(3N, F/N²)), m_1 = 1,500 and
  m_d = 2,000·d for d ≥ 2, F = 2·10⁹. Levenberg–Marquardt fits m of the D
  points per stage (a fresh draw each stage): a step costs O(m N²) instead of
  O(D N²). At least 3N points keep the Gauss–Newton system overdetermined; a
  smooth target in d dimensions needs more points to be pinned down between
  them (1,500 suffice in 1-D; in 2-D 4,000 were 50× better than 1,500, as a
  uniform subsample leaves the box's edges thin); F/N² caps a step near
  2 GFlop so that a large net still takes hundreds of steps in minutes.
- **Main chain**: LM (geodesic acceleration, QR solver; matrix-free CG above
  the dense limit, each solve only as accurate as the step's progress warrants:
  ``cg_forcing: eisenstat_walker``) for up to 800 steps on a uniform subsample; for d ≥ 2 then
  4 stages of 200 steps, each on a new subsample of which 30 % are the points
  of largest |residual| (``focus``), where the error of a subsampled fit
  gathers.
- **Boosting**: R = 3 rounds in 1-D, 2 for d ≥ 2 (each round is a fresh net
  fitted to the residual scaled to unit RMS; a round that does not lower the
  training RMSE ends the boosting), each with LM for 300 steps on a subsample
  (plus one focused stage of 200 for d ≥ 2), then 4 LM steps on all D points
  when a full step is affordable (D N² ≤ 2.5·10¹¹, ~10 s on 2 cores): they
  fix what a subsample leaves, e.g. the error near the ends of a 1-D interval,
  or a residual net's overfit of 3N points in 6-D.

- **Budget**: a subsampled LM step does F(m, N) = 2mN² + 4N³ flops (the QR
  of the m×(N+1) matrix [J | r], and ~1.2 trial dampings of ~3.3N³ each: see
  :mod:`precision_jax.engine.stages.lm`), and LAPACK's QR runs these flops slower
  the narrower the matrix, so a step is priced at c(m, N) = F(m, N)·(1 + N₀/N)
  with N₀ = 800 (fitted to the 6-D nets' steps on the 2-core development
  machine: 16.5 GFlop/s at N = 581, 22 at N = 1,015, ~14 at N ≈ 500, i.e.
  ~40·10⁹ units of c per second for every N). When the planned steps would
  cost more than B = 1.8·10¹³ (~7.5 minutes of LM there), the plan keeps one
  boosting round instead of 2 or 3 (when steps are scarce, the main net's
  steps are worth more: on I.11.19's modular net a second round gained 1.5×
  for 150 steps, the main chain's last 62 steps 1.5× too, and the first round
  ~300×) and every stage's step count is scaled down by the same factor (at
  least 50 steps). The 1-D and 2-D plans are not cut.

Every LM stage stops early when it stops making progress, so the step counts
are ceilings. The plan is a pure function of (d, D, N) and of :data:`VERSION`:
a config with ``train: auto`` means the same computation everywhere, its run
id is that of the config as written plus the rule's version (bump it whenever
a constant or rule here changes), and the run's summary records the chain it
ran (``summary.chain``).

**A time budget** (``train: {auto: {budget: 30m, goal: 1e-12}}``,
:func:`budgeted_plan`) replaces B by what the budget T buys: B_T = 0.9·T·u,
u the machine's speed in units of c per second
(:mod:`precision_jax.engine.machine_speed`, measured once per machine; the
other 10 % is left for compiling, drawing the data and the curve points). Here
a round's price includes its full-data steps, c(D, N) each. With R₀ the base
rounds (3 or 2) and C₀ the base plan's price:

- B_T ≤ C₀: the base rule with B_T for B (one round if R₀ do not fit; every
  stage scaled down together, at least 50 steps);
- B_T > C₀: the excess E = B_T − C₀ goes 3/4 to more boosting rounds (at most
  R_max = 12 in all) and 1/4, plus whatever the cap on rounds leaves, to more
  main-chain stages of 200 steps (focused for d ≥ 2; 25 stages at most, so a
  small net's budget may be left unspent: its stages stop early anyway), since the measured
  main nets stop at their basin's floor (``benchmarks/boost_round_fit.py``:
  ~1.1e-8 on exp(sin πx + y²), ~1.0e-6 for the dense net on I.11.19) while
  each round gains 1.5–4×.

Both the rounds and the main steps are non-decreasing in T. A **goal** is a
training RMSE (the whole training set, in the target's units; the test set
is never used to decide anything): the driver checks it at every curve point
(every ``log_every`` steps, :func:`precision_jax.engine.driver.run_chain`'s
``goal``), and a seed that reaches it ends its stage (``stop_reason: goal``),
its chain and its boosting. Budgets are turned into steps, never into a
wall-clock deadline, so a budgeted run is as reproducible as any: the same
(d, D, N, T, goal, u) is the same computation. The run records the plan, u
and how it was measured, the predicted seconds, and why it stopped
(:func:`stop_reason`): ``goal_reached``, ``budget_spent`` (every planned
round ran, the last stage to its step limit) or ``converged`` (stages or
rounds ended on their own before that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

from precision_jax.engine.boosting import BoostConfig
from precision_jax.engine.stages.lm import LMConfig

AUTO = "auto"
VERSION = 6  # of the rule below: part of a `train: auto` run's id, so a retuned rule never reuses old runs
STEP_FLOPS = 2e9  # F: the target cost of one subsampled LM step (m·N² multiply–adds)
FULL_STEP_FLOPS = 2.5e11  # a full-data polishing step may cost up to this (D·N²)
BUDGET_FLOPS = 1.8e13  # B: all subsampled steps together, in units of step_cost
NARROW_PARAMS = 800  # N₀ in step_cost: how LAPACK's rate falls for narrow matrices
MIN_STEPS = 50
FOCUS = 0.3
USABLE = 0.9  # of a time budget planned as LM steps (the rest: compiling, data, curve points)
ROUND_SHARE = 0.75  # of the units beyond the base plan spent on more boosting rounds
# Every LM stage's solver: dense QR up to max_params, matrix-free CG above it, where Eisenstat-Walker forcing
# measured better than solving every step to cg_tol (benchmarks/big_nets.py); the dense solvers never read it.
LM_SOLVER = {"solver": "auto", "cg_forcing": "eisenstat_walker"}
MAX_ROUNDS = 12
MAX_MAIN_STAGES = 25  # a main chain's stages at most (each a fresh subsample; past the basin's floor more add little)
EXTRA_STAGE = 200  # steps of each main-chain stage a budget adds
POLISH_STEPS = 4  # full-data LM steps closing each boosting round, when affordable
GOAL_ON = "train_rmse"  # what a goal is compared with (the full training set's RMSE)


def subsample_size(d: int, D: int, N: int) -> int:
    """m, the points each LM stage fits (see the module docstring)."""
    floor = 3 * N
    wanted = max(floor, 1500 if d == 1 else 2000 * d)
    affordable = max(floor, int(STEP_FLOPS // (N * N)))
    return int(min(D, wanted, affordable))


def step_flops(m: int, N: int) -> float:
    """F(m, N): the flops of one subsampled LM step (``solver: qr``) on m points with N parameters."""
    return 2.0 * m * N * N + 4.0 * N**3


def step_cost(m: int, N: int) -> float:
    """c(m, N) = F(m, N)·(1 + N₀/N): a step's price in the budget, its flops weighted by how slowly LAPACK
    runs them on an m×N matrix (see the module docstring)."""
    return step_flops(m, N) * (1.0 + NARROW_PARAMS / N)


@dataclass(frozen=True)
class _Shape:
    """The parts of a plan that follow from (d, D, N) alone, before any budget scales or grows them."""

    m: int
    sub: Optional[int]  # None: the subsample would be every point
    focused: bool
    main_steps: tuple[int, ...]
    round_steps: tuple[int, ...]
    polish: bool  # each round ends with full-data steps
    base_rounds: int

    @classmethod
    def of(cls, d: int, D: int, N: int) -> "_Shape":
        m = subsample_size(d, D, N)
        sub = None if m >= D else m  # a "subsample" of every point is just the full set
        focused = d >= 2 and sub is not None
        return cls(m, sub, focused, (800,) + ((200,) * 4 if focused else ()), (300,) + ((200,) if focused else ()),
                   sub is not None and D * N * N <= FULL_STEP_FLOPS, 3 if d == 1 else 2)

    def chain(self, main_steps: Sequence[int], rounds: int, scale: float) -> tuple[tuple[LMConfig, ...], BoostConfig]:
        def lm(steps: int, focus: float = 0.0) -> LMConfig:
            return LMConfig(maxiter=max(MIN_STEPS, int(steps * scale)), subsample=self.sub, focus=focus, **LM_SOLVER)

        focus = FOCUS if self.focused else 0.0
        main = [lm(main_steps[0])] + [lm(n, focus) for n in main_steps[1:]]
        round_chain = [lm(self.round_steps[0])] + [lm(n, FOCUS) for n in self.round_steps[1:]]
        if self.polish:
            round_chain.append(LMConfig(maxiter=POLISH_STEPS, **LM_SOLVER))
        return tuple(main), BoostConfig(rounds=rounds, normalize="rms", train=tuple(round_chain))


def plan(d: int, D: int, N: int) -> tuple[tuple[LMConfig, ...], BoostConfig]:
    """The main chain and the boosting section for a d-input target, D training points, N parameters."""
    shape = _Shape.of(d, D, N)
    cost = lambda rounds: (sum(shape.main_steps) + rounds * sum(shape.round_steps)) * step_cost(shape.m, N)  # noqa: E731
    rounds = shape.base_rounds
    if cost(rounds) > BUDGET_FLOPS:
        rounds = 1  # a plan the budget cuts spends it on the main net (see the module docstring)
    return shape.chain(shape.main_steps, rounds, min(1.0, BUDGET_FLOPS / cost(rounds)))


@dataclass(frozen=True)
class BudgetPlan:
    """A budgeted plan: the chain, the goal, and the figures behind it (``record``, for the run's summary)."""

    train: tuple[LMConfig, ...]
    boost: BoostConfig
    goal: Optional[float]
    record: dict


def budgeted_plan(d: int, D: int, N: int, budget: Optional[float], goal: Optional[float],
                  units_per_second: Optional[float]) -> BudgetPlan:
    """The plan for a wall-time ``budget`` (seconds; None: :func:`plan`'s) on a machine of speed
    ``units_per_second`` (u, see the module docstring), stopping at training RMSE ``goal`` (None: never)."""
    record = {"rule": f"{AUTO}/v{VERSION}", "budget_seconds": budget, "goal": goal, "goal_on": GOAL_ON}
    if budget is None:
        train, boost = plan(d, D, N)
        return BudgetPlan(train, boost, goal, {**record, "growth": "unbudgeted"})
    if not (units_per_second and units_per_second > 0):
        raise ValueError("a budgeted plan needs the machine's speed (units per second > 0)")
    shape = _Shape.of(d, D, N)
    c = step_cost(shape.m, N)
    polish_units = POLISH_STEPS * step_cost(D, N) if shape.polish else 0.0
    round_units = sum(shape.round_steps) * c + polish_units
    main_units = sum(shape.main_steps) * c
    units = USABLE * budget * units_per_second
    base = main_units + shape.base_rounds * round_units
    main_steps = list(shape.main_steps)
    if units <= base:
        rounds = shape.base_rounds if units >= base else 1
        # the full-data steps are not scaled: the subsampled ones share what they leave
        scale = min(1.0, max(0.0, units - rounds * polish_units) / (main_units + rounds * sum(shape.round_steps) * c))
        growth = "base" if scale == 1.0 and rounds == shape.base_rounds else "cut"
    else:
        excess = units - base
        room = MAX_ROUNDS - shape.base_rounds
        extra_rounds = min(room, math.floor(ROUND_SHARE * excess / round_units))
        rounds, scale, growth = shape.base_rounds + extra_rounds, 1.0, "grown"
        main_extra = max((1.0 - ROUND_SHARE) * excess, excess - room * round_units)
        extra_stages = min(MAX_MAIN_STAGES - len(main_steps), math.floor(main_extra / (EXTRA_STAGE * c)))
        main_steps += [EXTRA_STAGE] * extra_stages
    train, boost = shape.chain(main_steps, rounds, scale)
    planned = (sum(s.maxiter for s in train) * c
               + rounds * (sum(s.maxiter for s in boost.train if s.subsample is not None) * c + polish_units))
    return BudgetPlan(train, boost, goal, {
        **record, "growth": growth, "units_per_second": units_per_second, "planned_units": planned,
        "predicted_seconds": planned / units_per_second, "main_steps": sum(s.maxiter for s in train),
        "rounds": rounds, "subsample": shape.m})


def stop_reason(stages: Sequence[dict], rounds_planned: int, rounds_run: int, diverged: bool) -> str:
    """Why a budgeted run stopped, from its stage rows (see the module docstring)."""
    if diverged:
        return "diverged"
    if any(row.get("stop_reason") == "goal" for row in stages):
        return "goal_reached"
    if rounds_run >= rounds_planned and stages and stages[-1].get("stop_reason") == "max_steps":
        return "budget_spent"
    return "converged"
