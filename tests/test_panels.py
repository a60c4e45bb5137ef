"""The panels and measures of ``prec reproduce`` on small real runs: every kind draws, returns sensible numbers,
and survives empty series, unreadable runs and NaN."""

from __future__ import annotations

import dataclasses
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.spatial import Delaunay

from precision_jax.analysis.figures.panels import PANELS, Series
from precision_jax.analysis.figures.runs import stage_offsets
from precision_jax.analysis.reproduce import measures
from precision_jax.engine.stages.base import CurvePoint
from precision_jax.experiment import build_config
from precision_jax.runs import store, training

COS = {"formula": "cos(2*x)", "variables": {"x": [3, 6]}}
XY = {"formula": "x*y", "variables": {"x": [1, 5], "y": [1, 5]}}
ADAM = {"kind": "adam", "lr": 1e-2, "steps": 60}


def cos_net(seed: int) -> dict:
    """The paper's Fig 3 setting, shortened: 1-5-5-1 ReLU, 23 points, plus one boosting round."""
    return {"name": "cos_relu", "seed": seed, "target": COS, "data": {"train_points": 23, "test_points": 300},
            "model": {"kind": "mlp", "widths": [5, 5], "activation": "relu"}, "train": [ADAM],
            "boost": {"rounds": 1, "train": [ADAM]}, "output": {"log_every": 20}}


