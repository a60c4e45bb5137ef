"""`prec reproduce N` means the published paper's Fig. N (Entropy 2023, 25(1):175): the ids resolve to the right
specs, the ids used before say what they mean now, every report carries its published number and caption, and
the claims new with the published numbering (A3: BFGS vs Adam; A4: the top-eigenvalue gap; Fig. 6b: the
multiplication gadget) are judged from numbers computed on synthetic runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from precision_jax.analysis.figures.runs import Entry
from precision_jax.analysis.reproduce import claims, gadget, measures, report, spec

REPO = Path(__file__).resolve().parent.parent
PUBLISHED = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "A1", "A2", "A3", "A4"]


def run_sets(figure: str) -> set[str]:
    return set(spec.load_figure(figure).runs)


def models(figure: str) -> set[tuple]:
    """(target, model kind, activation) of every run set's base."""
    out = set()
    for r in spec.load_figure(figure).runs.values():
        target = r.base["target"]
        out.add((target.get("equation") or target.get("formula"), r.base["model"]["kind"],
                 r.base["model"].get("activation")))
    return out


# ---------------------------------------------------------------------------------------------- ids
def test_the_list_is_the_published_figures_then_the_extra():
    assert spec.list_figures() == PUBLISHED + ["relu-x2-vs-simplex"]
    for figure in PUBLISHED:
        fs = spec.load_figure(figure)
        assert fs.figure == figure and fs.published and len(fs.caption) > 40, figure
        assert fs.label == f"Fig. {figure}"
    extra = spec.load_figure("relu-x2-vs-simplex")
    assert not extra.published and extra.label == "extra figure relu-x2-vs-simplex" and extra.caption


def test_published_ids_resolve_to_the_published_figures():
    fig1 = spec.load_figure("1")
    assert run_sets("1") == {"cos_raw", "cos_standardized", "cos_simplex", "xy_raw", "xy_standardized",
                             "xy_simplex"}
    assert [p.kind for p in fig1.panels] == ["function_1d"] * 3 + ["regions_2d"] * 3
    assert fig1.layout == (2, 3)
    assert {r.split("_")[0] for r in run_sets("3")} == {"modular", "dense"}
    assert {kind for _, kind, _ in models("4")} == {"spline", "simplex"}
    five = spec.load_figure("5")
    assert {act for _, kind, act in models("5") if kind == "mlp"} == {"tanh", "relu"}
    relu = [s for p in five.panels for s in p.series if s.label.startswith("ReLU")]
    assert relu and all(s.style.get("dotted") for s in relu)
    six = spec.load_figure("6")
    assert [p.kind for p in six.panels] == ["scaling", "gadget"]
    assert models("6") == {("I.11.19", "mlp", "tanh"), ("I.11.19", "simplex", None)}
    assert {r.split("_")[0] for r in run_sets("A3")} == {"adam", "bfgs"}
    assert {eq for eq, _, _ in models("A3")} == {"I.30.5", "I.8.14", "I.44.4", "II.6.15a"}
    a4 = spec.load_figure("A4")
    assert run_sets("A4") == {"bfgs", "adam"}
    for r in a4.runs.values():
        assert r.base["target"] == {"equation": "Z.001"}
        assert r.base["model"] == {"kind": "mlp", "depth": 3, "width": 20, "activation": "tanh"}
    assert [r.base["train"][0]["kind"] for r in a4.runs.values()] == ["bfgs", "adam"]


@pytest.mark.parametrize("old, now", [("6a", "6"), ("6b", "5")])
def test_an_old_id_no_published_figure_took_still_names_its_figure(old, now):
    assert spec.resolve_id(old) == now and spec.load_figure(old).figure == now
    note = spec.former_id_note(old)
    assert note.count("\n") == 0 and f"published Fig. {now}" in note


@pytest.mark.parametrize("old, now", [("1", "4"), ("3", "1"), ("4", "1"), ("5", "3"), ("A3", "relu-x2-vs-simplex")])
def test_an_old_id_that_now_means_another_figure_says_where_the_old_one_went(old, now):
    assert spec.resolve_id(old) == old and spec.load_figure(old).figure == old
    note = spec.former_id_note(old)
    assert note.count("\n") == 0 and f"published Fig. {old}" in note and f"`prec reproduce {now}`" in note


