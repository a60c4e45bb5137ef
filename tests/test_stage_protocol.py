"""The stage protocol: a stage is one iteration and its kind's facts; the driver owns the chunked loop."""

from __future__ import annotations

import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from precision_jax.engine import driver
from precision_jax.engine.stages import STAGE_KINDS, build_stage
from precision_jax.engine.stages.base import MAX_STEPS, RUNNING, Problem, StageBase
from precision_jax.engine.stages.lcs import LCSConfig
from precision_jax.engine.stages.lm import LMConfig


def line(theta, x):
    """A linear model: N = 3 parameters on 2 inputs."""
    return x @ theta[:2] + theta[2]


def problem(n=40, seed=0) -> Problem:
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.uniform(-1, 1, (n, 2)))
    y = jnp.sin(x[:, 0]) + 0.5 * x[:, 1]
    return Problem(x, y, x, y, jax.random.PRNGKey(seed))


@pytest.mark.parametrize("kind", sorted(STAGE_KINDS))
def test_every_stage_kind_owns_its_facts(kind):
    cls = STAGE_KINDS[kind]
    cfg = cls()
    assert cls.display_name and re.fullmatch(r"#[0-9a-f]{6}", cls.shade)
    stage = build_stage(cfg, line, 3)
    assert stage.kind == kind and stage.loop in ("while", "scan")
    assert stage.max_steps == cfg.iterations() >= 1
    assert stage.memory_bytes(1000) > stage.memory_bytes(10) > 0
    # The cost estimate grows with the parameters and (up to a subsample) with the points.
    assert 0 < cfg.work(3, 100) <= cfg.work(3, 1000) and cfg.work(3, 100) < cfg.work(30, 100)
    assert cls.id_neutral_keys({}) == ()


def test_stage_kinds_leave_their_own_neutral_keys_out_of_run_ids():
    assert LMConfig.id_neutral_keys({"kind": "lm", "solver": "qr"}) == ("cg_maxiter", "cg_tol", "cg_forcing")
    assert LMConfig.id_neutral_keys({"kind": "lm", "solver": "normal"}) == ("cg_maxiter", "cg_tol", "cg_forcing")
    assert LMConfig.id_neutral_keys({"kind": "lm", "solver": "cg"}) == ()
    assert LMConfig.id_neutral_keys({"kind": "lm", "solver": "cg", "cg_forcing": "fixed"}) == ("cg_forcing",)
    assert LCSConfig.id_neutral_keys({"kind": "lcs", "solver": "dense"}) == ("solver", "lanczos_steps")
    assert LCSConfig.id_neutral_keys({"kind": "lcs", "solver": "lanczos"}) == ()


@pytest.mark.parametrize("kind", ["adam", "heavy_ball", "bfgs", "lbfgs", "lm"])
def test_a_stage_step_is_one_iteration(kind):
    stage = build_stage(STAGE_KINDS[kind](), line, 3)
    p = problem()
    state = stage.init(p, jnp.zeros(3))
    assert int(stage.result(state).steps) == 0
    state = jax.jit(stage.step)(state, p)
    assert int(stage.result(state).steps) == 1


class CountState(NamedTuple):
    theta: jax.Array
    iteration: jax.Array
    status: jax.Array
    calls: jax.Array  # steps called, including those on a stopped state


class Counter(StageBase):
    """A stage that only counts: ``limit`` iterations, then MAX_STEPS."""

    kind = "counter"

    def __init__(self, limit: int, loop: str):
        self.limit, self.loop = limit, loop

    @property
    def max_steps(self) -> int:
        return self.limit

    def init(self, problem, theta):
        zero = jnp.zeros((), jnp.int64)
        return CountState(theta, zero, jnp.asarray(RUNNING, jnp.int64), zero)

    def step(self, state, problem):
        running = state.status == RUNNING
        iteration = state.iteration + running.astype(jnp.int64)
        status = jnp.where(running & (iteration >= self.limit), MAX_STEPS, state.status)
        return CountState(state.theta, iteration, status, state.calls + 1)


@pytest.mark.parametrize("loop", ["while", "scan"])
def test_the_driver_runs_chunks_of_log_every_steps_up_to_the_stage_end(loop):
    stage, p = Counter(10, loop), problem()
    advance = jax.jit(driver.chunk(stage, 4))
    state = stage.init(p, jnp.zeros(3))
    counts = []
    while not bool(stage.terminate(state)[0]):
        state = advance(state, p)
        counts.append((int(state.iteration), int(state.calls)))
    assert [c[0] for c in counts] == [4, 8, 10]
    # A while loop stops at the stage's end; a scan runs its chunk out (min(log_every, max_steps) calls) and the
    # stopped stage's step leaves the state as it is.
    assert [c[1] for c in counts] == ([4, 8, 10] if loop == "while" else [4, 8, 12])


def test_a_scan_chunk_is_never_longer_than_the_stage():
    stage, p = Counter(3, "scan"), problem()
    state = jax.jit(driver.chunk(stage, 100))(stage.init(p, jnp.zeros(3)), p)
    assert int(state.iteration) == 3 and int(state.calls) == 3


def test_an_unknown_loop_is_refused():
    with pytest.raises(ValueError, match="loop"):
        driver.chunk(Counter(3, "for"), 5)
