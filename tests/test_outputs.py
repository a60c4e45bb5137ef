"""Outputs never overwrite: `prec predict --out`, `prec export --out` and `pj.Model.export` (issue 24, item 6).

An existing file is refused (exit 2, one line naming it; the file byte for byte
as it was) unless --force / force=True; a missing output folder is named in one
line before any work: the tests make the run reader fail if it is called, so a
refusal that came after reading the model would show as that error instead.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from precision_jax.experiment import build_config
from precision_jax.runs import store
from precision_jax.runs.training import run_experiment
from precision_jax.use import api, export

USER_BYTES = b"my own file\x00\xff, not prec's\n"

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny complete run (a 1-d simplex interpolant: no training)."""
    root = tmp_path_factory.mktemp("store")
    cfg = {"name": "outputs", "seed": 0, "target": {"formula": "sin(3*x)", "variables": {"x": [-1, 1]}},
           "data": {"train_points": 20, "test_points": 20}, "model": {"kind": "simplex"}, "train": [],
           "output": {"dir": str(root), "log_every": 10}}
    return store.write_run(root, run_experiment(build_config(cfg)))


@pytest.fixture
def points(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("x\n-0.5\n0.25\n")
    return path


@pytest.fixture
def no_work(monkeypatch):
    """Reading a run (the first step of any work) fails loudly."""
    def refuse(*args, **kwargs):
        raise AssertionError("the run was read before the output was checked")
    monkeypatch.setattr(store, "read_run", refuse)
    monkeypatch.setattr(store, "load_model", refuse)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


COMMANDS = {
    "predict": lambda run, points, out: ("predict", run, points, "--out", out),
    "export-python": lambda run, points, out: ("export", run, "--to", "python", "--out", out),
    "export-npz": lambda run, points, out: ("export", run, "--to", "npz", "--out", out),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_existing_file_is_refused_before_any_work_and_left_byte_identical(run, points, tmp_path, command,
                                                                             no_work):
    out = tmp_path / "mine.out"
    out.write_bytes(USER_BYTES)
    line = one_line(invoke(*COMMANDS[command](run, points, out)))
    assert line == f"prec: error: {out} exists; --force replaces it"
    assert out.read_bytes() == USER_BYTES and leftovers(tmp_path) == []


@pytest.mark.parametrize("command", list(COMMANDS))
def test_force_replaces_the_file(run, points, tmp_path, command):
    out = tmp_path / "mine.out"
    out.write_bytes(USER_BYTES)
    result = invoke(*COMMANDS[command](run, points, out), "--force")
    assert result.exit_code == 0, result.output
    written = out.read_bytes()
    assert written != USER_BYTES and leftovers(tmp_path) == []
    fresh = tmp_path / "fresh.out"  # the same bytes as a write to a new file
    assert invoke(*COMMANDS[command](run, points, fresh)).exit_code == 0
    if command != "export-npz":  # a zip holds timestamps
        assert fresh.read_bytes() == written
    if command == "predict":
        assert written.decode().splitlines()[0] == "x,prediction"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_missing_folder_is_named_before_any_work(run, points, tmp_path, command, no_work):
    out = tmp_path / "missing_folder" / "p.csv"
    line = one_line(invoke(*COMMANDS[command](run, points, out)))
    assert line == f"prec: error: {out.parent}: no such folder (to hold p.csv); create it first"
    assert ".tmp-" not in line and not out.parent.exists()
    # --force replaces files, it does not make folders.
    assert one_line(invoke(*COMMANDS[command](run, points, out), "--force")) == line


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_file_in_the_folders_place_or_a_folder_in_the_files(run, points, tmp_path, command, no_work):
    (tmp_path / "plain").write_bytes(USER_BYTES)
    line = one_line(invoke(*COMMANDS[command](run, points, tmp_path / "plain" / "p.csv")))
    assert line == f"prec: error: {tmp_path / 'plain'}: is a file, not a folder (to hold p.csv); create it first"
    (tmp_path / "folder").mkdir()
    line = one_line(invoke(*COMMANDS[command](run, points, tmp_path / "folder"), "--force"))
    assert line == f"prec: error: {tmp_path / 'folder'}: is a folder; give a file name"
    assert (tmp_path / "plain").read_bytes() == USER_BYTES and list((tmp_path / "folder").iterdir()) == []


def test_export_default_name_is_not_replaced_either(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = invoke("export", run, "--to", "python")
    assert first.exit_code == 0, first.output
    (path,) = tmp_path.glob("*.py")
    path.write_bytes(USER_BYTES)  # the user edits the exported file
    assert one_line(invoke("export", run, "--to", "python")) == f"prec: error: {path.name} exists; --force replaces it"
    assert path.read_bytes() == USER_BYTES
    assert invoke("export", run, "--to", "python", "--force").exit_code == 0
    assert path.read_bytes().startswith(b'"""outputs: a prec model')


def test_predict_to_stdout_is_unchanged(run, points):
    result = invoke("predict", run, points)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "x,prediction" and len(result.stdout.splitlines()) == 3


@pytest.mark.parametrize("command", ["predict", "export"])
def test_help_documents_force(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "--force" in result.stdout
    assert "never replaced without --force" in " ".join(result.stdout.split())


# --------------------------------------------------------------------------- the Python API


@pytest.mark.parametrize("name", ["model.py", "weights.npz"])
def test_model_export_refuses_an_existing_file(run, tmp_path, name):
    model = api.load(run)
    path = tmp_path / name
    path.write_bytes(USER_BYTES)
    with pytest.raises(FileExistsError) as caught:
        model.export(path)
    assert isinstance(caught.value, export.OutputExists) and caught.value.filename == str(path)
    assert str(caught.value) == f"{path} exists; force=True replaces it"
    assert path.read_bytes() == USER_BYTES and leftovers(tmp_path) == []
    assert model.export(path, force=True) == path
    assert path.read_bytes() != USER_BYTES
    x = np.array([[-0.5], [0.25]])
    if name.endswith(".npz"):
        from precision_jax.use import export_runtime

        assert np.array_equal(export_runtime.load_npz(path)(x), model(x))


def test_model_export_names_a_missing_folder(run, tmp_path):
    model = api.load(run)
    path = tmp_path / "missing_folder" / "model.py"
    with pytest.raises(export.OutputError) as caught:
        model.export(path)
    assert str(caught.value) == f"{path.parent}: no such folder (to hold model.py); create it first"
    assert caught.value.path == path.parent and not path.parent.exists()


def test_model_export_keeps_its_signature(run, tmp_path):
    model = api.load(run)
    assert model.export(tmp_path / "a.py") == tmp_path / "a.py"  # positional path, format from the suffix
    assert model.export(str(tmp_path / "b.bin"), "npz") == tmp_path / "b.bin"
    assert np.load(tmp_path / "b.bin", allow_pickle=False)["format"] == "prec-export"


def test_a_file_made_while_the_output_was_computed_is_not_replaced(tmp_path):
    """The check before work and the write after it are apart in time; the write itself refuses too."""
    path = tmp_path / "p.csv"
    export.check_output(path)  # free at check time
    path.write_bytes(USER_BYTES)  # ... then someone else writes it
    with pytest.raises(export.OutputExists):
        export.write_output(path, lambda f: f.write(b"prec's\n"))
    assert path.read_bytes() == USER_BYTES and leftovers(tmp_path) == []
    assert export.write_output(path, lambda f: f.write(b"prec's\n"), force=True) == path
    assert path.read_bytes() == b"prec's\n" and leftovers(tmp_path) == []


# --------------------------------------------------------------------------- the other user-named outputs


def test_sweep_slurm_script_refuses_an_existing_file(tmp_path):
    import yaml

    spec = tmp_path / "arr.yaml"
    spec.write_text(yaml.safe_dump({"name": "arr", "base": {
        "name": "tiny", "target": {"formula": "sin(3*x)", "variables": {"x": [-1, 1]}},
        "data": {"train_points": 20, "test_points": 20}, "model": {"kind": "simplex"}, "train": []},
        "grid": {"seed": [0, 1]}}))
    script = tmp_path / "job.sbatch"
    script.write_bytes(USER_BYTES)
    args = ("sweep", spec, "--slurm", "--script", script, "--out", tmp_path / "res")
    assert one_line(invoke(*args)) == f"prec: error: --script: {script} exists; --force replaces it"
    assert script.read_bytes() == USER_BYTES
    result = invoke(*args, "--force")
    assert result.exit_code == 0, result.output
    assert script.read_text().startswith("#!/bin/bash")
    # The default script, under RESULTS/slurm/, is prec's own: written again without --force.
    for _ in range(2):
        assert invoke("sweep", spec, "--slurm", "--out", tmp_path / "res").exit_code == 0
    assert (tmp_path / "res" / "slurm" / "arr.sbatch").is_file()


def test_guide_write_names_a_missing_folder_before_the_analysis(tmp_path, monkeypatch):
    from precision_jax.analysis import guide

    monkeypatch.setattr(guide, "analyze", lambda *a, **k: pytest.fail("analysed before --write was checked"))
    out = tmp_path / "missing_folder" / "g.yaml"
    assert one_line(invoke("guide", "Z.001", "--write", out)) == f"prec: error: --write: {out.parent} is not a folder"
    assert not out.parent.exists()