def simplex(target: dict, points: int, seed: int, name: str = "simplex") -> dict:
    return {"name": name, "seed": seed, "target": target, "data": {"train_points": points, "test_points": 300},
            "model": {"kind": "simplex"}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Real runs shared by the module: two boosted 1-D ReLU seeds, 1-D and 2-D simplex fits, a 2-20-20-1 ReLU net."""
    root = tmp_path_factory.mktemp("store")
    out = {"root": root}
    records = training.run_seed_group([build_config(cos_net(s)) for s in (1, 2)])
    out["cos_net"] = [store.write_run(root, r) for r in records]
    out["cos_record"] = records[0]
    out["cos_simplex"] = [store.write_run(root, training.run_experiment(build_config(simplex(COS, 23, 1))))]
    out["xy_simplex"] = [store.write_run(root, training.run_experiment(build_config(simplex(XY, 167, 0))))]
    xy_net = {"name": "xy_relu", "seed": 0, "target": XY, "data": {"train_points": 167, "test_points": 300,
                                                                     "standardize": True},
              "model": {"kind": "mlp", "widths": [20, 20], "activation": "relu"},
              "train": [{"kind": "adam", "lr": 1e-2, "steps": 20}], "output": {"log_every": 10}}
    out["xy_net"] = [store.write_run(root, training.run_experiment(build_config(xy_net)))]
    out["sizes"] = [store.write_run(root, training.run_experiment(build_config(simplex(COS, d, s, "sizes"))))
                    for d in (8, 16, 32) for s in (0, 1)]
    out["nan"] = {name: _nan_run(root / "nan", out[name][0]) for name in ("sizes", "xy_net", "cos_net")}
    return out


def draw(kind: str, series: list, options: dict | None = None, path=None, min_bytes: int = 5000):
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    result = PANELS[kind](ax, series, options or {})
    if path is not None:
        fig.savefig(path, dpi=80)
        assert path.stat().st_size > min_bytes  # a drawn PNG, not a blank canvas
    return fig, ax, result


def test_function_1d_shows_the_fit_its_training_points_and_the_target(runs, tmp_path):
    fig, ax, result = draw("function_1d", [Series("ReLU raw", runs["cos_net"][:1])], {"title": "raw"},
                           tmp_path / "f.png")
    summary = store.read_summary(runs["cos_net"][0])
    assert result["metric"]["ReLU raw"] == summary.metrics["test_rmse"]
    assert result["n_train"]["ReLU raw"] == 23 and not result["skipped"]
    assert len(ax.collections[0].get_offsets()) == 23  # the run's own training points, regenerated
    assert "raw" in ax.get_title() and f"{summary.metrics['test_rmse']:.3g}" in ax.get_title()
    assert {line.get_label() for line in ax.lines} >= {"target", "fit"}
    plt.close(fig)
    # The interpolant's points come from its stored state; two series share a panel with the RMSE in the legend.
    fig, ax, result = draw("function_1d", [Series("simplex", runs["cos_simplex"]), Series("net", runs["cos_net"])],
                           {"xlim": [4.0, 5.0]}, tmp_path / "g.png")
    assert set(result["metric"]) == {"simplex", "net"} and ax.get_xlim() == (4.0, 5.0)
    plt.close(fig)


def test_region_maps_count_linear_regions_of_a_relu_net_and_a_delaunay_mesh(runs, tmp_path):
    fig, ax, net = draw("regions_2d", [Series("ReLU", runs["xy_net"])], {"resolution": 120}, tmp_path / "n.png")
    assert net["kind"] == "net" and 1 < net["regions"]["ReLU"] < 120 * 120
    assert f"{net['regions']['ReLU']} regions" in ax.get_title()
    plt.close(fig)
    fig, ax, mesh = draw("regions_2d", [Series("simplex", runs["xy_simplex"])], {"resolution": 120},
                         tmp_path / "s.png")
    # Independently: the simplices of the fit's own mesh that the same grid hits.
    state = store.read_run(runs["xy_simplex"][0]).parts[0].arrays
    xs = np.linspace(1, 5, 120)
    gx, gy = np.meshgrid(xs, xs)
    hit = Delaunay(state["x"]).find_simplex(np.column_stack([gx.ravel(), gy.ravel()]))
    assert mesh["regions"]["simplex"] == len(np.unique(hit[hit >= 0])) <= mesh["simplices"]
    image = ax.images[0].get_array()
    assert np.allclose(image[0, 0], 1.0)  # a corner of the box is outside the hull: white
    plt.close(fig)
    assert measures.region_count(runs["xy_net"], {"resolution": 120}) == net["regions"]["ReLU"]
    assert math.isnan(measures.region_count(runs["cos_net"], {}))  # 1-D: no map, NaN, no exception


def test_learning_curves_concatenate_stages_and_boosting_rounds(runs, tmp_path):
    rows = stage_offsets(store.read_curve(runs["cos_net"][0]))
    fig, ax, one = draw("curves", [Series("chain", runs["cos_net"][:1])], {}, tmp_path / "one.png")
    stages = one["stages"]
    assert [s["round"] for s in stages] == [0, 1]  # one run: its stages shaded, the boosting round included
    assert stages[1]["start"] >= stages[0]["end"] > stages[0]["start"]
    assert max(r["total_step"] for r in rows) >= 2 * ADAM["steps"]  # the round continues the step count
    plt.close(fig)
    # Many runs coloured by a config key: one colourbar, one value per run.
    fig, ax, many = draw("curves", [Series("seeds", runs["cos_net"], {"colour_by": "seed", "log_colour": True}),
                                    Series("simplex (no curve)", runs["cos_simplex"])],
                         {"metric": "train_rmse"}, tmp_path / "many.png")
    assert many["series"]["seeds"]["colour_values"] == [1.0, 2.0] and len(fig.axes) == 2
    assert "simplex (no curve)" in many["empty"] and "stages" not in many
    assert all(v > 0 for v in many["series"]["seeds"]["final"])
    plt.close(fig)


def _tau_run(root, record, tau: float) -> str:
    """The 1-D net's θ recorded as if BFGS → LCS with threshold ``tau`` had run (a synthetic curve)."""
    data = cos_net(1)
    data.pop("boost")
    data["train"] = [ADAM, {"kind": "lcs", "steps": 3, "tau": tau}]
    cfg = build_config(data)
    curve = [CurvePoint(0, 0, "adam", s, 1e-2, 1e-2, 0.0) for s in (0, 60)] + [
        CurvePoint(0, 1, "lcs", s, 1e-3 / (1 + s * -math.log10(tau)), 1e-3 / (1 + s), 0.0) for s in range(4)]
    curve[3] = dataclasses.replace(curve[3], test_rmse=math.nan)  # a NaN point: a gap, never a crash
    summary = dataclasses.replace(record.summary, metrics=dict(record.summary.metrics))
    return store.write_run(root, store.RunRecord(cfg, summary, curve, record.parts[:1], None, None))


def test_tau_panel_colours_lcs_curves_by_their_threshold(runs, tmp_path):
    taus = [1e-6, 1e-10, 1e-15]
    tau_runs = [_tau_run(runs["root"], runs["cos_record"], t) for t in taus]
    fig, ax, result = draw("tau", [Series("LCS", tau_runs)], {}, tmp_path / "tau.png")
    series = result["series"]["LCS"]
    assert series["colour_by"] == "train.1.tau" and series["colour_values"] == taus
    assert ax.get_xlabel() == "LCS step" and ax.get_xlim() == (0.0, 3.0)  # only the LCS stage, from its start
    assert len(fig.axes) == 2 and "τ" in fig.axes[1].get_ylabel()
    plt.close(fig)


def test_hessian_spectrum_panels_and_measures_agree(runs, tmp_path):
    before = sorted(p.name for p in runs["cos_net"][0].iterdir())
    fig, ax, result = draw("hessian", [Series("ReLU", runs["cos_net"][:1])], {"threshold": 1e-10},
                           tmp_path / "h.png")
    numbers = result["hessian"]["ReLU"]
    assert numbers["n_params"] == 46 >= numbers["n_positive"] + numbers["n_negative"] and numbers["n_negative"] > 0
    for key in ("small_fraction", "negative_fraction", "gradient_top_fraction"):
        assert 0.0 <= numbers[key] <= 1.0
    assert numbers["sign_change_index"] == numbers["n_positive"]
    plt.close(fig)
    fig, ax, split = draw("hessian_split", [Series("ReLU", runs["cos_net"][:1])], {}, tmp_path / "hs.png")
    assert len(ax.child_axes) == 4 and not ax.axison  # two sub-panels, each with its |g·v| axis
    assert split["hessian"]["ReLU"]["n_negative"] == numbers["n_negative"]
    plt.close(fig)
    run = runs["cos_net"][:1]
    assert measures.hessian_small_fraction(run, {"threshold": 1e-10}) == numbers["small_fraction"]
    assert measures.hessian_negative_fraction(run, {}) == numbers["negative_fraction"]
    assert measures.gradient_top_fraction(run, {"top": 0.1}) == numbers["gradient_top_fraction"]
    assert measures.MEASURES["hessian_orders"](run, {}) == numbers["orders_of_magnitude"] > 0
    assert math.isnan(measures.hessian_small_fraction(runs["cos_simplex"], {}))  # an interpolant: no Hessian
    assert sorted(p.name for p in runs["cos_net"][0].iterdir()) == before  # run directories are never written


def test_scaling_draws_medians_with_seed_dots_bands_and_guides(runs, tmp_path):
    guides = [{"slope": -2.0, "label": "N^{-2}", "anchor": "simplex"}]
    fig, ax, result = draw("scaling", [Series("simplex", runs["sizes"], {"color": "tab:orange"}),
                                       Series("as nets", runs["sizes"], {"kind": "net", "dashed": True})],
                           {"guides": guides, "title": "cos 2x"}, tmp_path / "scaling.png")
    band, net = result["series"]["simplex"], result["series"]["as nets"]
    assert band["summary"] == "mean" and net["summary"] == "median" and band["runs"] == 6
    assert band["x"] == [16.0, 32.0, 64.0] and band["slope"] < -1
    assert result["guides"][0]["x0"] == 16.0 and any("N^{-2}" in t.get_text() for t in ax.texts)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    colours = {line.get_label(): line.get_color() for line in ax.lines}
    assert colours["simplex"] == "tab:orange" and colours["as nets"] != "tab:orange"  # no clash with a given colour
    plt.close(fig)
    _, _, by_d = draw("scaling", [Series("simplex", runs["sizes"])], {"x": "D", "relative": True})
    assert by_d["series"]["simplex"]["x"] == [8.0, 16.0, 32.0]
    relative = [store.read_summary(r).metrics["test_relative_rmse"] for r in runs["sizes"][:2]]
    assert by_d["series"]["simplex"]["y"][0] == pytest.approx(np.mean(relative), rel=1e-12)


def _nan_run(root, run) -> str:
    """A copy of ``run`` whose metrics, parameters and curve are all NaN (a diverged run, as far as drawing goes)."""
    record = store.read_run(run)
    record.summary.metrics = {k: math.nan for k in record.summary.metrics}
    parts = [store.Part(p.model, {k: np.full_like(v, np.nan, dtype=float) for k, v in p.arrays.items()},
                        p.coefficient) for p in record.parts]
    curve = [dataclasses.replace(c, train_rmse=math.nan, test_rmse=math.nan) for c in record.curve]
    return store.write_run(root, store.RunRecord(record.config, record.summary, curve, parts, record.input_shift,
                                                 record.input_scale))


@pytest.mark.parametrize("kind", sorted(PANELS))
def test_every_kind_survives_empty_missing_and_nan(kind, runs, tmp_path):
    nan_run = runs["nan"][{"scaling": "sizes", "regions_2d": "xy_net"}.get(kind, "cos_net")]
    series = [Series("no runs", []), Series("missing", [tmp_path / "absent"])]
    fig, ax, result = draw(kind, series, {}, tmp_path / f"{kind}.png", min_bytes=1000)
    assert result["note"] and set(result["empty"]) == {"no runs", "missing"}
    assert any(str(tmp_path / "absent") in line for line in result["skipped"])
    plt.close(fig)
    fig, ax, result = draw(kind, series + [Series("nan", [nan_run])], {}, tmp_path / f"{kind}-nan.png",
                           min_bytes=1000)  # drawn or noted, never raised
    assert {"no runs", "missing"} <= set(result["empty"])
    plt.close(fig)
