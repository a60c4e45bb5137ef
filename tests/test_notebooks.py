"""The docs' notebooks as stored: executed, clean, and executed from the code they now hold.

The docs site renders a notebook's stored outputs and never runs it, and CI runs it separately
(scripts/run_notebooks.py, after the tests). These checks read the stored JSON only (no kernel, no
nbformat), so they run with the test extra alone.
"""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))


def _runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(output) -> str:
    if output["output_type"] == "stream":
        text = output["text"]
    else:
        text = output.get("data", {}).get("text/plain", "")
    return "".join(text) if isinstance(text, list) else text


def test_there_is_a_notebook():
    assert [p.name for p in NOTEBOOKS] == ["fit_your_data.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_executed_in_order_without_errors(path):
    notebook = json.loads(path.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code] == list(range(1, len(code) + 1))
    outputs = [output for cell in code for output in cell["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    # A warning or log line on stderr would show on the docs page as a red box.
    assert not [_text(o) for o in outputs if o["output_type"] == "stream" and o["name"] == "stderr"]
    # Paths of the machine that executed it (its temporary folder, its checkout) are not for the reader.
    leaked = [t for t in map(_text, outputs) if "/tmp/" in t or str(ROOT) in t]
    assert not leaked


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_come_from_the_code_it_holds(path):
    """run_notebooks.py --write records the code cells' digest; an edit without re-executing breaks it."""
    notebook = json.loads(path.read_text())
    recorded = notebook["metadata"].get("prec", {}).get("executed_source_sha256")
    assert recorded == _runner().source_digest(notebook["cells"]), (
        f"{path.name} changed since it was executed: python3 scripts/run_notebooks.py --write {path}")


def test_source_digest_sees_an_edit_but_not_markdown():
    digest = _runner().source_digest
    cells = [{"cell_type": "code", "source": ["x = 1\n", "y = 2"]}, {"cell_type": "markdown", "source": "text"}]
    same = [{"cell_type": "code", "source": "x = 1\ny = 2"}, {"cell_type": "markdown", "source": "other text"}]
    edited = [{"cell_type": "code", "source": "x = 1\ny = 3"}]
    assert digest(cells) == digest(same) != digest(edited)


def test_fit_your_data_shows_what_the_docs_promise():
    notebook = json.loads((ROOT / "docs" / "notebooks" / "fit_your_data.ipynb").read_text())
    sources = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    outputs = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    for call in ("pj.fit(", "scipy.special import j0", ".export(", "exported.predict("):
        assert call in sources
    assert any("image/png" in o.get("data", {}) for o in outputs), "no plot stored"
    table = next(t for t in map(_text, outputs) if "test RMSE" in t and "max |error|" in t)
    rows = {parts[0]: parts[1:] for parts in map(str.split, table.splitlines())
            if parts and parts[0] in ("simplex", "chebyshev")}
    assert set(rows) == {"simplex", "chebyshev"}
    # The comparison the prose draws: the Chebyshev series far ahead of simplex interpolation on this smooth f.
    assert float(rows["chebyshev"][0]) < 1e-6 * float(rows["simplex"][0])
    assert any("bit-identical at" in _text(o) for o in outputs), "the export was not evaluated"
