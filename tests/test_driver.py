"""The one driver: every stage kind runs alone or in a batch of seeds with the same numbers; chains hand over."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from precision_jax.engine import driver
from precision_jax.engine.stages import STAGE_KINDS
from precision_jax.experiment import build_config
from precision_jax.numerics.random_keys import run_keys
from precision_jax.runs.plan import resolve_target
from precision_jax.runs.training import run_data, run_experiment, run_seed_group

TINY = {
    "name": "tiny_driver",
    "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 200, "test_points": 200, "test_compactification": 1.0},
    "model": {"kind": "mlp", "depth": 3, "width": 6, "activation": "tanh"},
    "output": {"log_every": 7},
}

# One short chain per stage kind (Adam first where a kind needs a reasonable start).
CHAINS = {
    "adam": [{"kind": "adam", "lr": 1e-2, "steps": 40, "batch_size": 64}],
    "bfgs": [{"kind": "bfgs", "maxiter": 30, "subsample": 120, "focus": 0.25}],
    "lbfgs": [{"kind": "lbfgs", "maxiter": 30}],
    "rescale": [{"kind": "adam", "steps": 10}, {"kind": "rescale", "factor": 1e4, "maxiter": 20}],
    "lm": [{"kind": "lm", "maxiter": 15, "subsample": 150}],
    "lcs": [{"kind": "adam", "lr": 1e-2, "steps": 20}, {"kind": "lcs", "steps": 3, "tau": 1e-4, "subsample": 100}],
    "heavy_ball": [{"kind": "heavy_ball", "lr": 0.05, "momentum": 0.8, "steps": 30}],
    # The matrix-free solvers of the second-order stages (issue 14).
    "lm_cg": [{"kind": "lm", "solver": "cg", "maxiter": 10, "subsample": 150}],
    "lcs_lanczos": [{"kind": "adam", "lr": 1e-2, "steps": 20},
                    {"kind": "lcs", "solver": "lanczos", "steps": 3, "tau": 1e-4, "subsample": 100,
                     "lanczos_steps": 30}],
}


def config(chain, seed=0, **extra):
    data = copy.deepcopy(TINY)
    data.update(train=chain, seed=seed, **extra)
    return build_config(data)


def test_every_registered_stage_kind_is_covered():
    assert set(STAGE_KINDS) == {chain[-1]["kind"] for chain in CHAINS.values()}


@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_a_batch_of_three_seeds_equals_three_separate_runs(kind):
    configs = [config(CHAINS[kind], seed=s) for s in (0, 1, 2)]
    batch = run_seed_group(configs)
    for cfg, together in zip(configs, batch):
        alone = run_experiment(cfg)
        assert together.summary.metrics == alone.summary.metrics
        np.testing.assert_array_equal(together.parts[0].arrays["theta"], alone.parts[0].arrays["theta"])
        assert [(p.stage, p.step, p.train_rmse) for p in together.curve] == \
               [(p.stage, p.step, p.train_rmse) for p in alone.curve]
        assert [s["stop_reason"] for s in together.summary.stages] == [s["stop_reason"] for s in alone.summary.stages]
    # The seeds are different runs, not copies of one.
    assert len({r.summary.metrics["test_rmse"] for r in batch}) == 3


def test_boosting_rounds_batch_like_single_runs_and_lower_the_error():
    boost = {"rounds": 2, "normalize": "rms", "train": [{"kind": "lm", "maxiter": 10, "subsample": 150}]}
    configs = [config([{"kind": "lm", "maxiter": 10}], seed=s, boost=boost) for s in (0, 1, 2)]
    batch = run_seed_group(configs)
    for cfg, together in zip(configs, batch):
        alone = run_experiment(cfg)
        assert together.summary.metrics == alone.summary.metrics
        assert len(together.parts) == len(alone.parts)
    record = batch[0]
    rows = record.summary.boost["rows"]
    assert rows and rows[0]["train_rmse"] < rows[0]["train_rmse_before"]
    assert [p.round for p in record.curve][0] == 0 and max(p.round for p in record.curve) >= 1
    # Round models are fitted to the scaled residual: coefficients are the residual scales, far below 1.
    assert all(0 < part.coefficient < 1e-2 for part in record.parts[1:])


def test_heavy_ball_written_only_against_the_protocol_trains():
    record = run_experiment(config(CHAINS["heavy_ball"]))
    stage = record.summary.stages[0]
    assert stage["kind"] == "heavy_ball" and stage["steps"] == 30 and stage["stop_reason"] == "max_steps"
    first, last = record.curve[0], record.curve[-1]
    assert last.train_rmse < first.train_rmse
    # log_every = 7: curve points at 0, 7, 14, 21, 28 and the last step.
    assert [p.step for p in record.curve] == [0, 7, 14, 21, 28, 30]


def test_each_stage_starts_from_the_previous_best_and_the_run_reports_the_chain_best():
    record = run_experiment(config([{"kind": "adam", "lr": 1e-2, "steps": 30}, {"kind": "bfgs", "maxiter": 40}]))
    adam_points = [p for p in record.curve if p.stage == 0]
    bfgs_points = [p for p in record.curve if p.stage == 1]
    assert bfgs_points[0].train_rmse == min(p.train_rmse for p in adam_points)
    best = min(p.train_rmse for p in record.curve)
    assert record.summary.metrics["train_rmse"] == pytest.approx(best, rel=1e-12)


def test_a_stage_that_cannot_run_the_model_is_refused_naming_its_position():
    from precision_jax.config.engine import ConfigError

    cfg = config([{"kind": "adam", "steps": 5}, {"kind": "lm", "max_params": 10}])
    with pytest.raises(ConfigError, match=r"train\.1\.max_params: \(lm\)"):
        run_experiment(cfg)


def test_nets_and_interpolants_with_one_seed_draw_the_same_points():
    net = config([{"kind": "adam", "steps": 1}], seed=4)
    simplex = build_config({**copy.deepcopy(TINY), "seed": 4, "model": {"kind": "simplex"}})
    target = resolve_target(net)
    a = run_data(net, target, 0)
    b = run_data(simplex, target, 0, standardize=False)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    keys = run_keys(4)
    assert not np.array_equal(keys.round_init(1), keys.round_init(2))
    assert not np.array_equal(keys.round_subsets(1), keys.subsets)


def test_compiled_programs_are_reused_across_seed_groups_and_rounds():
    cfg = config(CHAINS["adam"])
    run_experiment(cfg)
    count = len(driver._PROGRAMS)
    run_experiment(config(CHAINS["adam"], seed=5))
    assert len(driver._PROGRAMS) == count


def test_each_stage_is_compiled_before_its_first_step_and_says_so():
    # A learning rate no other test uses, so the programs are not in the process's cache yet.
    chain = [{"kind": "adam", "lr": 0.0123, "steps": 14}, {"kind": "lm", "maxiter": 5, "damping": 1.23e-7}]
    events = []
    record = run_experiment(config(chain, output={"log_every": 7}), on_log=events.append, on_compile=events.append)
    compiling = [e for e in events if isinstance(e, driver.Compiling)]
    assert compiling[0] == driver.Compiling(0, 0, "adam") and compiling[0].label() == "train.0 (adam)"
    first_point = next(i for i, e in enumerate(events) if not isinstance(e, driver.Compiling))
    assert events.index(compiling[0]) < first_point  # the display says "compiling" before any step is shown
    # Stage 1 was compiled in the background during stage 0 (or, if stage 0 was too short, when it was reached):
    # either way its compile time is measured and part of the stage's time.
    rows = record.summary.stages
    assert rows[0]["compile_seconds"] > 0 and rows[1]["compile_seconds"] > 0
    # Run again: everything is compiled, nothing is announced.
    again = []
    run_experiment(config(chain, output={"log_every": 7}), on_log=again.append, on_compile=again.append)
    assert not any(isinstance(e, driver.Compiling) for e in again)
