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
