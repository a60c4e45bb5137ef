"""scripts/docs_tables.py, the mkdocs hook that builds the docs' tables from the JSON on disk."""

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("docs_tables", REPO / "scripts" / "docs_tables.py")
docs_tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_tables)


def page(uri="reproduce.md"):
    return SimpleNamespace(file=SimpleNamespace(src_uri=uri))


def report(figure, verdicts, preconditions=True):
    claims = []
    for i, verdict in enumerate(verdicts):
        claim = {"id": f"c{i}", "text": f"claim {i} | piped", "paper": "−2", "ours": -2.0 - i, "verdict": verdict}
        if preconditions:
            claim["preconditions"] = [{"name": "converged", "met": verdict != "inconclusive", "detail": "x"}]
        claims.append(claim)
    return {"format": 1, "figure": figure, "profile": "smoke", "complete": True, "claims": claims,
            "run_seconds": 200.0}


def test_reproduce_table_one_row_per_report_in_the_papers_order(tmp_path, monkeypatch):
    monkeypatch.setattr(docs_tables, "REPO", tmp_path)
    for fig, verdicts in {"A1": ["confirmed"], "10": ["refuted"], "2": ["confirmed", "inconclusive"]}.items():
        folder = tmp_path / "docs" / "figures" / "smoke" / fig
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps(report(fig, verdicts)))
    out = docs_tables.on_page_markdown("a\n<!-- table: reproduce smoke -->\nb", page(), None, None)
    rows = [line for line in out.splitlines() if line.startswith("| [")]
    assert [r.split("]")[0] for r in rows] == ["| [2", "| [10", "| [A1"]
    assert "(figures/smoke/2/report.md)" in rows[0]
    assert "**inconclusive** (converged)" in rows[0] and "claim 0 \\| piped" in rows[0]
    assert "3 min" in rows[0]
    assert "Judged before" not in out  # every claim has its preconditions
    assert out.startswith("a\n") and out.endswith("\nb")


def test_reproduce_table_names_reports_without_preconditions(tmp_path, monkeypatch):
    monkeypatch.setattr(docs_tables, "REPO", tmp_path)
    folder = tmp_path / "docs" / "figures" / "reduced" / "3"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(report("3", ["refuted"], preconditions=False)))
    out = docs_tables.on_page_markdown("<!-- table: reproduce reduced -->", page("sub/page.md"), None, None)
    assert "(../figures/reduced/3/report.md)" in out
    assert "Judged before claims stated their preconditions: 3 (1 of 1)" in out


def reports(tmp_path, monkeypatch, **profiles):
    """docs/figures/PROFILE/FIG/report.json under tmp_path for each ``PROFILE={FIG: report}``."""
    monkeypatch.setattr(docs_tables, "REPO", tmp_path)
    for profile, figures in profiles.items():
        for fig, rep in figures.items():
            folder = tmp_path / "docs" / "figures" / profile / fig
            folder.mkdir(parents=True)
            (folder / "report.json").write_text(json.dumps(rep))


def fake_estimate(monkeypatch):
    """The cost model's answer, fixed: Fig. 6 at the paper's sizes ≈ 1,860 h; any other figure or profile 10 min."""
    monkeypatch.setattr(docs_tables, "estimate", lambda fig, profile: (
        (1860 * 3600.0 if (fig, profile) == ("6", "paper") else 600.0), "2 cores"))


