"""Figures a reader would publish (issue 23, items 4 and 5): the paper's numbers as grey "paper" marks, the
BFGS-alone curve on top of the chain that starts with it, stage strips that span their own stage, stage
names inside the axes, the scaling legend's key, and no fake "linear regions" for smooth nets."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from precision_jax.analysis.figures import panels
from precision_jax.analysis.figures.panels import NO_REGIONS, PANELS, STRIP, Series
from precision_jax.analysis.figures.style import BAND_NOTE, PAPER_LABEL, SEEDS_NOTE
from precision_jax.engine.stages.base import CurvePoint
from precision_jax.experiment import build_config
from precision_jax.runs import store, training

XY = {"formula": "x*y", "variables": {"x": [1, 5], "y": [1, 5]}}
XY_INFO = store.TargetInfo("x*y", 2, ("x", "y"), (1.0, 1.0), (5.0, 5.0))
CHAIN = [(0, 0, "bfgs", range(0, 3001, 250)), (0, 1, "lcs", range(0, 41, 10)),
         (1, 0, "bfgs", range(0, 3001, 250)), (1, 1, "lcs", range(0, 41, 10))]


def bfgs_rmse(step: int) -> float:
    return 1e-1 * 10 ** (-6 * step / 3000)


def write(root, name: str, curve: list, *, seed: int = 0, n: int = 100, rmse: float = 1e-3, model=None,
          train=None, boost=None, interpolant: bool = False):
    """A stored run of x·y with the given curve and summary (nothing trained: the figures only read it)."""
    data = {"name": name, "seed": seed, "target": XY, "data": {"train_points": 50, "test_points": 50},
            "model": model or {"kind": "mlp", "depth": 3, "width": 4, "activation": "tanh"},
            "train": train or [{"kind": "bfgs", "maxiter": 3000}]}
    if boost:
        data["boost"] = boost
    cfg = build_config(data)
    stages = ([{"kind": "fit", "steps": 0, "stop_reason": "fitted"}] if interpolant else
              [{"kind": "bfgs", "steps": 3000, "stop_reason": "max_steps"}])
    summary = store.Summary(name=name, seed=seed, status="complete", target=XY_INFO, model="mlp", N=n, D=n // 3,
                            n_test=50, metrics={"test_rmse": rmse, "test_relative_rmse": rmse / 5,
                                                "train_rmse": rmse, "min_test_rmse": rmse},
                            stages=stages, wall_seconds=0.1, numerics={})
    return store.write_run(root, store.RunRecord(cfg, summary, curve, [store.Part(cfg.model, {"theta": np.zeros(3)})],
                                                 None, None))


def chain_curve(stages=CHAIN) -> list[CurvePoint]:
    """BFGS to 1e-7 over 3,000 steps, LCS lowering it 10×, then a boosting round doing it again."""
    out, level = [], 1.0
    for round_, stage, kind, steps in stages:
        for t in steps:
            y = level * (bfgs_rmse(t) if kind == "bfgs" else 10 ** (-t / 40))
            out.append(CurvePoint(round_, stage, kind, t, y, y, 0.0))
        level = out[-1].test_rmse  # the next stage (or round) starts where this one ended
    return out


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    chain_train = [{"kind": "bfgs", "maxiter": 3000}, {"kind": "lcs", "steps": 40}]
    runs = {"chain": write(root, "chain", chain_curve(), train=chain_train,
                           boost={"rounds": 1, "train": chain_train}),
            # BFGS alone: the chain's own first stage, logged on the same steps.
            "bfgs": write(root, "bfgs", chain_curve(CHAIN[:1])),
            "adam": write(root, "adam", [CurvePoint(0, 0, "adam", t, 1e-3 * (1 + 1 / (1 + t)), 1e-3, 0.0)
                                         for t in range(0, 5001, 500)], train=[{"kind": "adam", "steps": 5000}])}
    runs["sizes"] = [write(root, "nets", [], seed=s, n=n, rmse=n ** -1.0 * (1 + 0.1 * s),
                           model={"kind": "mlp", "depth": 3, "width": n, "activation": "relu"})
                     for n in (100, 400, 1600) for s in (0, 1)]
    runs["one_seed"] = [write(root, "one", [], n=n, rmse=n ** -0.5,
                              model={"kind": "mlp", "depth": 3, "width": n, "activation": "relu"})
                        for n in (100, 400)]
    runs["tanh"] = write(root, "tanh2d", [], model={"kind": "mlp", "depth": 3, "width": 4, "activation": "tanh"})
    return runs


def draw(kind, series, options=None, size=(6.0, 4.0)):
    fig, ax = plt.subplots(figsize=size)
    return fig, ax, PANELS[kind](ax, series, options or {})


def legend_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


# --------------------------------------------------------------------------- the paper's numbers


def test_paper_marks_on_a_scaling_panel(store_root):
    marks = [{"x": 1.0e4, "y": [1.0e-5, 1.0e-4], "text": "ReLU"}, {"series": "nets", "y": 5.0e-4},
             {"y": "about 1e-3"}]
    fig, ax, result = draw("scaling", [Series("nets", store_root["sizes"])], {"paper": marks})
    drawn = result["paper"]
    assert len(drawn) == 2 and legend_labels(ax).count(PAPER_LABEL) == 1
    assert drawn[0]["x"] == 1.0e4 and drawn[0]["y"] == pytest.approx(math.sqrt(1e-5 * 1e-4), rel=1e-12)
    assert drawn[1]["x"] == 1600.0  # no x: at the named series' largest size
    assert any("about 1e-3" in why for why in result["skipped"])  # an unreadable mark is named, not drawn
    assert ax.get_xlim()[1] > 1.0e4 and ax.get_ylim()[0] < 1.0e-5  # the paper's point is inside the axes
    paper_lines = [line for line in ax.lines if line.get_marker() == "D"]
    assert len(paper_lines) == 2 and all(line.get_markeredgecolor() == "0.45" for line in paper_lines)
    assert any(t.get_text() == "ReLU" for t in ax.texts)
    plt.close(fig)
    fig, ax, plain = draw("scaling", [Series("nets", store_root["sizes"])], {})
    assert "paper" not in plain and PAPER_LABEL not in legend_labels(ax)
    plt.close(fig)


def test_paper_marks_on_learning_curves_sit_at_their_series_end(store_root):
    series = [Series("BFGS", [store_root["bfgs"]]), Series("chain", [store_root["chain"]])]
    marks = [{"series": "BFGS", "y": [3e-8, 4e-8]}, {"y": 3e-14, "text": "boosting"}]
    fig, ax, result = draw("curves", series, {"paper": marks})
    bfgs, end = result["paper"]
    assert bfgs["x"] == 3000.0 and bfgs["y_range"] == [3e-8, 4e-8]
    assert end["x"] == 3000 + 40 + 3000 + 40 < ax.get_xlim()[1]  # no series: the last step drawn, all of it
    assert ax.get_ylim()[0] < 3e-14 and legend_labels(ax).count(PAPER_LABEL) == 1
    fig.canvas.draw()
    box, text = ax.get_window_extent(), next(t for t in ax.texts if t.get_text() == "boosting")
    assert box.x0 <= text.get_window_extent().x0 and text.get_window_extent().x1 <= box.x1  # its text too
    plt.close(fig)


def test_a_one_number_panel_writes_the_papers_number_in_its_title(store_root):
    fig, ax, result = draw("regions_2d", [Series("tanh net", [store_root["tanh"]])], {"paper": 0.536})
    assert result["paper"] == 0.536 and "(paper 0.536)" in ax.get_title()
    plt.close(fig)


# --------------------------------------------------------------------------- learning curves


def test_bfgs_alone_is_drawn_on_top_of_the_chain_that_starts_with_it(store_root):
    series = [Series("Adam", [store_root["adam"]]), Series("BFGS", [store_root["bfgs"]]),
              Series("chain", [store_root["chain"]], {"color": "black"})]
    fig, ax, result = draw("curves", series, {"shade_stages": "chain"})
    assert result["series"]["BFGS"]["drawn_over"] == ["chain"]
    assert "drawn_over" not in result["series"]["chain"] and "drawn_over" not in result["series"]["Adam"]
    lines = {line.get_label(): line for line in ax.lines}
    bfgs, chain = lines["BFGS"], lines["chain"]
    assert bfgs.get_zorder() > chain.get_zorder()
    assert bfgs.get_linestyle() != chain.get_linestyle() and bfgs.get_marker() not in (None, "None", "")
    plt.close(fig)


def test_stage_strips_span_their_stages_and_not_the_panel(store_root):
    series = [Series("Adam", [store_root["adam"]]), Series("chain", [store_root["chain"]])]
    fig, ax, result = draw("curves", series, {"shade_stages": "chain"})
    expected = [(0.0, 3000.0), (3000.0, 3040.0), (3040.0, 6040.0), (6040.0, 6080.0)]
    assert [(s["start"], s["end"]) for s in result["stages"]] == expected
    bands = [p for p in ax.patches if p.get_gid() == "stage-band"]
    assert [(p.get_x(), p.get_x() + p.get_width()) for p in bands] == expected
    for band in bands:  # a strip along the top, in axes fractions of the height
        assert band.get_y() == pytest.approx(1 - STRIP) and band.get_height() == pytest.approx(STRIP)
    assert ax.get_xlim() == (0.0, 6080.0)  # the Adam run (5,000 steps) ends inside the chain's span
    plt.close(fig)


@pytest.mark.parametrize("size", [(6.0, 4.0), (3.2, 2.6)])
def test_stage_names_stay_inside_the_axes(store_root, size):
    """Narrow stages at both ends (the boosting round's LCS ends the axis) keep their names inside it."""
    fig, ax, result = draw("curves", [Series("chain", [store_root["chain"]])], {}, size)
    fig.canvas.draw()
    box = ax.get_window_extent()
    labels = [t for t in ax.texts if t.get_gid() == "stage-label"]
    assert [t.get_text() for t in labels] == ["BFGS", "LCS", "boost 1: BFGS", "boost 1: LCS"]
    x0, x1 = ax.get_xlim()
    for label in labels:
        assert x0 <= label.xy[0] <= x1
        extent = label.get_window_extent()
        assert box.x0 - 0.5 <= extent.x0 and extent.x1 <= box.x1 + 0.5, label.get_text()
        assert box.y0 - 0.5 <= extent.y0 and extent.y1 <= box.y1 + 0.5, label.get_text()
    plt.close(fig)


# --------------------------------------------------------------------------- scaling legend


def test_scaling_legend_says_what_lines_dots_and_bands_are(store_root):
    fig, ax, result = draw("scaling", [Series("nets", store_root["sizes"])], {})
    assert ax.get_legend().get_title().get_text() == SEEDS_NOTE == "line: median over seeds, dots: seeds"
    assert result["legend_note"] == SEEDS_NOTE
    plt.close(fig)
    fig, ax, result = draw("scaling", [Series("nets", store_root["sizes"]),
                                       Series("as interpolant", store_root["sizes"], {"kind": "interpolant"})], {})
    assert ax.get_legend().get_title().get_text() == f"{SEEDS_NOTE}\n{BAND_NOTE}"
    plt.close(fig)
    fig, ax, result = draw("scaling", [Series("one seed", store_root["one_seed"])], {})
    assert ax.get_legend().get_title().get_text() == ""  # no dots drawn: nothing to explain
    plt.close(fig)


# --------------------------------------------------------------------------- linear regions


def test_a_smooth_net_has_no_region_map_and_says_so(store_root):
    fig, ax, result = draw("regions_2d", [Series("tanh net", [store_root["tanh"]])], {"points": False})
    assert result["smooth"] == {"tanh net": "tanh"} and not result["regions"] and not ax.images
    assert any(t.get_text().startswith(NO_REGIONS) for t in ax.texts) and NO_REGIONS in ax.get_title()
    assert ax.get_xlim() == (1.0, 5.0) and ax.get_ylim() == (1.0, 5.0)
    plt.close(fig)


def test_a_relu_net_still_gets_its_region_map(tmp_path):
    cfg = build_config({"name": "relu2d", "seed": 0, "target": XY, "data": {"train_points": 40, "test_points": 40},
                        "model": {"kind": "mlp", "depth": 3, "width": 6, "activation": "relu"},
                        "train": [{"kind": "adam", "lr": 1e-2, "steps": 5}], "output": {"log_every": 5}})
    run = store.write_run(tmp_path, training.run_experiment(cfg))
    assert panels._smooth_activation(panels.read_entry(run)) is None
    fig, ax, result = draw("regions_2d", [Series("ReLU net", [run])], {"resolution": 60})
    assert result["regions"]["ReLU net"] >= 1 and len(ax.images) == 1 and "smooth" not in result
    assert not any(NO_REGIONS in t.get_text() for t in ax.texts)
    plt.close(fig)
