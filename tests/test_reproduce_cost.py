"""The `prec reproduce --list` cost model: a pure function of the plan and its constants, and a calibration that
recovers the constants behind a store's recorded times."""

import json
import math

import numpy as np
import pytest
import yaml

from precision_jax import models
from precision_jax.analysis.reproduce import cost, runner, spec
from precision_jax.config.engine import ConfigError, to_dict
from precision_jax.experiment import build_config
from precision_jax.runs import store
from precision_jax.runs import sweep as sw

PLANTED = {"group": 6.0, "stage": 2.0, "eval": 3.0e-9, "interp": 0.5, "interp_cell": 2.0e-6,
           "interp_point": 4.0e-5, "step": 1.0e-4, "unit:adam": 2.0e-9, "unit:bfgs": 4.0e-9}


def planted_model(**changes) -> cost.CostModel:
    return cost.CostModel(dict(PLANTED, **changes), {"bfgs": 0.5}, figure=30.0, machine="test")


def test_the_estimate_is_a_pure_function_of_the_plan_and_the_constants(tmp_path):
    plan = runner.plan_figure(spec.load_figure("6"), "reduced", tmp_path / "nowhere")
    model = planted_model()
    first = cost.estimate_seconds(plan, model)
    assert first == cost.estimate_seconds(plan, model)
    assert not (tmp_path / "nowhere").exists()  # reads no store and writes nothing
    # linear in the constants: doubling every one doubles the estimate
    doubled = cost.CostModel({k: 2 * v for k, v in PLANTED.items()}, model.used, 2 * model.figure)
    assert cost.estimate_seconds(plan, doubled) == pytest.approx(2 * first, rel=1e-12)
    # and each feature is priced by its own constant: dearer Adam work costs exactly its share more
    groups = cost.plan_features(plan, model)
    adam_work = sum(g.get("unit:adam", 0.0) for g in groups)
    assert adam_work > 0
    dearer = planted_model(**{"unit:adam": PLANTED["unit:adam"] + 1e-9})
    assert cost.estimate_seconds(plan, dearer) - first == pytest.approx(1e-9 * adam_work, rel=1e-9)


def test_more_seeds_or_steps_cost_more_and_the_runner_uses_the_stores_constants(tmp_path):
    fs = spec.load_figure("A4")
    reduced = runner.plan_figure(fs, "reduced", tmp_path)
    paper = runner.plan_figure(fs, "paper", tmp_path)
    assert cost.estimate_seconds(paper) > cost.estimate_seconds(reduced)
    assert runner.estimate_seconds(reduced) == cost.estimate_seconds(reduced, cost.DEFAULT)
    cost.save(tmp_path, planted_model())
    assert runner.estimate_seconds(reduced) == pytest.approx(cost.estimate_seconds(reduced, planted_model()))


def test_a_kind_never_calibrated_is_priced_per_work_unit_as_bfgs():
    model = planted_model()
    assert model.rate("unit:lm") == PLANTED["unit:bfgs"]
    without_bfgs = cost.CostModel({"unit:adam": 1.0, "unit:lcs": 3.0})
    assert without_bfgs.rate("unit:lm") == 3.0  # else the dearest kind seen: an estimate errs high


def _config(kind: str, steps: int, width: int, points: int, log_every: int = 100) -> dict:
    stage = {"kind": kind, "lr": 1e-3, "steps": steps} if kind == "adam" else {"kind": kind, "maxiter": steps}
    return {"name": "cal", "target": {"equation": "Z.001"},
            "data": {"train_points": points, "test_points": 500},
            "model": {"kind": "mlp", "depth": 3, "width": width, "activation": "tanh"},
            "train": [stage], "output": {"log_every": log_every}}


def _write_run(root, name: str, data: dict, stage_rows: list[dict], seeds: int, seconds: float, d: int = 1):
    cfg = build_config(data)
    folder = root / name
    folder.mkdir(parents=True)
    (folder / store.CONFIG_FILE).write_text(yaml.safe_dump(to_dict(cfg)))
    n = models.parameter_count(cfg.model, d)
    summary = store.Summary(
        name=name, seed=0, status="complete",
        target=store.TargetInfo("Z.001", d, ("x",), (-1.0,), (1.0,)), model="mlp", N=n,
        D=cfg.data.train_points, n_test=cfg.data.test_points, metrics={}, stages=stage_rows,
        wall_seconds=seconds, numerics={}, batch={"seeds": seeds, "group_wall_seconds": seconds * seeds})
    (folder / store.SUMMARY_FILE).write_text(json.dumps(summary.to_json()))