def test_both_profiles_side_by_side_match_claims_by_id(tmp_path, monkeypatch):
    fake_estimate(monkeypatch)
    paper_1 = report("1", ["refuted", "inconclusive"])
    paper_1["claims"].reverse()  # matched by id, not by position
    reports(tmp_path, monkeypatch,
            reduced={"6": report("6", ["confirmed"]), "1": report("1", ["confirmed", "inconclusive"]),
                     "A2": report("A2", ["refuted"], preconditions=False)},
            paper={"1": paper_1})
    out = docs_tables.on_page_markdown("<!-- table: reproduce-both -->", page(), None, None)
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| fig")]
    assert [r.split(" | ")[0] for r in rows] == ["| [1](figures/reduced/1/report.md)", "| ",
                                                 "| [6](figures/reduced/6/report.md)",
                                                 "| [A2](figures/reduced/A2/report.md)"]
    # present in both profiles: each profile's own number and verdict
    assert rows[0].endswith("| claim 0 \\| piped | −2 | -2 (**confirmed**) | -2 (**refuted**) |")
    # inconclusive names the precondition it failed, in both profiles
    assert rows[1].endswith("| -3 (**inconclusive** (converged)) | -3 (**inconclusive** (converged)) |")
    # no paper report: the cost model's estimate and the cluster command
    assert rows[2].endswith("| -2 (**confirmed**) | not run here: ≈ 1,860 h on 2 cores; "
                            "`prec reproduce 6 --profile paper --slurm` |")
    # an estimate under 2 h is run here: no --slurm
    assert rows[3].endswith("| not run here: ≈ 10 min on 2 cores; `prec reproduce A2 --profile paper` |")
    assert "*Judged before claims stated their preconditions: reduced profile A2 (1 of 3)." in out


def test_both_profiles_claim_of_one_profile_only_and_the_second_row_of_a_missing_report(tmp_path, monkeypatch):
    fake_estimate(monkeypatch)
    reduced_6 = report("6", ["confirmed", "confirmed"])
    paper_6 = report("6", ["confirmed"])
    paper_6["claims"][0]["id"] = "paper_only"
    reports(tmp_path, monkeypatch, reduced={"6": reduced_6}, paper={"6": paper_6, "4": report("4", ["confirmed"])})
    out = docs_tables.on_page_markdown("<!-- table: reproduce-both -->", page("sub/page.md"), None, None)
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]
    assert rows[0].startswith("| [4](../figures/paper/4/report.md) |")  # no reduced report: link the paper's
    assert rows[0].endswith("| not run here: ≈ 10 min on 2 cores; `prec reproduce 4 --profile reduced` | "
                            "-2 (**confirmed**) |")
    assert [r.rsplit(" | ", 2)[1:] for r in rows[1:]] == [
        ["-2 (**confirmed**)", "— (not a claim of this profile's report) |"],
        ["-3 (**confirmed**)", "— (not a claim of this profile's report) |"],
        ["— (not a claim of this profile's report)", "-2 (**confirmed**) |"]]
    assert "Judged before" not in out


def test_a_cluster_figure_shows_its_cost_measured_at_the_papers_sizes_beside_the_models(tmp_path, monkeypatch):
    fake_estimate(monkeypatch)
    reports(tmp_path, monkeypatch, reduced={"6": report("6", ["confirmed"])})
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    probed = {"model_seconds": 1860 * 3600.0, "scaled_seconds": 930 * 3600.0,
              "run_sets": {"tanh": {"probe": {"measured_over_model": 0.5}}, "simplex": {}}}
    (results / "paper_run_cost.json").write_text(json.dumps({"profile": "paper", "figures": {"6": probed}}))
    out = docs_tables.on_page_markdown("<!-- table: reproduce-both -->", page(), None, None)
    assert ("| not run here: ≈ 1,860 h on 2 cores by the model, ≈ 930 h [measured at the paper's sizes]"
            "(#cluster-cost); `prec reproduce 6 --profile paper --slurm` |") in out
    assert "| 6 | 1 / 0 / 0 / 0 | cluster (≈ 930 h measured, 1,860 h modelled) |" in docs_tables.readme_summary()
    # A probe that failed measured nothing: the model's estimate alone.
    probed["run_sets"]["tanh"]["probe"] = {"error": "failed"}
    (results / "paper_run_cost.json").write_text(json.dumps({"profile": "paper", "figures": {"6": probed}}))
    assert "| 6 | 1 / 0 / 0 / 0 | cluster (≈ 1,860 h) |" in docs_tables.readme_summary()


def test_estimate_is_what_prec_reproduce_list_prints():
    from precision_jax.analysis.reproduce import cost, runner, spec

    seconds, where = docs_tables.estimate("6", "paper")
    store = REPO / "results"
    plan = runner.plan_figure(spec.load_figure("6"), "paper", store)
    assert seconds == runner.estimate_seconds(plan, cost.load(store))  # what _list in cli/reproduce_command.py calls
    assert seconds > docs_tables.HERE_SECONDS and where == "2 cores"  # the committed model's machine
    assert docs_tables.estimate("no-such-figure", "paper") is None