def test_unchanged_ids_have_no_note():
    for figure in ("2", "7", "8", "9", "A1", "A2", "A4", "relu-x2-vs-simplex"):
        assert spec.former_id_note(figure) is None


def test_cli_prints_the_note_in_one_line_and_runs_the_published_figure(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cli", "reproduce", "6a", "--list", "--store", str(tmp_path / "s"),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [spec.former_id_note("6a")]
    assert "6 (was 6a)" in done.stdout and not (tmp_path / "s").exists()


def test_draw_only_from_a_missing_store_is_refused_in_one_line_before_any_report(tmp_path):
    # Without the refusal a mistyped --store judged every claim "not reached" and wrote that report.
    done = subprocess.run([sys.executable, "-m", "cli", "reproduce", "2", "--draw-only", "--store",
                           str(tmp_path / "missing"), "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"prec: error: --store: {tmp_path / 'missing'} is not a results "
                                                f"store (no such folder); --draw-only draws from the runs already "
                                                f"in the --store"]
    assert not (tmp_path / "o").exists() and not (tmp_path / "missing").exists()


# ---------------------------------------------------------------------------------------------- reports
def test_every_report_carries_its_published_number_and_caption():
    base = {"figure": "3", "title": "modular vs dense", "profile": "reduced", "store": "s", "complete": True,
            "claims": [], "runs": {}, "panels": [], "wall_seconds": 1.0, "run_seconds": 1.0, "note": ""}
    md = report.markdown({**base, "published": True, "caption": "Modular nets scale better."})
    assert md.startswith("# Fig. 3: modular vs dense")
    assert "Published Fig. 3 (Entropy 2023, 25(1):175), its caption paraphrased: Modular nets scale better." in md
    md = report.markdown({**base, "figure": "relu-x2-vs-simplex", "published": False, "caption": "An extra."})
    assert md.startswith("# Extra figure relu-x2-vs-simplex") and "Not in the published paper: An extra." in md
    assert report.markdown(base).startswith("# Fig. 3")  # a report written before the published numbering


# ---------------------------------------------------------------------------------------------- synthetic runs
def entry(n: float, rmse: float, seed: int, path: str = "/nowhere", **config) -> Entry:
    summary = SimpleNamespace(N=n, D=n, seed=seed, metrics={"test_rmse": rmse, "min_test_rmse": rmse}, stages=[])
    return Entry(Path(f"{path}/{n:g}-{seed}-{rmse:.6g}"), "complete", {"seed": seed, **config}, summary)


def nets(rmse_at_depth: dict[int, float], seeds=(0, 1, 2)) -> claims.RunSetData:
    """Nets of depths 2 and 3 at two sizes; the largest size's RMSE per depth as given (seeds within 5 %)."""
    out = []
    for seed in seeds:
        for depth, best in rmse_at_depth.items():
            jitter = 1.0 + 0.05 * (seed - 1) / 2
            out += [entry(1000.0 * depth, 10 * best * jitter, seed, **{"model.depth": depth}),
                    entry(4000.0 * depth, best * jitter, seed, **{"model.depth": depth})]
    return claims.RunSetData(out)


def judged(figure: str, data: dict) -> dict[str, claims.ClaimResult]:
    return {c.id: claims.judge(c, data) for c in spec.load_figure(figure).claims}


def a3_data(bfgs_over_adam: dict[str, float]) -> dict:
    data = {}
    for eq in ("I_30_5", "I_8_14", "I_44_4", "II_6_15a"):
        data[f"adam_{eq}"] = nets({2: 1e-2, 3: 4e-3})
        data[f"bfgs_{eq}"] = nets({2: 1e-2 * bfgs_over_adam[eq], 3: 4e-3 * bfgs_over_adam[eq]})
    return data


def test_a3_bfgs_wins_in_3d_and_about_even_elsewhere_confirmed():
    results = judged("A3", a3_data({"I_30_5": 0.1, "I_8_14": 2.0, "I_44_4": 0.5, "II_6_15a": 1.0}))
    assert {k: r.verdict for k, r in results.items()} == {
        "bfgs_beats_adam_I_30_5": "confirmed", "about_even_I_8_14": "confirmed",
        "about_even_I_44_4": "confirmed", "about_even_II_6_15a": "confirmed"}
    assert results["bfgs_beats_adam_I_30_5"].ours == pytest.approx(4e-4, rel=0.03)
    assert results["about_even_I_8_14"].ours == pytest.approx(math.log10(2.0), abs=1e-9)
    for r in results.values():
        assert [c.name for c in r.preconditions] == ["converged", "seeds agree"] and all(
            c.met for c in r.preconditions)


def test_a3_refuted_when_adam_wins_in_3d_or_one_optimizer_is_far_ahead():
    results = judged("A3", a3_data({"I_30_5": 3.0, "I_8_14": 10.0, "I_44_4": 0.05, "II_6_15a": 1.0}))
    assert results["bfgs_beats_adam_I_30_5"].verdict == "refuted"
    assert results["about_even_I_8_14"].verdict == "refuted" and results["about_even_I_8_14"].ours == \
        pytest.approx(1.0, abs=1e-9)
    assert results["about_even_I_44_4"].verdict == "refuted"
    assert results["about_even_II_6_15a"].verdict == "confirmed"


def test_a3_one_seed_is_inconclusive_not_confirmed():
    data = {k: claims.RunSetData([e for e in d.entries if e.seed == 0]) for k, d in
            a3_data({"I_30_5": 0.1, "I_8_14": 1.0, "I_44_4": 1.0, "II_6_15a": 1.0}).items()}
    results = judged("A3", data)
    assert all(r.verdict == "inconclusive" and "seeds agree" in r.reason for r in results.values())


def spectrum_run(folder: Path, eigenvalues: np.ndarray, seed: int) -> Entry:
    """A run directory holding what ``prec hessian`` leaves: hessian.npz and hessian.json (read, not recomputed)."""
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text("{}")
    np.savez(folder / "hessian.npz", eigenvalues=eigenvalues, projections=np.ones_like(eigenvalues))
    (folder / "hessian.json").write_text(json.dumps({"round": 0, "loss": 1e-12}))
    summary = SimpleNamespace(N=eigenvalues.size, D=100, seed=seed, metrics={}, stages=[])
    return Entry(folder, "complete", {"seed": seed}, summary)


def spectrum(top_gap_decades: float, rng) -> np.ndarray:
    """Three top eigenvalues ``top_gap_decades`` above a bulk spread over 1e-14…1e-2, half of it negative, whose
    top is dense (0.05 decades apart), so the widest gap among the 10 largest is the one asked for."""
    bulk = 10.0 ** rng.uniform(-14, -3, 200) * np.where(np.arange(200) % 2, -1.0, 1.0)
    bulk[:12] = 1e-2 * 10.0 ** (-0.05 * np.arange(12))
    top = 1e-2 * 10.0 ** top_gap_decades * np.array([1.0, 1.5, 3.0])
    return np.concatenate([top, bulk])


def test_top_gap_reads_the_widest_gap_among_the_largest_eigenvalues():
    rng = np.random.default_rng(0)
    gap, k = measures.top_gap(spectrum(3.0, rng), among=10)
    assert gap == pytest.approx(3.0, abs=1e-12) and k == 3
    # Far down the bulk the ratios of tiny eigenvalues are huge; they are no cluster, and not read.
    assert measures.top_gap(np.array([1.0, 0.9, 0.8, 1e-12, 1e-30]), among=2)[0] == pytest.approx(
        math.log10(0.9 / 0.8))
    assert math.isnan(measures.top_gap(np.array([1.0, -1.0]))[0])


@pytest.mark.parametrize("bfgs_gap, adam_gap, verdicts", [
    (3.0, 0.5, ("confirmed", "confirmed")),
    (0.5, 3.0, ("refuted", "refuted")),
    (2.0, 1.5, ("confirmed", "confirmed")),
])
def test_a4_claims_judged_on_stored_spectra(tmp_path, bfgs_gap, adam_gap, verdicts):
    rng = np.random.default_rng(1)
    data = {name: claims.RunSetData([spectrum_run(tmp_path / f"{name}-{s}", spectrum(gap, rng), s)
                                     for s in (0, 1, 2)])
            for name, gap in (("bfgs", bfgs_gap), ("adam", adam_gap))}
    results = judged("A4", data)
    assert (results["top_cluster_after_bfgs"].verdict, results["gap_wider_after_bfgs"].verdict) == verdicts
    assert results["top_cluster_after_bfgs"].ours == pytest.approx(bfgs_gap, abs=1e-9)
    assert results["gap_wider_after_bfgs"].against == pytest.approx(adam_gap, abs=1e-9)


# ---------------------------------------------------------------------------------------------- the gadget
def test_the_gadget_multiplies_with_error_falling_as_its_scale_squared_until_rounding():
    rng = np.random.default_rng(0)
    points = rng.uniform(1.4, 4.6, (20000, 6))
    pairs = [[0, 3], [1, 4], [2, 5]]
    errors = {s: gadget.relative_rmse(points, pairs, s) for s in (1e-2, 1e-3, 1e-4, 3e-5, 1e-6)}
    assert errors[1e-2] / errors[1e-3] == pytest.approx(100.0, rel=0.05)  # truncation ∝ s²
    assert errors[1e-3] / errors[1e-4] == pytest.approx(100.0, rel=0.05)
    eps = np.finfo(np.float64).eps
    assert min(errors.values()) < 10 * math.sqrt(eps)  # the float64 limit of a second difference
    assert errors[1e-6] > 10 * errors[3e-5]  # below it rounding, ∝ ε/s², takes over
    target = points[:, 0] * points[:, 3] + points[:, 1] * points[:, 4] + points[:, 2] * points[:, 5]
    assert gadget.relative_rmse(points, pairs, 1e-4, target) == pytest.approx(errors[1e-4], rel=1e-6)
    assert gadget.relative_rmse(points, [[0, 1], [2, 3], [4, 5]], 1e-4, target) > 1e5 * errors[1e-4]  # not the target
    w, b, v = gadget.weights(1e-3)
    assert w.shape == (4, 2) and b.shape == (4,) and v.shape == (4,)  # four neurons


# ---------------------------------------------------------------------------------------------- end to end
def test_reproduce_3_smoke_runs_the_modular_figure(tmp_path):
    """`prec reproduce 3` is the published Fig. 3, modular vs dense, with its number and caption in the report;
    the note says where the figure that was 3 went."""
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "cli", "reproduce", "3", "--profile", "smoke", "--store",
                           str(tmp_path / "store"), "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "`prec reproduce 1`" in done.stderr.strip().splitlines()[0]
    rep = json.loads((out / "3" / "report.json").read_text())
    assert rep["figure"] == "3" and rep["published"] is True and rep["caption"].startswith("ReLU networks")
    assert set(rep["runs"]) == {f"{kind}_{eq}_d{depth}" for kind in ("modular", "dense")
                                for eq, depths in (("I_8_14", (4, 6)), ("II_6_15a", (6, 9))) for depth in depths}
    assert all(r["complete"] == r["planned"] > 0 for r in rep["runs"].values())
    assert [c["id"] for c in rep["claims"]] == [c.id for c in spec.load_figure("3").claims]
    md = (out / "3" / "report.md").read_text()
    assert md.startswith("# Fig. 3: modular vs dense") and "Published Fig. 3 (Entropy 2023" in md


def test_a_run_set_whose_output_is_not_a_mapping_is_refused_at_planning(tmp_path):
    """Found by test_fuzz_specs on A4: ``output: null`` crashed sweep_data with a TypeError."""
    from precision_jax.analysis.reproduce import runner
    from precision_jax.config.engine import ConfigError

    data = {"figure": "x", "title": "t", "panels": [{"kind": "scaling", "series": [{"runs": "a"}]}], "claims": [],
            "runs": {"a": {"base": {"target": {"equation": "Z.001"}, "model": {"kind": "simplex"}, "output": None}}}}
    fs = spec.parse_figure(data, "fig.yaml")
    with pytest.raises(ConfigError) as e:
        runner.plan_figure(fs, "smoke", tmp_path)
    assert "runs.a (smoke): base.output" in str(e.value) and "\n" not in str(e.value)
