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
  the dense limit) for up to 800 steps on a uniform subsample; for d ≥ 2 then
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
"""

from __future__ import annotations

from precision_jax.engine.boosting import BoostConfig
from precision_jax.engine.stages.lm import LMConfig

AUTO = "auto"
VERSION = 5  # of the rule below: part of a `train: auto` run's id, so a retuned rule never reuses old runs
STEP_FLOPS = 2e9  # F: the target cost of one subsampled LM step (m·N² multiply–adds)
FULL_STEP_FLOPS = 2.5e11  # a full-data polishing step may cost up to this (D·N²)
BUDGET_FLOPS = 1.8e13  # B: all subsampled steps together, in units of step_cost
NARROW_PARAMS = 800  # N₀ in step_cost: how LAPACK's rate falls for narrow matrices
MIN_STEPS = 50
FOCUS = 0.3


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


def plan(d: int, D: int, N: int) -> tuple[tuple[LMConfig, ...], BoostConfig]:
    """The main chain and the boosting section for a d-input target, D training points, N parameters."""
    m = subsample_size(d, D, N)
    sub = None if m >= D else m  # a "subsample" of every point is just the full set
    focused = d >= 2 and sub is not None
    main_steps = [800] + ([200] * 4 if focused else [])
    round_steps = [300] + ([200] if focused else [])
    cost = lambda rounds: (sum(main_steps) + rounds * sum(round_steps)) * step_cost(m, N)  # noqa: E731
    rounds = 3 if d == 1 else 2
    if cost(rounds) > BUDGET_FLOPS:
        rounds = 1  # a plan the budget cuts spends it on the main net (see the module docstring)
    scale = min(1.0, BUDGET_FLOPS / cost(rounds))

    def lm(steps: int, focus: float = 0.0) -> LMConfig:
        return LMConfig(maxiter=max(MIN_STEPS, int(steps * scale)), subsample=sub, focus=focus, solver="auto")

    main = [lm(main_steps[0])] + [lm(n, FOCUS) for n in main_steps[1:]]
    round_chain = [lm(round_steps[0])] + [lm(n, FOCUS) for n in round_steps[1:]]
    if sub is not None and D * N * N <= FULL_STEP_FLOPS:
        round_chain.append(LMConfig(maxiter=4, solver="auto"))
    boost = BoostConfig(rounds=rounds, normalize="rms", train=tuple(round_chain))
    return tuple(main), boost