def test_readme_summary_counts_verdicts_per_profile(tmp_path, monkeypatch):
    fake_estimate(monkeypatch)
    reports(tmp_path, monkeypatch,
            reduced={"1": report("1", ["confirmed", "inconclusive", "not reached"]),
                     "2": report("2", ["refuted"], preconditions=False)},
            paper={"1": report("1", ["confirmed", "confirmed"])})
    out = docs_tables.readme_summary()
    lines = out.splitlines()
    assert lines[2] == ("| 1 | 1 / 1 / 0 / 1 | 2 / 0 / 0 / 0 | [reduced](docs/figures/reduced/1/report.md) · "
                        "[paper](docs/figures/paper/1/report.md) |")
    assert lines[3].startswith("| 2 | 0 / 0 / 1 / 0 † | not run (≈ 10 min) |")
    assert "| 6 | not run (≈ 10 min) | cluster (≈ 1,860 h) | — |" in lines  # a spec with no report
    assert "| all | 1 / 1 / 1 / 1 (2 figures) | 2 / 0 / 0 / 0 (1 figures) |" in out
    assert "† judged before claims stated their preconditions" in out


def test_readme_block_is_replaced_in_place_with_the_markers_indent():
    text = "a\n- bullet\n\n  <!-- reproduce-summary:start -->\n  | old |\n  <!-- reproduce-summary:end -->\nb\n"
    new = docs_tables.with_readme_summary(text, "| x |\n|---|\n")
    assert new == ("a\n- bullet\n\n  <!-- reproduce-summary:start -->\n\n  | x |\n  |---|\n\n"
                   "  <!-- reproduce-summary:end -->\nb\n")
    assert docs_tables.with_readme_summary(new, "| x |\n|---|\n") == new
    with pytest.raises(ValueError, match="reproduce-summary:start"):
        docs_tables.with_readme_summary("no markers", "| x |\n")


def test_readme_reproduction_summary_is_what_the_script_writes_now():
    """Against the live docs/figures/*/report.json: a report written since README.md was regenerated fails here."""
    readme = (REPO / "README.md").read_text()
    assert docs_tables.with_readme_summary(readme, docs_tables.readme_summary()) == readme, \
        "README.md's reproduction summary is stale: run `python scripts/docs_tables.py --readme`"


def test_chaos_table_reads_each_soak(tmp_path, monkeypatch):
    monkeypatch.setattr(docs_tables, "REPO", tmp_path)
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    real = json.loads((REPO / "benchmarks" / "results" / "chaos.json").read_text())
    (results / "chaos.json").write_text(json.dumps(real))
    (results / "chaos-old.json").write_text(json.dumps({"counts": {"runs": 5}, "problems": {"a": 1}}))
    out = docs_tables.on_page_markdown("<!-- table: chaos -->", page(), None, None)
    lost = next(line for line in out.splitlines() if line.startswith("| lost |"))
    assert lost == f"| lost | — | {real['counts']['lost']} |"  # chaos-old.json sorts first and lacks the key
    assert "| problems | 1 | 0 |" in out


def test_missing_json_is_one_line_saying_which_command_writes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(docs_tables, "REPO", tmp_path)
    out = docs_tables.on_page_markdown("<!-- table: chaos -->\n<!-- table: reproduce paper -->", page(), None, None)
    assert "python benchmarks/chaos.py" in out and "prec reproduce all --profile paper" in out
    assert "|" not in out


def test_unknown_marker_stops_the_build():
    with pytest.raises(ValueError, match="unknown table marker 'chaso'"):
        docs_tables.on_page_markdown("<!-- table: chaso -->", page(), None, None)
    with pytest.raises(ValueError, match="reproduce"):
        docs_tables.on_page_markdown("<!-- table: reproduce -->", page(), None, None)


# --------------------------------------------------------------------------- benchmarks/results/<name>.json

_record_spec = importlib.util.spec_from_file_location("bench_record", REPO / "benchmarks" / "record.py")
bench_record = importlib.util.module_from_spec(_record_spec)
_record_spec.loader.exec_module(bench_record)