def test_calibration_from_a_synthetic_store_recovers_the_planted_constants(tmp_path):
    """Runs whose recorded times are the model's prices with known constants give those constants back."""
    truth = planted_model()
    rng = np.random.default_rng(0)
    for i in range(24):
        kind = ("adam", "bfgs")[i % 2]
        width, points, seeds = int(rng.integers(5, 60)), int(rng.integers(200, 20000)), int(rng.integers(1, 5))
        limit = int(rng.integers(200, 5000))
        steps = limit if kind == "adam" else limit // 2  # BFGS stops half way: the planted share of its limit
        data = _config(kind, limit, width, points, log_every=int(rng.choice([50, 100, 250])))
        cfg = build_config(data)
        n = models.parameter_count(cfg.model, 1)
        st = cfg.train[0]
        features = cost.group_features([cost.StageRun(kind, steps, st.iteration_work(n, st.fitted_points(points)))],
                                       seeds, n, points, 500, cfg.output.log_every)
        seconds = cost.price(features, truth) / seeds
        _write_run(tmp_path, f"run{i}", data, [{"round": 0, "stage": 0, "kind": kind, "steps": steps,
                                                "seconds": seconds * seeds}], seeds, seconds)
    fitted = cost.calibrate(tmp_path, machine="synthetic")
    assert fitted.runs == 24 and fitted.machine == "synthetic"
    for name in ("group", "stage", "step", "unit:adam", "unit:bfgs", "eval"):
        if name == "stage":  # one stage per group: c_group + c_stage is what the store determines
            assert fitted.seconds["group"] + fitted.seconds["stage"] == pytest.approx(8.0, rel=1e-6)
            continue
        if name == "group":
            continue
        assert fitted.seconds[name] == pytest.approx(PLANTED[name], rel=1e-5), name
    assert fitted.used["bfgs"] == pytest.approx(0.5, abs=0.01)
    # constants no run exercised keep the defaults
    assert fitted.seconds["interp_cell"] == cost.DEFAULT.seconds["interp_cell"]


def test_a_run_name_whose_stage_stops_early_every_time_is_priced_at_its_own_share(tmp_path):
    """A BFGS that stops on its line search at a quarter of its limit, run after run, is priced at a quarter; a
    name near its kind's share adds no entry; the kind's share is still the median over every run."""
    shares = {"early": 0.25, "usual": 0.9, "full": 1.0}
    for i, (name, share) in enumerate([(n, s) for n, s in shares.items() for _ in range(3)]):
        data = {**_config("bfgs", 1000, 10, 500, log_every=100), "name": name}
        steps = int(1000 * share)
        _write_run(tmp_path, f"run{i}", data, [{"round": 0, "stage": 0, "kind": "bfgs", "steps": steps,
                                                "seconds": 1.0 + steps * 1e-3}], 1, 1.0 + steps * 1e-3)
    fitted = cost.calibrate(tmp_path, machine="synthetic")
    assert fitted.used["bfgs"] == pytest.approx(0.9)
    assert fitted.used["bfgs@early"] == pytest.approx(0.25)
    assert "bfgs@usual" not in fitted.used and "bfgs@full" not in fitted.used
    assert (fitted.share("bfgs", "early"), fitted.share("bfgs", "full"), fitted.share("adam", "early")) == \
        (pytest.approx(0.25), pytest.approx(0.9), 1.0)
    # Planned, the early name's BFGS is priced at a quarter of its limit's iterations.
    for name, share in (("early", 0.25), ("full", 0.9)):
        cfg = build_config({**_config("bfgs", 1000, 10, 500, log_every=100), "name": name})
        run = sw.SweepRun(0, {}, cfg, store.run_id(cfg))
        [features] = cost.seed_group_features([run], fitted)
        assert features["step"] == pytest.approx(1000 * share)


def test_fit_recovers_interpolant_constants_and_weighs_short_runs_in_seconds():
    truth = planted_model()
    rows = [cost.interp_features("simplex", D, 1000, d) for D in (64, 256, 1024, 4096) for d in (2, 3, 4)]
    rows += [cost.interp_features("spline", D, 1000, 1) for D in (100, 10000, 1000000)]
    seconds = [cost.price(r, truth) for r in rows]
    fitted = cost.fit(rows, seconds)
    for name in ("interp", "interp_cell", "interp_point"):
        assert fitted.seconds[name] == pytest.approx(PLANTED[name], rel=1e-5), name
    assert cost.interp_features("spline", 10, 10, 3)["interp_cell"] == 0.0  # no triangulation on a grid


def test_the_cost_file_round_trips_and_a_foreign_file_is_never_replaced(tmp_path):
    path = cost.save(tmp_path, planted_model())
    assert cost.load(tmp_path) == cost.CostModel(PLANTED, {"bfgs": 0.5}, 30.0, "test", 0)
    cost.save(tmp_path, planted_model(group=7.0))  # ours: replaced
    assert cost.load(tmp_path).seconds["group"] == 7.0
    path.write_text(json.dumps({"seconds": {"group": 1.0}}))  # someone else's file of that name
    with pytest.raises(ConfigError, match="not written by prec"):
        cost.save(tmp_path, planted_model())
    assert json.loads(path.read_text()) == {"seconds": {"group": 1.0}}
    path.write_text(json.dumps({"seconds": {"group": -1.0}}))
    with pytest.raises(ConfigError):
        cost.load(tmp_path)


def test_an_empty_store_cannot_be_calibrated(tmp_path):
    with pytest.raises(ConfigError, match="no complete runs"):
        cost.calibrate(tmp_path)


def test_every_shipped_figure_has_a_finite_estimate_per_profile(tmp_path):
    for figure in spec.list_figures():
        fs = spec.load_figure(figure)
        for profile in spec.PROFILES:
            seconds = cost.estimate_seconds(runner.plan_figure(fs, profile, tmp_path))
            assert math.isfinite(seconds) and seconds > 0, (figure, profile)