MACHINE = {"machine": {"host": "box", "cpu_model": "AMD EPYC", "cpus_usable": 2, "load_average": [3.5, 4.0, 5.0]},
           "threads": {"OPENBLAS_NUM_THREADS": "1"}, "command": "python benchmarks/x.py --fast",
           "git": {"commit": "0123456789abcdef", "dirty": False}, "when": "2026-12-07T15:00:00Z"}


def results(tmp_path, monkeypatch, **files):
    monkeypatch.setattr(docs_tables, "REPO", tmp_path)
    folder = tmp_path / "benchmarks" / "results"
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / f"{name}.json").write_text(json.dumps({**MACHINE, **content}))
    return folder


def render(name):
    return docs_tables.on_page_markdown(f"<!-- table: {name} -->", page("benchmarks.md"), None, None)


def rows(out):
    return [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]


def test_every_benchmark_table_says_where_it_was_measured(tmp_path, monkeypatch):
    results(tmp_path, monkeypatch, classical={"rows": [], "floors": []})
    out = render("classical")
    line = out.strip().splitlines()[-1]
    assert line == ("*`benchmarks/results/classical.json`: box, AMD EPYC, 2 CPUs, load 3.5 / 4 / 5 (1 / 5 / 15 min); "
                    "threads: OPENBLAS_NUM_THREADS=1; 2026-12-07T15:00:00Z, commit 0123456. "
                    "Command: `python benchmarks/x.py --fast`*")


def test_classical_table_rows_from_the_json(tmp_path, monkeypatch):
    results(tmp_path, monkeypatch, classical={
        "rows": [{"method": "simplex", "target": "Z.001 (d=1), 6 seeds", "D": [100, 10000], "exponent": -1.9666,
                  "interval": [-2.0398, -1.9091], "theory": -2.0},
                 {"method": "spline order 5", "target": "e^x, 1-D", "D": [56, 100], "exponent": -6.215,
                  "interval": None, "theory": -6}],
        "floors": [{"method": "spline order 3, D=3000", "relative_rmse": 3.27e-16}]})
    out = render("classical")
    assert rows(out) == ["| simplex | Z.001 (d=1), 6 seeds | 100–10,000 | −1.967 [−2.040, −1.909] | −2 |",
                         "| spline order 5 | e^x, 1-D | 56–100 | −6.215 | −6 |"]
    assert "Floors (relative test RMSE on e^x): spline order 3, D=3000: 3.27e-16." in out


def test_precision_training_table_names_a_failed_run(tmp_path, monkeypatch):
    results(tmp_path, monkeypatch, precision_training={"rows": [
        {"config": "xy", "chain": "LM | focus", "goal": "≤ 1e-9", "paper": "~3e-7", "wall_seconds": 290.6,
         "test_rmse": 5.42e-10, "test_relative_rmse": 5.2e-11},
        {"config": "I.11.19", "chain": "modular", "goal": "≤ 1e-6", "paper": "~1.3e-4", "wall_seconds": 3.0,
         "error": "prec: error: out of memory"}]})
    assert rows(render("precision_training")) == [
        "| `xy` | LM \\| focus | **5.42e-10** (relative 5.20e-11) | ≤ 1e-9 | ~3e-7 | 291 s |",
        "| `I.11.19` | modular | failed: prec: error: out of memory | ≤ 1e-6 | ~1.3e-4 | 3 s |"]


def test_speed_table_reads_each_file_and_names_the_missing_one(tmp_path, monkeypatch):
    results(tmp_path, monkeypatch,
            bench_stages={"backend": "cpu", "adam": {"steps": 2000, "speedup": 1.73, "jitted_seconds": 4.7,
                                                     "python_loop_seconds": 8.2},
                          "bfgs": {"speedup": 10.7, "jitted_ms_per_iteration": 6.14, "scipy_ms_per_iteration": 65.8}},
            **{"bench_stages-h100": {"backend": "gpu", "device": "cuda:0 (H100)",
                                     "adam": {"steps": 2000, "speedup": 1.5, "jitted_seconds": 1.0,
                                              "python_loop_seconds": 1.5},
                                     "bfgs": {"speedup": 59.4, "jitted_ms_per_iteration": 0.22,
                                              "scipy_ms_per_iteration": 13.1}}},
            sweep_throughput={"runs": 12, "speedup": 5.64, "sweep_seconds": 37.2, "loop_seconds": 209.9,
                              "metrics_identical": True})
    out = render("speed")
    body = rows(out)
    assert len(body) == 5
    assert body[0].endswith("| 10.7× (6.14 vs 65.80 ms/it) | box, CPU |")
    assert body[1].endswith("| 1.7× (4.70 s vs 8.20 s) | box, CPU |")
    assert body[2].endswith("| 59.4× (0.22 vs 13.10 ms/it) | cuda:0 (H100) |")  # bench_stages-h100 sorts after
    assert body[4].endswith("| 5.6× (sweep 37.2 s, loop 209.9 s), metrics identical | box, CPU |")
    assert out.count("Command: `python benchmarks/x.py --fast`") == 3
    assert "Not yet measured by the JSON-writing benchmark: `python benchmarks/precision_milestones.py --budget 240` " \
           "writes `benchmarks/results/precision_milestones.json`." in out


def test_precision_milestones_row_gives_ratios_and_lower_bounds(tmp_path, monkeypatch):
    results(tmp_path, monkeypatch, precision_milestones={
        "budget_seconds": 240, "prec": {"time_to": {"1e-08": 9.6, "1e-10": 20.0, "1e-12": 58.0, "1e-15": None}},
        "paper": {"time_to": {"1e-08": 144.0, "1e-10": 154.0, "1e-12": None, "1e-15": None},
                  "best_test_rmse": 5.7e-12}})
    (row,) = rows(render("speed"))
    assert "| 9.6 s vs 144 s (15×) / 20.0 s vs 154 s (7.7×) / 58.0 s vs > 240 s (> 4.1×) / never vs > 240 s; " \
           "paper's method ends at 5.70e-12 |" in row


def test_width_sweep_and_big_nets_tables(tmp_path, monkeypatch):
    results(tmp_path, monkeypatch,
            width_sweep={"rows": [{"series": "relu", "N": [37, 1185], "exponent": -0.955, "interval": [-1.041, -0.866],
                                   "theory": "−2/d = −1"}]},
            big_nets={"minutes": [1, 15], "rows": [
                {"activation": "tanh", "width": 140, "n_params": 20721, "arm": "lm_fixed", "adam_steps": 100,
                 "lm_steps": 3, "stop": "time", "rmse_at": {"1 min": 2.5e-3, "15 min": 1.25e-5}}]})
    assert rows(render("width_sweep")) == ["| relu | 37–1,185 | −0.955 [−1.041, −0.866] | −2/d = −1 |"]
    out = render("big_nets")
    assert out.splitlines()[0] == "| activation | width | N | arm | test RMSE at 1 min | test RMSE at 15 min | " \
                                  "Adam / LM steps | stop |"
    assert rows(out) == ["| tanh | 140 | 20,721 | lm_fixed | 0.0025 | 1.25e-05 | 100 / 3 | time |"]


def test_tables_a_benchmark_prints_are_its_own_function(tmp_path, monkeypatch):
    """auto_chain, auto_budget and peers: the page shows exactly what the script's --table/--markdown prints."""
    auto_row = {"task": "xy", "what": "x·y", "goal": 1e-13, "test_rmse": 4.33e-14, "met": True,
                "seconds_to_goal": 398.0, "wall_seconds": 535.0, "compile_seconds": 24.0, "lm_gflops": 13.0}
    budget_row = {"task": "xy", "what": "x·y", "goal": 1e-13, "budget": "10m", "test_rmse": 3e-13,
                  "test_max_abs_error": 2e-12, "met": False, "stop_reason": "budget", "wall_seconds": 610.0,
                  "predicted_seconds": 540.0, "rounds_accepted": 1, "planned_rounds": 2, "steps_run": 900}
    prec = {"status": "done", "final_test_rmse": 2.5e-16, "wall_s": 140.0,
            "time_to": {"1e-06": 10.4, "1e-08": 14.2, "1e-10": 34.7, "1e-12": 134.2}}
    kan = {"status": "budget", "final_test_rmse": 1.4e-10, "wall_s": 302.0,
           "time_to": {"1e-06": 64.8, "1e-08": 91.5, "1e-10": None, "1e-12": None}}
    peers = {"recipes": {"prec": {"configs": {"teacher": "configs/precision/teacher_student_best.yaml"}}},
             "results": {"teacher": {"prec": prec, "pykan": kan}},
             "ratios_vs_prec": {"teacher": {"pykan": {"rmse": 5.6e5, "time": {"1e-06": 6.23, "1e-08": 6.44,
                                                                             "1e-10": "> 8.7", "1e-12": "> 2.25"}}}}}
    results(tmp_path, monkeypatch, auto_chain={"results": [auto_row]}, auto_budget={"rows": [budget_row]},
            peers=peers)
    for name, call in [("auto_chain", lambda m: m.table([auto_row])), ("auto_budget", lambda m: m.table([budget_row])),
                       ("peers", lambda m: m.markdown({**MACHINE, **peers}))]:
        expected = call(docs_tables._benchmark(name))
        out = render(name)
        assert out.startswith(expected + "\n\n*`benchmarks/results/" + name + ".json`: box"), name
        assert len(rows(out)) >= 1
    assert "| teacher | prec (`teacher_student_best`) | 2.5e-16 | **10.4 s** |" in render("peers")


def test_missing_benchmark_json_is_one_line_naming_its_command(tmp_path, monkeypatch):
    results(tmp_path, monkeypatch)
    for name, command in [("classical", "python benchmarks/classical_scaling.py"),
                          ("precision_training", "python benchmarks/precision_training.py"),
                          ("auto_chain", "python benchmarks/auto_chain.py"),
                          ("peers", "benchmarks/peers.py --budget 300"),
                          ("width_sweep", "python benchmarks/width_sweep.py")]:
        out = render(name)
        assert out.startswith("*Not yet measured by the JSON-writing benchmark: `") and command in out, name
        assert out.count("\n") == 1 and "|" not in out
    for name in ("big_nets", "auto_budget"):
        out = render(name)
        assert out.startswith(f"*Not yet measured: `python benchmarks/{name}.py") and out.count("\n") == 1
        assert f"writes `benchmarks/results/{name}.json`" in out
    speed = render("speed")
    assert speed.count("Not yet measured") == 3 and "|" not in speed


def test_benchmark_marker_with_an_argument_stops_the_build():
    with pytest.raises(ValueError, match="unknown table marker 'classical' extra"):
        docs_tables.on_page_markdown("<!-- table: classical extra -->", page(), None, None)


def test_record_writes_strict_json_with_machine_threads_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setattr("sys.argv", [str(REPO / "benchmarks" / "bench_stages.py"), "--adam-steps", "10"])
    path = bench_record.write(tmp_path / "sub" / "x.json", {"value": float("nan"), "rows": [1.5, float("inf")]})
    data = json.loads(path.read_text())
    assert data["value"] is None and data["rows"] == [1.5, None]
    assert data["command"] == "python benchmarks/bench_stages.py --adam-steps 10"
    assert data["threads"]["OPENBLAS_NUM_THREADS"] == "1"
    assert {"host", "cpu_model", "cpus_usable", "load_average"} <= set(data["machine"])
    assert len(data["git"]["commit"]) == 40 and data["when"].endswith("Z")
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]  # no temporary file left


def test_refusal_latency_table(tmp_path, monkeypatch):
    results(tmp_path, monkeypatch, refusal_latency={
        "rows": [{"case": "prec run: alias bomb", "seconds": 3.2, "baseline_seconds": 2.0, "old_limit_seconds": 30}],
        "baselines": {"jax_startup_seconds": 2.0, "read_yaml_quickstart_seconds": 0.0012,
                      "build_config_seconds": 0.0005}})
    out = render("refusal_latency")
    assert rows(out) == ["| prec run: alias bomb | 3.2 | 1.6 | 30 s |"]
    assert "JAX and the CLI 2.00 s" in out and "quickstart 1.20 ms" in out
